//! Order parsing, rule by rule.

use super::*;

use std::str::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn draft() -> OrderDraft {
    OrderDraft {
        symbol: Some("aapl".into()),
        qty: Some(dec("1.50")),
        side: Some("buy".into()),
        order_type: Some("market".into()),
        time_in_force: Some("day".into()),
        ..OrderDraft::default()
    }
}

fn fields(draft: OrderDraft) -> Vec<&'static str> {
    OrderRequest::try_from(draft)
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.field)
        .collect()
}

#[test]
fn a_valid_market_order_parses_and_keeps_its_decimals() {
    let order = OrderRequest::try_from(draft()).unwrap();
    assert_eq!(order.symbol.as_str(), "AAPL");
    assert_eq!(
        order.size,
        OrderSize::Qty(Positive::parse(dec("1.50")).unwrap())
    );
    assert_eq!(
        order.size,
        OrderSize::Qty(Positive::parse(dec("1.5")).unwrap())
    );
    assert!(order.canonical_json().contains(r#""qty":"1.5""#));
}

#[test]
fn symbols_are_tickers() {
    for ok in ["AAPL", "brk.b", "BTC/USD", "X", "SPY"] {
        assert!(Symbol::parse(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "AA PL",
        "AAPL;",
        ".A",
        "A.",
        "A./B",
        "ABCDEFGHIJKLMNOP",
        "ÄPFEL",
    ] {
        assert!(Symbol::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_broken_rule_is_reported_at_once() {
    let broken = OrderDraft {
        symbol: Some("A B".into()),
        qty: Some(dec("0")),
        side: Some("hold".into()),
        order_type: Some("limit".into()),
        time_in_force: Some("week".into()),
        stop_price: Some(dec("5")),
        ..OrderDraft::default()
    };
    let mut got = fields(broken);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "limit_price",
            "qty",
            "side",
            "stop_price",
            "symbol",
            "time_in_force"
        ]
    );
}

#[test]
fn qty_and_notional_are_exclusive_and_one_is_required() {
    let both = OrderDraft {
        notional: Some(dec("100")),
        ..draft()
    };
    assert_eq!(fields(both), ["notional"]);
    let neither = OrderDraft {
        qty: None,
        ..draft()
    };
    assert_eq!(fields(neither), ["qty"]);
    let negative = OrderDraft {
        qty: None,
        notional: Some(dec("-1")),
        ..draft()
    };
    assert_eq!(fields(negative), ["notional"]);
}

#[test]
fn prices_follow_the_order_type() {
    let stop_limit = OrderDraft {
        order_type: Some("stop_limit".into()),
        limit_price: Some(dec("10.25")),
        stop_price: Some(dec("10")),
        ..draft()
    };
    let order = OrderRequest::try_from(stop_limit).unwrap();
    assert_eq!(order.kind.limit_price().unwrap().get(), dec("10.25"));
    let market_with_price = OrderDraft {
        limit_price: Some(dec("10")),
        ..draft()
    };
    assert_eq!(fields(market_with_price), ["limit_price"]);
    // A trailing stop needs exactly one trail.
    let trailing = OrderDraft {
        order_type: Some("trailing_stop".into()),
        ..draft()
    };
    assert_eq!(fields(trailing.clone()), ["trail_price"]);
    let both = OrderDraft {
        trail_price: Some(dec("1")),
        trail_percent: Some(dec("1")),
        ..trailing.clone()
    };
    assert_eq!(fields(both), ["trail_percent"]);
    let by_percent = OrderDraft {
        trail_percent: Some(dec("2.5")),
        ..trailing
    };
    let order = OrderRequest::try_from(by_percent).unwrap();
    assert_eq!(
        order.kind.trail(),
        Some(Trail::Percent(Positive::parse(dec("2.5")).unwrap()))
    );
    let unknown = OrderDraft {
        order_type: Some("trailing_limit".into()),
        ..draft()
    };
    assert_eq!(fields(unknown), ["type"]);
}

#[test]
fn amounts_beyond_the_bounds_are_field_errors() {
    let huge = OrderDraft {
        qty: Some(Decimal::MAX),
        ..draft()
    };
    assert_eq!(fields(huge), ["qty"]);
    let huge_price = OrderDraft {
        order_type: Some("limit".into()),
        limit_price: Some(dec("1000000000.01")),
        ..draft()
    };
    assert_eq!(fields(huge_price), ["limit_price"]);
    let tiny = OrderDraft {
        qty: Some(dec("0.0000000001")),
        ..draft()
    };
    assert_eq!(fields(tiny), ["qty"]);
    let at_the_bound = OrderDraft {
        qty: None,
        notional: Some(MAX_AMOUNT),
        ..draft()
    };
    assert!(OrderRequest::try_from(at_the_bound).is_ok());
}

#[test]
fn the_header_key_wins_and_a_bad_key_is_a_field_error() {
    let keyed = OrderDraft {
        client_order_id: Some("body-key".into()),
        ..draft()
    };
    let s = Submission::parse(Some("header-key"), keyed.clone()).unwrap();
    assert_eq!(s.key.unwrap().as_str(), "header-key");
    let s = Submission::parse(None, keyed).unwrap();
    assert_eq!(s.key.unwrap().as_str(), "body-key");
    let err = Submission::parse(Some("has space"), draft()).unwrap_err();
    assert_eq!(err.problems[0].field, "Idempotency-Key");
}

#[test]
fn a_class_places_the_order_and_each_of_its_legs() {
    let price = |p: &str| Positive::parse(Decimal::from_str(p).unwrap()).unwrap();
    let take_profit = TakeProfit {
        limit_price: price("170"),
    };
    let stop_loss = StopLoss {
        stop_price: price("140"),
        limit_price: None,
    };
    assert_eq!(OrderClass::Simple.orders(), 1);
    assert_eq!(
        OrderClass::Bracket {
            take_profit,
            stop_loss
        }
        .orders(),
        3
    );
    assert_eq!(
        OrderClass::Oco {
            take_profit,
            stop_loss
        }
        .orders(),
        2
    );
    assert_eq!(OrderClass::Oto(OtoExit::StopLoss(stop_loss)).orders(), 2);
}

#[test]
fn a_trail_is_its_price_or_its_percent_of_the_price() {
    let positive = |p: &str| Positive::parse(Decimal::from_str(p).unwrap()).unwrap();
    let price = Decimal::from_str("200").unwrap();
    assert_eq!(
        Trail::Price(positive("2.5")).distance(price),
        Some(Decimal::from_str("2.5").unwrap())
    );
    assert_eq!(
        Trail::Percent(positive("1.5")).distance(price),
        Some(Decimal::from_str("3").unwrap())
    );
}
