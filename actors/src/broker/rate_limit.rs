//! The outbound rate limit: at most `limit` requests to Alpaca in any sliding window (a minute
//! in production), so Raptor stays below Alpaca's own limit however many users ask at once.
//!
//! The broker actor owns the limiter and reserves a send time for each request. A request that
//! would have to wait longer than `max_wait` is refused at once with the time after which a
//! retry can succeed, so no caller hangs.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

pub(crate) struct OutboundLimiter {
    limit: usize,
    window: Duration,
    max_wait: Duration,
    /// Send times reserved within the last window, oldest first (some may lie in the future).
    reserved: VecDeque<Instant>,
}

impl OutboundLimiter {
    pub fn new(limit: u32, window: Duration, max_wait: Duration) -> Self {
        Self {
            limit: limit.max(1) as usize,
            window,
            max_wait,
            reserved: VecDeque::new(),
        }
    }

    /// Reserves the earliest send time that keeps every window within the limit; `Err` holds
    /// how long until a retry could be served without waiting too long.
    pub fn reserve(&mut self, now: Instant) -> Result<Instant, Duration> {
        while self
            .reserved
            .front()
            .is_some_and(|&t| t + self.window <= now)
        {
            self.reserved.pop_front();
        }
        let at = if self.reserved.len() < self.limit {
            now
        } else {
            self.reserved[self.reserved.len() - self.limit] + self.window
        };
        let wait = at.saturating_duration_since(now);
        if wait > self.max_wait {
            return Err(wait - self.max_wait);
        }
        self.reserved.push_back(at);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_limit_goes_at_once() {
        let now = Instant::now();
        let mut limiter = OutboundLimiter::new(3, Duration::from_secs(60), Duration::ZERO);
        for _ in 0..3 {
            assert_eq!(limiter.reserve(now), Ok(now));
        }
        let retry = limiter.reserve(now).unwrap_err();
        assert_eq!(retry, Duration::from_secs(60));
    }

    #[test]
    fn excess_callers_wait_their_turn_within_the_bound() {
        let now = Instant::now();
        let window = Duration::from_millis(200);
        let mut limiter = OutboundLimiter::new(2, window, Duration::from_secs(1));
        assert_eq!(limiter.reserve(now), Ok(now));
        assert_eq!(limiter.reserve(now), Ok(now));
        // The third and fourth go one window later, the fifth and sixth two windows later.
        assert_eq!(limiter.reserve(now), Ok(now + window));
        assert_eq!(limiter.reserve(now), Ok(now + window));
        assert_eq!(limiter.reserve(now), Ok(now + window * 2));
    }

    #[test]
    fn the_window_slides() {
        let start = Instant::now();
        let window = Duration::from_secs(60);
        let mut limiter = OutboundLimiter::new(2, window, Duration::ZERO);
        limiter.reserve(start).unwrap();
        limiter.reserve(start + Duration::from_secs(30)).unwrap();
        assert!(limiter.reserve(start + Duration::from_secs(59)).is_err());
        let later = start + Duration::from_secs(60);
        assert_eq!(limiter.reserve(later), Ok(later));
        assert!(limiter.reserve(later).is_err());
    }
}
