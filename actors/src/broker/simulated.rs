//! The simulated paper broker for `raptor dev` without Alpaca credentials.
//!
//! It speaks Alpaca's JSON shapes so the SPA cannot tell the difference, except that
//! `GET /api/trading/mode` says `simulated` and the account number says so too. Each symbol has
//! a fixed synthetic price; market orders (and marketable limit orders) fill at once at that
//! price, others stay open until cancelled. Cash and positions move together on every fill, a
//! buy needs the cash and a sell needs the shares (no margin, no shorting). State lives in the
//! broker actor and is lost on restart. It is never built on a deployed dyno
//! ([`BrokerConfig::engaged_by`](super::BrokerConfig::engaged_by)). All arithmetic on amounts is
//! checked: an amount too large to compute with is refused (422), never a panic. Each order
//! event (`new`, `fill`, `canceled`) is emitted on the simulated `trade_updates` feed
//! ([`simulated_events`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ticket::{
    ListStatus, OrderId, OrderListing, OrderTicket, ReplaceTicket, TicketKind, TicketSide,
    TicketSize,
};
use super::types::{BrokerError, BrokerJson, PlacedOrder};

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
    request: OrderTicket,
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
            .try_fold(Decimal::ZERO, |sum, (symbol, h)| {
                sum.checked_add(h.qty.checked_mul(Self::price(symbol))?)
            })
            .ok_or_else(out_of_range)?;
        let equity = self
            .cash
            .checked_add(market_value)
            .ok_or_else(out_of_range)?;
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
        let positions: Option<Vec<Value>> = self
            .positions
            .iter()
            .map(|(symbol, h)| {
                let price = Self::price(symbol);
                let market_value = h.qty.checked_mul(price)?;
                let pl = market_value.checked_sub(h.cost_basis)?;
                Some(json!({
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
                }))
            })
            .collect();
        Ok(document(Value::Array(positions.ok_or_else(out_of_range)?)))
    }

    pub fn orders(&self, listing: &OrderListing) -> Result<BrokerJson, BrokerError> {
        let mut chosen: Vec<&SimOrder> = self.orders.iter().collect();
        if !listing.ascending {
            chosen.reverse();
        }
        let orders: Vec<Value> = chosen
            .into_iter()
            .filter(|o| match listing.status {
                ListStatus::Open => o.is_open(),
                ListStatus::Closed => !o.is_open(),
                ListStatus::All => true,
            })
            .filter(|o| listing.after.is_none_or(|after| o.created_at > after))
            .take(usize::from(listing.limit))
            .map(order_json)
            .collect();
        Ok(document(Value::Array(orders)))
    }

    pub fn find(&self, client_order_id: &str) -> Result<PlacedOrder, BrokerError> {
        self.orders
            .iter()
            .find(|o| o.client_order_id == client_order_id)
            .map(placed)
            .ok_or(BrokerError::NotFound)
    }

    pub fn submit(
        &mut self,
        request: &OrderTicket,
        client_order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<PlacedOrder, BrokerError> {
        if self
            .orders
            .iter()
            .any(|o| o.client_order_id == client_order_id)
        {
            return Err(refused(422, "client_order_id must be unique"));
        }
        let price = Self::price(&request.symbol);
        let (qty, cost) = sized(request, price)?;
        let marketable = marketable(request, price);
        self.check_funds(request, qty, cost, marketable)?;
        let mut order = SimOrder {
            id: Uuid::new_v4(),
            client_order_id: client_order_id.to_owned(),
            request: request.clone(),
            qty: matches!(request.size, TicketSize::Qty(_)).then_some(qty),
            status: "new",
            filled_qty: Decimal::ZERO,
            filled_avg_price: None,
            created_at: now,
            updated_at: now,
            filled_at: None,
            canceled_at: None,
        };
        if marketable {
            self.fill(&mut order, qty, price, cost, now)?;
            events::emit("fill", &order, Some((price, qty)), now);
        } else {
            events::emit("new", &order, None, now);
        }
        let answer = placed(&order);
        self.orders.push(order);
        Ok(answer)
    }

    /// Refuses a buy that fills now beyond the cash, or a sell of more than is held, as Alpaca
    /// words it.
    fn check_funds(
        &self,
        request: &OrderTicket,
        qty: Decimal,
        cost: Decimal,
        marketable: bool,
    ) -> Result<(), BrokerError> {
        match request.side {
            TicketSide::Buy if marketable && self.cash < cost => {
                Err(refused(403, "insufficient buying power"))
            }
            TicketSide::Sell => {
                let held = self
                    .positions
                    .get(&request.symbol)
                    .map_or(Decimal::ZERO, |h| h.qty);
                if held < qty {
                    return Err(refused(
                        403,
                        &format!("insufficient qty available for order (requested: {qty}, available: {held})"),
                    ));
                }
                Ok(())
            }
            TicketSide::Buy => Ok(()),
        }
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
        events::emit("canceled", order, None, now);
        Ok(())
    }

    /// Replaces the open order `order_id` with `ticket.becomes` under the replacement's client
    /// order id: the old one is `replaced`, the new one placed (and filled when marketable).
    pub fn replace(
        &mut self,
        order_id: OrderId,
        ticket: &ReplaceTicket,
        now: DateTime<Utc>,
    ) -> Result<PlacedOrder, BrokerError> {
        let index = self
            .orders
            .iter()
            .position(|o| o.id == order_id.0)
            .ok_or(BrokerError::NotFound)?;
        if !self.orders[index].is_open() {
            return Err(refused(422, "order is not replaceable"));
        }
        let placed = self.submit(&ticket.becomes, &ticket.client_order_id, now)?;
        let order = &mut self.orders[index];
        order.status = "replaced";
        order.updated_at = now;
        events::emit("replaced", order, None, now);
        Ok(placed)
    }

    /// Fills `order` at once; nothing changes when an amount would leave the decimal range.
    fn fill(
        &mut self,
        order: &mut SimOrder,
        qty: Decimal,
        price: Decimal,
        cost: Decimal,
        now: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        let symbol = order.request.symbol.clone();
        match order.request.side {
            TicketSide::Buy => {
                let held = self.positions.get(&symbol);
                let cash = self.cash.checked_sub(cost);
                let held_qty = held.map_or(Some(qty), |h| h.qty.checked_add(qty));
                let basis = held.map_or(Some(cost), |h| h.cost_basis.checked_add(cost));
                let (Some(cash), Some(held_qty), Some(basis)) = (cash, held_qty, basis) else {
                    return Err(out_of_range());
                };
                self.cash = cash;
                self.positions.insert(
                    symbol,
                    Holding {
                        qty: held_qty,
                        cost_basis: basis,
                    },
                );
            }
            TicketSide::Sell => {
                let cash = self.cash.checked_add(cost).ok_or_else(out_of_range)?;
                if let Some(holding) = self.positions.get(&symbol) {
                    let remaining = holding.qty.checked_sub(qty).ok_or_else(out_of_range)?;
                    if remaining.is_zero() {
                        self.positions.remove(&symbol);
                    } else {
                        let basis = holding
                            .cost_basis
                            .checked_mul(remaining)
                            .and_then(|b| b.checked_div(holding.qty))
                            .ok_or_else(out_of_range)?;
                        self.positions.insert(
                            symbol,
                            Holding {
                                qty: remaining,
                                cost_basis: basis,
                            },
                        );
                    }
                }
                self.cash = cash;
            }
        }
        order.status = "filled";
        order.filled_qty = qty;
        order.filled_avg_price = Some(price);
        order.filled_at = Some(now);
        order.updated_at = now;
        Ok(())
    }
}

/// The order's quantity at `price` (a notional order's rounded down to 9 places) and its cost;
/// refused when that is nothing.
fn sized(request: &OrderTicket, price: Decimal) -> Result<(Decimal, Decimal), BrokerError> {
    let qty = match request.size {
        TicketSize::Qty(q) => q,
        TicketSize::Notional(n) => n
            .checked_div(price)
            .ok_or_else(out_of_range)?
            .round_dp_with_strategy(9, RoundingStrategy::ToZero),
    };
    let cost = qty.checked_mul(price).ok_or_else(out_of_range)?;
    if qty <= Decimal::ZERO {
        return Err(refused(422, "qty is too small"));
    }
    Ok((qty, cost))
}

/// Whether the order fills at once at `price`: a market order, or a limit at or through it;
/// stops wait.
fn marketable(request: &OrderTicket, price: Decimal) -> bool {
    match request.kind {
        TicketKind::Market => true,
        TicketKind::Limit { limit_price } => match request.side {
            TicketSide::Buy => limit_price >= price,
            TicketSide::Sell => limit_price <= price,
        },
        // Stops, trailing stops included, wait for a trigger the simulator never moves to.
        TicketKind::Stop { .. }
        | TicketKind::StopLimit { .. }
        | TicketKind::TrailingStop { .. } => false,
    }
}

/// An amount too large for the simulator to compute with.
fn out_of_range() -> BrokerError {
    refused(422, "amount out of range")
}

mod assets;
mod events;
mod json;
pub use events::simulated_events;
use json::{asset_id, document, money, order_json, placed, ratio, refused, timestamp};

#[cfg(test)]
mod tests;
