//! The retention rules (SPEC §5): for each job, which table it deletes from, what is due, and
//! how long a row is kept. The SQL of every rule lives here, so a run (`super::run`), the report
//! (`super::report`, behind `raptor retention report`) and the tests all use one definition.

use chrono::{DateTime, Months, Utc};

use super::Job;
use crate::auth::letters::GIVE_UP_DAYS;
use crate::auth::register::PENDING_REGISTRATION_DAYS;

/// Days an erased account stays soft-deleted before the purge removes it.
pub const QUARANTINE_DAYS: u32 = 30;
/// Years an audit row is kept.
pub const AUDIT_YEARS: u32 = 7;

/// How long a row outlives the moment its rule measures from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Gone as soon as it is past (expired, used, revoked).
    Nothing,
    Days(u32),
    /// Calendar years, in UTC.
    Years(u32),
}

impl Keep {
    /// Rows whose measured time is before (or, for [`Keep::Nothing`], at) this instant are due.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Keep::Nothing => now,
            Keep::Days(days) => now - chrono::Duration::days(i64::from(days)),
            Keep::Years(years) => now
                .checked_sub_months(Months::new(12 * years))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

/// What one rule removes.
#[derive(Debug)]
pub struct Rule {
    /// The table it deletes from.
    pub table: &'static str,
    /// In words, for the report.
    pub what: &'static str,
    pub keep: Keep,
    /// The column whose oldest value `raptor retention report` shows.
    pub age_column: &'static str,
    /// Column that names a row for the batched delete.
    pub(super) key: &'static str,
    /// Rows past the limit, with `$1` the cutoff of [`Rule::keep`].
    pub(super) due: &'static str,
}

/// The rules `job` applies, in order.
pub fn rules(job: Job) -> &'static [Rule] {
    match job {
        Job::SessionPurge => &SESSION_RULES,
        Job::TokenPurge => &TOKEN_RULES,
        Job::QuarantinePurge => &QUARANTINE_RULES,
        Job::AuditRetention => &AUDIT_RULES,
        Job::OutboxPurge => &OUTBOX_RULES,
    }
}

const SESSION_RULES: [Rule; 1] = [Rule {
    table: "sessions",
    what: "expired or revoked sessions",
    keep: Keep::Nothing,
    age_column: "created_at",
    key: "id",
    due: "revoked_at IS NOT NULL OR idle_expires_at <= $1 OR absolute_expires_at <= $1",
}];

const TOKEN_RULES: [Rule; 5] = [
    Rule {
        table: "ceremonies",
        what: "expired passkey ceremonies",
        keep: Keep::Nothing,
        age_column: "created_at",
        key: "id",
        due: "expires_at <= $1",
    },
    Rule {
        table: "email_verifications",
        what: "used or expired email verification tokens",
        keep: Keep::Nothing,
        age_column: "created_at",
        key: "id",
        due: "used_at IS NOT NULL OR expires_at <= $1",
    },
    Rule {
        table: "recovery_tokens",
        what: "used or expired passkey recovery tokens",
        keep: Keep::Nothing,
        age_column: "created_at",
        key: "id",
        due: "used_at IS NOT NULL OR expires_at <= $1",
    },
    Rule {
        table: "bootstrap_tokens",
        what: "used or expired bootstrap tokens",
        keep: Keep::Nothing,
        age_column: "created_at",
        key: "id",
        due: "used_at IS NOT NULL OR expires_at <= $1",
    },
    Rule {
        table: "shared_rate_limits",
        what: "cross-dyno rate-limit counters of windows over a day old",
        keep: Keep::Days(1),
        age_column: "window_start",
        // The table's key is (name, client, window_start); a row's ctid names it for the delete.
        key: "ctid",
        due: "window_start <= $1",
    },
];

/// Years a purged account's paper orders and book are kept after their last change
/// (docs/gdpr.md).
pub const BOOK_YEARS: u32 = 6;

/// A paper-book table's rows of purged accounts (no user row any more; never the operator
/// book) whose last change (`$age`) is more than [`BOOK_YEARS`] old.
macro_rules! book_rule {
    ($table:literal, $age:literal) => {
        Rule {
            table: $table,
            what: "paper orders and books of purged accounts, 6 years after their last change",
            keep: Keep::Years(BOOK_YEARS),
            age_column: $age,
            key: "ctid",
            due: concat!(
                "NOT EXISTS (SELECT 1 FROM users u WHERE u.id = user_id) ",
                "AND user_id <> '00000000-0000-0000-0000-000000000000' AND ",
                $age,
                " < $1"
            ),
        }
    };
}

const QUARANTINE_RULES: [Rule; 8] = [
    Rule {
        table: "users",
        what: "users erased more than 30 days ago (cascades to their passkeys, sessions, tokens, emails)",
        keep: Keep::Days(QUARANTINE_DAYS),
        age_column: "created_at",
        key: "id",
        due: "deleted_at < $1",
    },
    Rule {
        table: "users",
        what: "accounts never verified, 7 days after their last registration (cascades to their \
               pending passkeys, links and emails; their ceremonies expired in 5 minutes)",
        keep: Keep::Days(PENDING_REGISTRATION_DAYS),
        age_column: "created_at",
        key: "id",
        due: "email_verified_at IS NULL AND deleted_at IS NULL AND created_at < $1 \
              AND NOT EXISTS (SELECT 1 FROM webauthn_credentials c \
              WHERE c.user_id = users.id AND c.created_at >= $1)",
    },
    book_rule!("orders", "updated_at"),
    book_rule!("fills", "recorded_at"),
    book_rule!("book_positions", "updated_at"),
    book_rule!("book_adjustments", "made_at"),
    book_rule!("book_snapshots", "taken_at"),
    book_rule!("books", "updated_at"),
];

/// Audit rows are not deleted by this rule's `due` alone: see `super::run::trim_audit`. The rule
/// still describes them for the report and fixes their cutoff.
pub(super) const AUDIT_RULES: [Rule; 1] = [Rule {
    table: "audit_log",
    what: "audit rows older than 7 years",
    keep: Keep::Years(AUDIT_YEARS),
    age_column: "occurred_at",
    key: "seq",
    due: "occurred_at < $1",
}];

/// Days a covered range of the historical-bar cache is kept after it was last read.
pub const BAR_CACHE_DAYS: u32 = 90;

const OUTBOX_RULES: [Rule; 5] = [
    Rule {
        table: "email_outbox",
        what: "emails sent more than 30 days ago",
        keep: Keep::Days(30),
        age_column: "created_at",
        key: "id",
        due: "sent_at < $1",
    },
    Rule {
        table: "email_outbox",
        what: "emails still unsent 3 days after they were queued (the mailer gave up on them)",
        keep: Keep::Days(GIVE_UP_DAYS),
        age_column: "created_at",
        key: "id",
        due: "sent_at IS NULL AND created_at < $1",
    },
    Rule {
        table: "job_runs",
        what: "records of job runs older than a year",
        keep: Keep::Years(1),
        age_column: "tick",
        key: "ctid",
        due: "tick < $1",
    },
    // The historical-bar cache (market data, backtests): a covered range nobody has read for
    // 90 days goes, then the bars fetched before then that no remaining range covers.
    Rule {
        table: "market_bar_coverage",
        what: "historical-bar ranges not read for 90 days",
        keep: Keep::Days(BAR_CACHE_DAYS),
        age_column: "coalesce(used_at, fetched_at)",
        key: "id",
        due: "coalesce(used_at, fetched_at) < $1",
    },
    Rule {
        table: "market_bars",
        what: "cached bars no kept range covers, fetched over 90 days ago",
        keep: Keep::Days(BAR_CACHE_DAYS),
        age_column: "fetched_at",
        key: "ctid",
        due: "fetched_at < $1 AND NOT EXISTS (SELECT 1 FROM market_bar_coverage c \
              WHERE c.symbol = market_bars.symbol AND c.timeframe = market_bars.timeframe \
              AND c.adjustment = market_bars.adjustment AND c.feed = market_bars.feed \
              AND market_bars.t BETWEEN c.covered_from AND c.covered_to)",
    },
];

/// When an account erased at `deleted_at` is purged for good.
pub fn purge_after(deleted_at: DateTime<Utc>) -> DateTime<Utc> {
    deleted_at + chrono::Duration::days(QUARANTINE_DAYS.into())
}
