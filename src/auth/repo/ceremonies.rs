//! Server-side ceremony state: stored between `…/options` and `…/verify`, deleted on first use
//! (webauthn-rs does not consume it), refused after five minutes.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db::StorageError;

pub const TTL: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Registration,
    Authentication,
    Discoverable,
    /// A passkey creation started with a recovery token.
    Recovery,
    /// A signed-in person proving a passkey again before a dangerous change (step-up).
    Reauth,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Registration => "registration",
            Kind::Authentication => "authentication",
            Kind::Discoverable => "discoverable",
            Kind::Recovery => "recovery",
            Kind::Reauth => "reauth",
        }
    }
}

/// A ceremony taken out of storage: it can no longer be used again.
#[derive(Debug)]
pub struct Taken {
    pub kind: Kind,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub bootstrap_token_id: Option<Uuid>,
    /// The recovery token a recovery ceremony was started with.
    pub recovery_token_id: Option<Uuid>,
    pub state: serde_json::Value,
}

pub struct New<'a> {
    pub kind: Kind,
    pub user_id: Option<Uuid>,
    pub email: Option<&'a str>,
    pub bootstrap_token_id: Option<Uuid>,
    /// The recovery token a recovery ceremony was started with.
    pub recovery_token_id: Option<Uuid>,
    pub state: serde_json::Value,
}

pub async fn create(
    client: &impl GenericClient,
    new: New<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, StorageError> {
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO ceremonies (id, kind, user_id, email, bootstrap_token_id, state, created_at, expires_at, recovery_token_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&id, &new.kind.as_str(), &new.user_id, &new.email, &new.bootstrap_token_id, &new.state, &now, &(now + TTL), &new.recovery_token_id],
        )
        .await?;
    Ok(id)
}

/// Deletes and returns the ceremony if it exists, is one of `kinds`, and has not expired. A
/// ceremony of another kind is left alone; an expired one is deleted and refused.
pub async fn take(
    client: &impl GenericClient,
    id: Uuid,
    kinds: &[Kind],
    now: DateTime<Utc>,
) -> Result<Option<Taken>, StorageError> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let row = client
        .query_opt(
            "DELETE FROM ceremonies WHERE id = $1 AND kind = ANY($2) \
             RETURNING kind, user_id, email, bootstrap_token_id, state, expires_at, recovery_token_id",
            &[&id, &kinds],
        )
        .await?;
    Ok(row.and_then(|r| {
        let expires_at: DateTime<Utc> = r.get(5);
        let kind = match r.get::<_, &str>(0) {
            "registration" => Kind::Registration,
            "authentication" => Kind::Authentication,
            "recovery" => Kind::Recovery,
            "reauth" => Kind::Reauth,
            _ => Kind::Discoverable,
        };
        (now < expires_at).then(|| Taken {
            kind,
            user_id: r.get(1),
            email: r.get(2),
            bootstrap_token_id: r.get(3),
            state: r.get(4),
            recovery_token_id: r.get(6),
        })
    }))
}
