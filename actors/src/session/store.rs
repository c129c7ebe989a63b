//! The session store's SQL. Sessions are found by the HMAC of their token, never the token.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use uuid::Uuid;

use super::{SessionError, SessionInfo, SessionSummary};

/// Postgres channel on which revocations are announced to every process.
pub const CHANNEL: &str = "raptor_sessions";

/// A session row joined with its (active) user.
pub(super) struct Row {
    pub info: SessionInfo,
    pub token_hash: String,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl From<deadpool_postgres::PoolError> for SessionError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        tracing::error!(%error, "session store: no database connection");
        SessionError::Storage
    }
}

impl From<tokio_postgres::Error> for SessionError {
    fn from(error: tokio_postgres::Error) -> Self {
        tracing::error!(%error, "session store: query failed");
        SessionError::Storage
    }
}

pub(super) struct Insert<'a> {
    pub id: Uuid,
    pub token_hash: &'a str,
    pub user_id: Uuid,
    pub now: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub ip_prefix: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Inserts a session for an active user; `None` when the user is not active.
pub(super) async fn insert(
    pool: &Pool,
    s: Insert<'_>,
) -> Result<Option<(String, bool)>, SessionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "WITH u AS (SELECT id, email, is_operator FROM session_accounts \
             WHERE id = $3 AND may_sign_in), \
             ins AS (INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, \
             idle_expires_at, absolute_expires_at, ip_prefix, user_agent, asserted_at) \
             SELECT $1, $2, u.id, $4, $4, $5, $6, $7, $8, $4 FROM u RETURNING user_id) \
             SELECT u.email, u.is_operator FROM u JOIN ins ON ins.user_id = u.id",
            &[
                &s.id,
                &s.token_hash,
                &s.user_id,
                &s.now,
                &s.idle_expires_at,
                &s.absolute_expires_at,
                &s.ip_prefix,
                &s.user_agent,
            ],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The live session stored under any of `hashes`.
pub(super) async fn find(pool: &Pool, hashes: &[String]) -> Result<Option<Row>, SessionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT s.id, s.user_id, u.email, u.is_operator, s.token_hash, s.idle_expires_at, \
             s.absolute_expires_at, s.last_seen_at \
             FROM sessions s JOIN session_accounts u ON u.id = s.user_id \
             WHERE s.token_hash = ANY($1) AND s.revoked_at IS NULL AND u.live",
            &[&hashes],
        )
        .await?;
    Ok(row.map(|r| {
        let idle: DateTime<Utc> = r.get(5);
        let absolute: DateTime<Utc> = r.get(6);
        Row {
            info: SessionInfo {
                session_id: r.get(0),
                user_id: r.get(1),
                email: r.get(2),
                is_operator: r.get(3),
                expires_at: idle.min(absolute),
            },
            token_hash: r.get(4),
            idle_expires_at: idle,
            absolute_expires_at: absolute,
            last_seen_at: r.get(7),
        }
    }))
}

/// When the holder of the live session `id` of `user_id` last proved a passkey (`None` if the
/// session is not live or never did). Read from the database, never the cache, so an assertion
/// made through another dyno counts at once.
pub(super) async fn asserted_at(
    pool: &Pool,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<DateTime<Utc>>, SessionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT asserted_at FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
            &[&id, &user_id],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
}

/// Records that the holder of the live session `id` of `user_id` proved a passkey at `now`;
/// `false` when the session is not live.
pub(super) async fn record_assertion(
    pool: &Pool,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, SessionError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE sessions SET asserted_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
            &[&id, &user_id, &now],
        )
        .await?;
    Ok(n == 1)
}

/// Rolls the idle expiry; `false` when the session was revoked meanwhile.
pub(super) async fn extend(
    pool: &Pool,
    id: Uuid,
    now: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
) -> Result<bool, SessionError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now, &idle_expires_at],
        )
        .await?;
    Ok(n == 1)
}

/// Revokes sessions of `user_id` (one, or all but `except`) and announces it; returns the ids.
///
/// Public for processes without a session store of their own (operator commands): the
/// notification makes every dyno's store evict the sessions, exactly as a revocation made
/// through [`SessionClient::revoke_all`](super::SessionClient::revoke_all) does.
pub async fn revoke(
    pool: &Pool,
    user_id: Uuid,
    only: Option<Uuid>,
    except: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, SessionError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let ids = revoke_in(&tx, user_id, only, except, now).await?;
    tx.commit().await?;
    Ok(ids)
}

/// [`revoke`] inside the caller's transaction, so that revoking sessions commits (and is
/// announced) together with the caller's change, or not at all. After the commit, the caller
/// evicts the ids from this process's cache (`SessionClient::evict`).
pub async fn revoke_in(
    tx: &impl GenericClient,
    user_id: Uuid,
    only: Option<Uuid>,
    except: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, tokio_postgres::Error> {
    let rows = tx
        .query(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
             AND ($3::uuid IS NULL OR id = $3) AND ($4::uuid IS NULL OR id <> $4) RETURNING id",
            &[&user_id, &now, &only, &except],
        )
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    for id in &ids {
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &format!("s:{id}")])
            .await?;
    }
    Ok(ids)
}

/// Which of `ids` are not live sessions at `now`: revoked, expired, or deleted.
pub(super) async fn ended(
    pool: &Pool,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, SessionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT i FROM unnest($1::uuid[]) AS i WHERE NOT EXISTS (SELECT 1 FROM sessions s \
             WHERE s.id = i AND s.revoked_at IS NULL \
             AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2)",
            &[&ids, &now],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The user's sessions that are neither revoked nor expired, newest first.
pub(super) async fn list(
    pool: &Pool,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SessionSummary>, SessionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, created_at, last_seen_at, LEAST(idle_expires_at, absolute_expires_at), ip_prefix, user_agent \
             FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
             AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY created_at DESC",
            &[&user_id, &now],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| SessionSummary {
            session_id: r.get(0),
            created_at: r.get(1),
            last_seen_at: r.get(2),
            expires_at: r.get(3),
            ip_prefix: r.get(4),
            user_agent: r.get(5),
        })
        .collect())
}
