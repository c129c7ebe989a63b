//! Security notices: outbox rows of kind `security_notice`, whose `notice` says what happened,
//! when, and from which IP prefix and browser. They never hold a token.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db::StorageError;

/// Queues a notice to `recipient`.
pub async fn enqueue(
    client: &impl GenericClient,
    user_id: Uuid,
    recipient: &str,
    notice: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    client
        .execute(
            "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at, notice) \
             VALUES ($1, 'security_notice', $2, $3, $4, $4, $5)",
            &[&Uuid::new_v4(), &user_id, &recipient, &now, notice],
        )
        .await?;
    Ok(())
}
