//! The one outbound budget to Alpaca, shared by trading and market data.
//!
//! Alpaca limits an account to a number of requests a minute (200 on the free plan) across all
//! of its APIs, and every user of Raptor shares the operator's one account. So the broker and
//! the market-data actor reserve their send times from this one sliding window: at most `limit`
//! requests in any `window`. Market data may use only `limit - reserved_for_trading` of them,
//! so however many charts refresh, order submission always finds room.
//!
//! A caller that would have to wait longer than `max_wait` is refused at once with the time
//! after which a retry can succeed, so no request hangs on the budget.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Who is asking: trading may use the whole budget, market data only what trading leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Trading,
    MarketData,
}

/// How big the budget is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// Requests allowed in any window, all lanes together.
    pub limit: u32,
    /// Of those, how many market data may never take.
    pub reserved_for_trading: u32,
    pub window: Duration,
    /// The longest a caller waits for its turn before it is refused.
    pub max_wait: Duration,
}

/// The shared budget; clones share one window.
#[derive(Clone)]
pub struct OutboundBudget {
    inner: Arc<Mutex<Window>>,
}

struct Window {
    policy: BudgetPolicy,
    /// Send times reserved within the last window, in time order (some may lie ahead).
    reserved: Vec<Instant>,
}

impl OutboundBudget {
    pub fn new(policy: BudgetPolicy) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Window {
                policy,
                reserved: Vec::new(),
            })),
        }
    }

    /// Applies a new policy (SIGHUP); reservations already made stand.
    pub fn set_policy(&self, policy: BudgetPolicy) {
        self.lock().policy = policy;
    }

    pub fn policy(&self) -> BudgetPolicy {
        self.lock().policy
    }

    /// Reserves the earliest send time for `lane` that keeps the window within its limit;
    /// `Err` holds how long until a retry could be served without waiting too long.
    pub fn reserve(&self, lane: Lane, now: Instant) -> Result<Instant, Duration> {
        self.lock().reserve(lane, now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Window {
    fn reserve(&mut self, lane: Lane, now: Instant) -> Result<Instant, Duration> {
        let window = self.policy.window;
        self.reserved.retain(|&t| t + window > now);
        let limit = match lane {
            Lane::Trading => self.policy.limit,
            Lane::MarketData => self
                .policy
                .limit
                .saturating_sub(self.policy.reserved_for_trading),
        }
        .max(1) as usize;
        // The earliest time at which fewer than `limit` reservations fall in the window before
        // it: with n reservations, the (n - limit + 1)-th oldest must have left the window.
        let at = if self.reserved.len() < limit {
            now
        } else {
            self.reserved[self.reserved.len() - limit] + window
        };
        let wait = at.saturating_duration_since(now);
        if wait > self.policy.max_wait {
            return Err(wait - self.policy.max_wait);
        }
        let position = self.reserved.partition_point(|&t| t <= at);
        self.reserved.insert(position, at);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: u32, reserved: u32, max_wait: Duration) -> OutboundBudget {
        OutboundBudget::new(BudgetPolicy {
            limit,
            reserved_for_trading: reserved,
            window: Duration::from_secs(60),
            max_wait,
        })
    }

    #[test]
    fn market_data_never_takes_the_share_reserved_for_trading() {
        let now = Instant::now();
        let budget = budget(5, 2, Duration::ZERO);
        for _ in 0..3 {
            assert_eq!(budget.reserve(Lane::MarketData, now), Ok(now));
        }
        assert_eq!(
            budget.reserve(Lane::MarketData, now),
            Err(Duration::from_secs(60))
        );
        assert_eq!(budget.reserve(Lane::Trading, now), Ok(now));
        assert_eq!(budget.reserve(Lane::Trading, now), Ok(now));
        assert!(budget.reserve(Lane::Trading, now).is_err());
    }

    #[test]
    fn trading_uses_the_whole_budget_and_then_data_waits() {
        let now = Instant::now();
        let budget = budget(3, 1, Duration::ZERO);
        for _ in 0..3 {
            assert_eq!(budget.reserve(Lane::Trading, now), Ok(now));
        }
        assert!(budget.reserve(Lane::MarketData, now).is_err());
        assert!(budget.reserve(Lane::Trading, now).is_err());
    }

    #[test]
    fn excess_callers_wait_their_turn_within_the_bound_and_the_window_slides() {
        let start = Instant::now();
        let window = Duration::from_secs(60);
        let budget = budget(2, 0, Duration::from_secs(61));
        assert_eq!(budget.reserve(Lane::Trading, start), Ok(start));
        assert_eq!(budget.reserve(Lane::MarketData, start), Ok(start));
        assert_eq!(budget.reserve(Lane::Trading, start), Ok(start + window));
        let later = start + window;
        assert_eq!(budget.reserve(Lane::MarketData, later), Ok(later));
        assert!(budget.reserve(Lane::MarketData, later).is_ok());
    }

    #[test]
    fn at_least_one_request_a_window_is_allowed_to_data_even_when_all_is_reserved() {
        let now = Instant::now();
        let budget = budget(2, 5, Duration::ZERO);
        assert_eq!(budget.reserve(Lane::MarketData, now), Ok(now));
        assert!(budget.reserve(Lane::MarketData, now).is_err());
    }
}

/// Edges of the window arithmetic, one mutant's worth each.
#[cfg(test)]
mod mutation_tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn budget(limit: u32, reserved: u32, max_wait: Duration) -> OutboundBudget {
        OutboundBudget::new(BudgetPolicy {
            limit,
            reserved_for_trading: reserved,
            window: WINDOW,
            max_wait,
        })
    }

    #[test]
    fn a_new_policy_applies_to_the_next_reservation() {
        let now = Instant::now();
        let budget = budget(1, 0, Duration::ZERO);
        assert_eq!(budget.reserve(Lane::Trading, now), Ok(now));
        assert!(budget.reserve(Lane::Trading, now).is_err());
        let wider = BudgetPolicy {
            limit: 2,
            reserved_for_trading: 0,
            window: WINDOW,
            max_wait: Duration::ZERO,
        };
        budget.set_policy(wider);
        assert_eq!(budget.policy(), wider);
        assert_eq!(budget.reserve(Lane::Trading, now), Ok(now));
    }

    #[test]
    fn a_refusal_says_how_much_longer_than_the_bound_the_wait_would_be() {
        let now = Instant::now();
        let budget = budget(1, 0, Duration::from_secs(10));
        assert_eq!(budget.reserve(Lane::Trading, now), Ok(now));
        // The next slot is 60 s away, 50 s beyond the 10 s a caller may wait.
        assert_eq!(
            budget.reserve(Lane::Trading, now),
            Err(Duration::from_secs(50))
        );
    }

    #[test]
    fn a_wait_exactly_at_the_bound_is_still_served() {
        let now = Instant::now();
        let budget = budget(1, 0, WINDOW);
        assert_eq!(budget.reserve(Lane::Trading, now), Ok(now));
        assert_eq!(budget.reserve(Lane::Trading, now), Ok(now + WINDOW));
    }

    #[test]
    fn the_slot_frees_when_the_oldest_of_the_last_limit_reservations_leaves_the_window() {
        let t0 = Instant::now();
        let budget = budget(2, 0, Duration::from_secs(1000));
        assert_eq!(budget.reserve(Lane::Trading, t0), Ok(t0));
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(budget.reserve(Lane::Trading, t1), Ok(t1));
        // Two in the window: the third waits for the older one (t0) to leave it.
        assert_eq!(budget.reserve(Lane::Trading, t1), Ok(t0 + WINDOW));
    }

    #[test]
    fn reservations_stay_in_time_order_when_callers_arrive_out_of_order() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(10);
        let budget = budget(2, 0, Duration::from_secs(1000));
        // A caller that read the clock later reserves first.
        assert_eq!(budget.reserve(Lane::Trading, later), Ok(later));
        assert_eq!(budget.reserve(Lane::Trading, t0), Ok(t0));
        // The window is full; the earlier reservation (t0) is the one that leaves first.
        assert_eq!(budget.reserve(Lane::Trading, later), Ok(t0 + WINDOW));
    }
}
