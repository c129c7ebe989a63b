//! The configured kill switch, recorded once across dynos: when a process starts or re-reads
//! its configuration, it compares the switch its configuration sets (engaged with a reason, or
//! released) with the last state recorded in `broker_config_state`, and when they differ sets
//! the new state and appends the domain's row for the change (`SwitchAuditEntry`: in Raptor
//! `kill_switch.engage`/`kill_switch.release`), source `config`, in
//! the same transaction. The row lock taken by the conditional upsert orders concurrent
//! processes: the first one changes the row and writes the audit row, the others find it equal
//! and write nothing. Transaction-scoped only (safe through a transaction-mode pooler).
//!
//! The very first record (an empty table: a new database, or the first start after this was
//! deployed) sets the state without an audit row: nothing is known to have changed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde_json::json;
use tokio::sync::mpsc;

use super::SwitchAuditEntry;
use crate::audit::append_in;
use crate::clock::SharedClock;
use crate::task::AbortOnDrop;

/// Attempts at recording one state while the database cannot be reached.
const ATTEMPTS: u32 = 6;
/// Between two attempts.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// What recording a configured state did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing was recorded before: the state is now, without an audit row.
    First,
    /// The state changed: recorded with its audit row.
    Changed,
    /// The state was already recorded (by this process or another).
    Unchanged,
}

/// Records the configured switch (`Some(reason)`: engaged) at `now`; audits a change.
pub async fn record(
    pool: &Pool,
    now: DateTime<Utc>,
    engaged_by: Option<&str>,
    switch_entry: SwitchAuditEntry,
) -> Result<Recorded, String> {
    let mut client = pool.get().await.map_err(|e| e.to_string())?;
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    let row = tx
        .query_opt(
            "WITH old AS (SELECT reason FROM broker_config_state WHERE id FOR UPDATE) \
             INSERT INTO broker_config_state (id, engaged, reason, recorded_at) \
             VALUES (TRUE, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET engaged = EXCLUDED.engaged, \
             reason = EXCLUDED.reason, recorded_at = EXCLUDED.recorded_at \
             WHERE broker_config_state.engaged IS DISTINCT FROM EXCLUDED.engaged \
             RETURNING (xmax = 0), (SELECT reason FROM old)",
            &[&engaged_by.is_some(), &engaged_by.unwrap_or_default(), &now],
        )
        .await
        .map_err(|e| e.to_string())?;
    let recorded = match row {
        None => Recorded::Unchanged,
        Some(row) if row.get::<_, bool>(0) => Recorded::First,
        Some(row) => {
            let before: Option<String> = row.get(1);
            let mut entry = switch_entry(engaged_by.is_some());
            entry.details = json!({
                "source": "config",
                "reason": engaged_by.map(str::to_owned).or(before).unwrap_or_default(),
            });
            append_in(&tx, now, [&entry])
                .await
                .map_err(|e| e.to_string())?;
            Recorded::Changed
        }
    };
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(recorded)
}

/// Records each configured state sent to it, in order, off the broker's mailbox; a state that
/// cannot be recorded is retried a few times, unless a newer one arrives.
pub(crate) fn recorder(
    pool: Pool,
    clock: SharedClock,
    switch_entry: SwitchAuditEntry,
) -> (mpsc::UnboundedSender<Option<String>>, AbortOnDrop<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Option<String>>();
    let task = tokio::spawn(async move {
        while let Some(mut engaged_by) = rx.recv().await {
            for attempt in 1..=ATTEMPTS {
                match record(&pool, clock.now(), engaged_by.as_deref(), switch_entry).await {
                    Ok(Recorded::Changed) => {
                        tracing::info!(
                            engaged = engaged_by.is_some(),
                            "configured kill switch changed; audited"
                        )
                    }
                    Ok(_) => {}
                    Err(error) if attempt < ATTEMPTS => {
                        tracing::warn!(%error, "the configured kill switch could not be recorded; retrying");
                        tokio::time::sleep(RETRY_AFTER).await;
                        if let Ok(newer) = rx.try_recv() {
                            engaged_by = newer;
                        }
                        continue;
                    }
                    Err(error) => {
                        tracing::error!(%error, "the configured kill switch changed but could not be audited");
                    }
                }
                break;
            }
        }
    });
    (tx, AbortOnDrop(task))
}
