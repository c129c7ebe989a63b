//! The parts of an export that come from what a person did with the product rather than from
//! their account: backtest runs, and the security notices sent to them (issue 24, item 7).
//! Read inside the export's snapshot transaction, like everything in [`super::repo`].

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::records::{BacktestRunRecord, NoticeRecord};
use crate::db::StorageError;

/// The person's backtest runs, oldest first: what they asked for and what came out.
pub async fn backtest_runs(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<BacktestRunRecord>, StorageError> {
    let rows = client
        .query(
            "SELECT id, status, request, result, reason, created_at, started_at, finished_at \
             FROM backtest_runs WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| BacktestRunRecord {
            run_id: r.get(0),
            status: r.get(1),
            request: r.get(2),
            result: r.get(3),
            reason: r.get(4),
            created_at: r.get(5),
            started_at: r.get(6),
            finished_at: r.get(7),
        })
        .collect())
}

/// The security notices queued for the person, oldest first, with what each says.
pub async fn security_notices(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<NoticeRecord>, StorageError> {
    let rows = client
        .query(
            "SELECT notice, created_at, sent_at FROM email_outbox \
             WHERE user_id = $1 AND kind = 'security_notice' ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| NoticeRecord {
            notice: r.get::<_, Option<serde_json::Value>>(0).unwrap_or_default(),
            created_at: r.get(1),
            sent_at: r.get(2),
        })
        .collect())
}
