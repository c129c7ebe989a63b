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
