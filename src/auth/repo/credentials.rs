//! `webauthn_credentials`: the passkeys of each account. A passkey stored `pending` came with a
//! registration whose email has not been proven; it never signs in, and it becomes the
//! account's only through the verification link sent for it ([`promote`]).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use crate::db::StorageError;

/// A stored passkey and whose it is.
pub struct Stored {
    pub user_id: Uuid,
    pub passkey: Passkey,
    pub pending: bool,
}

fn decode(value: serde_json::Value) -> Option<Passkey> {
    serde_json::from_value(value).ok()
}

fn encode(passkey: &Passkey) -> serde_json::Value {
    serde_json::to_value(passkey).expect("a passkey serialises")
}

/// The base64url form used as `credential_id`.
pub fn credential_key(passkey: &Passkey) -> String {
    base64url(passkey.cred_id().as_ref())
}

pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Every passkey of the user, pending ones included (they are excluded from new ceremonies
/// and answer "verify your email" at login).
pub async fn of_user(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<Passkey>, StorageError> {
    let rows = client
        .query(
            "SELECT passkey FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows.into_iter().filter_map(|r| decode(r.get(0))).collect())
}

/// The user's usable passkeys (not pending).
pub async fn usable_of_user(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<Passkey>, StorageError> {
    let rows = client
        .query(
            "SELECT passkey FROM webauthn_credentials WHERE user_id = $1 AND NOT pending ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows.into_iter().filter_map(|r| decode(r.get(0))).collect())
}

pub async fn by_credential_id(
    client: &impl GenericClient,
    credential_id: &str,
) -> Result<Option<Stored>, StorageError> {
    let row = client
        .query_opt(
            "SELECT user_id, passkey, pending FROM webauthn_credentials WHERE credential_id = $1",
            &[&credential_id],
        )
        .await?;
    Ok(row.and_then(|r| {
        Some(Stored {
            user_id: r.get(0),
            passkey: decode(r.get(1))?,
            pending: r.get(2),
        })
    }))
}

/// Whether this authenticator credential is stored already.
pub async fn exists(
    client: &impl GenericClient,
    credential_id: &str,
) -> Result<bool, StorageError> {
    let row = client
        .query_opt(
            "SELECT 1 FROM webauthn_credentials WHERE credential_id = $1",
            &[&credential_id],
        )
        .await?;
    Ok(row.is_some())
}

/// Stores a passkey (pending or usable); its row id, or `None` when this authenticator
/// credential is already registered.
pub async fn insert(
    client: &impl GenericClient,
    user_id: Uuid,
    passkey: &Passkey,
    name: &str,
    aaguid: Option<Uuid>,
    pending: bool,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StorageError> {
    let json = encode(passkey);
    let (eligible, state) = backup_flags(&json);
    let id = Uuid::new_v4();
    let n = client
        .execute(
            "INSERT INTO webauthn_credentials (id, user_id, credential_id, passkey, name, backup_eligible, backup_state, created_at, pending, aaguid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (credential_id) DO NOTHING",
            &[&id, &user_id, &credential_key(passkey), &json, &name, &eligible, &state, &now, &pending, &aaguid],
        )
        .await?;
    Ok((n == 1).then_some(id))
}

/// The user's pending registration: the oldest pending passkey made after `since` (an address
/// has one at most; older ones have expired). What a resent email vouches for.
pub async fn oldest_pending(
    client: &impl GenericClient,
    user_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Option<Uuid>, StorageError> {
    let row = client
        .query_opt(
            "SELECT id FROM webauthn_credentials WHERE user_id = $1 AND pending AND created_at > $2 \
             ORDER BY created_at LIMIT 1",
            &[&user_id, &since],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Makes the pending passkey `id` the user's and deletes every other pending passkey of the
/// user (with their links and unsent emails). `false` when `id` is no longer pending there.
/// Call with the user row locked.
pub async fn promote(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "UPDATE webauthn_credentials SET pending = FALSE WHERE id = $2 AND user_id = $1 AND pending",
            &[&user_id, &id],
        )
        .await?;
    if n != 1 {
        return Ok(false);
    }
    discard_pending(client, user_id).await?;
    Ok(true)
}

/// Deletes every pending passkey of the user (with their links and unsent emails).
pub async fn discard_pending(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<(), StorageError> {
    client
        .execute(
            "DELETE FROM webauthn_credentials WHERE user_id = $1 AND pending",
            &[&user_id],
        )
        .await?;
    Ok(())
}

/// Records a use; writes the passkey back when its counter or backup state changed.
pub async fn record_use(
    client: &impl GenericClient,
    passkey: &Passkey,
    changed: bool,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let key = credential_key(passkey);
    if changed {
        let json = encode(passkey);
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

/// A passkey as its owner sees it: metadata, never key material (the body of
/// `GET /api/auth/passkeys`, hence its schema).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub credential_id: String,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// Synced to a provider's cloud (backed up), so it survives the loss of one device.
    pub synced: bool,
    /// The authenticator's AAGUID, when it stated one.
    pub aaguid: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The user's usable passkeys.
pub async fn list(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<PasskeyInfo>, StorageError> {
    let rows = client
        .query(
            "SELECT id, credential_id, name, backup_eligible, backup_state, created_at, last_used_at, aaguid \
             FROM webauthn_credentials WHERE user_id = $1 AND NOT pending ORDER BY created_at",
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
            synced: r.get(4),
            aaguid: r.get(7),
            created_at: r.get(5),
            last_used_at: r.get(6),
        })
        .collect())
}

/// The `credential_id` of the user's usable passkey `id`, if it is theirs.
pub async fn owned(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<String>, StorageError> {
    let row = client
        .query_opt(
            "SELECT credential_id FROM webauthn_credentials WHERE id = $2 AND user_id = $1 AND NOT pending",
            &[&user_id, &id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// How many usable passkeys the user has.
pub async fn count(client: &impl GenericClient, user_id: Uuid) -> Result<i64, StorageError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM webauthn_credentials WHERE user_id = $1 AND NOT pending",
            &[&user_id],
        )
        .await?;
    Ok(row.get(0))
}

/// Renames one of the user's passkeys; `false` when it is not theirs.
pub async fn rename(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
    name: &str,
) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "UPDATE webauthn_credentials SET name = $3 WHERE id = $2 AND user_id = $1 AND NOT pending",
            &[&user_id, &id, &name],
        )
        .await?;
    Ok(n == 1)
}

/// Deletes one of the user's passkeys; `false` when it is not theirs.
pub async fn delete(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "DELETE FROM webauthn_credentials WHERE id = $2 AND user_id = $1 AND NOT pending",
            &[&user_id, &id],
        )
        .await?;
    Ok(n == 1)
}

/// Whether `id` is a usable (no longer pending) passkey of the user.
pub async fn is_usable(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, StorageError> {
    let row = client
        .query_opt(
            "SELECT 1 FROM webauthn_credentials WHERE id = $2 AND user_id = $1 AND NOT pending",
            &[&user_id, &id],
        )
        .await?;
    Ok(row.is_some())
}
