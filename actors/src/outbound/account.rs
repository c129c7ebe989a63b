//! The Alpaca account's one budget, shared by every process through Postgres.
//!
//! Alpaca counts the requests of the whole account, whichever dyno sends them. Each process
//! leases small blocks of sends from `outbound_leases` (one statement, `outbound_lease`, one
//! round trip) and spends them locally, so most requests pay no database round trip. A lease
//! may be spent for [`AccountPolicy::lease_ttl`] after it was asked for; a new one is granted
//! only while the leases of the last `window + lease_ttl` leave room under the lane's limit.
//! So in any `window` the sends of all processes together stay within `limit`: every send of
//! such a window belongs to a lease granted within `window + lease_ttl` of the others, and the
//! last of them was granted only if all of them fitted. An expired lease's unspent rest is given
//! back with the next lease. Market data leases against `limit - reserved_for_trading`, trading
//! against `limit`, so orders and cancels always find the reserve.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::time::Instant;

use super::Lane;

/// The account budget's size and lease shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountPolicy {
    /// Sends of all processes together in any `window`.
    pub limit: u32,
    /// Of those, how many market data may never take.
    pub reserved_for_trading: u32,
    /// The sliding window `limit` counts in.
    pub window: Duration,
    /// How long a lease may be spent after it was asked for.
    pub lease_ttl: Duration,
    /// Sends asked for per lease, per lane ([`Lane::index`]).
    pub block: [u32; 2],
}

impl AccountPolicy {
    /// Alpaca's minute, leases spent within 2 s, small blocks: two sends for trading (orders
    /// are rare and each already pays database round trips), four for market data.
    pub fn per_minute(limit: u32, reserved_for_trading: u32) -> Self {
        Self {
            limit,
            reserved_for_trading,
            window: Duration::from_secs(60),
            lease_ttl: Duration::from_secs(2),
            block: [2, 4],
        }
    }

    /// What `lane` may lease up to, counting both lanes' leases; never below one a window.
    pub fn lane_limit(&self, lane: Lane) -> u32 {
        match lane {
            Lane::Trading => self.limit,
            Lane::MarketData => self.limit.saturating_sub(self.reserved_for_trading),
        }
        .max(1)
    }

    /// How far back leases still count: the window, the spending time, and a second for
    /// clocks and the trip to Alpaca.
    fn horizon(&self) -> Duration {
        self.window + self.lease_ttl + Duration::from_secs(1)
    }
}

/// What [`AccountBudget::take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// One send may go now.
    Granted,
    /// Nothing may go before this long (the account is full, or Alpaca asked us to wait).
    Wait(Duration),
}

/// The budget's name in `outbound_leases`.
const BUDGET: &str = "alpaca";

/// A lease this process is spending.
#[derive(Debug, Clone, Copy)]
struct Lease {
    id: i64,
    left: u32,
    until: Instant,
}

#[derive(Debug, Default)]
struct LaneState {
    lease: Option<Lease>,
    /// Expired leases' unspent rests, given back with the next lease.
    rests: Vec<(i64, i32)>,
    /// Nothing is leased for this lane before this (a pause, or a full account).
    blocked_until: Option<Instant>,
}

struct Inner {
    pool: Pool,
    policy: Mutex<AccountPolicy>,
    lanes: Mutex<[LaneState; 2]>,
    /// One lease in flight per lane: concurrent callers wait for it, then spend from it.
    leasing: [tokio::sync::Mutex<()>; 2],
}

/// The shared budget; clones share one set of leases.
#[derive(Clone)]
pub struct AccountBudget {
    inner: Arc<Inner>,
}

impl AccountBudget {
    /// The account's budget, counted in `pool`'s database under `policy`.
    pub fn new(pool: Pool, policy: AccountPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                policy: Mutex::new(policy),
                lanes: Mutex::new(Default::default()),
                leasing: Default::default(),
            }),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> AccountPolicy {
        *lock(&self.inner.policy)
    }

    /// Applies a new policy (SIGHUP); leases already granted stand.
    pub fn set_policy(&self, policy: AccountPolicy) {
        *lock(&self.inner.policy) = policy;
    }

    /// One send on `lane`: from this process's lease, else from a new one.
    pub async fn take(&self, lane: Lane) -> Result<Take, AccountError> {
        if let Some(taken) = self.take_local(lane, Instant::now()) {
            return Ok(taken);
        }
        let _leasing = self.inner.leasing[lane.index()].lock().await;
        // Another caller may have leased while this one waited.
        let started = Instant::now();
        if let Some(taken) = self.take_local(lane, started) {
            return Ok(taken);
        }
        let rests = std::mem::take(&mut lock(&self.inner.lanes)[lane.index()].rests);
        let outcome = self.lease(lane, &rests).await;
        let mut lanes = lock(&self.inner.lanes);
        let state = &mut lanes[lane.index()];
        match outcome {
            Err(error) => {
                state.rests.extend(rests);
                Err(error)
            }
            Ok(Leased::Granted { id, granted }) => {
                let ttl = self.policy().lease_ttl;
                state.lease = Some(Lease {
                    id,
                    left: granted.saturating_sub(1),
                    until: started + ttl,
                });
                Ok(Take::Granted)
            }
            Ok(Leased::Wait(wait)) => {
                state.blocked_until = Some(Instant::now() + wait);
                Ok(Take::Wait(wait))
            }
        }
    }

    /// Gives an unspent send back to this process's lease (a caller that could not use it).
    pub fn give_back(&self, lane: Lane) {
        let mut lanes = lock(&self.inner.lanes);
        if let Some(lease) = lanes[lane.index()].lease.as_mut() {
            lease.left += 1;
        }
    }

    /// Stops leasing for `lanes` until `until`, here at once and in every process through
    /// `outbound_pauses` (Alpaca asked us to wait).
    pub async fn pause(&self, lanes: &[Lane], until: Instant) -> Result<(), AccountError> {
        let wait = until.saturating_duration_since(Instant::now());
        {
            let mut states = lock(&self.inner.lanes);
            for lane in lanes {
                let state = &mut states[lane.index()];
                state.blocked_until = state.blocked_until.max(Some(until));
                // What is leased stays leased, but is not spent while Alpaca says wait.
                if let Some(lease) = state.lease.take() {
                    state.rests.push((lease.id, lease.left as i32));
                }
            }
        }
        let names: Vec<&str> = lanes.iter().map(|l| l.as_str()).collect();
        let client = self.inner.pool.get().await?;
        client
            .execute(
                "INSERT INTO outbound_pauses (budget, lane, until) \
                 SELECT $1, lane, clock_timestamp() + make_interval(secs => $3) \
                   FROM unnest($2::text[]) AS lane \
                 ON CONFLICT (budget, lane) DO UPDATE SET until = greatest(outbound_pauses.until, excluded.until)",
                &[&BUDGET, &names, &wait.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// A send from the live lease, or the wait of a blocked lane; `None` when a lease is needed.
    fn take_local(&self, lane: Lane, now: Instant) -> Option<Take> {
        let mut lanes = lock(&self.inner.lanes);
        let state = &mut lanes[lane.index()];
        if let Some(until) = state.blocked_until {
            if until > now {
                return Some(Take::Wait(until - now));
            }
            state.blocked_until = None;
        }
        match state.lease.as_mut() {
            Some(lease) if lease.until > now && lease.left > 0 => {
                lease.left -= 1;
                Some(Take::Granted)
            }
            Some(lease) => {
                let expired = *lease;
                state.lease = None;
                if expired.left > 0 {
                    state.rests.push((expired.id, expired.left as i32));
                }
                None
            }
            None => None,
        }
    }

    async fn lease(&self, lane: Lane, rests: &[(i64, i32)]) -> Result<Leased, AccountError> {
        let policy = self.policy();
        let (ids, amounts): (Vec<i64>, Vec<i32>) = rests.iter().copied().unzip();
        let horizon = policy.horizon().as_secs_f64();
        let client = self.inner.pool.get().await?;
        let row = client
            .query_one(
                "SELECT lease_id, granted, wait_ms FROM outbound_lease(\
                   $1, $2, $3, $4, make_interval(secs => $5), $6, $7)",
                &[
                    &BUDGET,
                    &lane.as_str(),
                    &(policy.block[lane.index()].max(1) as i32),
                    &(policy.lane_limit(lane) as i32),
                    &horizon,
                    &ids,
                    &amounts,
                ],
            )
            .await?;
        Ok(match row.get::<_, Option<i64>>(0) {
            Some(id) => Leased::Granted {
                id,
                granted: row.get::<_, i32>(1).max(1) as u32,
            },
            None => Leased::Wait(Duration::from_millis(row.get::<_, i32>(2).max(1) as u64)),
        })
    }
}

/// The shared budget could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No pooled connection.
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("database error: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// The database did not answer in time.
    #[error("the database did not answer in time")]
    TimedOut,
}

enum Leased {
    Granted { id: i64, granted: u32 },
    Wait(Duration),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
