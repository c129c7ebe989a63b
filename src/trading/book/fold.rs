//! The book's arithmetic, free of SQL: recorded fills become executions ([`executions`]), and
//! executions fold into a holding at average cost ([`Holding::apply`]).
//!
//! A fill row is keyed by its order and the cumulative quantity filled after it, and carries
//! the cumulative amount. An execution is the difference between a row and the previous row of
//! the same order, so whatever order the rows were recorded in, and however often, the same
//! set of rows gives the same executions; they are folded in the time they happened.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// A side of a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FillSide {
    Buy,
    Sell,
}

impl FillSide {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "buy" => Some(Self::Buy),
            "sell" => Some(Self::Sell),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

/// One recorded fill row: the order's cumulative figures after an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRow {
    pub order: String,
    pub side: FillSide,
    pub cum_qty: Decimal,
    pub cum_notional: Decimal,
    pub filled_at: DateTime<Utc>,
}

/// One execution: how much changed hands, for how much money, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub side: FillSide,
    pub qty: Decimal,
    pub notional: Decimal,
    pub at: DateTime<Utc>,
    /// Ties in time are broken by order, then by cumulative quantity.
    pub order: String,
    pub cum_qty: Decimal,
}

/// The executions the rows stand for, in the order they happened.
pub fn executions(rows: &[FillRow]) -> Vec<Execution> {
    let mut by_order: BTreeMap<&str, Vec<&FillRow>> = BTreeMap::new();
    for row in rows {
        by_order.entry(row.order.as_str()).or_default().push(row);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (order, mut chain) in by_order {
        chain.sort_by_key(|row| row.cum_qty);
        let (mut qty, mut notional) = (Decimal::ZERO, Decimal::ZERO);
        for row in chain {
            let step_qty = row.cum_qty - qty;
            if step_qty <= Decimal::ZERO {
                continue;
            }
            out.push(Execution {
                side: row.side,
                qty: step_qty,
                notional: (row.cum_notional - notional).max(Decimal::ZERO),
                at: row.filled_at,
                order: order.to_owned(),
                cum_qty: row.cum_qty,
            });
            qty = row.cum_qty;
            notional = row.cum_notional.max(notional);
        }
    }
    out.sort_by(|a, b| (a.at, &a.order, a.cum_qty).cmp(&(b.at, &b.order, b.cum_qty)));
    out
}

/// A position at average cost: signed quantity (negative only if fills ever oversold, which
/// the pre-trade checks prevent for Raptor's own orders), its cost (signed the same way) and
/// the profit realized by reducing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holding {
    pub qty: Decimal,
    pub cost_basis: Decimal,
    pub realized_pl: Decimal,
}

impl Holding {
    /// The holding after `executions`, from nothing.
    pub fn fold<'a>(executions: impl IntoIterator<Item = &'a Execution>) -> Self {
        let mut holding = Self::default();
        for execution in executions {
            holding.apply(execution);
        }
        holding
    }

    /// Applies one execution: an increase adds its cost; a reduction releases the average cost
    /// of what it closes and realizes the difference; any excess opens the other way.
    pub fn apply(&mut self, execution: &Execution) {
        let (qty, notional) = (execution.qty, execution.notional);
        if qty <= Decimal::ZERO {
            return;
        }
        // Signed: a buy adds quantity and cost, a sell takes them away.
        let (signed_qty, signed_amount) = match execution.side {
            FillSide::Buy => (qty, notional),
            FillSide::Sell => (-qty, -notional),
        };
        let increases =
            self.qty.is_zero() || self.qty.is_sign_positive() == (signed_qty > Decimal::ZERO);
        if increases {
            self.qty += signed_qty;
            self.cost_basis += signed_amount;
            return;
        }
        let held = self.qty.abs();
        let closed = qty.min(held);
        let released = if closed == held {
            self.cost_basis
        } else {
            self.cost_basis * closed / held
        };
        let amount_closed = if closed == qty {
            signed_amount
        } else {
            signed_amount * closed / qty
        };
        // A long closed by a sell: proceeds (-amount) minus the cost released. A short closed by
        // a buy: the proceeds kept (-released) minus what the buy cost.
        self.realized_pl += -amount_closed - released;
        self.cost_basis -= released;
        self.qty += if signed_qty > Decimal::ZERO {
            closed
        } else {
            -closed
        };
        let rest = qty - closed;
        if rest > Decimal::ZERO {
            self.qty += if signed_qty > Decimal::ZERO {
                rest
            } else {
                -rest
            };
            self.cost_basis += signed_amount - amount_closed;
        }
        if self.qty.is_zero() {
            self.cost_basis = Decimal::ZERO;
        }
    }

    /// Average entry price; zero when flat.
    pub fn avg_entry_price(&self) -> Decimal {
        if self.qty.is_zero() {
            Decimal::ZERO
        } else {
            self.cost_basis / self.qty
        }
    }
}

#[cfg(test)]
mod tests;
