//! Restart backoff and the restart cap.

use std::time::{Duration, Instant};

/// How a failed child is restarted.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    /// Wait before the first restart; doubles with each further restart in the window.
    pub initial_backoff: Duration,
    /// The longest wait between restarts.
    pub max_backoff: Duration,
    /// Restarts allowed within `window` before the supervisor gives up.
    pub max_restarts: u32,
    /// The window `max_restarts` is counted in.
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_restarts: 5,
            window: Duration::from_secs(60),
        }
    }
}

/// Recent restarts of one child.
#[derive(Debug, Default)]
pub(super) struct RestartHistory {
    recent: Vec<Instant>,
}

impl RestartHistory {
    /// The wait before the next restart, or `None` once the cap is exceeded.
    pub(super) fn next_backoff(&mut self, policy: &RestartPolicy) -> Option<Duration> {
        let now = Instant::now();
        self.recent
            .retain(|t| now.duration_since(*t) < policy.window);
        if self.recent.len() as u32 >= policy.max_restarts {
            return None;
        }
        let exponent = self.recent.len().min(16) as u32;
        self.recent.push(now);
        Some(
            policy
                .initial_backoff
                .saturating_mul(1 << exponent)
                .min(policy.max_backoff),
        )
    }
}

impl RestartHistory {
    /// The wait before the next restart of a child that failed while running: the same
    /// doubling backoff, never refused.
    pub(super) fn next_backoff_uncapped(&mut self, policy: &RestartPolicy) -> Duration {
        let now = Instant::now();
        self.recent
            .retain(|t| now.duration_since(*t) < policy.window);
        let exponent = self.recent.len().min(16) as u32;
        self.recent.push(now);
        policy
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(policy.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_the_cap_stops_restarts() {
        let policy = RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(250),
            max_restarts: 3,
            window: Duration::from_secs(60),
        };
        let mut history = RestartHistory::default();
        assert_eq!(
            history.next_backoff(&policy),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            history.next_backoff(&policy),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            history.next_backoff(&policy),
            Some(Duration::from_millis(250))
        );
        assert_eq!(history.next_backoff(&policy), None);
    }

    #[test]
    fn failures_while_running_are_always_restarted_with_a_bounded_backoff() {
        let policy = RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            max_restarts: 2,
            window: Duration::from_secs(60),
        };
        let mut history = RestartHistory::default();
        let waits: Vec<_> = (0..6)
            .map(|_| history.next_backoff_uncapped(&policy))
            .collect();
        assert_eq!(waits[0], Duration::from_millis(100));
        assert_eq!(waits[1], Duration::from_millis(200));
        assert!(waits[2..].iter().all(|w| *w == Duration::from_millis(400)));
    }
}
