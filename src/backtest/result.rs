//! A finished run as the API shows it: `{bars, metrics, trades, equity_curve}`, money and prices
//! as decimal strings (rounded to 6 places, trailing zeros dropped), ratios as JSON numbers
//! (null where a metric is undefined), times RFC 3339 UTC.
//!
//! A long run's equity curve is thinned to at most [`MAX_CURVE_POINTS`] points (every k-th
//! close, always the last) and its trade list cut to the first [`MAX_TRADES`]
//! (`trades_truncated: true`), so a stored result stays small; metrics use every close and
//! every trade. Each curve point also carries `benchmark`: what the initial cash would be worth
//! holding the symbol from the first close (the chart draws it beside the equity).

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::engine::{Bar, Outcome};
use super::metrics::Metrics;

/// Most points an equity curve keeps.
pub const MAX_CURVE_POINTS: usize = 5_000;
/// Most trades a stored result keeps.
pub const MAX_TRADES: usize = 10_000;

/// The result of `outcome` over `bars`, with `initial_cash` for the benchmark curve.
pub fn to_json(bars: &[Bar], outcome: &Outcome, initial_cash: f64) -> Value {
    let trades: Vec<Value> = outcome
        .trades
        .iter()
        .take(MAX_TRADES)
        .map(|t| {
            json!({
                "entry_time": time(bars[t.entry_bar].t),
                "entry_price": decimal(t.entry_price),
                "exit_time": time(bars[t.exit_bar].t),
                "exit_price": decimal(t.exit_price),
                "qty": t.qty.to_string(),
                "pnl": decimal(t.pnl),
                "return": number(t.ret),
            })
        })
        .collect();
    json!({
        "bars": bars.len(),
        "metrics": metrics_json(&outcome.metrics),
        "trades": trades,
        "trades_truncated": outcome.trades.len() > MAX_TRADES,
        "open_position": outcome.open.map(|p| json!({
            "entry_time": time(bars[p.entry_bar].t),
            "entry_price": decimal(p.entry_price),
            "qty": p.qty.to_string(),
        })),
        "equity_curve": curve(bars, &outcome.equity, initial_cash),
    })
}

/// The curve, thinned to [`MAX_CURVE_POINTS`]: `{t, equity, benchmark}` per kept close.
fn curve(bars: &[Bar], equity: &[f64], initial_cash: f64) -> Vec<Value> {
    let stride = equity.len().div_ceil(MAX_CURVE_POINTS).max(1);
    let last = equity.len().saturating_sub(1);
    let first_close = bars.first().map_or(0.0, |b| b.close);
    equity
        .iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || *i == last)
        .map(|(i, equity)| {
            let held = if first_close > 0.0 {
                initial_cash * bars[i].close / first_close
            } else {
                initial_cash
            };
            json!({"t": time(bars[i].t), "equity": decimal(*equity), "benchmark": decimal(held)})
        })
        .collect()
}

/// A run's metrics: money as decimal strings, ratios as numbers, undefined ones null.
pub fn metrics_json(m: &Metrics) -> Value {
    json!({
        "final_equity": decimal(m.final_equity),
            "total_return": number(m.total_return),
            "cagr": m.cagr.map(number),
            "sharpe": m.sharpe.map(number),
            "max_drawdown": number(m.max_drawdown),
            "win_rate": m.win_rate.map(number),
            "profit_factor": m.profit_factor.map(number),
            "exposure": number(m.exposure),
            "trades": m.trades,
            "volatility": m.volatility.map(number),
            "sortino": m.sortino.map(number),
            "calmar": m.calmar.map(number),
            "max_drawdown_duration": m.max_drawdown_duration,
            "sqn": m.sqn.map(number),
            "benchmark_return": m.benchmark_return.map(number),
            "expectancy": m.expectancy.map(decimal),
            "avg_trade_return": m.avg_trade_return.map(number),
            "best_trade": m.best_trade.map(number),
            "worst_trade": m.worst_trade.map(number),
    })
}

/// `x` as a decimal string, 6 places at most.
pub fn decimal(x: f64) -> String {
    Decimal::from_f64(x)
        .map(|d| d.round_dp(6).normalize().to_string())
        .unwrap_or_else(|| "0".into())
}

/// A finite number, or null.
fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn time(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_ten_thousand_trades_are_kept_and_the_metrics_count_them_all() {
        use crate::backtest::engine::{run, Costs};
        use crate::backtest::strategy::Strategy;
        // Closes alternating every bar make a crossover every bar: a round trip every 4.
        let bars: Vec<Bar> = (0..80_000)
            .map(|i| Bar::flat(i * 86_400, if i % 2 == 0 { 10.0 } else { 12.0 }))
            .collect();
        let costs = Costs {
            initial_cash: 1e6,
            commission: 0.0,
            slippage_bps: 0.0,
            position_size_pct: 50.0,
        };
        let outcome = run(&bars, &Strategy::SmaCrossover { fast: 1, slow: 2 }, &costs);
        assert!(
            outcome.trades.len() > MAX_TRADES,
            "{}",
            outcome.trades.len()
        );
        let stored = to_json(&bars, &outcome, 1e6);
        assert_eq!(stored["trades"].as_array().unwrap().len(), MAX_TRADES);
        assert_eq!(stored["trades_truncated"], true);
        assert_eq!(stored["metrics"]["trades"], outcome.trades.len());
        assert!(stored["equity_curve"].as_array().unwrap().len() <= MAX_CURVE_POINTS + 1);
    }

    #[test]
    fn decimals_are_short_strings() {
        assert_eq!(decimal(100000.0), "100000");
        assert_eq!(decimal(121.05000000000001), "121.05");
        assert_eq!(decimal(-0.1234567), "-0.123457");
    }
}
