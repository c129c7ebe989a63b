//! The outbox and token SQL used by the mailer: which kinds of email exist, and where a
//! link's token digest is stored (email verifications, recovery tokens).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// HMAC purpose of email verification tokens.
pub const VERIFY_PURPOSE: &str = "email-verify";
/// How long a verification link works.
pub const VERIFY_TTL: chrono::Duration = chrono::Duration::hours(24);
/// HMAC purpose of passkey recovery tokens.
pub const RECOVER_PURPOSE: &str = "passkey-recover";
/// How long an emailed recovery link works.
pub const RECOVER_TTL: chrono::Duration = chrono::Duration::minutes(30);

/// Days the mailer keeps trying an email; after that it gives up, and the outbox purge deletes
/// the row (a verification or recovery link that late is of no use, and an address that
/// bounces for days should not be retried forever).
pub const GIVE_UP_DAYS: u32 = 3;

/// What an outbox row asks the mailer to send (`email_outbox.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    /// The link that verifies an address and vouches for one pending passkey.
    VerifyEmail,
    /// The link that lets a verified address add a passkey after losing its own.
    RecoverPasskey,
    /// A security notice: no link, no token.
    SecurityNotice,
}

impl EmailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => "verify_email",
            EmailKind::RecoverPasskey => "recover_passkey",
            EmailKind::SecurityNotice => "security_notice",
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        [
            EmailKind::VerifyEmail,
            EmailKind::RecoverPasskey,
            EmailKind::SecurityNotice,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
    }
}

/// Every kind this mailer can send (a newer dyno's kinds are left to it).
const KNOWN_KINDS: [&str; 3] = ["verify_email", "recover_passkey", "security_notice"];

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

pub(super) struct Due {
    pub id: Uuid,
    pub kind: EmailKind,
    pub user_id: Uuid,
    pub recipient: String,
    pub attempts: i32,
    /// The pending passkey this email vouches for (its link completes that registration only).
    pub registration_id: Option<Uuid>,
    /// What a security notice says.
    pub notice: Option<serde_json::Value>,
}

/// Claims the next due message until `lease_until`; other mailers skip it meanwhile.
pub(super) async fn claim_due(
    tx: &impl GenericClient,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<Due>, OutboxError> {
    let row = tx
        .query_opt(
            "UPDATE email_outbox SET next_attempt_at = $2 WHERE id = ( \
             SELECT id FROM email_outbox \
             WHERE sent_at IS NULL AND next_attempt_at <= $1 AND kind = ANY($3) AND user_id IS NOT NULL \
             AND created_at > $4 \
             ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, user_id, recipient, attempts, registration_id, kind, notice",
            &[&now, &lease_until, &&KNOWN_KINDS[..], &(now - chrono::Duration::days(GIVE_UP_DAYS.into()))],
        )
        .await?;
    Ok(row.and_then(|r| {
        Some(Due {
            id: r.get(0),
            user_id: r.get(1),
            recipient: r.get(2),
            attempts: r.get(3),
            registration_id: r.get(4),
            kind: EmailKind::parse(r.get(5))?,
            notice: r.get(6),
        })
    }))
}

/// Stores a verification token's digest, bound to the email's registration; returns the row's id.
pub(super) async fn store_verification(
    tx: &impl GenericClient,
    due: &Due,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, OutboxError> {
    let id = Uuid::new_v4();
    tx.execute(
        "INSERT INTO email_verifications (id, user_id, token_hash, created_at, expires_at, registration_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &due.user_id, &token_hash, &now, &(now + VERIFY_TTL), &due.registration_id],
    )
    .await?;
    Ok(id)
}

/// Stores a recovery token's digest; every older unused recovery token of the account dies.
pub(super) async fn store_recovery(
    tx: &impl GenericClient,
    due: &Due,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, OutboxError> {
    tx.execute(
        "DELETE FROM recovery_tokens WHERE user_id = $1 AND used_at IS NULL",
        &[&due.user_id],
    )
    .await?;
    let id = Uuid::new_v4();
    tx.execute(
        "INSERT INTO recovery_tokens (id, user_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&id, &due.user_id, &token_hash, &now, &(now + RECOVER_TTL)],
    )
    .await?;
    Ok(id)
}

/// Removes a token whose email was never delivered.
pub(super) async fn forget_token(
    client: &impl GenericClient,
    kind: EmailKind,
    id: Uuid,
) -> Result<(), OutboxError> {
    let sql = match kind {
        EmailKind::RecoverPasskey => "DELETE FROM recovery_tokens WHERE id = $1",
        _ => "DELETE FROM email_verifications WHERE id = $1",
    };
    client.execute(sql, &[&id]).await?;
    Ok(())
}

pub(super) async fn mark_sent(
    tx: &impl GenericClient,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    tx.execute("UPDATE email_outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1", &[&id, &now])
        .await?;
    Ok(())
}

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
