//! The operator's kill switch: `set` (engage or release) and `status`, used by both
//! `POST /api/trading/kill-switch` and `raptor kill-switch engage|release|status`.
//!
//! A change is audited first (`kill_switch.engage` or `kill_switch.release`, with its source),
//! then stored with a notification in one short transaction; every process's broker re-reads
//! the switch on that notification, so trading stops (or resumes) everywhere within a second.
//! The local broker, when there is one (not on a one-off CLI dyno), is told at once. Engaging
//! is always allowed: when an engage cannot be audited or stored, this process engages anyway
//! and the error says so.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AppendError, AuditEntry};
use raptor_actors::broker::switch::{self, OperatorSwitch};
use raptor_actors::broker::{BrokerClient, BrokerStatus};
use serde_json::json;

use crate::audit::AuditEvent;
use crate::db::StorageError;

/// Longest reason kept.
pub const MAX_REASON_CHARS: usize = 500;

pub use crate::audit::AuditTrail;

/// An operator's request to engage or release the switch.
#[derive(Debug, Clone)]
pub struct SwitchChange {
    pub engaged: bool,
    /// Why, as typed (trimmed here).
    pub reason: String,
    /// `api:<user id>` or `cli`: never an email.
    pub changed_by: String,
    /// `api` or `cli`, for the audit row.
    pub source: &'static str,
    pub at: DateTime<Utc>,
    /// The audit row's stamp (actor, IP prefix, request id); its event and details are set here.
    pub origin: AuditEntry,
}

/// Why a change did not take effect everywhere.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("the reason must say why, in 1 to {MAX_REASON_CHARS} printable characters")]
    InvalidReason,
    /// For an engage, this process has engaged anyway (`engaged_here`).
    #[error("the change could not be audited")]
    NotAudited {
        engaged_here: bool,
        source: AppendError,
    },
    /// For an engage, this process has engaged anyway (`engaged_here`).
    #[error("the change could not be stored")]
    NotStored {
        engaged_here: bool,
        source: StorageError,
    },
}

/// Engages or releases the operator's switch; answers this process's broker status afterwards
/// (`None` without a local broker, or when it is down: it re-reads the switch on restart).
pub async fn set(
    pool: &Pool,
    audit: &impl AuditTrail,
    broker: Option<&BrokerClient>,
    change: SwitchChange,
) -> Result<Option<BrokerStatus>, SwitchError> {
    let reason = change.reason.trim();
    // Control characters are refused: Postgres text cannot hold NUL, and a log line or the
    // audit trail should not carry terminal escapes (found by schemathesis).
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(char::is_control)
    {
        return Err(SwitchError::InvalidReason);
    }
    let switch = OperatorSwitch {
        engaged: change.engaged,
        reason: reason.to_owned(),
        changed_by: change.changed_by,
        changed_at: change.at,
    };
    let mut entry = change.origin;
    entry.event = AuditEvent::kill_switch(change.engaged).as_str();
    entry.details = json!({ "source": change.source, "reason": reason });
    if let Err(source) = audit.append(entry).await {
        let engaged_here = engage_here(broker, &switch).await;
        return Err(SwitchError::NotAudited {
            engaged_here,
            source,
        });
    }
    if let Err(source) = store(pool, &switch).await {
        tracing::error!(error = %source, "kill switch could not be stored");
        let engaged_here = engage_here(broker, &switch).await;
        return Err(SwitchError::NotStored {
            engaged_here,
            source,
        });
    }
    Ok(match broker {
        Some(broker) => broker.adopt_switch(switch).await.ok(),
        None => None,
    })
}

/// The operator's switch as stored (`None`: never set, released).
pub async fn status(pool: &Pool) -> Result<Option<OperatorSwitch>, StorageError> {
    let client = pool.get().await?;
    Ok(switch::load(&client).await?)
}

async fn store(pool: &Pool, switch: &OperatorSwitch) -> Result<(), StorageError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    switch::save(&tx, switch).await?;
    tx.commit().await?;
    Ok(())
}

/// An engage holds in this process even when it cannot be recorded: stopping is always allowed.
async fn engage_here(broker: Option<&BrokerClient>, switch: &OperatorSwitch) -> bool {
    match broker {
        Some(broker) if switch.engaged => {
            tracing::error!("kill switch engaged in this process only");
            broker.adopt_switch(switch.clone()).await.is_ok()
        }
        _ => false,
    }
}
