//! The bar cache's SQL (`market_bars`, `market_bar_coverage`): the only code that knows it.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use raptor_actors::market_data::Bar;

use crate::db::StorageResult;

/// Which series: one symbol at one timeframe, adjustment and feed.
#[derive(Debug, Clone)]
pub struct SeriesKey {
    pub symbol: String,
    pub timeframe: String,
    pub adjustment: String,
    pub feed: String,
}

/// The parts of `[from, to]` no coverage row holds, oldest first.
pub async fn missing(
    client: &impl GenericClient,
    key: &SeriesKey,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StorageResult<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    let rows = client
        .query(
            "SELECT covered_from, covered_to FROM market_bar_coverage \
             WHERE symbol = $1 AND timeframe = $2 AND adjustment = $3 AND feed = $4 \
             AND covered_from <= $6 AND covered_to >= $5 ORDER BY covered_from",
            &[
                &key.symbol,
                &key.timeframe,
                &key.adjustment,
                &key.feed,
                &from,
                &to,
            ],
        )
        .await?;
    let mut gaps = Vec::new();
    let mut cursor = from;
    for row in rows {
        let (covered_from, covered_to): (DateTime<Utc>, DateTime<Utc>) = (row.get(0), row.get(1));
        if covered_from > cursor {
            gaps.push((cursor, covered_from.min(to)));
        }
        if covered_to >= cursor {
            cursor = covered_to + chrono::Duration::microseconds(1);
        }
        if cursor > to {
            return Ok(gaps);
        }
    }
    gaps.push((cursor, to));
    Ok(gaps)
}

/// Marks the covered ranges overlapping `[from, to]` as read at `now` (at most once an hour
/// each), so the retention job keeps what is in use (`market_bar_coverage.used_at`).
pub async fn touch(
    client: &impl GenericClient,
    key: &SeriesKey,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StorageResult<()> {
    client
        .execute(
            "UPDATE market_bar_coverage SET used_at = $7 \
             WHERE symbol = $1 AND timeframe = $2 AND adjustment = $3 AND feed = $4 \
             AND covered_from <= $6 AND covered_to >= $5 \
             AND (used_at IS NULL OR used_at < $7::timestamptz - interval '1 hour')",
            &[
                &key.symbol,
                &key.timeframe,
                &key.adjustment,
                &key.feed,
                &from,
                &to,
                &now,
            ],
        )
        .await?;
    Ok(())
}

/// Stores final bars and records `[from, to]` as fetched, in one transaction.
pub async fn store(
    client: &mut deadpool_postgres::Client,
    key: &SeriesKey,
    bars: &[&Bar],
    covered: Option<(DateTime<Utc>, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> StorageResult<()> {
    let tx = client.transaction().await?;
    for chunk in bars.chunks(5_000) {
        let t: Vec<DateTime<Utc>> = chunk.iter().map(|b| b.t).collect();
        let col = |f: fn(&Bar) -> f64| chunk.iter().map(|b| f(b)).collect::<Vec<f64>>();
        let (o, h, l, c, v) = (
            col(|b| b.o),
            col(|b| b.h),
            col(|b| b.l),
            col(|b| b.c),
            col(|b| b.v),
        );
        let n: Vec<Option<i64>> = chunk.iter().map(|b| b.n).collect();
        let vw: Vec<Option<f64>> = chunk.iter().map(|b| b.vw).collect();
        let raw: Vec<&str> = chunk.iter().map(|b| b.raw.as_str()).collect();
        tx.execute(
            "INSERT INTO market_bars (symbol, timeframe, adjustment, feed, t, o, h, l, c, v, n, vw, raw, fetched_at) \
             SELECT $1, $2, $3, $4, u.* , $14 FROM UNNEST($5::timestamptz[], $6::float8[], $7::float8[], \
             $8::float8[], $9::float8[], $10::float8[], $11::int8[], $12::float8[], $13::text[]) AS u \
             ON CONFLICT DO NOTHING",
            &[&key.symbol, &key.timeframe, &key.adjustment, &key.feed, &t, &o, &h, &l, &c, &v, &n, &vw, &raw, &now],
        )
        .await?;
    }
    if let Some((from, to)) = covered {
        tx.execute(
            "INSERT INTO market_bar_coverage (symbol, timeframe, adjustment, feed, covered_from, covered_to, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&key.symbol, &key.timeframe, &key.adjustment, &key.feed, &from, &to, &now],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Up to `limit` cached bars in `[from, to]` after `after`, oldest first: `(t, raw)`.
pub async fn page(
    client: &impl GenericClient,
    key: &SeriesKey,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> StorageResult<Vec<(DateTime<Utc>, String)>> {
    let rows = client
        .query(
            "SELECT t, raw FROM market_bars \
             WHERE symbol = $1 AND timeframe = $2 AND adjustment = $3 AND feed = $4 \
             AND t >= $5 AND t <= $6 ORDER BY t LIMIT $7",
            &[
                &key.symbol,
                &key.timeframe,
                &key.adjustment,
                &key.feed,
                &from,
                &to,
                &limit,
            ],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}
