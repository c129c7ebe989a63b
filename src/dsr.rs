//! Data-subject requests (GDPR access and erasure, SPEC §5): the one place that knows everything
//! Raptor holds about a person, and how an account is erased.
//!
//! The customer reaches it through `GET /api/account/export` and `DELETE /api/account`
//! (`crate::http::account`), the operator through `raptor dsr export|erase` (`crate::cli::dsr`).
//! Both audit the request themselves and end the sessions themselves: a web dyno asks its session
//! store (which evicts at once and tells the other dynos), an operator command uses
//! [`raptor_actors::session::revoke`], which tells every dyno through the same notification.
//!
//! Erasure is a soft delete: the account is marked `deleted_at`, its passkeys, pending emails and
//! unused tokens are removed at once, and the quarantine purge hard-deletes the user row (with
//! everything that cascades from it) 30 days later. Until then the address stays taken, so it
//! cannot be registered again. Audit rows name the user only by id, which becomes a pseudonym
//! once the user row is gone; they are never rewritten, so the hash chain stays verifiable.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use raptor_actors::scheduler::jobs::QUARANTINE_DAYS;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Email;

/// The account a request is about.
#[derive(Debug, Clone)]
pub struct Subject {
    pub user_id: Uuid,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The account registered with `email`, erased or not.
pub async fn find_by_email(
    client: &impl GenericClient,
    email: &Email,
) -> Result<Option<Subject>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, deleted_at FROM users WHERE email = $1",
            &[&email.as_str()],
        )
        .await?;
    Ok(row.map(|r| Subject {
        user_id: r.get(0),
        deleted_at: r.get(1),
    }))
}

/// Everything held about one person.
#[derive(Debug, Serialize)]
pub struct Export {
    pub generated_at: DateTime<Utc>,
    pub profile: Profile,
    pub passkeys: Vec<PasskeyRecord>,
    pub sessions: Vec<SessionRecord>,
    pub orders: Vec<OrderRecord>,
    pub emails: Vec<EmailRecord>,
    pub email_verifications: Vec<TokenRecord>,
    pub invitations: Vec<TokenRecord>,
    /// Rows the person caused or that name them, oldest first.
    pub audit: Vec<AuditRecord>,
}

#[derive(Debug, Serialize)]
pub struct Profile {
    pub user_id: Uuid,
    pub email: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub is_operator: bool,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// When an erased account is removed for good.
    pub purge_after: Option<DateTime<Utc>>,
}

/// A passkey as metadata: no public key material.
#[derive(Debug, Serialize)]
pub struct PasskeyRecord {
    pub credential_id: String,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct SessionRecord {
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub ip_prefix: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OrderRecord {
    pub order_id: Uuid,
    pub client_order_id: String,
    pub alpaca_order_id: Option<String>,
    pub symbol: String,
    pub side: String,
    pub status: String,
    /// The order as submitted.
    pub request: Value,
    /// The broker's answer as received.
    pub broker_status: Option<i32>,
    pub broker_response: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct EmailRecord {
    pub kind: String,
    pub recipient: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A single-use token's life (never the token: only its HMAC is stored, and not shown).
#[derive(Debug, Serialize)]
pub struct TokenRecord {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub event: String,
    /// Whether the person did this (rather than an operator, about them).
    pub by_subject: bool,
    pub subject: Option<String>,
    pub ip_prefix: Option<String>,
    pub request_id: Option<String>,
    pub details: Value,
}

/// Stored JSON text as JSON, or as a string if it is not JSON.
fn json_text(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Everything held about `user_id`, or `None` if there is no such account.
pub async fn export(
    client: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Export>, tokio_postgres::Error> {
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
    let profile = Profile {
        user_id,
        email: user.get(0),
        email_verified_at: user.get(1),
        is_operator: user.get(2),
        created_at: user.get(3),
        deleted_at,
        purge_after: deleted_at.map(|d| d + chrono::Duration::days(QUARANTINE_DAYS.into())),
    };

    let passkeys = client
        .query(
            "SELECT credential_id, name, backup_eligible, backup_state, created_at, last_used_at \
             FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?
        .into_iter()
        .map(|r| PasskeyRecord {
            credential_id: r.get(0),
            name: r.get(1),
            backup_eligible: r.get(2),
            backup_state: r.get(3),
            created_at: r.get(4),
            last_used_at: r.get(5),
        })
        .collect();

    let sessions = client
        .query(
            "SELECT id, created_at, last_seen_at, LEAST(idle_expires_at, absolute_expires_at), \
             revoked_at, ip_prefix, user_agent FROM sessions WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?
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
        .collect();

    let orders = client
        .query(
            "SELECT id, client_order_id, alpaca_order_id, symbol, side, status, request, \
             broker_status, broker_body, created_at, updated_at \
             FROM orders WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?
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
            created_at: r.get(9),
            updated_at: r.get(10),
        })
        .collect();

    let emails = client
        .query(
            "SELECT kind, recipient, created_at, sent_at FROM email_outbox \
             WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?
        .into_iter()
        .map(|r| EmailRecord {
            kind: r.get(0),
            recipient: r.get(1),
            created_at: r.get(2),
            sent_at: r.get(3),
        })
        .collect();

    let tokens = |r: tokio_postgres::Row| TokenRecord {
        created_at: r.get(0),
        expires_at: r.get(1),
        used_at: r.get(2),
    };
    let email_verifications = client
        .query(
            "SELECT created_at, expires_at, used_at FROM email_verifications \
             WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?
        .into_iter()
        .map(tokens)
        .collect();
    let invitations = client
        .query(
            "SELECT created_at, expires_at, used_at FROM bootstrap_tokens \
             WHERE used_by = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?
        .into_iter()
        .map(tokens)
        .collect();

    let audit = client
        .query(
            "SELECT seq, occurred_at, event, actor_user_id = $1, subject, ip_prefix, request_id, details \
             FROM audit_log WHERE actor_user_id = $1 OR subject = $2 ORDER BY seq",
            &[&user_id, &user_id.to_string()],
        )
        .await?
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
        .collect();

    Ok(Some(Export {
        generated_at: now,
        profile,
        passkeys,
        sessions,
        orders,
        emails,
        email_verifications,
        invitations,
        audit,
    }))
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    /// The account is erased now; its sessions must be revoked by the caller.
    Erased {
        deleted_at: DateTime<Utc>,
        passkeys_removed: u64,
        purge_after: DateTime<Utc>,
    },
    /// It was erased before; nothing changed.
    AlreadyErased {
        deleted_at: DateTime<Utc>,
    },
    NoSuchUser,
}

/// Erases the account in the caller's transaction: soft delete, then its passkeys, in-flight
/// ceremonies, unused verification tokens and unsent emails go at once. The caller audits,
/// commits, and then revokes the sessions on every dyno.
pub async fn erase(
    tx: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Erasure, tokio_postgres::Error> {
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
            Some(deleted_at) => Erasure::AlreadyErased { deleted_at },
            None => Erasure::NoSuchUser,
        });
    }
    let passkeys_removed = tx
        .execute(
            "DELETE FROM webauthn_credentials WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    tx.execute("DELETE FROM ceremonies WHERE user_id = $1", &[&user_id])
        .await?;
    tx.execute(
        "DELETE FROM email_verifications WHERE user_id = $1 AND used_at IS NULL",
        &[&user_id],
    )
    .await?;
    tx.execute(
        "DELETE FROM email_outbox WHERE user_id = $1 AND sent_at IS NULL",
        &[&user_id],
    )
    .await?;
    Ok(Erasure::Erased {
        deleted_at: now,
        passkeys_removed,
        purge_after: now + chrono::Duration::days(QUARANTINE_DAYS.into()),
    })
}
