//! What a data-subject export contains, as it is serialised to the person (and to the
//! operator's file): every record type Raptor holds about someone, with secrets left out (no
//! passkey key material, no token or its HMAC).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Everything held about one person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Export {
    pub generated_at: DateTime<Utc>,
    pub profile: Profile,
    pub passkeys: Vec<PasskeyRecord>,
    pub sessions: Vec<SessionRecord>,
    pub orders: Vec<OrderRecord>,
    /// The paper book: cash, positions, fills, adjustments, close snapshots.
    pub book: Option<super::book::BookRecord>,
    pub emails: Vec<EmailRecord>,
    pub email_verifications: Vec<TokenRecord>,
    /// Lost-passkey recovery links (their requests and uses are in `audit`).
    pub recovery_tokens: Vec<TokenRecord>,
    pub invitations: Vec<TokenRecord>,
    /// Backtest runs and parameter sweeps, with their results.
    pub backtests: Vec<super::backtests::BacktestRecord>,
    /// Security notices emailed to the person, with what each said.
    pub security_notices: Vec<NoticeRecord>,
    /// Rows the person caused or that name them, oldest first.
    pub audit: Vec<AuditRecord>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyRecord {
    pub credential_id: String,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionRecord {
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub ip_prefix: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderRecord {
    pub order_id: Uuid,
    pub client_order_id: String,
    pub alpaca_order_id: Option<String>,
    pub symbol: String,
    pub side: String,
    pub status: String,
    /// The order as submitted.
    #[schema(value_type = crate::schemas::JsonValue)]
    pub request: Value,
    /// The broker's answer as received.
    pub broker_status: Option<i32>,
    #[schema(value_type = crate::schemas::JsonValue, required = true)]
    pub broker_response: Option<Value>,
    /// The newest Alpaca order object seen (fills, cancels), as received.
    /// Alpaca's order object as last seen.
    #[schema(value_type = Option<crate::schemas::alpaca::AlpacaOrder>)]
    pub order: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmailRecord {
    pub kind: String,
    pub recipient: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A security notice: what happened, when, from which IP prefix and browser (no token).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoticeRecord {
    #[schema(value_type = crate::schemas::JsonValue)]
    pub notice: Value,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A single-use token's life (never the token: only its HMAC is stored, and not shown).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub event: String,
    /// Whether the person did this (rather than an operator, about them).
    pub by_subject: bool,
    pub subject: Option<String>,
    pub ip_prefix: Option<String>,
    pub request_id: Option<String>,
    #[schema(value_type = crate::schemas::JsonValue)]
    pub details: Value,
}
