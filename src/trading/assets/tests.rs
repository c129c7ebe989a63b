use super::*;
use crate::trading::order::OrderDraft;

fn asset(class: &str, fractionable: bool) -> BrokerAsset {
    BrokerAsset {
        id: "id".into(),
        class: class.into(),
        exchange: "NASDAQ".into(),
        symbol: "AAPL".into(),
        name: "Apple".into(),
        status: "active".into(),
        tradable: true,
        marginable: true,
        shortable: true,
        easy_to_borrow: true,
        fractionable,
        attributes: Vec::new(),
    }
}

fn order(body: serde_json::Value) -> OrderRequest {
    let mut base = serde_json::json!({"symbol": "AAPL", "side": "buy", "type": "market",
        "time_in_force": "day"});
    base.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    let draft: OrderDraft = serde_json::from_value(base).unwrap();
    OrderRequest::try_from(draft).unwrap()
}

fn fields(result: Result<(), NotTradable>) -> Vec<&'static str> {
    match result {
        Err(NotTradable::Invalid(invalid)) => invalid.problems.iter().map(|p| p.field).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_inactive_or_untradable_asset_refuses_every_order() {
    let mut inactive = asset("us_equity", true);
    inactive.status = "inactive".into();
    let mut untradable = asset("us_equity", true);
    untradable.tradable = false;
    for a in [inactive, untradable] {
        let refused = check(&order(serde_json::json!({"qty": "1"})), &a);
        assert!(matches!(refused, Err(NotTradable::Asset(_))), "{a:?}");
    }
}

#[test]
fn fractions_need_a_fractionable_asset() {
    let whole = asset("us_equity", false);
    assert!(check(&order(serde_json::json!({"qty": "2"})), &whole).is_ok());
    assert_eq!(
        fields(check(&order(serde_json::json!({"qty": "0.5"})), &whole)),
        ["qty"]
    );
    let notional = order(serde_json::json!({"notional": "10"}));
    assert_eq!(fields(check(&notional, &whole)), ["notional"]);
    assert!(check(&notional, &asset("us_equity", true)).is_ok());
    assert!(check(
        &order(serde_json::json!({"qty": "0.5"})),
        &asset("us_equity", true)
    )
    .is_ok());
}

#[test]
fn notional_is_for_market_orders_day_for_equities_gtc_or_ioc_for_crypto() {
    let equity = asset("us_equity", true);
    let crypto = asset("crypto", true);
    let gtc = order(serde_json::json!({"notional": "10", "time_in_force": "gtc"}));
    assert_eq!(fields(check(&gtc, &equity)), ["notional"]);
    assert!(check(&gtc, &crypto).is_ok());
    let day = order(serde_json::json!({"notional": "10"}));
    assert_eq!(fields(check(&day, &crypto)), ["notional"]);
    let limit = order(serde_json::json!({"notional": "10", "type": "limit", "limit_price": "1"}));
    assert_eq!(fields(check(&limit, &equity)), ["notional"]);
}

#[test]
fn a_filter_checks_every_parameter_at_once() {
    let filter = Filter::parse(RawFilter {
        search: Some("  apple "),
        asset_class: Some("crypto"),
        status: Some("active"),
        limit: None,
    })
    .unwrap();
    assert_eq!(filter.search.as_deref(), Some("apple"));
    assert_eq!(filter.limit, DEFAULT_LIMIT);
    let wrong = Filter::parse(RawFilter {
        search: Some(&"x".repeat(65)),
        asset_class: Some("stocks"),
        status: Some("all"),
        limit: Some("0"),
    })
    .unwrap_err();
    let named: Vec<_> = wrong.problems.iter().map(|p| p.field).collect();
    assert_eq!(named, ["search", "asset_class", "status", "limit"]);
    assert_eq!(Filter::parse(RawFilter::default()).unwrap().search, None);
}

#[test]
fn extended_hours_is_for_limit_day_orders_only() {
    let equity = asset("us_equity", true);
    let limit = serde_json::json!({"type": "limit", "limit_price": "1", "qty": "1",
        "extended_hours": true});
    assert!(check(&order(limit.clone()), &equity).is_ok());
    let mut gtc = limit.clone();
    gtc["time_in_force"] = "gtc".into();
    assert_eq!(fields(check(&order(gtc), &equity)), ["extended_hours"]);
    let market = serde_json::json!({"qty": "1", "extended_hours": true});
    assert_eq!(fields(check(&order(market), &equity)), ["extended_hours"]);
    assert!(check(&order(serde_json::json!({"qty": "1"})), &equity).is_ok());
}
