//! The typed clients of every actor a request handler, CLI command or use case may need.
//!
//! Each client wraps the actor's [`Slot`](crate::slot::Slot) and knows its own deadline, so no
//! caller writes a raw `ask` with a timeout of its own: `actors.audit.append(entry)`,
//! `actors.sessions.validate(token)`, `actors.broker.status()`.

use crate::audit::AuditClient;
use crate::broker::BrokerClient;
use crate::mailer::MailerClient;
use crate::market_data::MarketDataClient;
use crate::session::SessionClient;
use crate::trade_stream::TradeStreamClient;

/// The clients of the supervised actors; the supervisor fills their slots.
#[derive(Clone)]
pub struct Actors {
    /// The session store.
    pub sessions: SessionClient,
    /// The audit writer.
    pub audit: AuditClient,
    /// The broker.
    pub broker: BrokerClient,
    /// The mailer.
    pub mailer: MailerClient,
    /// Market data.
    pub market_data: MarketDataClient,
    /// The trade-updates stream.
    pub trade_stream: TradeStreamClient,
}

impl Default for Actors {
    fn default() -> Self {
        Self {
            sessions: SessionClient::new(),
            audit: AuditClient::new(),
            broker: BrokerClient::new(),
            mailer: MailerClient::new(),
            market_data: MarketDataClient::new(),
            trade_stream: TradeStreamClient::new(),
        }
    }
}

impl Actors {
    /// Whether every actor is up (without building the list of [`Actors::states`]).
    pub fn all_up(&self) -> bool {
        self.sessions.slot().state().1
            && self.audit.slot().state().1
            && self.broker.slot().state().1
            && self.mailer.slot().state().1
            && self.market_data.slot().state().1
            && self.trade_stream.slot().state().1
    }

    /// Up/down state of each actor, for status and diagnostics.
    pub fn states(&self) -> Vec<(&'static str, bool)> {
        [
            self.sessions.slot().state(),
            self.audit.slot().state(),
            self.broker.slot().state(),
            self.mailer.slot().state(),
            self.market_data.slot().state(),
            self.trade_stream.slot().state(),
        ]
        .into()
    }
}
