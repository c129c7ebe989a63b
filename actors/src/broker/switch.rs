//! The operator's kill switch in Postgres: one row in `kill_switch`, changed together with a
//! `pg_notify` on [`CHANNEL`] so that every process's broker re-reads it at once.
//!
//! The CLI (`raptor kill-switch …`) and the broker (for the operator API) both change it
//! through [`save`], inside the transaction that also makes the change's audit row durable.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;

/// Postgres channel on which kill-switch changes are announced to every process.
pub const CHANNEL: &str = "raptor_kill_switch";

/// Where a kill-switch change came from, as recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchSource {
    /// Configuration (`ALPACA_AUTH_MODE`, credentials, the simulator in a deployment).
    Config,
    /// An operator (CLI or API).
    Operator,
}

/// The operator's switch as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSwitch {
    /// Trading is off.
    pub engaged: bool,
    /// Why, as the operator wrote it.
    pub reason: String,
    /// `cli`, or `api:<user id>`: never an email.
    pub changed_by: String,
    /// When it was stored.
    pub changed_at: DateTime<Utc>,
}

/// The stored switch; `None` when no operator ever changed it (released).
pub async fn load(
    client: &impl GenericClient,
) -> Result<Option<OperatorSwitch>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT engaged, reason, changed_by, changed_at FROM kill_switch",
            &[],
        )
        .await?;
    Ok(row.map(|r| OperatorSwitch {
        engaged: r.get(0),
        reason: r.get(1),
        changed_by: r.get(2),
        changed_at: r.get(3),
    }))
}

/// Stores `switch` and announces it; the announcement is delivered when the surrounding
/// transaction commits.
pub async fn save(
    client: &impl GenericClient,
    switch: &OperatorSwitch,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO kill_switch (id, engaged, reason, changed_by, changed_at) \
             VALUES (TRUE, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET engaged = EXCLUDED.engaged, reason = EXCLUDED.reason, \
             changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at",
            &[
                &switch.engaged,
                &switch.reason,
                &switch.changed_by,
                &switch.changed_at,
            ],
        )
        .await?;
    client
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&CHANNEL, &switch.engaged.to_string()],
        )
        .await?;
    Ok(())
}
