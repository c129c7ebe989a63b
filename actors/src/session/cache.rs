//! The session store's shared half: the cache of validated sessions and the operations that
//! read and write the `sessions` table. The store actor creates one [`Shared`] when it starts,
//! hands it to [`SessionClient`](super::SessionClient), and feeds it evictions from the LISTEN
//! connection; callers run every operation in their own task.
//!
//! So a cache hit is answered under a read lock, without I/O and without the mailbox; a miss
//! (or a recheck, every `recheck_every`) reads the database in the caller's task; a rolling
//! idle-expiry write-back on a hit runs in a spawned task. A generation counter, bumped under
//! the write lock by every eviction, keeps a miss that read the database before a revocation
//! from caching the revoked session after the eviction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use secrecy::ExposeSecret;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{store, IssuedSession, NewSession, SessionError, SessionInfo, SessionPolicy};
use super::{Eviction, SessionSummary, TOKEN_PURPOSE};
use crate::clock::SharedClock;
use crate::token::TokenHasher;

/// Cache entries beyond this are dropped wholesale (they are re-read on demand).
const MAX_CACHED: usize = 50_000;

#[derive(Clone)]
struct Cached {
    info: SessionInfo,
    idle_expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    extended_at: DateTime<Utc>,
    verified_at: DateTime<Utc>,
}

/// The cache and what its operations need.
pub struct Shared {
    pool: Pool,
    clock: SharedClock,
    hasher: TokenHasher,
    policy: SessionPolicy,
    /// Keyed by token digest.
    cache: RwLock<HashMap<String, Cached>>,
    /// Bumped (under the write lock) by every eviction.
    generation: AtomicU64,
    /// Told of every eviction (streams end with their session).
    evictions: broadcast::Sender<Eviction>,
}

impl Shared {
    pub(super) fn new(
        pool: Pool,
        clock: SharedClock,
        hasher: TokenHasher,
        policy: SessionPolicy,
        evictions: broadcast::Sender<Eviction>,
    ) -> Self {
        Self {
            evictions,
            pool,
            clock,
            hasher,
            policy,
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Starts a session for an active user, with the given id.
    pub(super) async fn issue(
        &self,
        id: Uuid,
        new: NewSession,
    ) -> Result<IssuedSession, SessionError> {
        let token = self.hasher.mint_sealed(TOKEN_PURPOSE);
        let token_hash = self.hasher.digest(TOKEN_PURPOSE, token.expose_secret());
        let now = self.clock.now();
        let absolute_expires_at = now + self.policy.absolute;
        let idle_expires_at = (now + self.policy.idle).min(absolute_expires_at);
        let user_agent = new.user_agent.as_deref().map(user_agent_fragment);
        let generation = self.generation.load(Ordering::Acquire);
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
        self.remember(token_hash, entry, generation);
        Ok(IssuedSession { token, info })
    }

    /// The live session behind a cookie token, or `None`.
    pub(super) async fn validate(
        self: &Arc<Self>,
        token: &str,
    ) -> Result<Option<SessionInfo>, SessionError> {
        // Forged or malformed: refused without a lookup.
        if !self.hasher.is_sealed(TOKEN_PURPOSE, token) {
            return Ok(None);
        }
        let now = self.clock.now();
        // The digest under the previous key (during a rotation) only when the current misses.
        let mut hashes = vec![self.hasher.digest(TOKEN_PURPOSE, token)];
        if let Some((hash, entry)) = self.fresh(&hashes, now) {
            return Ok(self.answer_hit(hash, entry, now));
        }
        if let Some(previous) = self.hasher.previous_digest(TOKEN_PURPOSE, token) {
            hashes.push(previous);
            if let Some((hash, entry)) = self.fresh(&hashes[1..], now) {
                return Ok(self.answer_hit(hash, entry, now));
            }
        }
        // Miss or recheck: the database, in this task.
        let generation = self.generation.load(Ordering::Acquire);
        let Some(row) = store::find(&self.pool, &hashes).await? else {
            return Ok(None);
        };
        let mut entry = Cached {
            info: row.info,
            idle_expires_at: row.idle_expires_at,
            absolute_expires_at: row.absolute_expires_at,
            extended_at: row.last_seen_at,
            verified_at: now,
        };
        if now >= entry.idle_expires_at || now >= entry.absolute_expires_at {
            return Ok(None);
        }
        if now - entry.extended_at >= self.policy.extend_every {
            let idle_expires_at = self.rolled(&entry, now);
            let id = entry.info.session_id;
            if !store::extend(&self.pool, id, now, idle_expires_at).await? {
                return Ok(None);
            }
            roll(&mut entry, idle_expires_at, now);
        }
        let info = entry.info.clone();
        self.remember(row.token_hash, entry, generation);
        Ok(Some(info))
    }

    /// A cached entry verified within `recheck_every`, under a read lock.
    fn fresh(&self, hashes: &[String], now: DateTime<Utc>) -> Option<(String, Cached)> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        hashes.iter().find_map(|h| {
            let entry = cache.get(h)?;
            (now - entry.verified_at < self.policy.recheck_every)
                .then(|| (h.clone(), entry.clone()))
        })
    }

    /// Answers a cache hit; rolls the idle deadline when due, writing it back in the background.
    fn answer_hit(
        self: &Arc<Self>,
        hash: String,
        mut entry: Cached,
        now: DateTime<Utc>,
    ) -> Option<SessionInfo> {
        if now >= entry.idle_expires_at || now >= entry.absolute_expires_at {
            return None;
        }
        if now - entry.extended_at >= self.policy.extend_every {
            let idle_expires_at = self.rolled(&entry, now);
            roll(&mut entry, idle_expires_at, now);
            // Only the caller that rolls the cached entry writes back (no duplicate writes).
            if self.claim_roll(&hash, idle_expires_at, now) {
                let shared = Arc::clone(self);
                let id = entry.info.session_id;
                tokio::spawn(async move {
                    match store::extend(&shared.pool, id, now, idle_expires_at).await {
                        Ok(true) => {}
                        Ok(false) => shared.evict(id),
                        Err(error) => {
                            tracing::warn!(%error, "session expiry write-back failed");
                            shared.evict(id);
                        }
                    }
                });
            }
        }
        Some(entry.info)
    }

    fn rolled(&self, entry: &Cached, now: DateTime<Utc>) -> DateTime<Utc> {
        (now + self.policy.idle).min(entry.absolute_expires_at)
    }

    /// Rolls the cached entry if it is still due; `true` for the caller that did.
    fn claim_roll(&self, hash: &str, idle_expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        match cache.get_mut(hash) {
            Some(entry) if now - entry.extended_at >= self.policy.extend_every => {
                roll(entry, idle_expires_at, now);
                true
            }
            _ => false,
        }
    }

    /// Caches an entry read at `generation`, unless something was evicted since.
    fn remember(&self, hash: String, entry: Cached, generation: u64) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(hash, entry);
    }

    /// Forgets a session (revoked here or on another instance).
    pub(super) fn evict(&self, session_id: Uuid) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.retain(|_, c| c.info.session_id != session_id);
        // Nobody listening is fine.
        let _ = self.evictions.send(Eviction::Session(session_id));
    }

    /// Forgets everything (the LISTEN connection may have missed notifications).
    pub(super) fn clear(&self) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.clear();
        let _ = self.evictions.send(Eviction::All);
    }

    /// Which of `ids` are no longer live sessions (revoked, expired or gone).
    pub(super) async fn ended(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, SessionError> {
        store::ended(&self.pool, ids, self.clock.now()).await
    }

    /// Revokes sessions of the user (one, or all but `except`), announced to every instance
    /// and evicted here before this returns; how many.
    pub(super) async fn revoke(
        &self,
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

    pub(super) async fn asserted_at(
        &self,
        user_id: Uuid,
        id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, SessionError> {
        store::asserted_at(&self.pool, user_id, id).await
    }

    pub(super) async fn record_assertion(
        &self,
        user_id: Uuid,
        id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, SessionError> {
        let now = self.clock.now();
        let live = store::record_assertion(&self.pool, user_id, id, now).await?;
        Ok(live.then_some(now))
    }

    pub(super) async fn list(&self, user_id: Uuid) -> Result<Vec<SessionSummary>, SessionError> {
        store::list(&self.pool, user_id, self.clock.now()).await
    }
}

fn roll(entry: &mut Cached, idle_expires_at: DateTime<Utc>, now: DateTime<Utc>) {
    entry.idle_expires_at = idle_expires_at;
    entry.extended_at = now;
    entry.info.expires_at = idle_expires_at;
}

/// At most 64 printable ASCII characters of a user agent: enough to tell devices apart. What a
/// session keeps, and what a security notice may name.
pub fn user_agent_fragment(ua: &str) -> String {
    ua.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect()
}
