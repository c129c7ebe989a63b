//! The market clock and calendar (issue 26 item 6), from Alpaca's `/v2/clock` and
//! `/v2/calendar` through the broker (so every request counts against the one Alpaca budget).
//! The clock is kept [`CLOCK_FOR`] in this process; the calendar in Postgres, asked a month at a
//! time: a month is asked once, and again after [`MONTH_STALE`] while it is not over (Alpaca
//! may add an early close). Many users asking the same months cost one call.

use std::sync::Mutex;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use raptor_actors::broker::{BrokerError, CalendarDay, MarketClock};

use super::Trading;
use crate::db::StorageError;
use crate::input::{InvalidInput, Problems};

/// How long one answer of the clock is used.
pub const CLOCK_FOR: Duration = Duration::seconds(5);
/// How long a month not yet over is trusted.
pub const MONTH_STALE: Duration = Duration::days(7);
/// The longest span one calendar request may cover.
pub const MAX_DAYS: i64 = 366;

static CLOCK: Mutex<Option<(DateTime<Utc>, MarketClock)>> = Mutex::new(None);

/// Why the calendar could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
crate::db::storage_errors!(CalendarError);

/// The market clock: this process's answer of the last [`CLOCK_FOR`], else Alpaca's.
pub async fn clock(trading: &Trading<'_>) -> Result<MarketClock, BrokerError> {
    let now = trading.clock.now();
    let cached = CLOCK.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some((_, clock)) = cached.filter(|(at, _)| now - *at < CLOCK_FOR && *at <= now) {
        return Ok(clock);
    }
    let clock = trading.broker.market_clock().await?;
    *CLOCK.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, clock.clone()));
    Ok(clock)
}

/// `start` and `end` (`YYYY-MM-DD`): today and 30 days on by default; at most [`MAX_DAYS`].
pub fn parse_range(
    start: Option<&str>,
    end: Option<&str>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), InvalidInput> {
    let mut p = Problems::default();
    let date = |raw: Option<&str>| {
        raw.map(|r| NaiveDate::parse_from_str(r.trim(), "%Y-%m-%d"))
            .transpose()
            .map_err(|_| "must be a date, YYYY-MM-DD".to_owned())
    };
    let start = p.take("start", date(start)).flatten().unwrap_or(today);
    let end = p
        .take("end", date(end))
        .flatten()
        .unwrap_or(start + Duration::days(30));
    if end < start {
        p.add("end", "must not be before start");
    } else if (end - start).num_days() >= MAX_DAYS {
        p.add("end", format!("at most {MAX_DAYS} days after start"));
    }
    p.finish(|| Some((start, end)))
}

/// The trading days from `start` to `end`, asking Alpaca only for months not held.
pub async fn calendar(
    trading: &Trading<'_>,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<CalendarDay>, CalendarError> {
    let now = trading.clock.now();
    let (first, last) = (month_of(start), month_of(end));
    let missing = {
        let client = trading.pool.get().await?;
        let held: Vec<NaiveDate> = client
            .query(
                "SELECT month FROM market_calendar_months WHERE month BETWEEN $1 AND $2 \
                 AND (fetched_at > $3 OR month + interval '1 month' <= $4::date)",
                &[&first, &last, &(now - MONTH_STALE), &now.date_naive()],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        months(first, last)
            .filter(|m| !held.contains(m))
            .collect::<Vec<_>>()
    };
    if let (Some(from), Some(to)) = (missing.first(), missing.last()) {
        let to_end = month_of(*to + Duration::days(31)) - Duration::days(1);
        let days = trading.broker.calendar(*from, to_end).await?;
        let client = trading.pool.get().await?;
        store(&client, &days, &missing, now).await?;
    }
    let client = trading.pool.get().await?;
    let rows = client
        .query(
            "SELECT date, open, close, session_open, session_close, settlement_date \
             FROM market_calendar WHERE date BETWEEN $1 AND $2 ORDER BY date",
            &[&start, &end],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| CalendarDay {
            date: r.get(0),
            open: r.get(1),
            close: r.get(2),
            session_open: r.get(3),
            session_close: r.get(4),
            settlement_date: r.get(5),
        })
        .collect())
}

async fn store(
    client: &deadpool_postgres::Client,
    days: &[CalendarDay],
    months: &[NaiveDate],
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    for day in days {
        client
            .execute(
                "INSERT INTO market_calendar (date, open, close, session_open, session_close, \
                 settlement_date) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (date) DO UPDATE \
                 SET open = $2, close = $3, session_open = $4, session_close = $5, \
                 settlement_date = $6",
                &[
                    &day.date,
                    &day.open,
                    &day.close,
                    &day.session_open,
                    &day.session_close,
                    &day.settlement_date,
                ],
            )
            .await?;
    }
    client
        .execute(
            "INSERT INTO market_calendar_months (month, fetched_at) SELECT m, $2 FROM \
             unnest($1::date[]) AS m ON CONFLICT (month) DO UPDATE SET fetched_at = $2",
            &[&months, &now],
        )
        .await?;
    Ok(())
}

fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn months(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    std::iter::successors(Some(first), |m| {
        m.checked_add_months(chrono::Months::new(1))
    })
    .take_while(move |m| *m <= last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_range_is_checked_and_defaults_to_thirty_days() {
        let today = day("2026-12-07");
        assert_eq!(
            parse_range(None, None, today).unwrap(),
            (today, day("2027-01-06"))
        );
        assert!(parse_range(Some("2026-12-08"), Some("2026-12-01"), today).is_err());
        assert!(parse_range(Some("2026-01-01"), Some("2027-01-02"), today).is_err());
        assert!(parse_range(Some("12/08/2026"), None, today).is_err());
        let months: Vec<_> = months(day("2026-11-01"), day("2027-01-01")).collect();
        assert_eq!(months.len(), 3);
    }
}
