//! The session store: the one owner of sessions. It issues, validates, rolls and revokes them,
//! and caches validated ones so most requests never touch the database.
//!
//! A session is a 256-bit token in the `session` cookie; the database holds only its HMAC. It
//! expires after 12 hours idle (the idle deadline is rolled forward, written at most once a
//! minute) and 7 days after sign-in whatever happens. A revocation is committed with a
//! `pg_notify`, and every process's store evicts the session from its cache when the
//! notification arrives, so a logout is honoured by every dyno within a second.

mod client;
mod store;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::pg::listen::{self, Notice};
use crate::task::AbortOnDrop;
use crate::token::{self, TokenHasher};
pub use client::{SessionCallError, SessionClient};
pub use store::{revoke, CHANNEL};

const TOKEN_PURPOSE: &str = "session";
/// Cache entries beyond this are dropped wholesale (they are re-read on demand).
const MAX_CACHED: usize = 50_000;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session storage is unavailable")]
    Storage,
    #[error("the account cannot sign in")]
    InactiveUser,
}

pub enum SessionMsg {
    /// Start a session for an active (verified, not deleted) user.
    Issue {
        new: NewSession,
        reply: RpcReplyPort<Result<IssuedSession, SessionError>>,
    },
    /// Is this cookie token a live session? `None` when unknown, expired or revoked.
    Validate {
        token: String,
        reply: RpcReplyPort<Result<Option<SessionInfo>, SessionError>>,
    },
    /// Revoke one of the user's sessions; replies whether it was live.
    Revoke {
        user_id: Uuid,
        session_id: Uuid,
        reply: RpcReplyPort<Result<bool, SessionError>>,
    },
    /// Revoke every session of the user except `except`; replies how many.
    RevokeAll {
        user_id: Uuid,
        except: Option<Uuid>,
        reply: RpcReplyPort<Result<usize, SessionError>>,
    },
    /// The user's live sessions.
    List {
        user_id: Uuid,
        reply: RpcReplyPort<Result<Vec<SessionSummary>, SessionError>>,
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
}

pub struct SessionState {
    pool: Pool,
    clock: SharedClock,
    hasher: TokenHasher,
    policy: SessionPolicy,
    /// Keyed by token digest.
    cache: HashMap<String, Cached>,
    _listener: AbortOnDrop<()>,
}

struct Cached {
    info: SessionInfo,
    idle_expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    extended_at: DateTime<Utc>,
    verified_at: DateTime<Utc>,
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
        Ok(SessionState {
            pool: args.pool,
            clock: args.clock,
            hasher: args.hasher,
            policy: args.policy,
            cache: HashMap::new(),
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
                let _ = reply.send(state.issue(new).await);
            }
            SessionMsg::Validate { token, reply } => {
                let _ = reply.send(state.validate(&token).await);
            }
            SessionMsg::Revoke {
                user_id,
                session_id,
                reply,
            } => {
                let result = state
                    .revoke(user_id, Some(session_id), None)
                    .await
                    .map(|n| n == 1);
                let _ = reply.send(result);
            }
            SessionMsg::RevokeAll {
                user_id,
                except,
                reply,
            } => {
                let _ = reply.send(state.revoke(user_id, None, except).await);
            }
            SessionMsg::List { user_id, reply } => {
                let _ = reply.send(store::list(&state.pool, user_id, state.clock.now()).await);
            }
            SessionMsg::Notified(Notice::Payload(payload)) => {
                if let Some(id) = payload.strip_prefix("s:").and_then(|id| id.parse().ok()) {
                    state.evict(id);
                }
            }
            SessionMsg::Notified(Notice::Resync) => state.cache.clear(),
            #[cfg(feature = "testing")]
            SessionMsg::Fault => panic!("fault injected into the session store"),
        }
        Ok(())
    }
}

impl SessionState {
    async fn issue(&mut self, new: NewSession) -> Result<IssuedSession, SessionError> {
        let token = token::mint();
        let token_hash = self.hasher.digest(TOKEN_PURPOSE, token.expose_secret());
        let now = self.clock.now();
        let id = Uuid::new_v4();
        let absolute_expires_at = now + self.policy.absolute;
        let idle_expires_at = (now + self.policy.idle).min(absolute_expires_at);
        let user_agent = new.user_agent.as_deref().map(short_user_agent);
        let insert = store::Insert {
            id,
            token_hash: &token_hash,
            user_id: new.user_id,
            now,
            idle_expires_at,
            absolute_expires_at,
            ip_prefix: new.ip_prefix.as_deref(),
            user_agent: user_agent.as_deref(),
        };
        let (email, is_operator) = store::insert(&self.pool, insert)
            .await?
            .ok_or(SessionError::InactiveUser)?;
        let info = SessionInfo {
            session_id: id,
            user_id: new.user_id,
            email,
            is_operator,
            expires_at: idle_expires_at,
        };
        let entry = Cached {
            info: info.clone(),
            idle_expires_at,
            absolute_expires_at,
            extended_at: now,
            verified_at: now,
        };
        self.remember(token_hash, entry);
        Ok(IssuedSession { token, info })
    }

    async fn validate(&mut self, token: &str) -> Result<Option<SessionInfo>, SessionError> {
        if !token::well_formed(token) {
            return Ok(None);
        }
        let now = self.clock.now();
        let hashes = self.hasher.candidates(TOKEN_PURPOSE, token);
        let cached = hashes.iter().find(|h| self.cache.contains_key(*h)).cloned();
        let (hash, mut entry) = match cached.and_then(|h| self.cache.remove_entry(&h)) {
            Some((hash, entry)) if now - entry.verified_at < self.policy.recheck_every => {
                (hash, entry)
            }
            _ => match store::find(&self.pool, &hashes).await? {
                Some(row) => (
                    row.token_hash,
                    Cached {
                        info: row.info,
                        idle_expires_at: row.idle_expires_at,
                        absolute_expires_at: row.absolute_expires_at,
                        extended_at: row.last_seen_at,
                        verified_at: now,
                    },
                ),
                None => return Ok(None),
            },
        };
        if now >= entry.idle_expires_at || now >= entry.absolute_expires_at {
            return Ok(None);
        }
        if now - entry.extended_at >= self.policy.extend_every {
            let idle_expires_at = (now + self.policy.idle).min(entry.absolute_expires_at);
            if !store::extend(&self.pool, entry.info.session_id, now, idle_expires_at).await? {
                return Ok(None);
            }
            entry.idle_expires_at = idle_expires_at;
            entry.extended_at = now;
            entry.info.expires_at = idle_expires_at;
        }
        let info = entry.info.clone();
        self.remember(hash, entry);
        Ok(Some(info))
    }

    fn remember(&mut self, hash: String, entry: Cached) {
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(hash, entry);
    }

    async fn revoke(
        &mut self,
        user_id: Uuid,
        only: Option<Uuid>,
        except: Option<Uuid>,
    ) -> Result<usize, SessionError> {
        let ids = store::revoke(&self.pool, user_id, only, except, self.clock.now()).await?;
        for id in &ids {
            self.evict(*id);
        }
        Ok(ids.len())
    }

    fn evict(&mut self, session_id: Uuid) {
        self.cache.retain(|_, c| c.info.session_id != session_id);
    }
}

/// At most 64 printable ASCII characters of a user agent: enough to tell devices apart.
fn short_user_agent(ua: &str) -> String {
    ua.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect()
}
