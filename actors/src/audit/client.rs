//! [`AuditClient`]: how everyone else appends to the audit trail.

use std::time::Duration;

use crate::slot::{ActorUnavailable, Slot};

use super::{AuditEntry, AuditMsg, AuditSeq};

/// Bound on one append: queueing behind a batch plus its commit.
const APPEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The row could not be made durable; the change it records must not happen (or must fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The writer is down, restarting or not answering in time.
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
    /// The writer answered that the commit failed.
    #[error("the audit row could not be committed")]
    NotDurable,
}

/// The audit writer's client.
#[derive(Clone)]
pub struct AuditClient {
    slot: Slot<AuditMsg>,
}

impl AuditClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("audit writer"),
        }
    }

    /// A client of one writer that no supervisor manages (an operator command's own writer).
    pub fn unsupervised(writer: ractor::ActorRef<AuditMsg>) -> Self {
        let client = Self::new();
        client.slot.set(Some(writer));
        client
    }

    /// The writer's slot (for the supervisor and diagnostics).
    pub fn slot(&self) -> &Slot<AuditMsg> {
        &self.slot
    }

    /// Appends `entry` and returns once it is committed.
    pub async fn append(&self, entry: AuditEntry) -> Result<AuditSeq, AppendError> {
        self.slot
            .ask(|reply| AuditMsg::Append(entry, reply), APPEND_TIMEOUT)
            .await?
            .map_err(|_| AppendError::NotDurable)
    }

    /// Commits whatever is pending (shutdown).
    pub async fn flush(&self) -> Result<(), ActorUnavailable> {
        self.slot.ask(AuditMsg::Flush, APPEND_TIMEOUT).await
    }
}
