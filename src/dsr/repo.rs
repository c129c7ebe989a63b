//! The SQL of data-subject requests: finding the account a request is about, reading
//! everything held about it, and the deletes of an erasure. Use cases in `super` own the
//! connections and transactions; these functions run inside them.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;

use super::records::*;
use super::DataSubject;
use crate::db::StorageError;
use crate::retention::purge_after;

/// The account a request is about.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: Uuid,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Passkeys registered now (all of them go at erasure).
    pub passkeys: i64,
}

/// The account `subject` names, erased or not.
pub async fn find(
    client: &impl GenericClient,
    subject: &DataSubject,
) -> Result<Option<Account>, StorageError> {
    const COLUMNS: &str = "SELECT id, deleted_at, \
         (SELECT count(*) FROM webauthn_credentials c WHERE c.user_id = users.id) FROM users";
    let row = match subject {
        DataSubject::User(id) => {
            client
                .query_opt(&format!("{COLUMNS} WHERE id = $1"), &[id])
                .await?
        }
        DataSubject::Email(email) => {
            client
                .query_opt(&format!("{COLUMNS} WHERE email = $1"), &[&email.as_str()])
                .await?
        }
    };
    Ok(row.map(|r| Account {
        user_id: r.get(0),
        deleted_at: r.get(1),
        passkeys: r.get(2),
    }))
}

/// Stored JSON text as JSON, or as a string if it is not JSON.
fn json_text(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Everything held about `user_id`, or `None` if there is no such account.
pub async fn read_export(
    client: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Export>, StorageError> {
    let Some(profile) = profile(client, user_id).await? else {
        return Ok(None);
    };
    Ok(Some(Export {
        generated_at: now,
        profile,
        passkeys: passkeys(client, user_id).await?,
        sessions: sessions(client, user_id).await?,
        orders: orders(client, user_id).await?,
        book: super::book::read_book(client, user_id).await?,
        emails: emails(client, user_id).await?,
        email_verifications: tokens_of(client, "email_verifications", "user_id", user_id).await?,
        recovery_tokens: tokens_of(client, "recovery_tokens", "user_id", user_id).await?,
        invitations: tokens_of(client, "bootstrap_tokens", "used_by", user_id).await?,
        backtests: super::backtests::read(client, user_id).await?,
        security_notices: super::activity::security_notices(client, user_id).await?,
        audit: audit(client, user_id).await?,
    }))
}

async fn profile(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<Profile>, StorageError> {
    let Some(user) = client
        .query_opt(
            "SELECT email, email_verified_at, is_operator, created_at, deleted_at FROM users WHERE id = $1",
            &[&user_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let deleted_at: Option<DateTime<Utc>> = user.get(4);
    Ok(Some(Profile {
        user_id,
        email: user.get(0),
        email_verified_at: user.get(1),
        is_operator: user.get(2),
        created_at: user.get(3),
        deleted_at,
        purge_after: deleted_at.map(purge_after),
    }))
}

async fn passkeys(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<PasskeyRecord>, StorageError> {
    let rows = client
        .query(
            "SELECT credential_id, name, backup_eligible, backup_state, created_at, last_used_at \
             FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| PasskeyRecord {
            credential_id: r.get(0),
            name: r.get(1),
            backup_eligible: r.get(2),
            backup_state: r.get(3),
            created_at: r.get(4),
            last_used_at: r.get(5),
        })
        .collect())
}

async fn sessions(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<SessionRecord>, StorageError> {
    let rows = client
        .query(
            "SELECT id, created_at, last_seen_at, LEAST(idle_expires_at, absolute_expires_at), \
             revoked_at, ip_prefix, user_agent FROM sessions WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| SessionRecord {
            session_id: r.get(0),
            created_at: r.get(1),
            last_seen_at: r.get(2),
            expires_at: r.get(3),
            revoked_at: r.get(4),
            ip_prefix: r.get(5),
            user_agent: r.get(6),
        })
        .collect())
}

async fn orders(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<OrderRecord>, StorageError> {
    let rows = client
        .query(
            "SELECT id, client_order_id, alpaca_order_id, symbol, side, status, request, \
             broker_status, broker_body, created_at, updated_at, order_body \
             FROM orders WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| OrderRecord {
            order_id: r.get(0),
            client_order_id: r.get(1),
            alpaca_order_id: r.get(2),
            symbol: r.get(3),
            side: r.get(4),
            status: r.get(5),
            request: json_text(r.get(6)),
            broker_status: r.get(7),
            broker_response: r.get::<_, Option<String>>(8).map(json_text),
            order: r.get::<_, Option<String>>(11).map(json_text),
            created_at: r.get(9),
            updated_at: r.get(10),
        })
        .collect())
}

async fn emails(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<EmailRecord>, StorageError> {
    let rows = client
        .query(
            "SELECT kind, recipient, created_at, sent_at FROM email_outbox \
             WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| EmailRecord {
            kind: r.get(0),
            recipient: r.get(1),
            created_at: r.get(2),
            sent_at: r.get(3),
        })
        .collect())
}

/// The audit rows the user wrote or that are about them.
async fn audit(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<AuditRecord>, StorageError> {
    let rows = client
        .query(
            "SELECT seq, occurred_at, event, actor_user_id = $1, subject, ip_prefix, request_id, details \
             FROM audit_log WHERE actor_user_id = $1 OR subject = $2 ORDER BY seq",
            &[&user_id, &user_id.to_string()],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditRecord {
            seq: r.get(0),
            occurred_at: r.get(1),
            event: r.get(2),
            by_subject: r.get::<_, Option<bool>>(3).unwrap_or(false),
            subject: r.get(4),
            ip_prefix: r.get(5),
            request_id: r.get(6),
            details: json_text(r.get(7)),
        })
        .collect())
}

/// What marking an account erased found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marked {
    /// Erased now; this many passkeys were removed.
    Erased {
        passkeys_removed: u64,
    },
    /// It was erased before; nothing changed.
    AlreadyErased {
        deleted_at: DateTime<Utc>,
    },
    NoSuchUser,
}

/// Erases the account in the caller's transaction: soft delete, then its passkeys, in-flight
/// ceremonies, unused verification tokens, every recovery token, unsent emails and backtest
/// runs and sweeps go at once.
pub async fn mark_erased(
    tx: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Marked, StorageError> {
    let marked = tx
        .execute(
            "UPDATE users SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
            &[&user_id, &now],
        )
        .await?;
    if marked == 0 {
        let existing = tx
            .query_opt("SELECT deleted_at FROM users WHERE id = $1", &[&user_id])
            .await?;
        return Ok(match existing.and_then(|r| r.get(0)) {
            Some(deleted_at) => Marked::AlreadyErased { deleted_at },
            None => Marked::NoSuchUser,
        });
    }
    let passkeys_removed = tx
        .execute(
            "DELETE FROM webauthn_credentials WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    for sql in [
        "DELETE FROM ceremonies WHERE user_id = $1",
        "DELETE FROM email_verifications WHERE user_id = $1 AND used_at IS NULL",
        "DELETE FROM recovery_tokens WHERE user_id = $1",
        "DELETE FROM email_outbox WHERE user_id = $1 AND sent_at IS NULL",
    ] {
        tx.execute(sql, &[&user_id]).await?;
    }
    super::backtests::erase(tx, user_id).await?;
    Ok(Marked::Erased { passkeys_removed })
}

/// The person's tokens of one kind (`table`, linked by `column`), oldest first: when each was
/// made, expired and used, never the digest.
async fn tokens_of(
    client: &impl GenericClient,
    table: &'static str,
    column: &'static str,
    user_id: Uuid,
) -> Result<Vec<TokenRecord>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT created_at, expires_at, used_at FROM {table} WHERE {column} = $1 ORDER BY created_at"
    );
    Ok(client
        .query(&sql, &[&user_id])
        .await?
        .into_iter()
        .map(|r| TokenRecord {
            created_at: r.get(0),
            expires_at: r.get(1),
            used_at: r.get(2),
        })
        .collect())
}
