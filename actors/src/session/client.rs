//! [`SessionClient`]: the only way into the session store. Every call checks that the store is
//! running (so a store that is down answers "unavailable" at once), then works on the cache the
//! store published, in the caller's task, within a deadline.

use std::future::Future;
use std::sync::{Arc, RwLock};

use tokio::sync::broadcast;
use uuid::Uuid;

use crate::slot::{ActorUnavailable, Slot, DEFAULT_CALL_TIMEOUT};

use super::cache::Shared;
use super::SessionSummary;
use super::{Eviction, IssuedSession, NewSession, SessionError, SessionInfo, SessionMsg};

/// Evictions queued for a listener that has not read them yet (beyond: it lags).
const EVICTIONS_QUEUED: usize = 1_024;

/// A session call failed: the store is down, or it answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionCallError {
    /// The store is down or did not answer in time.
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
    /// The store answered with an error.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The session store's client.
#[derive(Clone)]
pub struct SessionClient {
    slot: Slot<SessionMsg>,
    /// The running store's cache, replaced at every (re)start.
    shared: Arc<RwLock<Option<Arc<Shared>>>>,
    /// Every eviction from the cache, whichever store incarnation made it.
    evictions: broadcast::Sender<Eviction>,
}

impl SessionClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("session store"),
            shared: Arc::new(RwLock::new(None)),
            evictions: broadcast::channel(EVICTIONS_QUEUED).0,
        }
    }

    /// Every session this process's cache forgets from now on: a revocation made here or
    /// announced by another instance, or [`Eviction::All`] when notifications may have been
    /// missed. A receiver that lags should treat it as [`Eviction::All`].
    pub fn evictions(&self) -> broadcast::Receiver<Eviction> {
        self.evictions.subscribe()
    }

    pub(super) fn eviction_sender(&self) -> broadcast::Sender<Eviction> {
        self.evictions.clone()
    }

    /// Which of `session_ids` are no longer live (revoked, expired or gone), read from the
    /// database in one query.
    pub async fn ended(&self, session_ids: Vec<Uuid>) -> Result<Vec<Uuid>, SessionCallError> {
        let store = self.store()?;
        self.within(store.ended(&session_ids)).await
    }

    /// The store's slot (for the supervisor, diagnostics and fault-injection tests).
    pub fn slot(&self) -> &Slot<SessionMsg> {
        &self.slot
    }

    pub(super) fn publish(&self, shared: Arc<Shared>) {
        *self.shared.write().unwrap_or_else(|e| e.into_inner()) = Some(shared);
    }

    /// The running store's cache, or unavailable while the store is down.
    fn store(&self) -> Result<Arc<Shared>, ActorUnavailable> {
        self.slot.get()?;
        let unavailable = ActorUnavailable {
            actor: self.slot.name(),
        };
        let shared = self.shared.read().unwrap_or_else(|e| e.into_inner());
        shared.clone().ok_or(unavailable)
    }

    /// Runs one operation with the store's deadline.
    async fn within<T>(
        &self,
        work: impl Future<Output = Result<T, SessionError>>,
    ) -> Result<T, SessionCallError> {
        match tokio::time::timeout(DEFAULT_CALL_TIMEOUT, work).await {
            Ok(result) => Ok(result?),
            Err(_) => {
                tracing::warn!("session store call timed out");
                Err(ActorUnavailable {
                    actor: self.slot.name(),
                }
                .into())
            }
        }
    }

    /// Starts a session for an active user.
    pub async fn issue(&self, new: NewSession) -> Result<IssuedSession, SessionCallError> {
        self.issue_as(Uuid::new_v4(), new).await
    }

    /// Starts a session with an id chosen by the caller (who audited it already).
    pub async fn issue_as(
        &self,
        session_id: Uuid,
        new: NewSession,
    ) -> Result<IssuedSession, SessionCallError> {
        let store = self.store()?;
        self.within(store.issue(session_id, new)).await
    }

    /// The live session behind a cookie token, or `None`. A cached session is answered at once.
    pub async fn validate(&self, token: String) -> Result<Option<SessionInfo>, SessionCallError> {
        let store = self.store()?;
        self.within(store.validate(&token)).await
    }

    /// Ends one of the user's sessions on every instance; whether it was live.
    pub async fn revoke(&self, user_id: Uuid, session_id: Uuid) -> Result<bool, SessionCallError> {
        let store = self.store()?;
        let n = self
            .within(store.revoke(user_id, Some(session_id), None))
            .await?;
        Ok(n == 1)
    }

    /// Ends every session of the user but `except`; how many.
    pub async fn revoke_all(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<usize, SessionCallError> {
        let store = self.store()?;
        self.within(store.revoke(user_id, None, except)).await
    }

    /// Forgets sessions revoked by a committed [`super::revoke_in`] from this process's cache
    /// now (other processes hear of it by notification).
    pub fn evict(&self, session_ids: &[Uuid]) {
        if let Ok(store) = self.store() {
            for id in session_ids {
                store.evict(*id);
            }
        }
    }

    /// When the holder of the user's live session `session_id` last proved a passkey (a
    /// sign-in, a recovery or a step-up); `None` if never, or if the session is not live.
    /// Always read from the database, so a step-up made through another dyno counts at once.
    pub async fn asserted_at(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, SessionCallError> {
        let store = self.store()?;
        self.within(store.asserted_at(user_id, session_id)).await
    }

    /// Records a passkey assertion (a step-up) on the user's live session `session_id`; when,
    /// or `None` if the session is not live.
    pub async fn record_assertion(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, SessionCallError> {
        let store = self.store()?;
        self.within(store.record_assertion(user_id, session_id))
            .await
    }

    /// The user's live sessions.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionSummary>, SessionCallError> {
        let store = self.store()?;
        self.within(store.list(user_id)).await
    }
}
