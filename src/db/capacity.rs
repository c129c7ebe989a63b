//! Whether the database has room for this process's connections: its pool at full size plus
//! the dedicated LISTEN connections of its mode.
//!
//! Heroku's smallest Postgres plans allow about 20 connections in all, so a pool sized for a
//! bigger plan fills up on a busy day and then fails requests with `too_many_connections`.
//! At startup Raptor compares what it may open with what the server, the role and the database
//! still allow, and logs one warning naming `DATABASE_POOL_SIZE` when it does not fit (see
//! `docs/capacity.md` for the budget per plan). The check only reads; it never fails startup.

use std::time::Duration;

use deadpool_postgres::Pool;
use raptor_actors::supervisor::Mode;
use tokio_postgres::error::SqlState;

/// The setting to change when the pool does not fit.
pub const POOL_SIZE_SETTING: &str = "DATABASE_POOL_SIZE";

/// Longest the startup check may delay startup (a database that does not answer is the
/// readiness probe's business, not this check's).
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections a process holds outside its pool, for LISTEN/NOTIFY, in `mode`: web has the
/// session store's revocations, the broker's kill switch and the finished-backtests feed
/// (opened at the first submission); a worker has the backtest job queue.
pub fn listen_connections(mode: Mode) -> usize {
    match mode {
        Mode::Web => 3,
        Mode::Worker => 1,
        Mode::Dev => 4,
    }
}

/// Which limit leaves the least room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `max_connections` less the reserved slots.
    Server,
    /// The role's `CONNECTION LIMIT`.
    Role,
    /// The database's `CONNECTION LIMIT`.
    Database,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Server => "server max_connections",
            Limit::Role => "role connection limit",
            Limit::Database => "database connection limit",
        }
    }
}

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolFit {
    /// Every connection this process may open has room.
    Fits,
    /// Only `room` of the `wanted` connections (pool at full size plus LISTEN) can be opened
    /// now, `limited_by` the tightest limit.
    Short {
        room: usize,
        wanted: usize,
        limited_by: Limit,
    },
    /// The server refused a connection with `too_many_connections`.
    Refused,
    /// The database could not be asked (down, slow); nothing is known.
    Unknown,
}

impl PoolFit {
    /// The startup warning for this outcome, if it deserves one: one line naming the setting.
    pub fn warning(&self) -> Option<String> {
        match *self {
            PoolFit::Fits | PoolFit::Unknown => None,
            PoolFit::Short {
                room,
                wanted,
                limited_by,
            } => Some(format!(
                "the database has room for {room} of this process's {wanted} connections \
                 ({POOL_SIZE_SETTING} plus LISTEN; limited by the {}): lower \
                 {POOL_SIZE_SETTING} (docs/capacity.md)",
                limited_by.as_str()
            )),
            PoolFit::Refused => Some(format!(
                "the database refused a connection (too many connections): lower \
                 {POOL_SIZE_SETTING} on every process (docs/capacity.md)"
            )),
        }
    }
}

/// Compares the room left on the server with what this process may still open: `pool_size`
/// pooled connections (less those already open) and `listen` dedicated ones.
pub async fn check(pool: &Pool, pool_size: usize, listen: usize) -> PoolFit {
    match tokio::time::timeout(CHECK_TIMEOUT, measure(pool, pool_size, listen)).await {
        Ok(Ok(fit)) => fit,
        Ok(Err(error)) if too_many_connections(&error) => PoolFit::Refused,
        Ok(Err(error)) => {
            tracing::debug!(error = %super::error::pool_reason(&error), "connection budget not checked");
            PoolFit::Unknown
        }
        Err(_) => PoolFit::Unknown,
    }
}

/// Runs [`check`] for a process of `mode` and logs its warning, if any. Called at startup
/// before any actor opens a connection, so the room it sees is all this process will get.
pub async fn warn_if_short(pool: &Pool, pool_size: usize, mode: Mode) -> PoolFit {
    let listen = listen_connections(mode);
    let fit = check(pool, pool_size, listen).await;
    if let Some(warning) = fit.warning() {
        tracing::warn!(setting = POOL_SIZE_SETTING, pool_size, listen, "{warning}");
    }
    fit
}

fn too_many_connections(error: &deadpool_postgres::PoolError) -> bool {
    match error {
        deadpool_postgres::PoolError::Backend(e) => {
            e.code() == Some(&SqlState::TOO_MANY_CONNECTIONS)
        }
        _ => false,
    }
}

/// Limits and use: the server's, the role's and the database's (`-1` is no limit; a superuser
/// is held to none but the server's).
const BUDGET_SQL: &str = "\
SELECT current_setting('max_connections')::int \
         - current_setting('superuser_reserved_connections')::int \
         - coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0), \
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int, \
       CASE WHEN r.rolsuper THEN -1 ELSE r.rolconnlimit END, \
       (SELECT count(*) FROM pg_stat_activity \
         WHERE backend_type = 'client backend' AND usename = current_user)::int, \
       CASE WHEN r.rolsuper THEN -1 ELSE d.datconnlimit END, \
       (SELECT count(*) FROM pg_stat_activity \
         WHERE backend_type = 'client backend' AND datname = current_database())::int \
  FROM pg_roles r, pg_database d \
 WHERE r.rolname = current_user AND d.datname = current_database()";

async fn measure(
    pool: &Pool,
    pool_size: usize,
    listen: usize,
) -> Result<PoolFit, deadpool_postgres::PoolError> {
    let client = pool.get().await?;
    let row = client.query_one(BUDGET_SQL, &[]).await?;
    // Connections this process holds now are counted as used; it may still open the rest.
    let held = pool.status().size;
    let wanted_more = pool_size.saturating_sub(held) + listen;
    let limits = [
        (Limit::Server, row.get::<_, i32>(0), row.get::<_, i32>(1)),
        (Limit::Role, row.get(2), row.get(3)),
        (Limit::Database, row.get(4), row.get(5)),
    ];
    let tightest = limits
        .into_iter()
        .filter(|(_, limit, _)| *limit >= 0)
        .map(|(which, limit, used)| (which, (limit - used).max(0) as usize))
        .min_by_key(|(_, room)| *room);
    Ok(match tightest {
        Some((limited_by, room)) if room < wanted_more => PoolFit::Short {
            room: room + held,
            wanted: pool_size + listen,
            limited_by,
        },
        _ => PoolFit::Fits,
    })
}
