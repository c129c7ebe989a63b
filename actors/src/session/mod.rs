//! The session store: the one owner of sessions. It issues, validates, rolls and revokes them,
//! and caches validated ones so most requests never touch the database.
//!
//! The actor owns the cache (`cache::Shared`) and the LISTEN connection that evicts from it;
//! [`SessionClient`] runs each operation in the caller's task against that cache, so a
//! validation never queues behind another request's database round trip, and a cache hit
//! involves neither I/O nor the mailbox.
//!
//! A session is a 256-bit random token plus a 128-bit tag (so a forged cookie is refused before
//! any lookup) in the `session` cookie; the database holds only its HMAC. It
//! expires after 12 hours idle (the idle deadline is rolled forward, written at most once a
//! minute) and 7 days after sign-in whatever happens. A revocation is committed with a
//! `pg_notify`, and every process's store evicts the session from its cache when the
//! notification arrives, so a logout is honoured by every dyno within a second.

mod cache;
mod client;
mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use secrecy::SecretString;
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::pg::listen::{self, Notice};
use crate::task::AbortOnDrop;
use crate::token::TokenHasher;
pub use cache::user_agent_fragment;
pub use client::{SessionCallError, SessionClient};
pub use store::{revoke, revoke_in, CHANNEL};

const TOKEN_PURPOSE: &str = "session";

/// Lifetimes of a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: chrono::Duration,
    pub absolute: chrono::Duration,
    /// The idle deadline is written back at most this often per session.
    pub extend_every: chrono::Duration,
    /// A cached session is re-read from the database at least this often, in case a
    /// notification was missed.
    pub recheck_every: chrono::Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: chrono::Duration::hours(12),
            absolute: chrono::Duration::days(7),
            extend_every: chrono::Duration::minutes(1),
            recheck_every: chrono::Duration::seconds(30),
        }
    }
}

/// A validated session, as handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub is_operator: bool,
    /// When the session ends unless used again (never past the absolute cap).
    pub expires_at: DateTime<Utc>,
}

/// A session as listed to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip_prefix: Option<String>,
    pub user_agent: Option<String>,
}

/// What a new session records about where it came from.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: Uuid,
    /// `/24` or `/48` prefix, never the full address.
    pub ip_prefix: Option<String>,
    /// A short user-agent fragment.
    pub user_agent: Option<String>,
}

/// A session just issued: the token goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct IssuedSession {
    pub token: SecretString,
    pub info: SessionInfo,
}

/// What this process's cache forgot, as [`SessionClient::evictions`] tells listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// This session was revoked (here, or on another instance by notification).
    Session(Uuid),
    /// Everything: notifications may have been missed (the LISTEN connection was lost).
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session storage is unavailable")]
    Storage,
    #[error("the account cannot sign in")]
    InactiveUser,
}

pub enum SessionMsg {
    /// Start a session for an active (verified, not deleted) user. The database work runs in a
    /// task of its own; [`SessionClient::issue`] does it in the caller's task instead.
    Issue {
        new: NewSession,
        reply: RpcReplyPort<Result<IssuedSession, SessionError>>,
    },
    /// From the LISTEN connection: another process revoked something.
    Notified(Notice),
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}

pub struct SessionStore;

pub struct SessionArgs {
    pub pool: Pool,
    pub clock: SharedClock,
    pub hasher: TokenHasher,
    pub policy: SessionPolicy,
    /// Where to LISTEN for revocations by other processes.
    pub listen: tokio_postgres::Config,
    /// The client this store serves: it gets the new cache at every (re)start.
    pub client: SessionClient,
}

pub struct SessionState {
    shared: Arc<cache::Shared>,
    _listener: AbortOnDrop<()>,
}

impl Actor for SessionStore {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let listener = listen::spawn(args.listen, CHANNEL, move |notice| {
            myself.send_message(SessionMsg::Notified(notice)).is_ok()
        });
        // A fresh cache: whatever a previous incarnation cached may have missed evictions.
        let shared = Arc::new(cache::Shared::new(
            args.pool,
            args.clock,
            args.hasher,
            args.policy,
            args.client.eviction_sender(),
        ));
        args.client.publish(Arc::clone(&shared));
        Ok(SessionState {
            shared,
            _listener: AbortOnDrop(listener),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<SessionMsg>,
        msg: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Issue { new, reply } => {
                let shared = Arc::clone(&state.shared);
                tokio::spawn(async move {
                    let _ = reply.send(shared.issue(Uuid::new_v4(), new).await);
                });
            }
            SessionMsg::Notified(Notice::Payload(payload)) => {
                if let Some(id) = payload.strip_prefix("s:").and_then(|id| id.parse().ok()) {
                    state.shared.evict(id);
                }
            }
            SessionMsg::Notified(Notice::Resync) => state.shared.clear(),
            #[cfg(feature = "testing")]
            SessionMsg::Fault => panic!("fault injected into the session store"),
        }
        Ok(())
    }
}
