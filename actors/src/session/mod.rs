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
    /// A session unused this long ends.
    pub idle: chrono::Duration,
    /// No session lives longer than this, used or not.
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
    /// The session's id (not its token).
    pub session_id: Uuid,
    /// The signed-in person.
    pub user_id: Uuid,
    /// Their address (never logged).
    pub email: String,
    /// Whether they may use the operator routes.
    pub is_operator: bool,
    /// When the session ends unless used again (never past the absolute cap).
    pub expires_at: DateTime<Utc>,
}

/// A session as listed to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session's id.
    pub session_id: Uuid,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends unless used again.
    pub expires_at: DateTime<Utc>,
    /// The IP prefix it was issued to.
    pub ip_prefix: Option<String>,
    /// The browser it was issued to (a short fragment).
    pub user_agent: Option<String>,
}

/// What a new session records about where it came from.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The person signing in.
    pub user_id: Uuid,
    /// `/24` or `/48` prefix, never the full address.
    pub ip_prefix: Option<String>,
    /// A short user-agent fragment.
    pub user_agent: Option<String>,
}

/// A session just issued: the token goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct IssuedSession {
    /// The cookie's value: shown once, stored only as an HMAC.
    pub token: SecretString,
    /// The session as handlers will see it.
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

/// Why a session could not be issued or checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The sessions table cannot be reached.
    #[error("session storage is unavailable")]
    Storage,
    /// The account is unverified or erased.
    #[error("the account cannot sign in")]
    InactiveUser,
}

/// The session store's messages.
pub enum SessionMsg {
    /// Start a session for an active (verified, not deleted) user. The database work runs in a
    /// task of its own; [`SessionClient::issue`] does it in the caller's task instead.
    Issue {
        /// Who signs in, from where.
        new: NewSession,
        /// Where the issued session goes.
        reply: RpcReplyPort<Result<IssuedSession, SessionError>>,
    },
    /// From the LISTEN connection: another process revoked something.
    Notified(Notice),
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}

/// The session store actor: the one owner of sessions.
pub struct SessionStore;

/// What the session store starts with.
pub struct SessionArgs {
    /// The sessions' database.
    pub pool: Pool,
    /// Idle and absolute lifetimes are measured on this clock.
    pub clock: SharedClock,
    /// Keys the stored HMAC of session tokens.
    pub hasher: TokenHasher,
    /// How long sessions live.
    pub policy: SessionPolicy,
    /// Where to LISTEN for revocations by other processes.
    pub listen: tokio_postgres::Config,
    /// The client this store serves: it gets the new cache at every (re)start.
    pub client: SessionClient,
}

/// The store's state: the shared cache and the LISTEN task.
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
