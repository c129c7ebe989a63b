//! Portfolio history: each book's equity after every US close (a daily snapshot the worker
//! takes, [`super::snapshots::snapshot_all`]), and `GET /api/trading/portfolio/history` in Alpaca's shape, with
//! today's point live.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use uuid::Uuid;

/// How far back a history reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    /// `1W`, `1M`, `3M` or `1A` (Alpaca's names).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "1W" => Some(Self::Week),
            "1M" => Some(Self::Month),
            "3M" => Some(Self::Quarter),
            "1A" => Some(Self::Year),
            _ => None,
        }
    }

    fn days(self) -> i64 {
        match self {
            Self::Week => 7,
            Self::Month => 31,
            Self::Quarter => 92,
            Self::Year => 366,
        }
    }
}

/// Alpaca's portfolio history, as figures.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub timestamp: Vec<i64>,
    pub equity: Vec<Decimal>,
    pub profit_loss: Vec<Decimal>,
    pub profit_loss_pct: Vec<Decimal>,
    pub base_value: Decimal,
}

/// The equity of `user_id`'s book at the newest close snapshot taken, if any.
pub async fn last_close_equity(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<Decimal>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT equity FROM book_snapshots WHERE user_id = $1 ORDER BY day DESC LIMIT 1",
            &[&user_id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// `user_id`'s daily equity over `period` up to `now`, the last point live (`live_equity`).
/// `base_value` is the equity before the first point (the book's initial cash when the
/// history starts with the book).
pub async fn history(
    client: &impl GenericClient,
    user_id: Uuid,
    period: Period,
    live_equity: Decimal,
    initial_cash: Decimal,
    now: DateTime<Utc>,
) -> Result<History, tokio_postgres::Error> {
    let since = (now - Duration::days(period.days())).date_naive();
    let rows = client
        .query(
            "SELECT day, equity FROM book_snapshots WHERE user_id = $1 AND day >= $2 \
             AND day < $3 ORDER BY day",
            &[&user_id, &since, &now.date_naive()],
        )
        .await?;
    let before = client
        .query_opt(
            "SELECT equity FROM book_snapshots WHERE user_id = $1 AND day < $2 \
             ORDER BY day DESC LIMIT 1",
            &[&user_id, &since],
        )
        .await?;
    let base_value = before.map_or(initial_cash, |r| r.get(0));
    let mut points: Vec<(i64, Decimal)> = rows
        .into_iter()
        .map(|r| (close_of(r.get::<_, NaiveDate>(0)), r.get(1)))
        .collect();
    points.push((now.timestamp(), live_equity));
    Ok(from_points(points, base_value))
}

fn from_points(points: Vec<(i64, Decimal)>, base_value: Decimal) -> History {
    let profit_loss: Vec<Decimal> = points.iter().map(|(_, e)| *e - base_value).collect();
    let profit_loss_pct = profit_loss
        .iter()
        .map(|pl| {
            if base_value.is_zero() {
                Decimal::ZERO
            } else {
                (*pl / base_value).round_dp(6)
            }
        })
        .collect();
    History {
        timestamp: points.iter().map(|(t, _)| *t).collect(),
        equity: points.iter().map(|(_, e)| *e).collect(),
        profit_loss,
        profit_loss_pct,
        base_value,
    }
}

/// The Unix time a snapshot day stands for: 16:00 New York, taken as 21:00 UTC.
fn close_of(day: NaiveDate) -> i64 {
    day.and_hms_opt(21, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profit_and_loss_are_measured_from_the_base() {
        let h = from_points(
            vec![(1, Decimal::from(110)), (2, Decimal::from(95))],
            Decimal::from(100),
        );
        assert_eq!(h.profit_loss, vec![Decimal::from(10), Decimal::from(-5)]);
        assert_eq!(
            h.profit_loss_pct,
            vec!["0.1".parse().unwrap(), "-0.05".parse().unwrap()]
        );
    }

    #[test]
    fn periods_are_alpacas_names() {
        assert_eq!(Period::parse("1A"), Some(Period::Year));
        assert_eq!(Period::parse("1D"), None);
    }
}
