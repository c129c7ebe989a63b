use super::*;

const LIMIT: &str = r#"{"symbol":"AAPL","qty":"1","notional":null,"side":"buy","type":"limit","time_in_force":"day","limit_price":"150","stop_price":null,"extended_hours":false}"#;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn fields(error: InvalidInput) -> Vec<&'static str> {
    error.problems.iter().map(|p| p.field).collect()
}

#[test]
fn a_replacement_keeps_what_it_does_not_change() {
    let draft = ReplaceDraft {
        qty: Some(dec("2")),
        limit_price: Some(dec("151")),
        time_in_force: Some("gtc".into()),
        ..ReplaceDraft::default()
    };
    let merged = merge(LIMIT, &draft).unwrap();
    assert_eq!(merged.symbol.as_str(), "AAPL");
    assert_eq!(merged.kind.limit_price().map(|p| p.get()), Some(dec("151")));
    assert_eq!(merged.time_in_force.as_str(), "gtc");
    assert!(merged.canonical_json().contains(r#""qty":"2""#));
}

#[test]
fn a_replacement_changes_something_the_order_allows() {
    assert_eq!(
        fields(merge(LIMIT, &ReplaceDraft::default()).unwrap_err()),
        ["body"]
    );
    let trail = ReplaceDraft {
        trail: Some(dec("1")),
        ..ReplaceDraft::default()
    };
    assert_eq!(fields(merge(LIMIT, &trail).unwrap_err()), ["trail"]);
    let stop = ReplaceDraft {
        stop_price: Some(dec("140")),
        ..ReplaceDraft::default()
    };
    assert_eq!(fields(merge(LIMIT, &stop).unwrap_err()), ["stop_price"]);
    let zero = ReplaceDraft {
        qty: Some(Decimal::ZERO),
        ..ReplaceDraft::default()
    };
    assert_eq!(fields(merge(LIMIT, &zero).unwrap_err()), ["qty"]);
}
