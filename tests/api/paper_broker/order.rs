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
    pub trail_price: Option<Decimal>,
    pub trail_percent: Option<Decimal>,
    /// A trailing stop's high-water mark: the best price since it was placed.
    pub hwm: Option<Decimal>,
    pub order_class: String,
    /// The order whose exit leg this is.
    pub parent: Option<Uuid>,
    pub replaces: Option<Uuid>,
    pub replaced_by: Option<Uuid>,
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
    /// A leg of `parent` as Alpaca creates it: an order of its own, `held` until the entry
    /// fills.
    pub fn leg(parent: &Order, spec: &crate::alpaca_rules::LegSpec) -> Order {
        Order {
            id: Uuid::new_v4(),
            client_order_id: Uuid::new_v4().to_string(),
            side: spec.side.to_owned(),
            kind: spec.kind.to_owned(),
            notional: None,
            limit_price: spec.limit_price,
            stop_price: spec.stop_price,
            trail_price: None,
            trail_percent: None,
            hwm: None,
            parent: Some(parent.id),
            status: "held".into(),
            ..parent.clone()
        }
    }

    /// The replacement of this order (`PATCH /v2/orders/{id}`): the same order with `body`'s
    /// changes under a new id, or Alpaca's refusal.
    pub fn replacement(&self, body: &Value, now: DateTime<Utc>) -> Result<Order, Refusal> {
        if !self.is_open() {
            let message = format!("order is already in \"{}\" state", self.status);
            return Err(Refusal(422, 42210000, message));
        }
        let trail = decimal(body, "trail")?;
        if trail.is_some() && self.kind != "trailing_stop" {
            return Err(invalid("trail is only for trailing_stop orders"));
        }
        let mut new = self.clone();
        new.id = Uuid::new_v4();
        new.client_order_id = match body["client_order_id"].as_str() {
            Some(c) => c.to_owned(),
            None => Uuid::new_v4().to_string(),
        };
        new.qty = decimal(body, "qty")?.or(self.qty);
        new.limit_price = decimal(body, "limit_price")?.or(self.limit_price);
        new.stop_price = decimal(body, "stop_price")?.or(self.stop_price);
        if let Some(trail) = trail {
            match self.trail_percent {
                Some(_) => new.trail_percent = Some(trail),
                None => new.trail_price = Some(trail),
            }
        }
        if let Some(tif) = body["time_in_force"].as_str() {
            new.time_in_force = tif.to_owned();
        }
        (new.status, new.replaces, new.replaced_by) = ("accepted".into(), Some(self.id), None);
        (new.filled_qty, new.filled_value) = (Decimal::ZERO, Decimal::ZERO);
        (new.created_at, new.updated_at) = (now, now);
        Ok(new)
    }

    /// The order a `POST /v2/orders` body asks for, or Alpaca's refusal of it.
    pub fn from_request(body: &Value, now: DateTime<Utc>) -> Result<Order, Refusal> {
        let symbol = match body["symbol"].as_str() {
            Some(s) if !s.is_empty() => s.to_uppercase(),
            _ => return Err(invalid("symbol is required")),
        };
        let side = one_of(body, "side", &["buy", "sell"])?;
        let kinds = ["market", "limit", "stop", "stop_limit", "trailing_stop"];
        let kind = one_of(body, "type", &kinds)?;
        crate::alpaca_rules::check(body).map_err(|m| Refusal(422, 42210000, m))?;
        let tifs = ["day", "gtc", "opg", "cls", "ioc", "fok"];
        let time_in_force = one_of(body, "time_in_force", &tifs)?;
        let (qty, notional) = (decimal(body, "qty")?, decimal(body, "notional")?);
        if qty.is_some() == notional.is_some() {
            return Err(invalid("qty or notional is required, not both"));
        }
        let (limit_price, stop_price) =
            (decimal(body, "limit_price")?, decimal(body, "stop_price")?);
        let oco = body["order_class"] == "oco";
        if kind.contains("limit") && limit_price.is_none() && !oco {
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
            limit_price: limit_price.or(oco
                .then(|| crate::alpaca_rules::num(&body["take_profit"]["limit_price"]))
                .flatten()),
            stop_price,
            trail_price: decimal(body, "trail_price")?,
            trail_percent: decimal(body, "trail_percent")?,
            hwm: None,
            order_class: body["order_class"].as_str().unwrap_or("simple").to_owned(),
            parent: None,
            replaces: None,
            replaced_by: None,
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
            "trail_price": self.trail_price.map(amount),
            "trail_percent": self.trail_percent.map(amount),
            "hwm": self.hwm.map(amount),
            "order_class": self.order_class,
            "replaces": self.replaces,
            "replaced_by": self.replaced_by,
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

/// `order` in Alpaca's shape with its legs (the orders whose parent it is) nested.
pub fn nested(orders: &[Order], order: &Order) -> Value {
    let mut json = order.json();
    let legs: Vec<Value> = orders
        .iter()
        .filter(|o| o.parent == Some(order.id))
        .map(Order::json)
        .collect();
    if !legs.is_empty() {
        json["legs"] = Value::Array(legs);
    }
    json
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
