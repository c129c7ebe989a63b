//! Paper trading's domain: one function per use case, shared by the HTTP routes
//! (`crate::http::trading`) and the CLI (`raptor kill-switch`).
//!
//! - [`order`], [`ids`], [`input`]: what a client may ask, parsed once and valid by
//!   construction; the broker gets its own ticket built from it.
//! - [`submit::submit_order`]: claim the ledger row, write the intent audit row, call the
//!   broker holding nothing, record the outcome; idempotent, with a per-user in-flight limit.
//! - [`book`]: each user's paper book (cash, positions, fills) on the shared account;
//!   [`account::book`] reads the caller's own, [`orders::list_orders`] and
//!   [`orders::get_order`] their orders from the ledger, [`orders::cancel_order`],
//!   [`account::readiness`], [`account::mode`].
//! - [`stream::open_stream`]: a trader's live order events; [`stream::sink`] applies them to
//!   the ledger and the books ([`updates`]); [`reconcile`] catches up with the broker.
//! - [`risk`]: the pre-trade risk limits `submit_order` checks before any broker call.
//! - [`kill_switch::set`] and [`kill_switch::status`]: the operator's switch.
//!
//! Each use case owns its (short) transactions and returns its own error enum in trading words;
//! no use case holds a pooled connection while it awaits the broker or the audit writer. The
//! local order ledger is [`ledger`]; the broker actor is `raptor_actors::broker`.

pub mod account;
pub mod assets;
pub mod book;
pub mod close;
pub mod erasure;
pub mod error;
pub mod ids;
pub mod in_flight;
pub mod kill_switch;
pub mod ledger;
pub mod listing;
pub mod market;
pub mod order;
pub mod orders;
pub mod reconcile;
pub mod replace;
pub mod risk;
pub mod stream;
pub mod submit;
pub mod updates;

use deadpool_postgres::Pool;
use raptor_actors::audit::{AppendError, AuditClient, AuditEntry};
use raptor_actors::broker::BrokerClient;
use raptor_actors::clock::SharedClock;
use raptor_actors::market_data::MarketDataClient;
use uuid::Uuid;

use crate::audit::AuditEvent;

/// What the trading use cases work with: the database, the broker, the audit trail, the clock.
#[derive(Clone, Copy)]
pub struct Trading<'a> {
    pub pool: &'a Pool,
    pub broker: &'a BrokerClient,
    pub audit: &'a AuditClient,
    pub clock: &'a SharedClock,
    /// The pre-trade risk limits.
    pub risk: &'a risk::RiskLimits,
    /// Prices every order for the pre-trade checks.
    pub market_data: &'a MarketDataClient,
    /// Each user's share of the trading lane.
    pub lane_share: &'a in_flight::LaneShare,
    /// This process's cache of the books it reads.
    pub books: &'a book::BookCache,
}

impl Trading<'_> {
    async fn append(&self, entry: AuditEntry) -> Result<(), AppendError> {
        crate::audit::AuditTrail::append(self.audit, entry).await
    }
}

/// Who is trading: a signed-in user, and where the request came from (for the audit rows).
#[derive(Debug, Clone)]
pub struct Trader {
    pub user_id: Uuid,
    pub is_operator: bool,
    /// Who asked (IP prefix, request id...); each row the use case writes is stamped with it.
    pub origin: crate::audit::Origin,
}

impl Trader {
    /// An audit row for `event` by this trader about `subject`.
    pub fn entry(&self, event: AuditEvent, subject: impl Into<String>) -> AuditEntry {
        let mut entry = self.origin.audit(event, Some(self.user_id));
        entry.subject = Some(subject.into());
        entry
    }
}
