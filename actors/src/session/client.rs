//! [`SessionClient`]: how handlers and use cases reach the session store, each call with its
//! deadline built in.

use uuid::Uuid;

use crate::slot::{ActorUnavailable, Slot, DEFAULT_CALL_TIMEOUT};

use super::{IssuedSession, NewSession, SessionError, SessionInfo, SessionMsg, SessionSummary};

/// A session call failed: the store is down, or it answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionCallError {
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The session store's client.
#[derive(Clone)]
pub struct SessionClient {
    slot: Slot<SessionMsg>,
}

impl SessionClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("session store"),
        }
    }

    /// The store's slot (for the supervisor, diagnostics and fault-injection tests).
    pub fn slot(&self) -> &Slot<SessionMsg> {
        &self.slot
    }

    /// Starts a session for an active user.
    pub async fn issue(&self, new: NewSession) -> Result<IssuedSession, SessionCallError> {
        Ok(self
            .slot
            .ask(
                |reply| SessionMsg::Issue { new, reply },
                DEFAULT_CALL_TIMEOUT,
            )
            .await??)
    }

    /// The live session behind a cookie token, or `None`.
    pub async fn validate(&self, token: String) -> Result<Option<SessionInfo>, SessionCallError> {
        Ok(self
            .slot
            .ask(
                |reply| SessionMsg::Validate { token, reply },
                DEFAULT_CALL_TIMEOUT,
            )
            .await??)
    }

    /// Ends one of the user's sessions; whether it was live.
    pub async fn revoke(&self, user_id: Uuid, session_id: Uuid) -> Result<bool, SessionCallError> {
        Ok(self
            .slot
            .ask(
                |reply| SessionMsg::Revoke {
                    user_id,
                    session_id,
                    reply,
                },
                DEFAULT_CALL_TIMEOUT,
            )
            .await??)
    }

    /// Ends every session of the user but `except`; how many.
    pub async fn revoke_all(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<usize, SessionCallError> {
        Ok(self
            .slot
            .ask(
                |reply| SessionMsg::RevokeAll {
                    user_id,
                    except,
                    reply,
                },
                DEFAULT_CALL_TIMEOUT,
            )
            .await??)
    }

    /// The user's live sessions.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionSummary>, SessionCallError> {
        Ok(self
            .slot
            .ask(
                |reply| SessionMsg::List { user_id, reply },
                DEFAULT_CALL_TIMEOUT,
            )
            .await??)
    }
}
