//! Rate limits that hold across every dyno (ADR 0005, issue 25): the global per-client limit
//! (`RATE_LIMIT_PER_MINUTE`) and the limits of the routes that send email, start passkey
//! ceremonies or place orders. A client cannot multiply them by landing on another dyno.
//!
//! The counters live in Postgres (`shared_rate_limits`: one row per limit, client and fixed
//! window; the client only as an HMAC), but a request does not pay a round trip: each process
//! *leases* a block of a client's allowance (`hits / 20`, at least one) with one upsert and
//! admits that many requests from memory, then leases again. The row counts what was leased, so
//! all processes together never admit more than `hits` in a window: there is no overshoot. The
//! price is the other way: a block leased by one process and not used there is lost to the
//! client until the window ends, so a client spread over N processes may be refused up to
//! (N - 1) x (block - 1) requests early (4 of 100 a minute with two web dynos). Once the row
//! says the allowance is gone, the process refuses the client from memory until the window ends.
//! Windows are fixed (aligned on the clock), so a burst straddling two windows can reach twice
//! `hits` in a short time; the per-process GCRA limiter (`http::rate_limit`) smooths that.
//! Which route has which limit is [`table`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::token::TokenHasher;

use crate::db::StorageError;

pub mod table;

/// HMAC purpose of client identities in `shared_rate_limits`.
const CLIENT_PURPOSE: &str = "rate-limit-client";
/// Lock shards of the in-memory leases (requests of different clients rarely meet).
const SHARDS: usize = 16;

/// One limit: at most `hits` requests per client in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedLimit {
    /// The counter's name (`shared_rate_limits.name`).
    pub name: &'static str,
    pub hits: u32,
    pub window: Duration,
}

impl SharedLimit {
    /// How much of a client's allowance one lease takes.
    pub fn block(&self) -> u32 {
        (self.hits / 20).max(1)
    }

    /// The start of the window `now` falls in (Unix seconds) and how long until it ends.
    fn window_at(&self, now: DateTime<Utc>) -> (i64, Duration) {
        let window = self.window.as_secs().max(1) as i64;
        let start = now.timestamp().div_euclid(window) * window;
        let left = (start + window - now.timestamp()).max(1) as u64;
        (start, Duration::from_secs(left))
    }
}

/// Why a request may not proceed.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("the limit is reached; retry after {0:?}")]
    Exceeded(Duration),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
crate::db::storage_errors!(LimitError);

/// What memory alone says about one more request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// Admitted from a lease.
    Admitted,
    /// The client's allowance is gone until the window ends.
    Refused(Duration),
    /// A lease is needed ([`Counters::lease`]).
    Lease,
}

/// A limit, a client (its IPv4 address or IPv6 /64) and a window start.
type Key = (&'static str, IpAddr, i64);

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    leased: u32,
    used: u32,
    /// The row says nothing is left in this window.
    exhausted: bool,
}

/// One request of `client` (its rate-limit identity as text) against `limit`, counted straight
/// in Postgres without a lease: for rare events that must be exact across dynos, such as the
/// once-a-minute audit of refused attempts (issue 24, item 4).
pub async fn hit(
    pool: &Pool,
    hasher: &TokenHasher,
    limit: &SharedLimit,
    client: &str,
    now: DateTime<Utc>,
) -> Result<(), LimitError> {
    let (start, left) = limit.window_at(now);
    let window_start = DateTime::from_timestamp(start, 0).unwrap_or(now);
    let client = hasher.digest(CLIENT_PURPOSE, client);
    let db = pool.get().await?;
    let hits: i32 = db
        .query_one(
            "INSERT INTO shared_rate_limits (name, client, window_start, hits) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name, client, window_start) DO UPDATE SET hits = shared_rate_limits.hits + 1 \
             RETURNING hits",
            &[&limit.name, &client, &window_start],
        )
        .await?
        .get(0);
    if hits as u32 > limit.hits {
        return Err(LimitError::Exceeded(left));
    }
    Ok(())
}

/// This process's leases of clients' allowances.
pub struct Counters {
    pool: Pool,
    hasher: TokenHasher,
    shards: [Mutex<HashMap<Key, Entry>>; SHARDS],
}

impl Counters {
    pub fn new(pool: Pool, hasher: TokenHasher) -> Self {
        Self {
            pool,
            hasher,
            shards: Default::default(),
        }
    }

    /// One request of `client` against `limit`, from memory if a lease allows it.
    pub fn check_local(&self, limit: &SharedLimit, client: IpAddr, now: DateTime<Utc>) -> Local {
        let (start, left) = limit.window_at(now);
        let key = (limit.name, client, start);
        let mut shard = self.shard(&key);
        let entry = shard.entry(key).or_default();
        if entry.used < entry.leased {
            entry.used += 1;
            Local::Admitted
        } else if entry.exhausted {
            Local::Refused(left)
        } else {
            Local::Lease
        }
    }

    /// Leases a block of `client`'s allowance and counts one request from it; `Exceeded` with
    /// the wait when the allowance is gone.
    pub async fn lease(
        &self,
        limit: &SharedLimit,
        client: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(), LimitError> {
        let (start, left) = limit.window_at(now);
        let granted = self.lease_from_db(limit, client, start, now).await?;
        let key = (limit.name, client, start);
        let mut shard = self.shard(&key);
        let entry = shard.entry(key).or_default();
        entry.leased += granted;
        entry.exhausted |= granted < limit.block();
        if entry.used < entry.leased {
            entry.used += 1;
            Ok(())
        } else {
            Err(LimitError::Exceeded(left))
        }
    }

    /// [`Self::check_local`], then [`Self::lease`] when memory cannot answer.
    pub async fn hit(
        &self,
        limit: &SharedLimit,
        client: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(), LimitError> {
        match self.check_local(limit, client, now) {
            Local::Admitted => Ok(()),
            Local::Refused(wait) => Err(LimitError::Exceeded(wait)),
            Local::Lease => self.lease(limit, client, now).await,
        }
    }

    /// Grants `block` in memory without asking Postgres (it could not be asked): the global
    /// limit fails open, bounded by the per-process limiter, rather than failing every request.
    pub fn grant_provisionally(&self, limit: &SharedLimit, client: IpAddr, now: DateTime<Utc>) {
        let (start, _) = limit.window_at(now);
        let key = (limit.name, client, start);
        let mut shard = self.shard(&key);
        let entry = shard.entry(key).or_default();
        entry.leased += limit.block();
        entry.used += 1;
    }

    /// Forgets leases of windows that ended before `now` less `longest` (the longest window).
    pub fn forget_old(&self, now: DateTime<Utc>, longest: Duration) {
        let horizon = now.timestamp() - longest.as_secs() as i64;
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|key, _| key.2 >= horizon);
        }
    }

    /// How many of `block` the row still had for the client: the row counts what was asked
    /// for, so the grant is what was left under `hits` before this lease.
    async fn lease_from_db(
        &self,
        limit: &SharedLimit,
        client: IpAddr,
        start: i64,
        now: DateTime<Utc>,
    ) -> Result<u32, LimitError> {
        let window_start = DateTime::from_timestamp(start, 0).unwrap_or(now);
        let block = limit.block() as i32;
        let client = self.hasher.digest(CLIENT_PURPOSE, &client.to_string());
        let db = self.pool.get().await?;
        let hits: i32 = db
            .query_one(
                "INSERT INTO shared_rate_limits (name, client, window_start, hits) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name, client, window_start) DO UPDATE SET hits = shared_rate_limits.hits + $4 \
                 RETURNING hits",
                &[&limit.name, &client, &window_start, &block],
            )
            .await?
            .get(0);
        let before = i64::from(hits) - i64::from(block);
        Ok((i64::from(limit.hits) - before).clamp(0, i64::from(block)) as u32)
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.shards[shard_of(key.1)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// The shard of a client: a cheap mix of its address's bits.
fn shard_of(client: IpAddr) -> usize {
    let bits = match client {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6) >> 64,
    };
    let mixed = (bits ^ (bits >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    mixed as usize % SHARDS
}

/// `Counters` against a real Postgres (`TEST_DATABASE_URL`, as the integration tests use), in a
/// database of its own.
#[cfg(test)]
mod mutation_tests {
    use std::panic::AssertUnwindSafe;
    use std::sync::Arc;

    use futures_util::FutureExt;
    use secrecy::SecretBox;

    use super::*;

    const LIMIT: SharedLimit = SharedLimit {
        name: "unit",
        hits: 2,
        window: Duration::from_secs(60),
    };

    async fn fresh_pool() -> (Pool, String) {
        let admin = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("raptor_unit_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("TEST_DATABASE_URL must point at a running PostgreSQL");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        let pool = crate::db::build_pool(&url, crate::settings::DatabaseSsl::Disable, 2).unwrap();
        crate::db::migrate(&pool).await.unwrap();
        (pool, name)
    }

    async fn drop_database(name: &str) {
        let admin = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        if let Ok((client, connection)) =
            tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
        {
            tokio::spawn(connection);
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }

    /// Runs `test` on a pool over a fresh database, and drops the database afterwards, whether
    /// `test` passed or panicked.
    async fn with_fresh_pool<F: std::future::Future<Output = ()>>(test: impl FnOnce(Pool) -> F) {
        let (pool, name) = fresh_pool().await;
        let outcome = AssertUnwindSafe(test(pool)).catch_unwind().await;
        drop_database(&name).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    #[tokio::test]
    async fn a_client_gets_its_hits_per_window_then_the_wait_until_the_next() {
        with_fresh_pool(counts_per_window).await;
    }

    #[tokio::test]
    async fn a_counted_hit_is_exact_per_client_and_window() {
        with_fresh_pool(|pool| async move {
            let hasher = hasher();
            let at = |client: &'static str, now| hit(&pool, &hasher, &LIMIT, client, now);
            // Ten seconds into a minute window: two hits, then the wait until the next window.
            let now = DateTime::from_timestamp(1_767_225_610, 0).unwrap();
            assert!(at("203.0.113.9", now).await.is_ok());
            assert!(at("203.0.113.9", now).await.is_ok());
            match at("203.0.113.9", now).await {
                Err(LimitError::Exceeded(wait)) => assert_eq!(wait, Duration::from_secs(50)),
                other => panic!("expected the limit, got {other:?}"),
            }
            assert!(at("203.0.113.10", now).await.is_ok(), "another client");
            let next_window = now + chrono::Duration::seconds(50);
            assert!(at("203.0.113.9", next_window).await.is_ok());
        })
        .await;
    }

    /// Counters whose pool is never used (nothing here asks Postgres).
    fn offline_counters() -> Counters {
        let pool = crate::db::build_pool(
            "postgres://nobody@127.0.0.1:1/none",
            crate::settings::DatabaseSsl::Disable,
            1,
        )
        .unwrap();
        Counters::new(pool, hasher())
    }

    #[test]
    fn a_provisional_grant_is_one_block_with_one_request_used_and_old_windows_are_forgotten() {
        const WIDE: SharedLimit = SharedLimit {
            name: "wide",
            hits: 100,
            window: Duration::from_secs(60),
        };
        assert_eq!(WIDE.block(), 5);
        let counters = offline_counters();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let now = DateTime::from_timestamp(1_767_225_610, 0).unwrap();
        counters.grant_provisionally(&WIDE, client, now);
        // Kept: the window is current.
        counters.forget_old(now, WIDE.window);
        for _ in 0..4 {
            assert_eq!(counters.check_local(&WIDE, client, now), Local::Admitted);
        }
        assert_eq!(
            counters.check_local(&WIDE, client, now),
            Local::Lease,
            "the block is used up"
        );
        // A window that ended more than the longest window ago is forgotten.
        let earlier = now - chrono::Duration::seconds(3600);
        counters.grant_provisionally(&WIDE, client, earlier);
        counters.forget_old(now, WIDE.window);
        assert_eq!(counters.check_local(&WIDE, client, earlier), Local::Lease);
    }

    #[test]
    fn clients_spread_over_every_shard() {
        let spread = |clients: Vec<IpAddr>| {
            let mut per_shard = [0usize; SHARDS];
            for client in &clients {
                per_shard[shard_of(*client)] += 1;
            }
            let fair = clients.len() / SHARDS;
            assert!(
                per_shard.iter().all(|&n| n > fair / 2 && n < fair * 2),
                "{per_shard:?}"
            );
        };
        // Neighbouring IPv4 addresses, and IPv6 clients differing only in their /64 prefix.
        spread(
            (0..1600u32)
                .map(|n| IpAddr::from([10, 0, (n >> 8) as u8, n as u8]))
                .collect(),
        );
        spread(
            (0..1600u16)
                .map(|n| IpAddr::from([0x2001, 0xdb8, 0, n, 0, 0, 0, 1]))
                .collect(),
        );
    }

    fn hasher() -> TokenHasher {
        TokenHasher::new(Arc::new(SecretBox::from(b"unit-key".to_vec())), None)
    }

    async fn counts_per_window(pool: Pool) {
        let hasher = hasher();
        let counters = Counters::new(pool.clone(), hasher.clone());
        let hit = |client: &'static str, now| {
            let counters = &counters;
            async move { counters.hit(&LIMIT, client.parse().unwrap(), now).await }
        };
        // Ten seconds into a minute window.
        let now = DateTime::from_timestamp(1_767_225_610, 0).unwrap();
        let client = "203.0.113.9";
        assert!(hit(client, now).await.is_ok());
        assert!(hit(client, now).await.is_ok());
        match hit(client, now).await {
            Err(LimitError::Exceeded(wait)) => assert_eq!(wait, Duration::from_secs(50)),
            other => panic!("expected the limit, got {other:?}"),
        }
        // Refused from memory from now on: the row is not asked again.
        assert_eq!(
            counters.check_local(&LIMIT, client.parse().unwrap(), now),
            Local::Refused(Duration::from_secs(50))
        );
        assert!(hit("203.0.113.10", now).await.is_ok());
        let next_window = now + chrono::Duration::seconds(50);
        assert!(hit(client, next_window).await.is_ok());

        // Counters are per window start, and hold the client only as its HMAC.
        let db = pool.get().await.unwrap();
        let rows = db
            .query(
                "SELECT client, window_start, hits FROM shared_rate_limits \
                 WHERE name = 'unit' ORDER BY window_start, hits DESC",
                &[],
            )
            .await
            .unwrap();
        let window = |r: &tokio_postgres::Row| r.get::<_, DateTime<Utc>>(1).timestamp();
        assert_eq!(window(&rows[0]), 1_767_225_600);
        assert_eq!(rows[0].get::<_, i32>(2), 3);
        assert_eq!(
            rows[0].get::<_, String>(0),
            hasher.digest(CLIENT_PURPOSE, client)
        );
        assert_eq!(window(&rows[2]), 1_767_225_660);
        assert!(rows
            .iter()
            .all(|r| !r.get::<_, String>(0).contains("203.0.113")));
        counters.forget_old(next_window + chrono::Duration::seconds(120), LIMIT.window);
        assert!(counters.shards.iter().all(|s| s.lock().unwrap().is_empty()));
    }

    #[tokio::test]
    async fn two_processes_leasing_blocks_never_admit_more_than_the_limit_together() {
        with_fresh_pool(two_processes).await;
    }

    async fn two_processes(pool: Pool) {
        const FORTY: SharedLimit = SharedLimit {
            name: "unit-global",
            hits: 40,
            window: Duration::from_secs(60),
        };
        assert_eq!(FORTY.block(), 2);
        let a = Counters::new(pool.clone(), hasher());
        let b = Counters::new(pool, hasher());
        let now = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let client: IpAddr = "198.51.100.1".parse().unwrap();
        let mut admitted = 0;
        let mut round_trips = 0;
        for i in 0..100 {
            let process = if i % 2 == 0 { &a } else { &b };
            match process.check_local(&FORTY, client, now) {
                Local::Admitted => admitted += 1,
                Local::Refused(_) => {}
                Local::Lease => {
                    round_trips += 1;
                    if process.lease(&FORTY, client, now).await.is_ok() {
                        admitted += 1;
                    }
                }
            }
        }
        // One block may be stranded in the process that did not use it: 39 or 40, never more.
        assert!((39..=40).contains(&admitted), "{admitted}");
        assert!(
            round_trips <= 22,
            "{round_trips} leases for {admitted} requests"
        );
    }
}
