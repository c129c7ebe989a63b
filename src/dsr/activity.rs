//! The parts of an export that come from what a person did with the product rather than from
//! their account: the security notices sent to them (backtests: [`super::backtests`]).
//! Read inside the export's snapshot transaction, like everything in [`super::repo`].

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::records::NoticeRecord;
use crate::db::StorageError;

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
