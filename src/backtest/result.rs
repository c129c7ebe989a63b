//! A finished run as the API shows it: `{bars, metrics, trades, equity_curve}`, money and prices
//! as decimal strings (rounded to 6 places, trailing zeros dropped), ratios as JSON numbers
//! (null where a metric is undefined), times RFC 3339 UTC.
//!
//! A long run's equity curve is thinned to at most [`MAX_CURVE_POINTS`] points (every k-th
//! close, always the last) so a stored result stays small; metrics use every close.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::engine::{Bar, Outcome};

/// Most points an equity curve keeps.
pub const MAX_CURVE_POINTS: usize = 5_000;

/// The result of `outcome` over `bars`.
pub fn to_json(bars: &[Bar], outcome: &Outcome) -> Value {
    let m = &outcome.metrics;
    let trades: Vec<Value> = outcome
        .trades
        .iter()
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
    let stride = outcome.equity.len().div_ceil(MAX_CURVE_POINTS).max(1);
    let last = outcome.equity.len().saturating_sub(1);
    let curve: Vec<Value> = outcome
        .equity
        .iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || *i == last)
        .map(|(i, equity)| json!({"t": time(bars[i].t), "equity": decimal(*equity)}))
        .collect();
    json!({
        "bars": bars.len(),
        "metrics": {
            "final_equity": decimal(m.final_equity),
            "total_return": number(m.total_return),
            "cagr": m.cagr.map(number),
            "sharpe": m.sharpe.map(number),
            "max_drawdown": number(m.max_drawdown),
            "win_rate": m.win_rate.map(number),
            "profit_factor": m.profit_factor.map(number),
            "exposure": number(m.exposure),
            "trades": m.trades,
        },
        "trades": trades,
        "open_position": outcome.open.map(|p| json!({
            "entry_time": time(bars[p.entry_bar].t),
            "entry_price": decimal(p.entry_price),
            "qty": p.qty.to_string(),
        })),
        "equity_curve": curve,
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
    fn decimals_are_short_strings() {
        assert_eq!(decimal(100000.0), "100000");
        assert_eq!(decimal(121.05000000000001), "121.05");
        assert_eq!(decimal(-0.1234567), "-0.123457");
    }
}
