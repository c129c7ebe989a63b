//! Alpaca's rules for trailing stops and order classes, and the legs Alpaca creates for an
//! order with exit legs: shared by the Alpaca stand-ins (`alpaca_stub`, `paper_broker`).
//! The messages are Alpaca's own where known.

use rust_decimal::Decimal;
use serde_json::Value;

/// A decimal field sent as a string or a number.
pub fn num(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// One exit leg Alpaca creates: its side, type and prices.
#[derive(Debug, Clone)]
pub struct LegSpec {
    pub side: &'static str,
    pub kind: &'static str,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
}

/// Alpaca's refusal (422) of a request that breaks a trailing-stop or order-class rule.
pub fn check(body: &Value) -> Result<(), String> {
    check_trail(body)?;
    let class = body["order_class"].as_str().unwrap_or("simple");
    if class == "simple" {
        return if body["take_profit"].is_null() && body["stop_loss"].is_null() {
            Ok(())
        } else {
            Err("take_profit and stop_loss are only for bracket, oco and oto orders".into())
        };
    }
    let kind = body["type"].as_str().unwrap_or_default();
    let (tp, sl) = (take_profit(body), stop_loss(body));
    match class {
        "bracket" | "oco" if tp.is_none() || sl.is_none() => {
            return Err(format!("{class} orders require take_profit and stop_loss"))
        }
        "bracket" if !matches!(kind, "market" | "limit") => {
            return Err("bracket orders must be market or limit orders".into())
        }
        "oco" if kind != "limit" => return Err("oco orders must be limit orders".into()),
        "oto" if tp.is_some() == sl.is_some() => {
            return Err("oto orders require exactly one of take_profit or stop_loss".into())
        }
        "oto" if kind == "trailing_stop" => {
            return Err("trailing_stop orders must be simple".into())
        }
        "bracket" | "oco" | "oto" => {}
        _ => return Err(format!("invalid order_class: {class}")),
    }
    if !matches!(body["time_in_force"].as_str(), Some("day" | "gtc")) {
        return Err(format!("{class} orders must be day or gtc"));
    }
    if !body["notional"].is_null() || num(&body["qty"]).is_some_and(|q| !q.fract().is_zero()) {
        return Err("fractional orders must be simple orders".into());
    }
    check_sides(body, class, tp, sl)
}

fn check_trail(body: &Value) -> Result<(), String> {
    let given = (num(&body["trail_price"]), num(&body["trail_percent"]));
    if body["type"] != "trailing_stop" {
        return match given {
            (None, None) => Ok(()),
            _ => Err("trail_price and trail_percent are only for trailing_stop orders".into()),
        };
    }
    if given.0.is_some() == given.1.is_some() {
        return Err("trailing_stop orders require one of trail_price or trail_percent".into());
    }
    match body["time_in_force"].as_str() {
        Some("day" | "gtc") => Ok(()),
        _ => Err("invalid time_in_force for trailing_stop orders (day or gtc)".into()),
    }
}

fn take_profit(body: &Value) -> Option<Decimal> {
    num(&body["take_profit"]["limit_price"])
}

fn stop_loss(body: &Value) -> Option<Decimal> {
    num(&body["stop_loss"]["stop_price"])
}

/// Whether the exits sell (a buy entry's, or a sell oco).
fn exit_sells(body: &Value, class: &str) -> bool {
    (body["side"] == "buy") != (class == "oco")
}

fn check_sides(
    body: &Value,
    class: &str,
    tp: Option<Decimal>,
    sl: Option<Decimal>,
) -> Result<(), String> {
    let sells = exit_sells(body, class);
    let cent = Decimal::new(1, 2);
    let base = (class != "oco")
        .then(|| num(&body["limit_price"]).or(num(&body["stop_price"])))
        .flatten();
    if let Some(base) = base {
        match (sells, tp, sl) {
            (true, Some(tp), _) if tp < base + cent => {
                return Err("take_profit.limit_price must be >= base_price + 0.01".into())
            }
            (true, _, Some(sl)) if sl > base - cent => {
                return Err("stop_loss.stop_price must be <= base_price - 0.01".into())
            }
            (false, Some(tp), _) if tp > base - cent => {
                return Err("take_profit.limit_price must be <= base_price - 0.01".into())
            }
            (false, _, Some(sl)) if sl < base + cent => {
                return Err("stop_loss.stop_price must be >= base_price + 0.01".into())
            }
            _ => {}
        }
    }
    if let (Some(tp), Some(sl)) = (tp, sl) {
        if (sells && tp <= sl) || (!sells && tp >= sl) {
            return Err("take_profit.limit_price and stop_loss.stop_price are crossed".into());
        }
    }
    if let (Some(sl), Some(limit)) = (sl, num(&body["stop_loss"]["limit_price"])) {
        if (sells && limit > sl) || (!sells && limit < sl) {
            return Err("stop_loss.limit_price is on the wrong side of its stop_price".into());
        }
    }
    Ok(())
}

/// The legs Alpaca creates for a valid request: a bracket's take-profit then stop-loss, an
/// oco's stop-loss (the order itself is the take-profit), an oto's one exit.
pub fn legs(body: &Value) -> Vec<LegSpec> {
    let class = body["order_class"].as_str().unwrap_or("simple");
    if class == "simple" {
        return Vec::new();
    }
    let side = if exit_sells(body, class) {
        "sell"
    } else {
        "buy"
    };
    let mut legs = Vec::new();
    if let (Some(tp), true) = (take_profit(body), class != "oco") {
        legs.push(LegSpec {
            side,
            kind: "limit",
            limit_price: Some(tp),
            stop_price: None,
        });
    }
    if let Some(sl) = stop_loss(body) {
        let limit = num(&body["stop_loss"]["limit_price"]);
        legs.push(LegSpec {
            side,
            kind: if limit.is_some() {
                "stop_limit"
            } else {
                "stop"
            },
            limit_price: limit,
            stop_price: Some(sl),
        });
    }
    legs
}
