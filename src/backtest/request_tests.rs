use serde_json::json;

use super::*;

fn valid() -> Value {
    json!({"symbol":"aapl","timeframe":"1Day","start":"2015-01-01T00:00:00Z",
           "end":"2025-01-01T00:00:00Z","strategy":{"name":"sma_crossover","params":{"fast":10,"slow":30}},
           "initial_cash":"100000","commission":"0.001","slippage_bps":"0","position_size_pct":"95"})
}

fn fields(body: Value) -> Vec<&'static str> {
    BacktestRequest::parse(&body, 1_000_000)
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.field)
        .collect()
}

#[test]
fn a_valid_request_parses_and_echoes_itself() {
    let request = BacktestRequest::parse(&valid(), 1_000_000).unwrap();
    assert_eq!(request.symbol, "AAPL");
    assert_eq!(
        request.strategy,
        Strategy::SmaCrossover { fast: 10, slow: 30 }
    );
    assert_eq!(request.costs().commission, 0.001);
    let echoed = request.to_json();
    assert_eq!(echoed["initial_cash"], "100000");
    assert_eq!(echoed["strategy"]["params"]["slow"], 30);
    assert_eq!(BacktestRequest::parse(&echoed, 1_000_000).unwrap(), request);
}

#[test]
fn every_broken_rule_is_reported_at_once() {
    let mut body = valid();
    body["strategy"]["params"]["fast"] = json!(40);
    body["initial_cash"] = json!("-5");
    body["commission"] = json!("-0.1");
    body["slippage_bps"] = json!("1001");
    body["start"] = json!("2026-01-01");
    assert_eq!(
        fields(body),
        [
            "strategy.params.fast",
            "initial_cash",
            "commission",
            "slippage_bps",
            "start"
        ]
    );
}

#[test]
fn unknown_strategies_and_params_are_refused() {
    let mut body = valid();
    body["strategy"] = json!({"name": "martingale"});
    assert_eq!(fields(body.clone()), ["strategy.name"]);
    body["strategy"] = json!({"name": "buy_and_hold", "params": {"fast": 3}});
    assert_eq!(fields(body.clone()), ["strategy.params"]);
    body["strategy"] = json!({"name": "rsi_reversion", "params": {"lower": 80}});
    assert_eq!(fields(body), ["strategy.params.lower"]);
}

#[test]
fn too_many_bars_are_refused() {
    let mut body = valid();
    body["timeframe"] = json!("1Min");
    assert_eq!(fields(body), ["end"]);
}
