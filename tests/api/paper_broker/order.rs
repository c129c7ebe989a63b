//! One order at the stand-in: the request validated as Alpaca validates it, the order's state,
//! and its JSON, built on the real order payloads with every field the state decides set.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::alpaca_stub::payload;

/// Statuses after which an order can no longer fill or be canceled.
const CLOSED: [&str; 6] = [
    "filled",
    "canceled",
    "expired",
    "rejected",
    "replaced",
    "done_for_day",
];

/// An Alpaca error answer: status, code, message.
#[derive(Debug)]
pub struct Refusal(pub u16, pub u32, pub String);

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal(422, 40010001, message.into())
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: Uuid,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    pub kind: String,
    pub qty: Option<Decimal>,
    pub notional: Option<Decimal>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub time_in_force: String,
    pub extended_hours: bool,
    pub status: String,
    pub filled_qty: Decimal,
    /// The sum of price × qty over the executions (the average's numerator).
    pub filled_value: Decimal,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub filled_at: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

/// A decimal field sent as a string or a number (Alpaca takes both); `None` when absent.
fn decimal(body: &Value, field: &str) -> Result<Option<Decimal>, Refusal> {
    let text = match &body[field] {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(invalid(format!("invalid {field}"))),
    };
    match text.parse::<Decimal>() {
        Ok(d) if d > Decimal::ZERO => Ok(Some(d)),
        _ => Err(invalid(format!("invalid {field}: {text}"))),
    }
}

fn one_of(body: &Value, field: &str, allowed: &[&str]) -> Result<String, Refusal> {
    match body[field].as_str() {
        Some(v) if allowed.contains(&v) => Ok(v.to_owned()),
        Some(v) => Err(invalid(format!("invalid {field}: {v}"))),
        None => Err(invalid(format!("{field} is required"))),
    }
}

impl Order {
    /// The order a `POST /v2/orders` body asks for, or Alpaca's refusal of it.
    pub fn from_request(body: &Value, now: DateTime<Utc>) -> Result<Order, Refusal> {
        let symbol = match body["symbol"].as_str() {
            Some(s) if !s.is_empty() => s.to_uppercase(),
            _ => return Err(invalid("symbol is required")),
        };
        let side = one_of(body, "side", &["buy", "sell"])?;
        let kind = one_of(body, "type", &["market", "limit", "stop", "stop_limit"])?;
        let tifs = ["day", "gtc", "opg", "cls", "ioc", "fok"];
        let time_in_force = one_of(body, "time_in_force", &tifs)?;
        let (qty, notional) = (decimal(body, "qty")?, decimal(body, "notional")?);
        if qty.is_some() == notional.is_some() {
            return Err(invalid("qty or notional is required, not both"));
        }
        let (limit_price, stop_price) =
            (decimal(body, "limit_price")?, decimal(body, "stop_price")?);
        if kind.contains("limit") && limit_price.is_none() {
            return Err(invalid("limit_price is required"));
        }
        if kind.starts_with("stop") && stop_price.is_none() {
            return Err(invalid("stop_price is required"));
        }
        let client_order_id = match body["client_order_id"].as_str() {
            Some(c) if c.len() > 128 => {
                return Err(invalid(
                    "client_order_id must be no more than 128 characters",
                ))
            }
            Some(c) => c.to_owned(),
            None => Uuid::new_v4().to_string(),
        };
        Ok(Order {
            id: Uuid::new_v4(),
            client_order_id,
            symbol,
            side,
            kind,
            qty,
            notional,
            limit_price,
            stop_price,
            time_in_force,
            extended_hours: body["extended_hours"].as_bool().unwrap_or(false),
            status: "accepted".into(),
            filled_qty: Decimal::ZERO,
            filled_value: Decimal::ZERO,
            created_at: now,
            updated_at: now,
            filled_at: None,
            canceled_at: None,
            expired_at: None,
            failed_at: None,
        })
    }

    pub fn is_open(&self) -> bool {
        !CLOSED.contains(&self.status.as_str())
    }

    /// The volume-weighted average of the executions so far.
    pub fn filled_avg_price(&self) -> Option<Decimal> {
        (!self.filled_qty.is_zero()).then(|| {
            (self.filled_value / self.filled_qty)
                .round_dp(9)
                .normalize()
        })
    }

    /// Whether the executions so far complete the order.
    pub fn complete(&self) -> bool {
        match (self.qty, self.notional) {
            (Some(qty), _) => self.filled_qty >= qty,
            // A notional order is done when less than a cent of it is left.
            (None, Some(notional)) => notional - self.filled_value < Decimal::new(1, 2),
            (None, None) => true,
        }
    }

    /// What is left to fill (for a notional order, in shares at `price`).
    pub fn leaves_qty(&self, price: Decimal) -> Decimal {
        if !self.is_open() && self.status != "filled" {
            return Decimal::ZERO;
        }
        match (self.qty, self.notional) {
            (Some(qty), _) => qty - self.filled_qty,
            (None, Some(n)) if !self.complete() => ((n - self.filled_value) / price).round_dp(9),
            _ => Decimal::ZERO,
        }
    }

    /// The order in Alpaca's shape: the real payload for its type, with every field the
    /// stand-in knows set (decimals as strings, times as RFC 3339).
    pub fn json(&self) -> Value {
        let template = if self.kind == "market" {
            "test_market_order"
        } else {
            "test_limit_order"
        };
        let mut order: Value = serde_json::from_str(&payload(template)).expect("order payload");
        let intent = if self.side == "buy" {
            "buy_to_open"
        } else {
            "sell_to_close"
        };
        let fields = json!({
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": time(self.created_at),
            "updated_at": time(self.updated_at),
            "submitted_at": time(self.created_at),
            "filled_at": self.filled_at.map(time),
            "expired_at": self.expired_at.map(time),
            "canceled_at": self.canceled_at.map(time),
            "failed_at": self.failed_at.map(time),
            "symbol": self.symbol,
            "notional": self.notional.map(amount),
            "qty": self.qty.map(amount),
            "filled_qty": amount(self.filled_qty),
            "filled_avg_price": self.filled_avg_price().map(amount),
            "order_type": self.kind,
            "type": self.kind,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": self.limit_price.map(amount),
            "stop_price": self.stop_price.map(amount),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "position_intent": intent,
        });
        for (key, value) in fields.as_object().expect("an object") {
            order[key] = value.clone();
        }
        order
    }
}

/// Now, to the microsecond Alpaca shows (so a time read back from an order compares equal).
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// A time as Alpaca writes it: RFC 3339, UTC, microseconds.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A decimal as Alpaca writes it: a string, without trailing zeros.
pub fn amount(d: Decimal) -> String {
    if d.is_zero() {
        return "0".into();
    }
    d.normalize().to_string()
}
