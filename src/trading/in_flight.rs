//! Each user's share of the trading lane, per process: at most [`MAX_IN_FLIGHT`] submissions
//! in flight at once, so one user's burst cannot take every pooled connection, and at most
//! `TRADING_USER_CALLS_PER_MINUTE` broker calls (submits and cancels) a minute, a third of
//! them at once ([`LaneShare`]), so one user cannot spend the shared account's Alpaca budget
//! that the others' orders need. A call over either is refused at once (the HTTP layer answers
//! 429 with `Retry-After`); nothing was recorded or sent.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

/// Each user's share of the trading lane: broker calls (order submits and cancels) a minute
/// (`TRADING_USER_CALLS_PER_MINUTE`, default 30), a third of them at once. Clones share one
/// limiter.
#[derive(Clone)]
pub struct LaneShare {
    limiter: Arc<DefaultKeyedRateLimiter<Uuid>>,
}

impl LaneShare {
    pub fn per_minute(calls: u32) -> Self {
        let per_minute = NonZeroU32::new(calls).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(calls.div_ceil(3)).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            )),
        }
    }

    /// Takes one broker call from `user_id`'s share, or says how soon one is free.
    pub fn take(&self, user_id: Uuid) -> Result<(), Duration> {
        self.limiter.check_key(&user_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.max(Duration::from_secs(1))
        })
    }

    /// Forgets users idle long enough to have their whole share back.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Submissions one user may have in flight at once, per process.
pub const MAX_IN_FLIGHT: usize = 4;
/// How soon a refused submission may be retried.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

static IN_FLIGHT: LazyLock<Mutex<HashMap<Uuid, usize>>> = LazyLock::new(Default::default);

/// One submission in flight; the slot is given back when it is dropped.
#[must_use]
pub struct InFlight {
    user_id: Uuid,
}

impl InFlight {
    /// Takes one of `user_id`'s slots, or `None` when all are taken.
    pub fn acquire(user_id: Uuid) -> Option<Self> {
        let mut counts = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(user_id).or_insert(0);
        if *count >= MAX_IN_FLIGHT {
            return None;
        }
        *count += 1;
        Some(Self { user_id })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_share_runs_out_after_the_burst_and_others_keep_theirs() {
        let (share, user) = (LaneShare::per_minute(30), Uuid::new_v4());
        for _ in 0..10 {
            assert!(share.take(user).is_ok());
        }
        let wait = share.take(user).unwrap_err();
        assert!(wait >= Duration::from_secs(1), "{wait:?}");
        assert!(share.take(Uuid::new_v4()).is_ok(), "per user");
    }

    #[test]
    fn a_user_gets_a_few_slots_and_gets_them_back() {
        let user = Uuid::new_v4();
        let held: Vec<_> = (0..MAX_IN_FLIGHT)
            .map(|_| InFlight::acquire(user).unwrap())
            .collect();
        assert!(InFlight::acquire(user).is_none());
        assert!(InFlight::acquire(Uuid::new_v4()).is_some(), "per user");
        drop(held);
        assert!(InFlight::acquire(user).is_some());
    }
}
