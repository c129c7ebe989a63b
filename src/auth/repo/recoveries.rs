//! Recovery tokens (`recovery_tokens`) and the outbox rows that ask the mailer for a recovery
//! link. The mailer's letters (`crate::auth::letters`) or `raptor recovery create` mint each token and stores only its HMAC; a
//! newer token, or a sign-in with an existing passkey, deletes the unused ones.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db::StorageError;

/// A usable recovery token: unused, unexpired, not superseded.
#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub id: Uuid,
    pub user_id: Uuid,
}

/// The usable token stored under any of `digests`.
pub async fn find_usable(
    client: &impl GenericClient,
    digests: &[String],
    now: DateTime<Utc>,
) -> Result<Option<Token>, StorageError> {
    let row = client
        .query_opt(
            "SELECT id, user_id FROM recovery_tokens \
             WHERE token_hash = ANY($1) AND used_at IS NULL AND expires_at > $2",
            &[&digests, &now],
        )
        .await?;
    Ok(row.map(|r| Token {
        id: r.get(0),
        user_id: r.get(1),
    }))
}

/// The token `id` if it is still usable.
pub async fn usable_by_id(
    client: &impl GenericClient,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Token>, StorageError> {
    let row = client
        .query_opt(
            "SELECT id, user_id FROM recovery_tokens \
             WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
            &[&id, &now],
        )
        .await?;
    Ok(row.map(|r| Token {
        id: r.get(0),
        user_id: r.get(1),
    }))
}

/// Uses the token; `false` when it was used, expired or superseded meanwhile.
pub async fn consume(
    client: &impl GenericClient,
    token: Token,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "UPDATE recovery_tokens SET used_at = $3 \
             WHERE id = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > $3",
            &[&token.id, &token.user_id, &now],
        )
        .await?;
    Ok(n == 1)
}

/// Deletes every unused token of the account (and the recovery emails not sent yet); how many
/// tokens died.
pub async fn discard_unused(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<u64, StorageError> {
    client
        .execute(
            "DELETE FROM email_outbox WHERE user_id = $1 AND kind = 'recover_passkey' AND sent_at IS NULL",
            &[&user_id],
        )
        .await?;
    Ok(client
        .execute(
            "DELETE FROM recovery_tokens WHERE user_id = $1 AND used_at IS NULL",
            &[&user_id],
        )
        .await?)
}

/// Stores a token minted here (an operator's link), superseding the account's unused ones;
/// returns its id.
pub async fn store(
    client: &impl GenericClient,
    user_id: Uuid,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, StorageError> {
    discard_unused(client, user_id).await?;
    insert(client, user_id, token_hash, now, expires_at).await
}

/// Queues a recovery email; the mailer mints its token when it sends it.
pub async fn enqueue(
    client: &impl GenericClient,
    user_id: Uuid,
    recipient: &str,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    client
        .execute(
            "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at) \
             VALUES ($1, 'recover_passkey', $2, $3, $4, $4)",
            &[&Uuid::new_v4(), &user_id, &recipient, &now],
        )
        .await?;
    Ok(())
}

/// Recovery emails queued for the account since `since` (the per-account limit).
pub async fn recent_requests(
    client: &impl GenericClient,
    user_id: Uuid,
    since: DateTime<Utc>,
) -> Result<i64, StorageError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM email_outbox \
             WHERE user_id = $1 AND kind = 'recover_passkey' AND created_at > $2",
            &[&user_id, &since],
        )
        .await?;
    Ok(row.get(0))
}

/// Stores the digest of the token a recovery email is about to carry; every older unused
/// token of the account dies (the email being sent stays queued); returns the token's id.
pub async fn store_emailed(
    client: &impl GenericClient,
    user_id: Uuid,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, StorageError> {
    client
        .execute(
            "DELETE FROM recovery_tokens WHERE user_id = $1 AND used_at IS NULL",
            &[&user_id],
        )
        .await?;
    insert(client, user_id, token_hash, now, expires_at).await
}

async fn insert(
    client: &impl GenericClient,
    user_id: Uuid,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, StorageError> {
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO recovery_tokens (id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &user_id, &token_hash, &now, &expires_at],
        )
        .await?;
    Ok(id)
}

/// Deletes the token `id` (its email was never delivered).
pub async fn forget(client: &impl GenericClient, id: Uuid) -> Result<(), StorageError> {
    client
        .execute("DELETE FROM recovery_tokens WHERE id = $1", &[&id])
        .await?;
    Ok(())
}
