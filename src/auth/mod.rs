//! The accounts domain (SPEC §4): passkey registration by invitation, email verification,
//! sign-in, sessions and a person's own passkeys. One function per use case, each owning its
//! transaction, writing its audit row before its change, and returning its own error enum in
//! domain words. HTTP handlers (`crate::http::auth`) and CLI commands call these; only
//! [`repo`] knows SQL, and only the session store actor owns sessions.
//!
//! No use case holds a pooled connection or a transaction while it awaits the audit writer or
//! the session store: reads come first, then the audit row (the intent), then one short
//! transaction that re-checks and changes.

pub mod authenticators;
pub mod ceremony;
pub mod email;
pub mod login;
pub mod notify;
pub mod passkeys;
pub mod recovery;
pub mod recovery_operator;
pub mod recovery_request;
pub mod register;
pub mod relying_party;
pub mod repo;
pub mod sessions;
pub mod step_up;
pub mod verification;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AppendError, AuditEntry};
use raptor_actors::clock::SharedClock;
use raptor_actors::token::TokenHasher;
use raptor_actors::Actors;
use uuid::Uuid;
use webauthn_rs::Webauthn;

use crate::audit::AuditEvent;

pub use email::Email;
/// Invitations' SQL, where the CLI and the tests have always found it.
pub use repo::bootstrap;

/// What the accounts use cases work with: the database, the actors, the token key, the clock,
/// the relying party (`None` when passkeys are not configured) and the step-up window.
#[derive(Clone)]
pub struct Accounts {
    pub pool: Pool,
    pub actors: Actors,
    pub hasher: TokenHasher,
    pub clock: SharedClock,
    pub webauthn: Option<Arc<Webauthn>>,
    /// How recent a passkey assertion dangerous changes need (`STEP_UP_WINDOW_SECS`).
    pub step_up_window: chrono::Duration,
}

/// Passkeys are not configured (`WEBAUTHN_RP_ID`/`WEBAUTHN_ORIGIN` unset in development).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("passkeys are not configured")]
pub struct PasskeysNotConfigured;

impl Accounts {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn webauthn(&self) -> Result<&Webauthn, PasskeysNotConfigured> {
        self.webauthn.as_deref().ok_or(PasskeysNotConfigured)
    }

    /// Appends an audit row and waits until it is durable.
    async fn audit(&self, entry: AuditEntry) -> Result<(), AppendError> {
        self.actors.audit.append(entry).await.map(|_| ())
    }
}

/// Who asked, as far as the audit trail may record it: an IP prefix (never the address), a
/// short user-agent fragment and the request id.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub ip_prefix: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Requester {
    /// An audit row for `event` done by (or to) `user`, stamped with this requester.
    pub fn audit(&self, event: AuditEvent, user: Option<Uuid>) -> AuditEntry {
        let mut entry = event.entry();
        entry.actor_user_id = user;
        entry.ip_prefix = self.ip_prefix.clone();
        entry.request_id = self.request_id.clone();
        entry
    }
}

pub(crate) use crate::db::storage_errors;
