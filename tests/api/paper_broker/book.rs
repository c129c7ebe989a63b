//! The shared paper account's state: orders, executions, positions, cash and the FILL
//! activities, with every change's `trade_updates` data object queued in `outbox` for the
//! stream (sent while the book is still locked, so events go out in the order they happened).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

use super::order::{amount, nested, now, time, Order, Refusal};
use crate::alpaca_stub::payload;

/// The cash the account starts with.
pub const INITIAL_CASH: i64 = 100_000;

/// One symbol's aggregate position: `qty` is negative when short.
#[derive(Debug, Clone, Default)]
pub struct Position {
    pub qty: Decimal,
    pub avg_entry_price: Decimal,
}

impl Position {
    /// Applies an execution of signed `qty` at `price`: adding to the position moves the
    /// average entry price; reducing it keeps the average; crossing zero opens at `price`.
    fn apply(&mut self, qty: Decimal, price: Decimal) {
        let new_qty = self.qty + qty;
        if self.qty.is_zero() || self.qty.is_sign_positive() == qty.is_sign_positive() {
            let value = self.qty.abs() * self.avg_entry_price + qty.abs() * price;
            self.avg_entry_price = value / new_qty.abs();
        } else if !new_qty.is_zero() && new_qty.is_sign_positive() != self.qty.is_sign_positive() {
            self.avg_entry_price = price;
        }
        self.qty = new_qty;
    }
}

pub struct Book {
    pub orders: Vec<Order>,
    pub positions: BTreeMap<String, Position>,
    /// FILL activities, in the order they happened.
    pub activities: Vec<Value>,
    pub prices: HashMap<String, Decimal>,
    pub cash: Decimal,
    pub auto_fill: bool,
    /// `trade_updates` data objects not yet sent.
    pub outbox: Vec<String>,
}

impl Default for Book {
    fn default() -> Self {
        Self {
            orders: Vec::new(),
            positions: BTreeMap::new(),
            activities: Vec::new(),
            prices: HashMap::new(),
            cash: Decimal::from(INITIAL_CASH),
            auto_fill: true,
            outbox: Vec::new(),
        }
    }
}

impl Book {
    pub fn index(&self, id: &str) -> Option<usize> {
        self.orders
            .iter()
            .position(|o| o.id.to_string() == id || o.client_order_id == id)
    }

    /// Takes an order (`POST /v2/orders`): the answer is the order as accepted; `new` follows on
    /// the stream and, for a market order with a price set and auto-fill on, its `fill`.
    pub fn submit(&mut self, body: &Value) -> Result<Value, Refusal> {
        let mut order = Order::from_request(body, now())?;
        if self.index(&order.client_order_id).is_some() {
            let message = "client_order_id must be unique".into();
            return Err(Refusal(422, 40010001, message));
        }
        if order.kind == "trailing_stop" {
            order.hwm = self.prices.get(&order.symbol).copied();
        }
        let legs: Vec<Order> = crate::alpaca_rules::legs(body)
            .iter()
            .map(|spec| Order::leg(&order, spec))
            .collect();
        let mut all = vec![order.clone()];
        all.extend(legs.iter().cloned());
        let accepted = nested(&all, &order);
        order.status = "new".into();
        let (id, symbol, kind) = (
            order.id.to_string(),
            order.symbol.clone(),
            order.kind.clone(),
        );
        self.orders.push(order);
        self.orders.extend(legs);
        let execution = json!({"execution_id": Uuid::new_v4()});
        let i = self.index(&id).expect("just taken");
        self.emit("new", i, now(), execution);
        let price = self.prices.get(&symbol).copied();
        if let (true, "market", Some(price)) = (self.auto_fill, kind.as_str(), price) {
            let order = &self.orders[i];
            let qty = match order.qty {
                Some(qty) => qty,
                None => (order.notional.unwrap_or_default() / price).trunc_with_scale(9),
            };
            self.fill(&id, qty, price)
                .expect("a new market order fills");
        }
        Ok(accepted)
    }

    /// Replaces the open order `id` (`PATCH /v2/orders/{id}`): the old order is `replaced`
    /// (its `replaced` update first), the replacement is `new` (its `new` update next); the
    /// answer is the replacement as accepted.
    pub fn replace(&mut self, id: &str, body: &Value) -> Result<Value, Refusal> {
        let Some(i) = self.index(id) else {
            return Err(Refusal(404, 40410000, "order not found".into()));
        };
        let now = now();
        let mut new = self.orders[i].replacement(body, now)?;
        if self.index(&new.client_order_id).is_some() {
            let message = "client_order_id must be unique".into();
            return Err(Refusal(422, 40010001, message));
        }
        let accepted = new.json();
        let old = &mut self.orders[i];
        (old.status, old.replaced_by, old.updated_at) = ("replaced".into(), Some(new.id), now);
        self.emit("replaced", i, now, json!({"execution_id": Uuid::new_v4()}));
        new.status = "new".into();
        self.orders.push(new);
        let j = self.orders.len() - 1;
        self.emit("new", j, now, json!({"execution_id": Uuid::new_v4()}));
        Ok(accepted)
    }

    /// One execution of `qty` at `price` (see `PaperBroker::fill`).
    pub fn fill(&mut self, id: &str, qty: Decimal, price: Decimal) -> Result<Value, String> {
        let i = self.index(id).ok_or_else(|| format!("no order {id}"))?;
        let now = now();
        let order = &mut self.orders[i];
        if !order.is_open() || qty <= Decimal::ZERO || price <= Decimal::ZERO {
            return Err(format!(
                "order {id} ({}) cannot fill {qty} at {price}",
                order.status
            ));
        }
        if order
            .qty
            .is_some_and(|total| order.filled_qty + qty > total)
        {
            return Err(format!("{qty} more would overfill order {id}"));
        }
        order.filled_qty += qty;
        order.filled_value += qty * price;
        let event = if order.complete() {
            "fill"
        } else {
            "partial_fill"
        };
        order.status = if order.complete() {
            "filled"
        } else {
            "partially_filled"
        }
        .into();
        (order.filled_at, order.updated_at) = (Some(now), now);
        let signed = if order.side == "buy" { qty } else { -qty };
        let symbol = order.symbol.clone();
        let position = self.positions.entry(symbol.clone()).or_default();
        position.apply(signed, price);
        let position_qty = position.qty;
        if position_qty.is_zero() {
            self.positions.remove(&symbol);
        }
        self.cash -= signed * price;
        self.record_activity(i, event, qty, price, now);
        let execution = json!({
            "execution_id": Uuid::new_v4(),
            "position_qty": amount(position_qty),
            "price": amount(price),
            "qty": amount(qty),
        });
        let data = self.emit(event, i, now, execution);
        if self.orders[i].complete() {
            self.follow_legs(i);
        }
        Ok(data)
    }

    /// What a filled order does to its class: an entry's held legs become `new`; a filled exit
    /// cancels the other exits (an oco's parent is an exit too).
    fn follow_legs(&mut self, i: usize) {
        let (id, parent) = (self.orders[i].id, self.orders[i].parent);
        let oco_parent = parent.is_none() && self.orders[i].order_class == "oco";
        let exit = parent.is_some() || oco_parent;
        for j in 0..self.orders.len() {
            let other = &self.orders[j];
            let leg_of_this = other.parent == Some(id);
            let sibling = parent.is_some() && j != i && other.parent == parent;
            let oco_root = parent == Some(other.id) && other.order_class == "oco";
            if !exit && leg_of_this && other.status == "held" {
                self.orders[j].status = "new".into();
                self.emit("new", j, now(), json!({"execution_id": Uuid::new_v4()}));
            } else if exit && (leg_of_this || sibling || oco_root) && other.is_open() {
                let other_id = other.id.to_string();
                let _ = self.settle(&other_id, "canceled");
            }
        }
    }

    /// Settles an open order as `status` (`canceled`, `expired`, `rejected`) and emits the
    /// event of that name.
    pub fn settle(&mut self, id: &str, status: &str) -> Result<(), Refusal> {
        let Some(i) = self.index(id) else {
            return Err(Refusal(404, 40410000, "order not found".into()));
        };
        let (now, order) = (now(), &mut self.orders[i]);
        if !order.is_open() {
            let message = format!("order is already in \"{}\" state", order.status);
            return Err(Refusal(422, 42210000, message));
        }
        order.status = status.to_owned();
        order.updated_at = now;
        match status {
            "canceled" => order.canceled_at = Some(now),
            "expired" => order.expired_at = Some(now),
            _ => order.failed_at = Some(now),
        }
        self.emit(status, i, now, json!({"execution_id": Uuid::new_v4()}));
        Ok(())
    }

    /// Queues `event` for order `i` with `extra` fields, and returns its data object.
    fn emit(&mut self, event: &str, i: usize, at: DateTime<Utc>, extra: Value) -> Value {
        let mut data = json!({
            "event": event,
            "order": nested(&self.orders, &self.orders[i]),
            "timestamp": time(at),
        });
        for (key, value) in extra.as_object().expect("an object") {
            data[key] = value.clone();
        }
        self.outbox.push(data.to_string());
        data
    }

    fn record_activity(
        &mut self,
        i: usize,
        kind: &str,
        qty: Decimal,
        price: Decimal,
        at: DateTime<Utc>,
    ) {
        let order = &self.orders[i];
        let id = format!("{}::{}", at.format("%Y%m%d%H%M%S%3f"), Uuid::new_v4());
        self.activities.push(json!({
            "id": id,
            "activity_type": "FILL",
            "transaction_time": time(at),
            "type": kind,
            "price": amount(price),
            "qty": amount(qty),
            "side": order.side,
            "symbol": order.symbol,
            "leaves_qty": amount(order.leaves_qty(price)),
            "order_id": order.id,
            "cum_qty": amount(order.filled_qty),
            "order_status": order.status,
        }));
    }

    /// The position in `symbol` in Alpaca's shape (the real payload with every figure set),
    /// priced at the symbol's set price, else at its average entry price.
    pub fn position_json(&self, symbol: &str) -> Option<Value> {
        let p = self.positions.get(symbol)?;
        let current = self
            .prices
            .get(symbol)
            .copied()
            .unwrap_or(p.avg_entry_price);
        let cost_basis = p.qty * p.avg_entry_price;
        let market_value = p.qty * current;
        let pl = market_value - cost_basis;
        let plpc = if cost_basis.is_zero() {
            Decimal::ZERO
        } else {
            pl / cost_basis.abs()
        };
        let figures = json!({
            "avg_entry_price": amount(p.avg_entry_price.round_dp(9)),
            "market_value": amount(market_value.round_dp(9)),
            "cost_basis": amount(cost_basis.round_dp(9)),
            "unrealized_pl": amount(pl.round_dp(9)),
            "unrealized_plpc": amount(plpc.round_dp(9)),
            "unrealized_intraday_pl": amount(pl.round_dp(9)),
            "unrealized_intraday_plpc": amount(plpc.round_dp(9)),
            "current_price": amount(current),
            "lastday_price": amount(current),
            "change_today": "0",
        });
        let elements = crate::alpaca_stub::payload_elements("test_get_all_positions");
        let mut position: Value = serde_json::from_str(&elements[0]).expect("position payload");
        for (key, value) in figures.as_object().expect("an object") {
            position[key] = value.clone();
            position["usd"][key] = value.clone();
        }
        position["symbol"] = json!(symbol);
        position["qty"] = json!(amount(p.qty));
        position["qty_available"] = json!(amount(p.qty));
        position["side"] = json!(if p.qty.is_sign_negative() {
            "short"
        } else {
            "long"
        });
        Some(position)
    }

    /// The account (`GET /v2/account`): the real payload with cash and the market values
    /// following the fills.
    pub fn account_json(&self) -> Value {
        let mut account: Value =
            serde_json::from_str(&payload("test_get_account")).expect("account");
        let (mut long, mut short) = (Decimal::ZERO, Decimal::ZERO);
        for symbol in self.positions.keys() {
            let value: Decimal = self.position_json(symbol).expect("held")["market_value"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .expect("a market value");
            if value.is_sign_negative() {
                short += value
            } else {
                long += value
            }
        }
        let equity = self.cash + long + short;
        account["cash"] = json!(amount(self.cash));
        account["buying_power"] = json!(amount(self.cash.max(Decimal::ZERO)));
        account["non_marginable_buying_power"] = account["buying_power"].clone();
        account["long_market_value"] = json!(amount(long));
        account["short_market_value"] = json!(amount(short));
        account["equity"] = json!(amount(equity));
        account["portfolio_value"] = json!(amount(equity));
        account["last_equity"] = json!(amount(Decimal::from(INITIAL_CASH)));
        account
    }
}
