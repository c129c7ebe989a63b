//! The session store: the one owner of sessions. It issues, validates, rolls and revokes them
//! and caches the hot ones.
//!
//! Accounts do not exist yet, so no session can be valid: every token is answered `None`. The
//! message shapes are the ones the auth routes will use.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use uuid::Uuid;

/// A validated session, as handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

pub enum SessionMsg {
    /// Is this cookie token a live session? `None` when unknown, expired or revoked.
    Validate {
        token: String,
        reply: RpcReplyPort<Option<SessionInfo>>,
    },
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}

pub struct SessionStore;

impl Actor for SessionStore {
    type Msg = SessionMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<SessionMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<SessionMsg>,
        msg: SessionMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Validate { token: _, reply } => {
                let _ = reply.send(None);
            }
            #[cfg(feature = "testing")]
            SessionMsg::Fault => panic!("fault injected into the session store"),
        }
        Ok(())
    }
}
