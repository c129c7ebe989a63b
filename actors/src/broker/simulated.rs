//! The simulated paper broker for `raptor dev` without Alpaca credentials.
//!
//! It speaks Alpaca's JSON shapes so the SPA cannot tell the difference, except that
//! `GET /api/trading/mode` says `simulated` and the account number says so too. Each symbol has
//! a fixed synthetic price; market orders (and marketable limit orders) fill at once at that
//! price, others stay open until cancelled. Cash and positions move together on every fill, a
//! buy needs the cash and a sell needs the shares (no margin, no shorting). State lives in the
//! broker actor and is lost on restart. It is never built on a deployed dyno
//! ([`BrokerConfig::engaged_by`](super::BrokerConfig::engaged_by)).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::order::OrderStatusFilter;
use super::order::{ClientOrderId, OrderId, OrderKind, OrderQuery, OrderRequest, OrderSize, Side};
use super::{BrokerError, BrokerJson, PlacedOrder};

/// Cash a fresh simulated account starts with.
const STARTING_CASH: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);

pub(crate) struct Simulator {
    account_id: Uuid,
    created_at: DateTime<Utc>,
    cash: Decimal,
    positions: BTreeMap<String, Holding>,
    /// Oldest first.
    orders: Vec<SimOrder>,
}

struct Holding {
    qty: Decimal,
    cost_basis: Decimal,
}

struct SimOrder {
    id: Uuid,
    client_order_id: String,
    request: OrderRequest,
    qty: Option<Decimal>,
    status: &'static str,
    filled_qty: Decimal,
    filled_avg_price: Option<Decimal>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    filled_at: Option<DateTime<Utc>>,
    canceled_at: Option<DateTime<Utc>>,
}

impl SimOrder {
    fn is_open(&self) -> bool {
        matches!(self.status, "new" | "accepted")
    }
}

impl Simulator {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            account_id: Uuid::new_v4(),
            created_at: now,
            cash: STARTING_CASH,
            positions: BTreeMap::new(),
            orders: Vec::new(),
        }
    }

    /// The synthetic price of `symbol`: fixed per symbol, between 20.00 and 499.99.
    pub fn price(symbol: &str) -> Decimal {
        let digest = Sha256::digest(symbol.as_bytes());
        let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        Decimal::new(2_000 + i64::from(n % 48_000), 2)
    }

    pub fn account(&self) -> Result<BrokerJson, BrokerError> {
        let market_value: Decimal = self
            .positions
            .iter()
            .map(|(symbol, h)| h.qty * Self::price(symbol))
            .sum();
        let equity = self.cash + market_value;
        Ok(document(json!({
            "id": self.account_id,
            "account_number": "SIMULATED",
            "status": "ACTIVE",
            "currency": "USD",
            "cash": money(self.cash),
            "buying_power": money(self.cash),
            "non_marginable_buying_power": money(self.cash),
            "equity": money(equity),
            "last_equity": money(equity),
            "portfolio_value": money(equity),
            "long_market_value": money(market_value),
            "short_market_value": "0",
            "initial_margin": "0",
            "maintenance_margin": "0",
            "multiplier": "1",
            "daytrade_count": 0,
            "pattern_day_trader": false,
            "shorting_enabled": false,
            "trading_blocked": false,
            "transfers_blocked": false,
            "account_blocked": false,
            "trade_suspended_by_user": false,
            "created_at": timestamp(self.created_at),
        })))
    }

    pub fn positions(&self) -> Result<BrokerJson, BrokerError> {
        let positions: Vec<Value> = self
            .positions
            .iter()
            .map(|(symbol, h)| {
                let price = Self::price(symbol);
                let market_value = h.qty * price;
                let pl = market_value - h.cost_basis;
                json!({
                    "asset_id": asset_id(symbol),
                    "symbol": symbol,
                    "exchange": "SIMULATED",
                    "asset_class": "us_equity",
                    "avg_entry_price": money(h.cost_basis / h.qty),
                    "qty": h.qty.normalize().to_string(),
                    "qty_available": h.qty.normalize().to_string(),
                    "side": "long",
                    "market_value": money(market_value),
                    "cost_basis": money(h.cost_basis),
                    "unrealized_pl": money(pl),
                    "unrealized_plpc": ratio(pl, h.cost_basis),
                    "unrealized_intraday_pl": money(pl),
                    "unrealized_intraday_plpc": ratio(pl, h.cost_basis),
                    "current_price": money(price),
                    "lastday_price": money(price),
                    "change_today": "0",
                })
            })
            .collect();
        Ok(document(Value::Array(positions)))
    }

    pub fn orders(&self, query: OrderQuery) -> Result<BrokerJson, BrokerError> {
        let orders: Vec<Value> = self
            .orders
            .iter()
            .rev()
            .filter(|o| match query.status {
                OrderStatusFilter::Open => o.is_open(),
                OrderStatusFilter::Closed => !o.is_open(),
                OrderStatusFilter::All => true,
            })
            .take(usize::from(query.limit))
            .map(order_json)
            .collect();
        Ok(document(Value::Array(orders)))
    }

    pub fn find(&self, client_order_id: &ClientOrderId) -> Result<PlacedOrder, BrokerError> {
        self.orders
            .iter()
            .find(|o| o.client_order_id == client_order_id.as_str())
            .map(placed)
            .ok_or(BrokerError::NotFound)
    }

    pub fn submit(
        &mut self,
        request: &OrderRequest,
        client_order_id: &ClientOrderId,
        now: DateTime<Utc>,
    ) -> Result<PlacedOrder, BrokerError> {
        if self
            .orders
            .iter()
            .any(|o| o.client_order_id == client_order_id.as_str())
        {
            return Err(refused(422, "client_order_id must be unique"));
        }
        let symbol = request.symbol.as_str().to_owned();
        let price = Self::price(&symbol);
        let qty = match request.size {
            OrderSize::Qty(q) => q.get(),
            OrderSize::Notional(n) => {
                (n.get() / price).round_dp_with_strategy(9, RoundingStrategy::ToZero)
            }
        };
        if qty <= Decimal::ZERO {
            return Err(refused(422, "qty is too small"));
        }
        let marketable = match request.kind {
            OrderKind::Market => true,
            OrderKind::Limit { limit_price } => match request.side {
                Side::Buy => limit_price.get() >= price,
                Side::Sell => limit_price.get() <= price,
            },
            OrderKind::Stop { .. } | OrderKind::StopLimit { .. } => false,
        };
        match request.side {
            Side::Buy if marketable && self.cash < qty * price => {
                return Err(refused(403, "insufficient buying power"));
            }
            Side::Sell => {
                let held = self.positions.get(&symbol).map_or(Decimal::ZERO, |h| h.qty);
                if held < qty {
                    return Err(refused(
                        403,
                        &format!("insufficient qty available for order (requested: {qty}, available: {held})"),
                    ));
                }
            }
            Side::Buy => {}
        }
        let mut order = SimOrder {
            id: Uuid::new_v4(),
            client_order_id: client_order_id.as_str().to_owned(),
            request: request.clone(),
            qty: matches!(request.size, OrderSize::Qty(_)).then_some(qty),
            status: "new",
            filled_qty: Decimal::ZERO,
            filled_avg_price: None,
            created_at: now,
            updated_at: now,
            filled_at: None,
            canceled_at: None,
        };
        if marketable {
            self.fill(&mut order, qty, price, now);
        }
        let answer = placed(&order);
        self.orders.push(order);
        Ok(answer)
    }

    pub fn cancel(&mut self, order_id: OrderId, now: DateTime<Utc>) -> Result<(), BrokerError> {
        let order = self
            .orders
            .iter_mut()
            .find(|o| o.id == order_id.0)
            .ok_or(BrokerError::NotFound)?;
        if !order.is_open() {
            return Err(refused(422, "order is not cancelable"));
        }
        order.status = "canceled";
        order.canceled_at = Some(now);
        order.updated_at = now;
        Ok(())
    }

    fn fill(&mut self, order: &mut SimOrder, qty: Decimal, price: Decimal, now: DateTime<Utc>) {
        let symbol = order.request.symbol.as_str().to_owned();
        let cost = qty * price;
        match order.request.side {
            Side::Buy => {
                self.cash -= cost;
                let holding = self.positions.entry(symbol).or_insert(Holding {
                    qty: Decimal::ZERO,
                    cost_basis: Decimal::ZERO,
                });
                holding.qty += qty;
                holding.cost_basis += cost;
            }
            Side::Sell => {
                self.cash += cost;
                if let Some(holding) = self.positions.get_mut(&symbol) {
                    let remaining = holding.qty - qty;
                    if remaining.is_zero() {
                        self.positions.remove(&symbol);
                    } else {
                        holding.cost_basis = holding.cost_basis * remaining / holding.qty;
                        holding.qty = remaining;
                    }
                }
            }
        }
        order.status = "filled";
        order.filled_qty = qty;
        order.filled_avg_price = Some(price);
        order.filled_at = Some(now);
        order.updated_at = now;
    }
}

fn refused(status: u16, message: &str) -> BrokerError {
    super::alpaca::refusal(
        status,
        &json!({ "code": 40310000, "message": message }).to_string(),
    )
}

fn document(value: Value) -> BrokerJson {
    BrokerJson(value.to_string())
}

fn placed(order: &SimOrder) -> PlacedOrder {
    PlacedOrder {
        order_id: Some(order.id.to_string()),
        body: document(order_json(order)),
    }
}

fn order_json(o: &SimOrder) -> Value {
    let r = &o.request;
    let notional = match r.size {
        OrderSize::Notional(n) => Some(n.to_string()),
        OrderSize::Qty(_) => None,
    };
    json!({
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": timestamp(o.created_at),
        "updated_at": timestamp(o.updated_at),
        "submitted_at": timestamp(o.created_at),
        "filled_at": o.filled_at.map(timestamp),
        "expired_at": null,
        "canceled_at": o.canceled_at.map(timestamp),
        "failed_at": null,
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": asset_id(r.symbol.as_str()),
        "symbol": r.symbol.as_str(),
        "asset_class": "us_equity",
        "notional": notional,
        "qty": o.qty.map(|q| q.to_string()),
        "filled_qty": o.filled_qty.normalize().to_string(),
        "filled_avg_price": o.filled_avg_price.map(money),
        "order_class": "simple",
        "order_type": r.kind.as_str(),
        "type": r.kind.as_str(),
        "side": r.side.as_str(),
        "time_in_force": r.time_in_force.as_str(),
        "limit_price": r.kind.limit_price().map(|p| p.to_string()),
        "stop_price": r.kind.stop_price().map(|p| p.to_string()),
        "status": o.status,
        "extended_hours": r.extended_hours,
        "legs": null,
        "trail_percent": null,
        "trail_price": null,
        "hwm": null,
    })
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Two decimal places, as Alpaca shows amounts of money.
fn money(amount: Decimal) -> String {
    amount
        .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
        .to_string()
}

fn ratio(part: Decimal, whole: Decimal) -> String {
    if whole.is_zero() {
        "0".into()
    } else {
        (part / whole).round_dp(4).normalize().to_string()
    }
}

/// A stable asset id per symbol.
fn asset_id(symbol: &str) -> Uuid {
    let digest = Sha256::digest(symbol.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::order::{OrderDraft, TimeInForce};
    use std::str::FromStr;

    fn order(side: &str, kind: &str, qty: &str, limit: Option<&str>) -> OrderRequest {
        OrderRequest::try_from(OrderDraft {
            symbol: Some("AAPL".into()),
            qty: Some(Decimal::from_str(qty).unwrap()),
            side: Some(side.into()),
            order_type: Some(kind.into()),
            time_in_force: Some(TimeInForce::Day.as_str().into()),
            limit_price: limit.map(|l| Decimal::from_str(l).unwrap()),
            ..OrderDraft::default()
        })
        .unwrap()
    }

    fn cash(sim: &Simulator) -> Decimal {
        let account: Value = serde_json::from_str(sim.account().unwrap().as_str()).unwrap();
        Decimal::from_str(account["cash"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn market_orders_fill_and_move_cash_and_positions_together() {
        let now = Utc::now();
        let mut sim = Simulator::new(now);
        let price = Simulator::price("AAPL");
        sim.submit(
            &order("buy", "market", "10", None),
            &ClientOrderId::random(),
            now,
        )
        .unwrap();
        assert_eq!(cash(&sim), STARTING_CASH - price * Decimal::from(10));
        sim.submit(
            &order("sell", "market", "4", None),
            &ClientOrderId::random(),
            now,
        )
        .unwrap();
        assert_eq!(cash(&sim), STARTING_CASH - price * Decimal::from(6));
        let positions: Value = serde_json::from_str(sim.positions().unwrap().as_str()).unwrap();
        assert_eq!(positions[0]["qty"], "6");
        let err = sim
            .submit(
                &order("sell", "market", "7", None),
                &ClientOrderId::random(),
                now,
            )
            .unwrap_err();
        assert!(matches!(err, BrokerError::Refused { status: 403, .. }));
    }

    #[test]
    fn a_resting_limit_order_can_be_cancelled_once() {
        let now = Utc::now();
        let mut sim = Simulator::new(now);
        let placed = sim
            .submit(
                &order("buy", "limit", "1", Some("1")),
                &ClientOrderId::random(),
                now,
            )
            .unwrap();
        let id = OrderId::parse(placed.order_id.as_deref().unwrap()).unwrap();
        let open = OrderQuery::parse(None, None).unwrap();
        assert_eq!(
            sim.orders(open).unwrap().as_str().matches("\"id\"").count(),
            1
        );
        sim.cancel(id, now).unwrap();
        assert!(matches!(
            sim.cancel(id, now),
            Err(BrokerError::Refused { status: 422, .. })
        ));
        assert_eq!(sim.orders(open).unwrap().as_str(), "[]");
        assert_eq!(cash(&sim), STARTING_CASH);
    }

    #[test]
    fn a_client_order_id_is_used_once() {
        let now = Utc::now();
        let mut sim = Simulator::new(now);
        let id = ClientOrderId::random();
        sim.submit(&order("buy", "market", "1", None), &id, now)
            .unwrap();
        assert!(sim
            .submit(&order("buy", "market", "1", None), &id, now)
            .is_err());
        assert!(sim.find(&id).is_ok());
    }

    #[test]
    fn buying_needs_the_cash() {
        let now = Utc::now();
        let mut sim = Simulator::new(now);
        let err = sim
            .submit(
                &order("buy", "market", "100000", None),
                &ClientOrderId::random(),
                now,
            )
            .unwrap_err();
        assert!(matches!(err, BrokerError::Refused { status: 403, .. }));
        assert_eq!(cash(&sim), STARTING_CASH);
    }
}
