//! `POST /api/backtest` bodies parsed once, field by field: a [`BacktestRequest`] is valid by
//! construction (known strategy with sane parameters, positive cash, costs in range, a range
//! within the bar cap), and everything wrong is reported together as a 422.

use crate::trading::order::Symbol;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::engine::Costs;
use super::strategy::Strategy;
use crate::input::{InvalidInput, Problems};
use crate::market_data::Timeframe;

/// The longest indicator window a strategy may ask for.
pub const MAX_PERIOD: u64 = 10_000;
/// The most slippage a run may assume, in basis points.
pub const MAX_SLIPPAGE_BPS: u32 = 1_000;

/// A valid backtest request.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRequest {
    pub symbol: String,
    pub timeframe: Timeframe,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub strategy: Strategy,
    pub initial_cash: Decimal,
    pub commission: Decimal,
    pub slippage_bps: Decimal,
    pub position_size_pct: Decimal,
}

impl BacktestRequest {
    /// Checks every field of a JSON body; a range spanning more than `max_bars` is refused.
    pub fn parse(body: &Value, max_bars: u32) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let Some(body) = body.as_object() else {
            return Err(InvalidInput::single("body", "must be a JSON object"));
        };
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::trim);
        let symbol = p.take(
            "symbol",
            required(text("symbol")).and_then(|s| Symbol::parse(s).map(|s| s.as_str().to_owned())),
        );
        let timeframe = p.take(
            "timeframe",
            required(text("timeframe")).and_then(Timeframe::parse),
        );
        let start = p.take("start", required(text("start")).and_then(time));
        let end = p.take("end", required(text("end")).and_then(time));
        let strategy = strategy(body.get("strategy"), &mut p);
        let decimal = |key: &str, default: &str, min: &str, max: &str, open_min: bool| {
            bounded_decimal(body.get(key), default, (min, max), open_min)
        };
        let initial_cash = p.take(
            "initial_cash",
            decimal("initial_cash", "100000", "0", "1000000000000", true),
        );
        let commission = p.take("commission", decimal("commission", "0", "0", "0.1", false));
        let slippage_bps = p.take(
            "slippage_bps",
            decimal(
                "slippage_bps",
                "0",
                "0",
                &MAX_SLIPPAGE_BPS.to_string(),
                false,
            ),
        );
        let position_size_pct = p.take(
            "position_size_pct",
            decimal("position_size_pct", "95", "0", "100", true),
        );
        if let (Some(start), Some(end)) = (start, end) {
            if start >= end {
                p.add("start", "must be before end");
            } else if let Some(timeframe) = timeframe {
                if timeframe.periods_in(start, end) > i64::from(max_bars) {
                    p.add("end", format!("the range spans more than {max_bars} bars"));
                }
            }
        }
        p.finish(|| {
            Some(BacktestRequest {
                symbol: symbol?,
                timeframe: timeframe?,
                start: start?,
                end: end?,
                strategy: strategy?,
                initial_cash: initial_cash?,
                commission: commission?,
                slippage_bps: slippage_bps?,
                position_size_pct: position_size_pct?,
            })
        })
    }

    /// The engine's view of the money: f64, each correctly rounded from its decimal.
    pub fn costs(&self) -> Costs {
        let f = |d: &Decimal| d.to_string().parse::<f64>().unwrap_or(0.0);
        Costs {
            initial_cash: f(&self.initial_cash),
            commission: f(&self.commission),
            slippage_bps: f(&self.slippage_bps),
            position_size_pct: f(&self.position_size_pct),
        }
    }

    /// The request as a run shows it: every field, defaults filled in, decimals as strings.
    pub fn to_json(&self) -> Value {
        let params = match self.strategy {
            Strategy::SmaCrossover { fast, slow } => json!({"fast": fast, "slow": slow}),
            Strategy::RsiReversion {
                period,
                lower,
                upper,
            } => json!({"period": period, "lower": lower, "upper": upper}),
            Strategy::BuyAndHold => json!({}),
        };
        json!({
            "symbol": self.symbol,
            "timeframe": self.timeframe.as_alpaca(),
            "start": self.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "end": self.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "strategy": {"name": self.strategy.name(), "params": params},
            "initial_cash": self.initial_cash.to_string(),
            "commission": self.commission.to_string(),
            "slippage_bps": self.slippage_bps.to_string(),
            "position_size_pct": self.position_size_pct.to_string(),
        })
    }
}

/// Checks one numeric parameter of `strategy` alone (its type and range, not its relation to
/// the others); `None` when the strategy has no parameter `name`.
pub fn check_param(strategy: &Strategy, name: &str, value: &Value) -> Option<Result<(), String>> {
    let mut params = Map::new();
    params.insert(name.to_owned(), value.clone());
    match (strategy, name) {
        (Strategy::SmaCrossover { .. }, "fast" | "slow")
        | (Strategy::RsiReversion { .. }, "period") => {
            Some(period(&params, name, None).map(|_| ()))
        }
        (Strategy::RsiReversion { .. }, "lower" | "upper") => {
            Some(level(&params, name, 0.0).map(|_| ()))
        }
        _ => None,
    }
}

fn strategy(raw: Option<&Value>, p: &mut Problems) -> Option<Strategy> {
    let Some(raw) = raw.and_then(Value::as_object) else {
        p.add(
            "strategy",
            "is required: {\"name\": ..., \"params\": {...}}",
        );
        return None;
    };
    let empty = Map::new();
    let params = match raw.get("params") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(params)) => params,
        Some(_) => {
            p.add("strategy.params", "must be an object");
            return None;
        }
    };
    let (known, strategy): (&[&str], _) = match raw.get("name").and_then(Value::as_str) {
        Some("sma_crossover") => {
            let fast = p.take("strategy.params.fast", period(params, "fast", None));
            let slow = p.take("strategy.params.slow", period(params, "slow", None));
            if let (Some(fast), Some(slow)) = (fast, slow) {
                if fast >= slow {
                    p.add("strategy.params.fast", "must be less than slow");
                }
            }
            let strategy = fast
                .zip(slow)
                .map(|(fast, slow)| Strategy::SmaCrossover { fast, slow });
            (&["fast", "slow"], strategy)
        }
        Some("rsi_reversion") => {
            let period = p.take("strategy.params.period", period(params, "period", Some(14)));
            let lower = p.take("strategy.params.lower", level(params, "lower", 30.0));
            let upper = p.take("strategy.params.upper", level(params, "upper", 70.0));
            if let (Some(lower), Some(upper)) = (lower, upper) {
                if lower >= upper {
                    p.add("strategy.params.lower", "must be less than upper");
                }
            }
            let strategy = (|| {
                Some(Strategy::RsiReversion {
                    period: period?,
                    lower: lower?,
                    upper: upper?,
                })
            })();
            (&["period", "lower", "upper"], strategy)
        }
        Some("buy_and_hold") => (&[], Some(Strategy::BuyAndHold)),
        _ => {
            p.add(
                "strategy.name",
                "must be one of sma_crossover, rsi_reversion, buy_and_hold",
            );
            return None;
        }
    };
    let unknown: Vec<&str> = params
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if !unknown.is_empty() {
        p.add(
            "strategy.params",
            format!("unknown parameter(s): {}", unknown.join(", ")),
        );
    }
    strategy
}

fn period(params: &Map<String, Value>, key: &str, default: Option<u64>) -> Result<usize, String> {
    let value = match params.get(key) {
        None => default.ok_or_else(|| "is required".to_owned())?,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| "must be a whole number".to_owned())?,
    };
    if (1..=MAX_PERIOD).contains(&value) {
        Ok(value as usize)
    } else {
        Err(format!("must be from 1 to {MAX_PERIOD}"))
    }
}

fn level(params: &Map<String, Value>, key: &str, default: f64) -> Result<f64, String> {
    let value = match params.get(key) {
        None => default,
        Some(v) => v.as_f64().ok_or_else(|| "must be a number".to_owned())?,
    };
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err("must be from 0 to 100".into())
    }
}

fn not_decimal() -> String {
    "must be a decimal number, e.g. \"0.001\"".into()
}

fn required(value: Option<&str>) -> Result<&str, String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "is required".to_owned())
}

fn time(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.to_utc())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| format!("{raw:?} is not an RFC 3339 time or a YYYY-MM-DD date"))
}

/// A decimal field: `default` when absent, else a number or a decimal string in `min..=max`
/// (`min` excluded when `open_min`), normalised.
fn bounded_decimal(
    value: Option<&Value>,
    default: &str,
    (min, max): (&str, &str),
    open_min: bool,
) -> Result<Decimal, String> {
    let value = match value {
        None | Some(Value::Null) => Ok(default.parse().unwrap_or_default()),
        Some(Value::String(s)) => s.trim().parse::<Decimal>().map_err(|_| not_decimal()),
        Some(Value::Number(n)) => n.to_string().parse().map_err(|_| not_decimal()),
        Some(_) => Err(not_decimal()),
    };
    let (min, max): (Decimal, Decimal) = (
        min.parse().unwrap_or_default(),
        max.parse().unwrap_or_default(),
    );
    value.and_then(|v| {
        let low_ok = if open_min { v > min } else { v >= min };
        if low_ok && v <= max {
            Ok(v.normalize())
        } else if open_min {
            Err(format!("must be greater than {min} and at most {max}"))
        } else {
            Err(format!("must be from {min} to {max}"))
        }
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
