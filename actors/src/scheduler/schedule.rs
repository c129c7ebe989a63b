//! Cron schedules of the scheduled jobs, parsed once from configuration.
//!
//! Patterns have six fields, seconds first (`"0 */10 * * * *"` is every ten minutes), exactly as
//! tokio-cron-scheduler reads them, so a pattern that passes [`Schedule::parse`] at startup is
//! one the scheduler accepts. A schedule also names the tick a firing belongs to: every worker
//! that fires for the same scheduled instant computes the same tick, which is what lets the
//! database record each tick once.

use chrono::{DateTime, SubsecRound, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// A cron pattern that the scheduler accepts.
#[derive(Debug, Clone)]
pub struct Schedule {
    pattern: String,
    cron: Cron,
}

/// The pattern is not a six-field cron expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?} is not a cron pattern with six fields (seconds first)")]
pub struct InvalidSchedule {
    /// The pattern as given.
    pub pattern: String,
}

impl Schedule {
    /// Parses a six-field pattern that can fire.
    pub fn parse(pattern: &str) -> Result<Self, InvalidSchedule> {
        let pattern = pattern.trim();
        let invalid = || InvalidSchedule {
            pattern: pattern.to_owned(),
        };
        if pattern.split_whitespace().count() != 6 {
            return Err(invalid());
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(pattern)
            .map_err(|_| invalid())?;
        // A pattern that can never fire (30 February) is as useless as a malformed one.
        cron.find_next_occurrence(&Utc::now(), false)
            .map_err(|_| invalid())?;
        Ok(Self {
            pattern: pattern.to_owned(),
            cron,
        })
    }

    /// The pattern, as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The scheduled instant a firing at `at` belongs to: the latest occurrence at or before
    /// `at` (whole seconds). Falls back to `at` itself when the pattern has no earlier one.
    pub fn tick_at(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let at = at.trunc_subsecs(0);
        self.cron.find_previous_occurrence(&at, true).unwrap_or(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn six_field_patterns_parse_and_name_their_tick() {
        let every_ten_minutes = Schedule::parse("0 */10 * * * *").unwrap();
        let at = Utc.with_ymd_and_hms(2030, 1, 2, 3, 27, 41).unwrap();
        assert_eq!(
            every_ten_minutes.tick_at(at),
            Utc.with_ymd_and_hms(2030, 1, 2, 3, 20, 0).unwrap()
        );
        let on_the_dot = Utc.with_ymd_and_hms(2030, 1, 2, 3, 30, 0).unwrap();
        assert_eq!(every_ten_minutes.tick_at(on_the_dot), on_the_dot);
        for bad in [
            "",
            "*/10 * * * *",
            "0 */10 * * * * *",
            "not a cron",
            "0 0 0 30 2 *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} is refused");
        }
    }
}
