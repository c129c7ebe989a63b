//! The one outbound budget to Alpaca, shared by trading and market data, and by every process.
//!
//! Alpaca limits an account to a number of requests a minute (200 on the free plan) across all
//! of its APIs, and every user of Raptor shares the operator's one account, whichever dyno
//! serves them. So the broker and the market-data actor ask this budget before each request
//! ([`OutboundBudget::acquire`]): the account's budget in Postgres ([`account`],
//! `ALPACA_ACCOUNT_RATE_LIMIT_PER_MINUTE` for all processes together), spent from small leases
//! so most requests pay no round trip. Market data may use only `limit - reserved_for_trading`
//! of it, so however many charts refresh, orders and cancels always find room. What Alpaca says
//! about its own count (`X-RateLimit-Remaining`/`-Reset`, a 429's `Retry-After`) pauses the
//! lanes it concerns in every process ([`OutboundBudget::observe`], [`signals`]).
//!
//! The sliding window below is this process's own: it is used only while Postgres cannot be
//! asked (a documented fallback, `ALPACA_RATE_LIMIT_PER_MINUTE` per process), and by processes
//! with no account budget at all (the simulated broker, unit tests).
//!
//! A caller that would have to wait longer than `max_wait` is refused at once with the time
//! after which a retry can succeed, so no request hangs on the budget.
//!
//! A caller with a share of its own to enforce (the trading domain's per-user share, say) checks
//! it before calling [`OutboundBudget::acquire`] on its lane; the lanes stay the account's.

pub mod account;
pub mod signals;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub use account::{AccountBudget, AccountPolicy, Take};

/// Who is asking: trading may use the whole budget, market data only what trading leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Orders and account reads.
    Trading,
    /// Quotes, trades and bars.
    MarketData,
}

impl Lane {
    /// Both lanes.
    pub const ALL: [Lane; 2] = [Lane::Trading, Lane::MarketData];

    /// The lane's name in `outbound_leases` and `outbound_pauses`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Trading => "trading",
            Lane::MarketData => "market_data",
        }
    }

    fn index(self) -> usize {
        match self {
            Lane::Trading => 0,
            Lane::MarketData => 1,
        }
    }
}

/// How big the budget is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// Requests allowed in any window, all lanes together.
    pub limit: u32,
    /// Of those, how many market data may never take.
    pub reserved_for_trading: u32,
    /// The sliding window `limit` counts in.
    pub window: Duration,
    /// The longest a caller waits for its turn before it is refused.
    pub max_wait: Duration,
}

/// The budget; clones share one window and one account.
#[derive(Clone)]
pub struct OutboundBudget {
    inner: Arc<Mutex<Window>>,
    account: Option<AccountBudget>,
    /// Whether the last failure to reach the account budget was logged (once per outage).
    account_down: Arc<AtomicBool>,
}

struct Window {
    policy: BudgetPolicy,
    /// Send times reserved within the last window, in time order (some may lie ahead).
    reserved: Vec<Instant>,
    /// Per lane: Alpaca asked us not to send before this.
    paused_until: [Option<Instant>; 2],
}

impl OutboundBudget {
    /// A budget of this process alone (the fallback window only).
    pub fn new(policy: BudgetPolicy) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Window {
                policy,
                reserved: Vec::new(),
                paused_until: [None, None],
            })),
            account: None,
            account_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The same budget, spending the account's shared budget first.
    pub fn with_account(mut self, account: AccountBudget) -> Self {
        self.account = Some(account);
        self
    }

    /// The account's shared budget, if this process has one.
    pub fn account(&self) -> Option<&AccountBudget> {
        self.account.as_ref()
    }

    /// Waits for the right to send one request on `lane`, at most `max_wait`; `Err` holds how
    /// long until a retry could be served.
    pub async fn acquire(&self, lane: Lane) -> Result<(), Duration> {
        let max_wait = self.policy().max_wait;
        let deadline = Instant::now() + max_wait;
        if let Some(wait) = self.local_pause(lane, Instant::now()) {
            return Err(retry_after(wait));
        }
        if let Some(account) = &self.account {
            loop {
                // A database that does not answer within the caller's wait is a database down.
                let left = deadline.saturating_duration_since(Instant::now());
                let taken = tokio::time::timeout(left, account.take(lane))
                    .await
                    .unwrap_or(Err(account::AccountError::TimedOut));
                match taken {
                    Ok(Take::Granted) => {
                        self.account_down.store(false, Ordering::Relaxed);
                        return Ok(());
                    }
                    Ok(Take::Wait(wait)) if Instant::now() + wait <= deadline => {
                        tokio::time::sleep(wait).await;
                    }
                    Ok(Take::Wait(wait)) => return Err(retry_after(wait)),
                    Err(error) => {
                        if !self.account_down.swap(true, Ordering::Relaxed) {
                            tracing::warn!(%error, "the account's Alpaca budget cannot be asked; \
                                using this process's own window (ALPACA_RATE_LIMIT_PER_MINUTE)");
                        }
                        break;
                    }
                }
            }
        }
        let at = self.reserve(lane, Instant::now())?;
        tokio::time::sleep_until(at).await;
        Ok(())
    }

    /// Takes in what Alpaca said about its own count (`status`, `headers` of an answer to a
    /// request on `lane`): pauses the lanes it concerns here and, through Postgres, everywhere.
    pub fn observe(&self, status: u16, headers: &reqwest::header::HeaderMap) {
        let reserve = self.policy().reserved_for_trading;
        let Some(pause) = signals::pause_for(status, headers, reserve, chrono::Utc::now()) else {
            return;
        };
        let until = Instant::now() + pause.wait;
        {
            let mut window = self.lock();
            for lane in pause.lanes {
                let slot = &mut window.paused_until[lane.index()];
                *slot = (*slot).max(Some(until));
            }
        }
        tracing::warn!(wait_ms = pause.wait.as_millis() as u64, lanes = ?pause.lanes, "alpaca asked us to wait; pausing");
        if let Some(account) = self.account.clone() {
            tokio::spawn(async move {
                if let Err(error) = account.pause(pause.lanes, until).await {
                    tracing::warn!(%error, "the pause could not be shared with other processes");
                }
            });
        }
    }

    fn local_pause(&self, lane: Lane, now: Instant) -> Option<Duration> {
        let until = self.lock().paused_until[lane.index()]?;
        (until > now).then(|| until - now)
    }

    /// Applies a new policy (SIGHUP); reservations already made stand.
    pub fn set_policy(&self, policy: BudgetPolicy) {
        self.lock().policy = policy;
    }

    /// The policy in force.
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

/// A wait as a client's `Retry-After`: whole seconds between one and a minute (a lease's
/// horizon is a little longer than the window, but a retry after a minute finds room).
fn retry_after(wait: Duration) -> Duration {
    Duration::from_secs(wait.as_secs_f64().ceil() as u64)
        .clamp(Duration::from_secs(1), Duration::from_secs(60))
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

    #[tokio::test]
    async fn acquiring_without_an_account_spends_this_process_window() {
        let budget = budget(1, 0, Duration::ZERO);
        assert_eq!(budget.acquire(Lane::Trading).await, Ok(()));
        assert!(
            budget.acquire(Lane::Trading).await.is_err(),
            "the window is spent"
        );
    }

    #[test]
    fn lanes_keep_their_stored_names_and_a_pause_of_one_leaves_the_other() {
        // The names are rows of `outbound_leases` and `outbound_pauses` other processes read.
        assert_eq!(Lane::Trading.as_str(), "trading");
        assert_eq!(Lane::MarketData.as_str(), "market_data");
        // Alpaca's count is under the trading reserve: market data waits, orders do not.
        let budget = budget(10, 5, Duration::ZERO);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "2".parse().unwrap());
        let reset = chrono::Utc::now().timestamp() + 30;
        headers.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        budget.observe(200, &headers);
        let now = Instant::now();
        assert!(budget.local_pause(Lane::MarketData, now).is_some());
        assert_eq!(budget.local_pause(Lane::Trading, now), None);
    }

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

/// `acquire` over the account's budget in a real Postgres.
#[cfg(test)]
mod postgres_tests;
