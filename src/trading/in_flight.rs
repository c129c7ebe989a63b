//! The per-user limit on order submissions in flight in this process: at most
//! [`MAX_IN_FLIGHT`] at once, so one user's burst cannot take every pooled connection or every
//! outbound request. A submission over the limit is refused at once (the HTTP layer answers
//! 429 with `Retry-After`); nothing was recorded or sent.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use uuid::Uuid;

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
