//! Account SQL: users, their passkeys, email verification, and the outbox.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use super::Email;

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub verified: bool,
    pub deleted: bool,
}

fn user(r: &tokio_postgres::Row) -> User {
    User {
        id: r.get(0),
        email: r.get(1),
        verified: r.get::<_, Option<DateTime<Utc>>>(2).is_some(),
        deleted: r.get::<_, Option<DateTime<Utc>>>(3).is_some(),
    }
}

pub async fn user_by_email(
    client: &impl GenericClient,
    email: &Email,
) -> Result<Option<User>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, email, email_verified_at, deleted_at FROM users WHERE email = $1",
            &[&email.as_str()],
        )
        .await?;
    Ok(row.as_ref().map(user))
}

pub async fn user_by_id(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<User>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, email, email_verified_at, deleted_at FROM users WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(user))
}

/// Inserts the user unless the address is taken; `false` when it is.
pub async fn insert_user(
    client: &impl GenericClient,
    id: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING",
            &[&id, &email, &now],
        )
        .await?;
    Ok(n == 1)
}

/// A stored passkey and whose it is.
pub struct StoredPasskey {
    pub user_id: Uuid,
    pub passkey: Passkey,
}

fn decode(value: serde_json::Value) -> Option<Passkey> {
    serde_json::from_value(value).ok()
}

pub async fn passkeys_of(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<Passkey>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT passkey FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows.into_iter().filter_map(|r| decode(r.get(0))).collect())
}

pub async fn passkey_by_credential_id(
    client: &impl GenericClient,
    credential_id: &str,
) -> Result<Option<StoredPasskey>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT user_id, passkey FROM webauthn_credentials WHERE credential_id = $1",
            &[&credential_id],
        )
        .await?;
    Ok(row.and_then(|r| {
        Some(StoredPasskey {
            user_id: r.get(0),
            passkey: decode(r.get(1))?,
        })
    }))
}

/// The base64url form used as `credential_id`.
pub fn credential_key(passkey: &Passkey) -> String {
    base64url(passkey.cred_id().as_ref())
}

pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a new passkey; `false` when this authenticator credential is already registered.
pub async fn insert_passkey(
    client: &impl GenericClient,
    user_id: Uuid,
    passkey: &Passkey,
    name: &str,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let json = serde_json::to_value(passkey).expect("a passkey serialises");
    let (eligible, state) = backup_flags(&json);
    let n = client
        .execute(
            "INSERT INTO webauthn_credentials (id, user_id, credential_id, passkey, name, backup_eligible, backup_state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (credential_id) DO NOTHING",
            &[&Uuid::new_v4(), &user_id, &credential_key(passkey), &json, &name, &eligible, &state, &now],
        )
        .await?;
    Ok(n == 1)
}

/// Records a use; writes the passkey back when its counter or backup state changed.
pub async fn record_use(
    client: &impl GenericClient,
    passkey: &Passkey,
    changed: bool,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    let key = credential_key(passkey);
    if changed {
        let json = serde_json::to_value(passkey).expect("a passkey serialises");
        let (eligible, state) = backup_flags(&json);
        client
            .execute(
                "UPDATE webauthn_credentials SET passkey = $2, backup_eligible = $3, backup_state = $4, last_used_at = $5 \
                 WHERE credential_id = $1",
                &[&key, &json, &eligible, &state, &now],
            )
            .await?;
    } else {
        client
            .execute(
                "UPDATE webauthn_credentials SET last_used_at = $2 WHERE credential_id = $1",
                &[&key, &now],
            )
            .await?;
    }
    Ok(())
}

/// `(backup_eligible, backup_state)` from a serialised passkey.
fn backup_flags(json: &serde_json::Value) -> (bool, bool) {
    let cred = &json["cred"];
    (
        cred["backup_eligible"].as_bool().unwrap_or(false),
        cred["backup_state"].as_bool().unwrap_or(false),
    )
}

/// Queues the verification email (in the caller's transaction).
pub async fn enqueue_verification_email(
    client: &impl GenericClient,
    user_id: Uuid,
    recipient: &str,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO email_outbox (id, kind, user_id, recipient, created_at, next_attempt_at) VALUES ($1, 'verify_email', $2, $3, $4, $4)",
            &[&Uuid::new_v4(), &user_id, &recipient, &now],
        )
        .await?;
    Ok(())
}

/// Verification emails queued for `recipient` since `since` (the per-address resend limit).
pub async fn recent_emails_to(
    client: &impl GenericClient,
    recipient: &str,
    since: DateTime<Utc>,
) -> Result<i64, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT count(*) FROM email_outbox WHERE recipient = $1 AND created_at > $2",
            &[&recipient, &since],
        )
        .await?;
    Ok(row.get(0))
}

/// Uses a verification token (any of its candidate digests) and activates the account.
/// Returns the user, or `None` when the token is unknown, used, expired, or the user is gone.
pub async fn consume_verification(
    client: &impl GenericClient,
    digests: &[String],
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "WITH used AS (UPDATE email_verifications SET used_at = $2 \
             WHERE token_hash = ANY($1) AND used_at IS NULL AND expires_at > $2 RETURNING user_id) \
             UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) \
             WHERE id = (SELECT user_id FROM used) AND deleted_at IS NULL RETURNING id",
            &[&digests, &now],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// A passkey as its owner sees it: metadata, never key material.
#[derive(Debug, serde::Serialize)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub credential_id: String,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub async fn list_passkeys(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<PasskeyInfo>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, credential_id, name, backup_eligible, backup_state, created_at, last_used_at \
             FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PasskeyInfo {
            id: r.get(0),
            credential_id: r.get(1),
            name: r.get(2),
            backup_eligible: r.get(3),
            backup_state: r.get(4),
            created_at: r.get(5),
            last_used_at: r.get(6),
        })
        .collect())
}

/// Renames one of the user's passkeys; `false` when it is not theirs.
pub async fn rename_passkey(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
    name: &str,
) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "UPDATE webauthn_credentials SET name = $3 WHERE id = $2 AND user_id = $1",
            &[&user_id, &id, &name],
        )
        .await?;
    Ok(n == 1)
}

/// What removing a passkey did.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    Removed {
        credential_id: String,
    },
    NotFound,
    /// The account would be left without a way to sign in.
    LastPasskey,
}

/// Removes one of the user's passkeys unless it is their last. Call inside a transaction: the
/// user row is locked so two removals cannot both see "one more left".
pub async fn remove_passkey(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<Removal, tokio_postgres::Error> {
    client
        .execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
        .await?;
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM webauthn_credentials WHERE user_id = $1",
            &[&user_id],
        )
        .await?
        .get(0);
    let owned = client
        .query_opt(
            "SELECT credential_id FROM webauthn_credentials WHERE id = $2 AND user_id = $1",
            &[&user_id, &id],
        )
        .await?;
    let Some(row) = owned else {
        return Ok(Removal::NotFound);
    };
    if count <= 1 {
        return Ok(Removal::LastPasskey);
    }
    client
        .execute("DELETE FROM webauthn_credentials WHERE id = $1", &[&id])
        .await?;
    Ok(Removal::Removed {
        credential_id: row.get(0),
    })
}
