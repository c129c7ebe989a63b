//! The engine against backtrader: every `tests/fixtures/backtest/expected_*.json` (written by
//! `golden.py` from backtrader's own run on `bars.csv`) is replayed here and must match:
//! identical trade list (times, quantities, prices to 1e-6), the open position, final
//! equity to the cent, and the same metrics (backtrader's `DrawDown` and `SQN` analyzers, its
//! daily `TimeReturn`s for the return-based ones; see `golden.py`).

use std::path::{Path, PathBuf};

use chrono::DateTime;
use serde_json::Value;

use super::engine::{run, Bar, Costs};
use super::metrics::Metrics;
use super::strategy::Strategy;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backtest")
}

fn stamp(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn bars(file: &str) -> Vec<Bar> {
    let csv = std::fs::read_to_string(fixtures().join(file)).unwrap();
    csv.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Bar {
                t: DateTime::parse_from_rfc3339(f[0]).unwrap().timestamp(),
                open: f[1].parse().unwrap(),
                high: f[2].parse().unwrap(),
                low: f[3].parse().unwrap(),
                close: f[4].parse().unwrap(),
            }
        })
        .collect()
}

fn strategy(spec: &Value) -> Strategy {
    let p = &spec["params"];
    match spec["name"].as_str().unwrap() {
        "sma_crossover" => Strategy::SmaCrossover {
            fast: p["fast"].as_u64().unwrap() as usize,
            slow: p["slow"].as_u64().unwrap() as usize,
        },
        "rsi_reversion" => Strategy::RsiReversion {
            period: p["period"].as_u64().unwrap() as usize,
            lower: p["lower"].as_f64().unwrap(),
            upper: p["upper"].as_f64().unwrap(),
        },
        "buy_and_hold" => Strategy::BuyAndHold,
        other => panic!("unknown strategy {other}"),
    }
}

fn close(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!(
        (a - b).abs() <= tolerance,
        "{what}: engine {a} vs backtrader {b}"
    );
}

#[test]
fn every_case_agrees_with_backtrader() {
    let mut cases = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("expected_") && name.ends_with(".json")) {
            continue;
        }
        cases += 1;
        let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let bars = bars(want["bars"].as_str().unwrap());
        let costs = Costs {
            initial_cash: want["initial_cash"].as_f64().unwrap(),
            commission: want["commission"].as_f64().unwrap(),
            slippage_bps: want["slippage_bps"].as_f64().unwrap(),
            position_size_pct: want["position_size_pct"].as_f64().unwrap(),
        };
        let got = run(&bars, &strategy(&want["strategy"]), &costs);
        let expected = want["trades"].as_array().unwrap();
        assert_eq!(got.trades.len(), expected.len(), "{name}: number of trades");
        for (i, (g, w)) in got.trades.iter().zip(expected).enumerate() {
            let what = format!("{name} trade {i}");
            assert_eq!(
                stamp(bars[g.entry_bar].t),
                w["entry_time"],
                "{what} entry time"
            );
            assert_eq!(
                stamp(bars[g.exit_bar].t),
                w["exit_time"],
                "{what} exit time"
            );
            assert_eq!(g.qty, w["qty"].as_u64().unwrap(), "{what} qty");
            close(
                g.entry_price,
                w["entry_price"].as_f64().unwrap(),
                1e-6,
                &what,
            );
            close(g.exit_price, w["exit_price"].as_f64().unwrap(), 1e-6, &what);
            close(g.pnl, w["pnl"].as_f64().unwrap(), 1e-6, &what);
        }
        match (&got.open, want["open_position"].as_object()) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                assert_eq!(stamp(bars[g.entry_bar].t), w["entry_time"], "{name} open");
                assert_eq!(g.qty, w["qty"].as_u64().unwrap(), "{name} open qty");
                close(
                    g.entry_price,
                    w["entry_price"].as_f64().unwrap(),
                    1e-6,
                    &name,
                );
            }
            (g, w) => panic!("{name}: open position {g:?} vs backtrader {w:?}"),
        }
        let final_equity = want["final_equity"].as_f64().unwrap();
        close(
            got.metrics.final_equity,
            final_equity,
            0.005,
            &format!("{name} equity"),
        );
        close(
            got.final_cash,
            want["final_cash"].as_f64().unwrap(),
            0.005,
            &name,
        );
        same_metrics(&got.metrics, &want["metrics"], &name);
    }
    assert!(cases >= 10, "only {cases} expected files found");
}

/// `a` and `b` agree to 1e-9 (relative to their size), or are both missing.
fn same(a: Option<f64>, b: &Value, what: &str) {
    match (a, b.as_f64()) {
        (None, None) => {}
        (Some(a), Some(b)) => close(a, b, 1e-9 * b.abs().max(1.0), what),
        (a, _) => panic!("{what}: engine {a:?} vs backtrader {b}"),
    }
}

fn same_metrics(got: &Metrics, want: &Value, name: &str) {
    let pairs = [
        ("sharpe", got.sharpe),
        ("volatility", got.volatility),
        ("sortino", got.sortino),
        ("cagr", got.cagr),
        ("max_drawdown", Some(got.max_drawdown)),
        ("calmar", got.calmar),
        ("sqn", got.sqn),
        ("benchmark_return", got.benchmark_return),
        ("expectancy", got.expectancy),
        ("avg_trade_return", got.avg_trade_return),
        ("best_trade", got.best_trade),
        ("worst_trade", got.worst_trade),
    ];
    for (metric, value) in pairs {
        same(value, &want[metric], &format!("{name} {metric}"));
    }
    assert_eq!(
        got.max_drawdown_duration as f64,
        want["max_drawdown_duration"].as_f64().unwrap(),
        "{name} max_drawdown_duration"
    );
    assert_eq!(
        got.trades as u64,
        want["sqn_trades"].as_u64().unwrap(),
        "{name} trades SQN saw"
    );
}

/// The worked example of `docs/backtests.md`.
#[test]
fn the_documented_example_holds() {
    let day = 86_400;
    let bar = |i: i64, open, high, low, close| Bar {
        t: 1_700_000_000 - 1_700_000_000 % day + i * day,
        open,
        high,
        low,
        close,
    };
    let bars = [
        bar(0, 100.0, 101.0, 99.0, 100.0),
        bar(1, 101.0, 103.0, 100.5, 102.0),
        bar(2, 102.0, 102.5, 98.0, 99.0),
        bar(3, 99.0, 105.0, 99.0, 104.0),
    ];
    let costs = Costs {
        initial_cash: 10_000.0,
        commission: 0.001,
        slippage_bps: 10.0,
        position_size_pct: 95.0,
    };
    let got = run(&bars, &Strategy::BuyAndHold, &costs);
    let open = got.open.unwrap();
    assert_eq!((open.entry_bar, open.qty), (1, 95));
    close(open.entry_price, 101.101, 1e-9, "entry");
    let m = got.metrics;
    close(m.final_equity, 10_265.800405, 1e-6, "final equity");
    close(m.total_return, 0.0265800405, 1e-9, "total return");
    close(m.max_drawdown, 0.028285594, 1e-9, "drawdown");
    close(m.sharpe.unwrap(), 3.8293138, 1e-6, "sharpe");
    close(m.cagr.unwrap(), 23.382339, 1e-5, "cagr");
    assert_eq!(m.exposure, 0.75);
    assert_eq!((m.win_rate, m.profit_factor, m.trades), (None, None, 0));
    close(m.volatility.unwrap(), 0.6100277, 1e-6, "volatility");
    close(m.sortino.unwrap(), 9.0108466, 1e-6, "sortino");
    close(m.calmar.unwrap(), 826.65186, 1e-4, "calmar");
    assert_eq!(m.max_drawdown_duration, 1);
    close(m.benchmark_return.unwrap(), 0.04, 1e-12, "benchmark");
    assert_eq!((m.sqn, m.expectancy, m.best_trade), (None, None, None));
    assert_eq!(
        super::result::to_json(&bars, &got, 10_000.0)["metrics"]["final_equity"],
        "10265.800405"
    );
}
