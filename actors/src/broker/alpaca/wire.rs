//! The body of Alpaca's `POST /v2/orders`, built from an [`OrderTicket`].

use serde::Serialize;

use crate::broker::ticket::{OrderTicket, ReplaceTicket, TicketSize};

/// The body of `POST /v2/orders`: amounts as decimal strings, which Alpaca accepts.
#[derive(Serialize)]
pub(super) struct WireOrder<'a> {
    symbol: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    qty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notional: Option<String>,
    side: &'static str,
    #[serde(rename = "type")]
    order_type: &'static str,
    time_in_force: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_price: Option<String>,
    extended_hours: bool,
    client_order_id: &'a str,
}

impl<'a> WireOrder<'a> {
    pub fn new(ticket: &'a OrderTicket, client_order_id: &'a str) -> Self {
        let (qty, notional) = match ticket.size {
            TicketSize::Qty(q) => (Some(q.to_string()), None),
            TicketSize::Notional(n) => (None, Some(n.to_string())),
        };
        Self {
            symbol: &ticket.symbol,
            qty,
            notional,
            side: ticket.side.as_str(),
            order_type: ticket.kind.as_str(),
            time_in_force: ticket.time_in_force,
            limit_price: ticket.kind.limit_price().map(|p| p.to_string()),
            stop_price: ticket.kind.stop_price().map(|p| p.to_string()),
            extended_hours: ticket.extended_hours,
            client_order_id,
        }
    }
}

/// The body of `PATCH /v2/orders/{id}`: only what changes, and the replacement's client order id.
#[derive(Serialize)]
pub(super) struct WireReplace<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    qty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_in_force: Option<&'static str>,
    client_order_id: &'a str,
}

impl<'a> WireReplace<'a> {
    pub fn new(ticket: &'a ReplaceTicket) -> Self {
        Self {
            qty: ticket.qty.map(|q| q.to_string()),
            limit_price: ticket.limit_price.map(|p| p.to_string()),
            stop_price: ticket.stop_price.map(|p| p.to_string()),
            time_in_force: ticket.time_in_force,
            client_order_id: &ticket.client_order_id,
        }
    }
}
