use serde_json::json;

use super::*;

fn body() -> Value {
    json!({
        "base": {"symbol": "AAPL", "timeframe": "1Day", "start": "2020-01-01", "end": "2021-01-01",
                 "strategy": {"name": "sma_crossover", "params": {"fast": 10, "slow": 30}}},
        "grid": {"strategy.params.fast": [5, 10, 40], "strategy.params.slow": [20, 30],
                 "commission": ["0", 0.001]},
        "rank_by": "sortino"
    })
}

fn fields(body: Value) -> Vec<&'static str> {
    SweepRequest::parse(&body, 1_000_000)
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.field)
        .collect()
}

#[test]
fn every_point_of_the_grid_is_a_valid_request_or_skipped() {
    let sweep = SweepRequest::parse(&body(), 1_000_000).unwrap();
    // fast 5/10/40 × slow 20/30 × 2 commissions; fast 40 is never below slow.
    assert_eq!(sweep.combinations.len() + sweep.skipped, 12);
    assert_eq!(
        sweep.skipped, 4,
        "fast 40 with either slow, each commission"
    );
    assert_eq!(sweep.rank_by.name(), "sortino");
    let first = &sweep.combinations[0];
    assert_eq!(first.params["strategy.params.fast"], 5);
    assert_eq!(first.params["commission"], "0");
    assert_eq!(
        first.request.strategy,
        Strategy::SmaCrossover { fast: 5, slow: 20 }
    );
    let last = sweep.combinations.last().unwrap();
    assert_eq!(
        last.request.strategy,
        Strategy::SmaCrossover { fast: 10, slow: 30 }
    );
    assert_eq!(last.request.costs().commission, 0.001);
    let echoed = sweep.to_json();
    assert_eq!(echoed["rank_by"], "sortino");
    assert_eq!(echoed["grid"]["commission"], json!(["0", 0.001]));
    assert_eq!(echoed["base"]["symbol"], "AAPL");
}

#[test]
fn bad_grids_are_refused_naming_the_field() {
    let mut b = body();
    b["grid"] = json!({"strategy.params.period": [5]});
    assert_eq!(
        fields(b),
        ["grid.strategy.params.period"],
        "sma has no period"
    );
    let mut b = body();
    b["grid"]["strategy.params.fast"] = json!([0, 5]);
    assert_eq!(fields(b), ["grid.strategy.params.fast"]);
    let mut b = body();
    b["grid"]["commission"] = json!(["0.5"]);
    assert_eq!(fields(b), ["grid.commission"]);
    let mut b = body();
    b["grid"]["slippage_bps"] = json!([]);
    assert_eq!(fields(b), ["grid.slippage_bps"]);
    let mut b = body();
    b["grid"]["strategy.params.slow"] = json!([20, 20]);
    assert_eq!(fields(b), ["grid.strategy.params.slow"], "repeated values");
    let mut b = body();
    b["grid"] = json!({"symbol": ["MSFT"]});
    assert_eq!(fields(b), ["grid"]);
    let mut b = body();
    b["grid"] = json!({});
    assert_eq!(fields(b), ["grid"]);
    let mut b = body();
    b["grid"] = json!({"strategy.params.fast": (1..=30).collect::<Vec<_>>(),
                       "strategy.params.slow": (31..=50).collect::<Vec<_>>()});
    assert_eq!(fields(b), ["grid"], "600 combinations");
    let mut b = body();
    b["grid"] = json!({"strategy.params.fast": [40, 50]});
    assert_eq!(fields(b), ["grid"], "no valid combination");
}

#[test]
fn a_bad_base_or_metric_is_refused_naming_the_field() {
    let mut b = body();
    b["base"]["initial_cash"] = json!("-1");
    b["rank_by"] = json!("luck");
    assert_eq!(fields(b), ["base.initial_cash", "rank_by"]);
    let mut b = body();
    b.as_object_mut().unwrap().remove("base");
    assert_eq!(fields(b), ["base"]);
    let mut b = body();
    b["extra"] = json!(1);
    assert_eq!(fields(b), ["body"]);
    assert!(SweepRequest::parse(&json!([1]), 1_000_000).is_err());
}

#[test]
fn rank_by_defaults_to_sharpe() {
    let mut b = body();
    b.as_object_mut().unwrap().remove("rank_by");
    assert_eq!(
        SweepRequest::parse(&b, 1_000_000).unwrap().rank_by.name(),
        "sharpe"
    );
}

mod fuzz {
    use proptest::prelude::{any, prop, prop_assert, prop_oneof, proptest, Just};
    use proptest::strategy::Strategy as Gen;
    use serde_json::{json, Value};

    use super::{body, SweepRequest};

    fn json_value() -> impl Gen<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            "[a-z._0-9-]{0,24}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("base".to_owned()),
                        Just("grid".to_owned()),
                        Just("rank_by".to_owned()),
                        Just("strategy.params.fast".to_owned()),
                        Just("commission".to_owned()),
                        "[a-z.]{1,12}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn no_body_makes_the_parser_panic(body in json_value()) {
            let _ = SweepRequest::parse(&body, 1_000_000);
        }

        #[test]
        fn any_grid_over_a_valid_base_parses_or_names_a_field(grid in json_value()) {
            let mut b = body();
            b["grid"] = grid;
            if let Err(invalid) = SweepRequest::parse(&b, 1_000_000) {
                prop_assert!(!invalid.problems.is_empty());
            }
        }
    }
}
