//! An order described: its canonical text (what an idempotency key is compared by, and what
//! the ledger keeps), its audit details, and the broker's [`OrderTicket`]. A simple order's
//! text is what it was before order classes and trailing stops, so older rows still compare.

use raptor_actors::broker::{
    OrderTicket, TicketKind, TicketLegs, TicketSide, TicketSize, TicketTrail,
};
use serde_json::{json, Value};

use super::values::{OrderKind, OrderSize, Positive, Side, Trail};
use super::{OrderClass, OrderRequest};

/// `1.50` and `1.5` are the same amount.
fn amount(v: Positive) -> String {
    v.get().normalize().to_string()
}

impl OrderRequest {
    /// A stable text of the request: two submissions under one idempotency key must be equal
    /// in this form (`1.50` and `1.5` are the same amount).
    pub fn canonical_json(&self) -> String {
        let (qty, notional) = match self.size {
            OrderSize::Qty(q) => (Some(amount(q)), None),
            OrderSize::Notional(n) => (None, Some(amount(n))),
        };
        let mut text = json!({
            "symbol": self.symbol.as_str(),
            "qty": qty,
            "notional": notional,
            "side": self.side.as_str(),
            "type": self.kind.as_str(),
            "time_in_force": self.time_in_force.as_str(),
            "limit_price": self.kind.limit_price().map(amount),
            "stop_price": self.kind.stop_price().map(amount),
            "extended_hours": self.extended_hours,
        });
        self.add_extras(&mut text, amount);
        text.to_string()
    }

    /// The trail and the class with its legs, only when the order has them.
    fn add_extras(&self, text: &mut Value, amount: fn(Positive) -> String) {
        match self.kind.trail() {
            Some(Trail::Price(p)) => text["trail_price"] = json!(amount(p)),
            Some(Trail::Percent(p)) => text["trail_percent"] = json!(amount(p)),
            None => {}
        }
        if self.class == OrderClass::Simple {
            return;
        }
        text["order_class"] = json!(self.class.as_str());
        if let Some(take_profit) = self.class.take_profit() {
            text["take_profit"] = json!({"limit_price": amount(take_profit.limit_price)});
        }
        if let Some(stop_loss) = self.class.stop_loss() {
            text["stop_loss"] = json!({
                "stop_price": amount(stop_loss.stop_price),
                "limit_price": stop_loss.limit_price.map(amount),
            });
        }
    }

    /// What the broker is sent.
    pub fn ticket(&self) -> OrderTicket {
        OrderTicket {
            symbol: self.symbol.as_str().to_owned(),
            size: match self.size {
                OrderSize::Qty(q) => TicketSize::Qty(q.get()),
                OrderSize::Notional(n) => TicketSize::Notional(n.get()),
            },
            side: match self.side {
                Side::Buy => TicketSide::Buy,
                Side::Sell => TicketSide::Sell,
            },
            kind: ticket_kind(self.kind),
            time_in_force: self.time_in_force.as_str(),
            extended_hours: self.extended_hours,
            legs: (self.class != OrderClass::Simple).then(|| TicketLegs {
                class: self.class.as_str(),
                take_profit: self.class.take_profit().map(|t| t.limit_price.get()),
                stop_loss: self
                    .class
                    .stop_loss()
                    .map(|s| (s.stop_price.get(), s.limit_price.map(Positive::get))),
            }),
        }
    }

    /// The order as its audit rows describe it (amounts as the client wrote them).
    pub fn audit_details(&self) -> Value {
        let (qty, notional) = match self.size {
            OrderSize::Qty(q) => (Some(q.to_string()), None),
            OrderSize::Notional(n) => (None, Some(n.to_string())),
        };
        let mut details = json!({
            "symbol": self.symbol.as_str(),
            "side": self.side.as_str(),
            "type": self.kind.as_str(),
            "time_in_force": self.time_in_force.as_str(),
            "qty": qty,
            "notional": notional,
            "limit_price": self.kind.limit_price().map(|p| p.to_string()),
            "stop_price": self.kind.stop_price().map(|p| p.to_string()),
        });
        self.add_extras(&mut details, |p| p.to_string());
        details
    }
}

fn ticket_kind(kind: OrderKind) -> TicketKind {
    match kind {
        OrderKind::Market => TicketKind::Market,
        OrderKind::Limit { limit_price } => TicketKind::Limit {
            limit_price: limit_price.get(),
        },
        OrderKind::Stop { stop_price } => TicketKind::Stop {
            stop_price: stop_price.get(),
        },
        OrderKind::StopLimit {
            stop_price,
            limit_price,
        } => TicketKind::StopLimit {
            stop_price: stop_price.get(),
            limit_price: limit_price.get(),
        },
        OrderKind::TrailingStop { trail } => TicketKind::TrailingStop {
            trail: match trail {
                Trail::Price(p) => TicketTrail::Price(p.get()),
                Trail::Percent(p) => TicketTrail::Percent(p.get()),
            },
        },
    }
}
