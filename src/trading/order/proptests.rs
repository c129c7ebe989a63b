//! No input can make order parsing panic: arbitrary JSON values and arbitrary text are fed
//! through the same path a request body takes (`OrderDraft` → [`Submission::parse`]), and every
//! order that parses can be described, audited and turned into a broker ticket.

use proptest::prelude::*;
use raptor_actors::broker::TicketSize;
use serde_json::{json, Map, Value};

use super::*;

const FIELDS: [&str; 11] = [
    "symbol",
    "qty",
    "notional",
    "side",
    "type",
    "time_in_force",
    "limit_price",
    "stop_price",
    "extended_hours",
    "client_order_id",
    "unknown",
];

/// Any JSON scalar, with numbers and numeric strings at the edges of the decimal range.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".*".prop_map(Value::String),
        "-?[0-9]{0,40}(\\.[0-9]{0,40})?".prop_map(Value::String),
        prop_oneof![
            Just("79228162514264337593543950335"),
            Just("-79228162514264337593543950335"),
            Just("79228162514264337593543950336"),
            Just("0.0000000000000000000000000001"),
            Just("1e30"),
            Just("NaN"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
        prop_oneof![
            Just("market"),
            Just("limit"),
            Just("stop"),
            Just("stop_limit"),
            Just("buy"),
            Just("sell"),
            Just("day"),
            Just("AAPL")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

/// Objects with any subset of the order's fields, each holding any value.
fn body() -> impl Strategy<Value = Value> {
    let value = scalar().prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::Array)
    });
    prop::collection::vec((prop::sample::select(&FIELDS[..]), value), 0..12).prop_map(|pairs| {
        let mut object = Map::new();
        for (k, v) in pairs {
            object.insert(k.to_owned(), v);
        }
        Value::Object(object)
    })
}

/// What a handler does with a parsed body, and what every valid order must survive.
fn exercise(draft: OrderDraft, header: Option<&str>) {
    if let Ok(submission) = Submission::parse(header, draft) {
        let order = submission.order;
        let _ = order.canonical_json();
        let _ = order.audit_details();
        let ticket = order.ticket();
        match ticket.size {
            TicketSize::Qty(a) | TicketSize::Notional(a) => {
                assert!(a > Decimal::ZERO && a <= MAX_AMOUNT);
                // A quantity times any price we accept stays inside the decimal range.
                assert!(a.checked_mul(MAX_AMOUNT).is_some());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_bodies_never_panic(body in body(), header in proptest::option::of(".*")) {
        if let Ok(draft) = serde_json::from_value::<OrderDraft>(body) {
            exercise(draft, header.as_deref());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".*") {
        if let Ok(draft) = serde_json::from_str::<OrderDraft>(&text) {
            exercise(draft, None);
        }
    }

    #[test]
    fn any_amount_either_parses_into_range_or_is_a_field_error(
        qty in "-?[0-9]{1,30}(\\.[0-9]{1,30})?",
        price in "-?[0-9]{1,30}(\\.[0-9]{1,30})?",
    ) {
        let body = json!({"symbol": "AAPL", "qty": qty, "side": "buy", "type": "limit",
                          "time_in_force": "day", "limit_price": price});
        if let Ok(draft) = serde_json::from_value::<OrderDraft>(body) {
            match Submission::parse(None, draft) {
                Ok(s) => prop_assert!(s.order.kind.limit_price().unwrap().get() <= MAX_AMOUNT),
                Err(invalid) => prop_assert!(!invalid.problems.is_empty()),
            }
        }
    }
}
