//! Email verification: the outbox rows that ask the mailer for a link, and the links' tokens.
//! Each token is minted when the mailer sends its email (`crate::auth::letters`) and only its
//! HMAC is stored, bound to the pending passkey the email vouches for (`registration_id`).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db::StorageError;

/// Queues a verification email vouching for the pending passkey `registration_id`.
pub async fn enqueue(
    client: &impl GenericClient,
    user_id: Uuid,
    recipient: &str,
    registration_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    client
        .execute(
            "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at, registration_id) \
             VALUES ($1, 'verify_email', $2, $3, $4, $4, $5)",
            &[&Uuid::new_v4(), &user_id, &recipient, &now, &registration_id],
        )
        .await?;
    Ok(())
}

/// Serialises, until the transaction ends, everyone queueing email to `recipient`.
pub async fn lock_address(
    client: &impl GenericClient,
    recipient: &str,
) -> Result<(), StorageError> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('email_outbox:' || $1, 0))",
            &[&recipient],
        )
        .await?;
    Ok(())
}

/// Verification emails queued for `recipient` since `since` (the per-address resend limit).
pub async fn recent_to(
    client: &impl GenericClient,
    recipient: &str,
    since: DateTime<Utc>,
) -> Result<i64, StorageError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM email_outbox WHERE recipient = $1 AND created_at > $2",
            &[&recipient, &since],
        )
        .await?;
    Ok(row.get(0))
}

/// A usable verification link: unused, unexpired.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The pending passkey it vouches for; `None` for links sent before passkeys were pending.
    pub registration_id: Option<Uuid>,
}

/// The usable link stored under any of `digests`.
pub async fn find_usable(
    client: &impl GenericClient,
    digests: &[String],
    now: DateTime<Utc>,
) -> Result<Option<Link>, StorageError> {
    let row = client
        .query_opt(
            "SELECT id, user_id, registration_id FROM email_verifications \
             WHERE token_hash = ANY($1) AND used_at IS NULL AND expires_at > $2",
            &[&digests, &now],
        )
        .await?;
    Ok(row.map(|r| Link {
        id: r.get(0),
        user_id: r.get(1),
        registration_id: r.get(2),
    }))
}

/// Uses the link; `false` when it was used, expired or discarded meanwhile.
pub async fn consume(
    client: &impl GenericClient,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "UPDATE email_verifications SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
            &[&id, &now],
        )
        .await?;
    Ok(n == 1)
}

/// Stores the digest of the token the verification email `outbox_id` is about to carry, bound
/// to the account and pending passkey that email was queued for; returns the link's id.
pub async fn store_emailed(
    client: &impl GenericClient,
    outbox_id: Uuid,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, StorageError> {
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO email_verifications (id, user_id, token_hash, created_at, expires_at, registration_id) \
             SELECT $1, user_id, $2, $3, $4, registration_id FROM email_outbox WHERE id = $5",
            &[&id, &token_hash, &now, &expires_at, &outbox_id],
        )
        .await?;
    Ok(id)
}

/// Deletes the link `id` (its email was never delivered).
pub async fn forget(client: &impl GenericClient, id: Uuid) -> Result<(), StorageError> {
    client
        .execute("DELETE FROM email_verifications WHERE id = $1", &[&id])
        .await?;
    Ok(())
}
