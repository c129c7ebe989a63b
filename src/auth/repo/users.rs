//! The `users` rows the accounts domain reads and creates. An account is active once its email
//! is verified and while it is not deleted.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::auth::Email;
use crate::db::StorageError;

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub verified: bool,
    pub deleted: bool,
}

impl User {
    /// Verified and not deleted: may sign in.
    pub fn is_active(&self) -> bool {
        self.verified && !self.deleted
    }

    /// Still waiting for its email to be proven (and not deleted): registrations may race for it.
    pub fn is_unclaimed(&self) -> bool {
        !self.verified && !self.deleted
    }
}

const COLUMNS: &str = "id, email, email_verified_at, deleted_at";

fn user(r: &tokio_postgres::Row) -> User {
    User {
        id: r.get(0),
        email: r.get(1),
        verified: r.get::<_, Option<DateTime<Utc>>>(2).is_some(),
        deleted: r.get::<_, Option<DateTime<Utc>>>(3).is_some(),
    }
}

pub async fn by_email(
    client: &impl GenericClient,
    email: &Email,
) -> Result<Option<User>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = client.query_opt(&sql, &[&email.as_str()]).await?;
    Ok(row.as_ref().map(user))
}

pub async fn by_id(client: &impl GenericClient, id: Uuid) -> Result<Option<User>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = client.query_opt(&sql, &[&id]).await?;
    Ok(row.as_ref().map(user))
}

/// The user, locked until the transaction ends: registrations and verifications of one account
/// are serialised on this row.
pub async fn lock(client: &impl GenericClient, id: Uuid) -> Result<Option<User>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1 FOR UPDATE");
    let row = client.query_opt(&sql, &[&id]).await?;
    Ok(row.as_ref().map(user))
}

/// The account holding `email`, locked until the transaction ends.
pub async fn lock_by_email(
    client: &impl GenericClient,
    email: &Email,
) -> Result<Option<User>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1 FOR UPDATE");
    let row = client.query_opt(&sql, &[&email.as_str()]).await?;
    Ok(row.as_ref().map(user))
}

/// Deletes an account that was never verified (nor erased), with everything that cascades from
/// it: its pending passkeys, links and emails. `false` when it is not such an account.
pub async fn delete_unclaimed(client: &impl GenericClient, id: Uuid) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "DELETE FROM users WHERE id = $1 AND email_verified_at IS NULL AND deleted_at IS NULL",
            &[&id],
        )
        .await?;
    Ok(n == 1)
}

/// Inserts an unverified user unless the address is taken; `false` when it is.
pub async fn insert(
    client: &impl GenericClient,
    id: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = client
        .execute(
            "INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING",
            &[&id, &email, &now],
        )
        .await?;
    Ok(n == 1)
}

/// Marks the user's email verified (once; later calls keep the first time).
pub async fn mark_verified(
    client: &impl GenericClient,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    client
        .execute(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1",
            &[&id, &now],
        )
        .await?;
    Ok(())
}
