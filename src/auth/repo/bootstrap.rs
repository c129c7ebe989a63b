//! Bootstrap tokens: invitations to register (v1.0 is invite-only). Shown once when created,
//! stored as an HMAC, single use, expiring, optionally bound to one email address.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use raptor_actors::token::{self, TokenHasher};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::auth::Email;
use crate::db::StorageError;

const PURPOSE: &str = "bootstrap";

/// A token just created: print it once.
pub struct Created {
    pub id: Uuid,
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(
    client: &impl GenericClient,
    hasher: &TokenHasher,
    email: Option<&Email>,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Created, StorageError> {
    let created = mint(ttl, now);
    store(client, hasher, &created, email, now).await?;
    Ok(created)
}

/// A new invitation, not stored yet (so its creation can be audited first).
pub fn mint(ttl: chrono::Duration, now: DateTime<Utc>) -> Created {
    Created {
        id: Uuid::new_v4(),
        token: token::mint(),
        expires_at: now + ttl,
    }
}

/// Stores a minted invitation (its HMAC only).
pub async fn store(
    client: &impl GenericClient,
    hasher: &TokenHasher,
    created: &Created,
    email: Option<&Email>,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let Created {
        id,
        token,
        expires_at,
    } = created;
    client
        .execute(
            "INSERT INTO bootstrap_tokens (id, token_hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &hasher.digest(PURPOSE, token.expose_secret()), &email.map(Email::as_str), &now, &expires_at],
        )
        .await?;
    Ok(())
}

/// The id of an unused, unexpired token that may register `email`.
pub async fn find_usable(
    client: &impl GenericClient,
    hasher: &TokenHasher,
    raw: &str,
    email: &Email,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StorageError> {
    if !token::well_formed(raw) {
        return Ok(None);
    }
    let row = client
        .query_opt(
            "SELECT id FROM bootstrap_tokens WHERE token_hash = ANY($1) AND used_at IS NULL AND expires_at > $2 \
             AND (email IS NULL OR email = $3)",
            &[&hasher.candidates(PURPOSE, raw), &now, &email.as_str()],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Marks the token used by `user_id`; `false` when it was used or expired meanwhile.
pub async fn consume(
    client: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "UPDATE bootstrap_tokens SET used_at = $3, used_by = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $3",
            &[&id, &user_id, &now],
        )
        .await?;
    Ok(n == 1)
}
