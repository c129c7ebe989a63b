//! Each order rule at its edge, and every value's name both ways: the tests cargo-mutants
//! asks for (`scripts/mutants.sh`), beside the behaviour tests in `tests.rs`.

use std::str::FromStr;

use raptor_actors::broker::{TicketKind, TicketSide, TicketSize};

use super::*;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn positive(s: &str) -> Positive {
    Positive::parse(dec(s)).unwrap()
}

fn draft(order_type: &str) -> OrderDraft {
    OrderDraft {
        symbol: Some("brk.b".into()),
        qty: Some(dec("2")),
        side: Some("sell".into()),
        order_type: Some(order_type.into()),
        time_in_force: Some("gtc".into()),
        ..OrderDraft::default()
    }
}

/// `(field, problem)` of every problem.
fn problems(draft: OrderDraft) -> Vec<(&'static str, String)> {
    OrderRequest::try_from(draft)
        .unwrap_err()
        .problems
        .into_iter()
        .map(|p| (p.field, p.problem))
        .collect()
}

#[test]
fn symbol_length_and_characters_have_their_own_messages() {
    let length = Err("must be 1 to 15 characters".to_owned());
    let shape = Err("must be a ticker like AAPL, BRK.B or BTC/USD".to_owned());
    assert_eq!(Symbol::parse("").map(|s| s.as_str().to_owned()), length);
    assert_eq!(Symbol::parse("   ").map(|s| s.as_str().to_owned()), length);
    assert_eq!(
        Symbol::parse(&"A".repeat(16)).map(|s| s.as_str().to_owned()),
        length
    );
    assert_eq!(
        Symbol::parse(&"A".repeat(15)).map(|s| s.as_str().to_owned()),
        Ok("A".repeat(15))
    );
    for bad in ["A-B", "A B", "A..B", "A.B.C", "A/B/C", "A.B/C", "/A", "A/"] {
        assert_eq!(
            Symbol::parse(bad).map(|s| s.as_str().to_owned()),
            shape,
            "{bad}"
        );
    }
    for (raw, parsed) in [
        ("brk.b", "BRK.B"),
        ("btc/usd", "BTC/USD"),
        (" spy ", "SPY"),
        ("a1", "A1"),
        ("7", "7"),
    ] {
        let symbol = Symbol::parse(raw).unwrap();
        assert_eq!(symbol.as_str(), parsed);
        assert_eq!(symbol.to_string(), parsed);
    }
}

#[test]
fn amounts_are_bounded_on_both_sides_and_in_precision() {
    assert_eq!(
        Positive::parse(Decimal::ZERO),
        Err("must be greater than zero".into())
    );
    assert!(Positive::parse(dec("-0.5")).is_err());
    assert_eq!(
        Positive::parse(MAX_AMOUNT).map(Positive::get),
        Ok(MAX_AMOUNT)
    );
    assert_eq!(
        Positive::parse(MAX_AMOUNT + dec("0.000000001")),
        Err("must be at most 1000000000".into())
    );
    assert_eq!(
        Positive::parse(dec("0.000000001")).map(Positive::get),
        Ok(dec("0.000000001"))
    );
    assert_eq!(
        Positive::parse(dec("0.0000000011")),
        Err("must have at most 9 decimal places".into())
    );
    // Trailing zeros are not precision.
    assert!(Positive::parse(dec("1.50000000000")).is_ok());
    let amount = positive("1.50");
    assert_eq!(amount.get(), dec("1.50"));
    assert_eq!(amount.to_string(), "1.50");
}

#[test]
fn sides_and_times_in_force_parse_from_their_names_and_back() {
    for side in [Side::Buy, Side::Sell] {
        assert_eq!(Side::parse(side.as_str()), Ok(side));
    }
    assert_eq!(Side::Buy.as_str(), "buy");
    assert_eq!(Side::Sell.as_str(), "sell");
    assert!(Side::parse("BUY").is_err());
    let all = [
        (TimeInForce::Day, "day"),
        (TimeInForce::Gtc, "gtc"),
        (TimeInForce::Opg, "opg"),
        (TimeInForce::Cls, "cls"),
        (TimeInForce::Ioc, "ioc"),
        (TimeInForce::Fok, "fok"),
    ];
    for (tif, name) in all {
        assert_eq!(tif.as_str(), name);
        assert_eq!(TimeInForce::parse(name), Ok(tif));
    }
    assert!(TimeInForce::parse("gtd").is_err());
}

#[test]
fn each_order_type_carries_exactly_its_prices() {
    let market = OrderRequest::try_from(draft("market")).unwrap();
    assert_eq!(market.kind, OrderKind::Market);
    assert_eq!(market.kind.as_str(), "market");
    assert_eq!(market.kind.limit_price(), None);
    assert_eq!(market.kind.stop_price(), None);

    let limit = OrderRequest::try_from(OrderDraft {
        limit_price: Some(dec("10.5")),
        ..draft("limit")
    })
    .unwrap();
    assert_eq!(
        limit.kind,
        OrderKind::Limit {
            limit_price: positive("10.5")
        }
    );
    assert_eq!(limit.kind.as_str(), "limit");
    assert_eq!(limit.kind.limit_price(), Some(positive("10.5")));
    assert_eq!(limit.kind.stop_price(), None);

    let stop = OrderRequest::try_from(OrderDraft {
        stop_price: Some(dec("9")),
        ..draft("stop")
    })
    .unwrap();
    assert_eq!(
        stop.kind,
        OrderKind::Stop {
            stop_price: positive("9")
        }
    );
    assert_eq!(stop.kind.as_str(), "stop");
    assert_eq!(stop.kind.stop_price(), Some(positive("9")));
    assert_eq!(stop.kind.limit_price(), None);

    let stop_limit = OrderRequest::try_from(OrderDraft {
        stop_price: Some(dec("9")),
        limit_price: Some(dec("9.5")),
        ..draft("stop_limit")
    })
    .unwrap();
    assert_eq!(stop_limit.kind.as_str(), "stop_limit");
    assert_eq!(stop_limit.kind.stop_price(), Some(positive("9")));
    assert_eq!(stop_limit.kind.limit_price(), Some(positive("9.5")));
}

#[test]
fn missing_fields_are_reported_as_required() {
    let empty = problems(OrderDraft::default());
    for field in ["symbol", "side", "time_in_force", "type"] {
        assert!(
            empty.contains(&(field, "is required".to_owned())),
            "{field}: {empty:?}"
        );
    }
    assert!(empty.contains(&("qty", "qty or notional is required".to_owned())));
    assert_eq!(
        problems(draft("stop")),
        [("stop_price", "is required for stop orders".to_owned())]
    );
    assert_eq!(
        problems(OrderDraft {
            stop_price: Some(dec("1")),
            ..draft("market")
        }),
        [("stop_price", "is not allowed for market orders".to_owned())]
    );
}

#[test]
fn the_broker_ticket_audit_details_and_canonical_text_say_the_same_order() {
    let order = OrderRequest::try_from(OrderDraft {
        qty: None,
        notional: Some(dec("250.50")),
        side: Some("buy".into()),
        stop_price: Some(dec("9")),
        limit_price: Some(dec("9.50")),
        extended_hours: Some(true),
        ..draft("stop_limit")
    })
    .unwrap();
    let ticket = order.ticket();
    assert_eq!(ticket.symbol, "BRK.B");
    assert_eq!(ticket.size, TicketSize::Notional(dec("250.50")));
    assert_eq!(ticket.side, TicketSide::Buy);
    assert_eq!(
        ticket.kind,
        TicketKind::StopLimit {
            stop_price: dec("9"),
            limit_price: dec("9.50")
        }
    );
    assert_eq!(ticket.time_in_force, "gtc");
    assert!(ticket.extended_hours);

    assert_eq!(
        order.audit_details(),
        serde_json::json!({"symbol": "BRK.B", "side": "buy", "type": "stop_limit",
            "time_in_force": "gtc", "qty": null, "notional": "250.50",
            "limit_price": "9.50", "stop_price": "9"})
    );
    let canonical: serde_json::Value = serde_json::from_str(&order.canonical_json()).unwrap();
    assert_eq!(
        canonical,
        serde_json::json!({"symbol": "BRK.B", "qty": null, "notional": "250.5", "side": "buy",
            "type": "stop_limit", "time_in_force": "gtc", "limit_price": "9.5",
            "stop_price": "9", "extended_hours": true})
    );

    let qty = OrderRequest::try_from(draft("market")).unwrap();
    assert_eq!(qty.ticket().size, TicketSize::Qty(dec("2")));
    assert_eq!(qty.ticket().side, TicketSide::Sell);
    assert_eq!(qty.ticket().kind, TicketKind::Market);
    assert!(!qty.ticket().extended_hours);
    let limit = OrderRequest::try_from(OrderDraft {
        limit_price: Some(dec("3")),
        ..draft("limit")
    })
    .unwrap();
    assert_eq!(
        limit.ticket().kind,
        TicketKind::Limit {
            limit_price: dec("3")
        }
    );
    let stop = OrderRequest::try_from(OrderDraft {
        stop_price: Some(dec("4")),
        ..draft("stop")
    })
    .unwrap();
    assert_eq!(
        stop.ticket().kind,
        TicketKind::Stop {
            stop_price: dec("4")
        }
    );
    assert_eq!(qty.audit_details()["qty"], "2");
}

#[test]
fn a_bad_key_fails_an_otherwise_valid_order_and_names_where_it_came_from() {
    let err = Submission::parse(Some(""), draft("market")).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].field, "Idempotency-Key");
    assert_eq!(
        err.problems[0].problem,
        "must be 1 to 128 printable characters without spaces"
    );
    let body_key = OrderDraft {
        client_order_id: Some("x".repeat(129)),
        ..draft("market")
    };
    let err = Submission::parse(None, body_key).unwrap_err();
    assert_eq!(err.problems[0].field, "client_order_id");
    // With a broken order too, both are reported.
    let err = Submission::parse(Some("bad key"), draft("limit")).unwrap_err();
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field).collect();
    assert_eq!(fields, ["limit_price", "Idempotency-Key"]);
    let fine = Submission::parse(None, draft("market")).unwrap();
    assert_eq!(fine.key, None);
    assert_eq!(fine.order.symbol.as_str(), "BRK.B");
}
