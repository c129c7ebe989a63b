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
pub mod invitations;
pub mod letters;
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
use webauthn_rs::Webauthn;

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
        crate::audit::AuditTrail::append(&self.actors.audit, entry).await
    }

    /// Appends the row of a refused attempt on an unauthenticated route (a bad token or
    /// ceremony, a failed sign-in) only if it is the client's first this minute, across dynos
    /// ([`FAILURE_AUDIT`]): junk requests cannot flood the audit trail (issue 24, item 4). The
    /// routes' own cross-dyno limits count every attempt.
    async fn audit_failure(&self, origin: &Origin, entry: AuditEntry) -> Result<(), AppendError> {
        if let Some(client) = &origin.client {
            let now = self.now();
            match crate::limits::hit(&self.pool, &self.hasher, &FAILURE_AUDIT, client, now).await {
                Ok(()) => {}
                Err(crate::limits::LimitError::Exceeded(_)) => {
                    tracing::debug!(event = entry.event, "refused attempt not audited again");
                    return Ok(());
                }
                // Recorded rather than lost: the append fails too if the database is gone.
                Err(crate::limits::LimitError::Storage(error)) => {
                    tracing::warn!(%error, "failure audit limit unavailable");
                }
            }
        }
        self.audit(entry).await
    }
}

/// At most one audit row of refused attempts per client per minute.
pub const FAILURE_AUDIT: crate::limits::SharedLimit = crate::limits::SharedLimit {
    name: "audit-failure",
    hits: 1,
    window: std::time::Duration::from_secs(60),
};

pub use crate::audit::Origin;

pub(crate) use crate::db::storage_errors;
