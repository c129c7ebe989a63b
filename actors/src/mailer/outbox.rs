//! The outbox's SQL as the mailer drains it (`email_outbox`): claim a due row with a lease,
//! then record whether it was delivered. Which kinds exist and what a row asks for is the
//! domain's ([`super::Letters`]); this module only queues and retries.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::letters::{Claimed, LetterError};

/// The mailer could not read or update the outbox.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// No pooled connection.
    #[error("pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The domain could not write or withdraw a letter.
    #[error("letter: {0}")]
    Letter(LetterError),
}

/// What the next claim may take.
pub(super) struct Due<'a> {
    pub now: DateTime<Utc>,
    /// Until when the claimed row is reserved for this mailer.
    pub lease_until: DateTime<Utc>,
    /// The kinds this process can write.
    pub kinds: &'a [&'a str],
    /// Rows queued before this are no longer tried.
    pub queued_after: DateTime<Utc>,
}

/// Claims the next due message until `due.lease_until`; other mailers skip it meanwhile.
pub(super) async fn claim_due(
    tx: &impl GenericClient,
    due: Due<'_>,
) -> Result<Option<Claimed>, OutboxError> {
    let row = tx
        .query_opt(
            "UPDATE email_outbox SET next_attempt_at = $2 WHERE id = ( \
             SELECT id FROM email_outbox \
             WHERE sent_at IS NULL AND next_attempt_at <= $1 AND kind = ANY($3) AND user_id IS NOT NULL \
             AND created_at > $4 \
             ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, user_id, recipient, attempts, kind, notice",
            &[&due.now, &due.lease_until, &due.kinds, &due.queued_after],
        )
        .await?;
    Ok(row.map(|r| Claimed {
        id: r.get(0),
        user_id: r.get(1),
        recipient: r.get(2),
        attempts: r.get(3),
        kind: r.get(4),
        payload: r.get(5),
    }))
}

/// Records a delivered message.
pub(super) async fn mark_sent(
    client: &impl GenericClient,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    client
        .execute(
            "UPDATE email_outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1",
            &[&id, &now],
        )
        .await?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub(super) async fn mark_failed(
    client: &impl GenericClient,
    id: Uuid,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> Result<(), OutboxError> {
    let error: String = error.chars().take(200).collect();
    client
        .execute(
            "UPDATE email_outbox SET attempts = $2, next_attempt_at = $3, last_error = $4 WHERE id = $1",
            &[&id, &attempts, &next_attempt_at, &error],
        )
        .await?;
    Ok(())
}
