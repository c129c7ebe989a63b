//! The streams' watch on sessions: every eviction from this process's session cache (a logout,
//! a revocation, a recovery or an erasure, made here or announced by another instance through
//! LISTEN/NOTIFY) ends the streams of that session; when evictions may have been missed (the
//! LISTEN connection was lost, or this watch fell behind) the actor checks every listener's
//! session against the database in one query.

use ractor::ActorRef;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::TradeStreamMsg;
use crate::session::{Eviction, SessionClient};

/// Forwards the session store's evictions to the stream actor until either is gone.
pub(super) fn watch(sessions: &SessionClient, actor: ActorRef<TradeStreamMsg>) -> JoinHandle<()> {
    let mut evictions = sessions.evictions();
    tokio::spawn(async move {
        loop {
            let msg = match evictions.recv().await {
                Ok(Eviction::Session(id)) => TradeStreamMsg::SessionsEnded(vec![id]),
                Ok(Eviction::All) | Err(RecvError::Lagged(_)) => TradeStreamMsg::RecheckSessions,
                Err(RecvError::Closed) => return,
            };
            if actor.cast(msg).is_err() {
                return;
            }
        }
    })
}
