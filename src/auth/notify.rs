//! Security notifications (issue 12, item 2): an email to the account when a passkey is added,
//! removed or renamed, when recovery is used, and when every other session is revoked. Each is
//! queued in the durable outbox by the use case that made the change (in its transaction where
//! it has one), names the time, the IP prefix and the user-agent fragment of the session that
//! did it (the 64 characters a session keeps, never the whole header), and never holds a token. Should the owner's email account be compromised, these are
//! how the owner learns that somebody used it to take over their Raxx account.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use raptor_actors::session::user_agent_fragment;
use uuid::Uuid;

use super::repo::notices;
use super::Origin;
use crate::db::StorageError;

/// What a notice reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyRenamed,
    RecoveryUsed,
    SessionsRevoked,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::PasskeyAdded => "passkey_added",
            Notice::PasskeyRemoved => "passkey_removed",
            Notice::PasskeyRenamed => "passkey_renamed",
            Notice::RecoveryUsed => "recovery_used",
            Notice::SessionsRevoked => "sessions_revoked",
        }
    }
}

/// Who is told, about what.
pub struct Notify<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    pub notice: Notice,
    /// The passkey's name, for the passkey notices.
    pub passkey: Option<&'a str>,
}

/// Queues the notice (the caller wakes the mailer once its transaction commits).
pub async fn queue(
    client: &impl GenericClient,
    origin: &Origin,
    notify: Notify<'_>,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let body = serde_json::json!({
        "event": notify.notice.as_str(),
        "at": now.format("%Y-%m-%d %H:%M UTC").to_string(),
        "ip_prefix": origin.ip_prefix,
        "user_agent": origin.user_agent.as_deref().map(user_agent_fragment),
        "passkey": notify.passkey,
    });
    notices::enqueue(client, notify.user_id, notify.email, &body, now).await
}
