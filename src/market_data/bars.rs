//! `historical_bars`: a page of a symbol's bars, served from the Postgres bar cache, with only
//! the part of the range no dyno has fetched yet asked of Alpaca.
//!
//! 1. The range (after the page token, if any) is checked against the bar cap.
//! 2. The parts of it not yet covered are fetched through the market-data actor (coalesced
//!    with identical fetches, all of Alpaca's pages followed), one short transaction each
//!    stores the bars whose period has closed and records the range as covered up to there.
//!    A bar still forming is served but never stored as final.
//! 3. The page is read from Postgres, merged with any bar still forming.

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use raptor_actors::market_data::{BarsRequest, MarketDataClient};

use super::repo::{self, SeriesKey};
use super::request::{page_token, BarsQuery};
use super::DataError;

/// Uncovered parts fetched separately at most; beyond, one fetch spans them all.
const MAX_GAPS: usize = 8;

/// What a historical-bars request needs.
pub struct BarsDeps<'a> {
    pub pool: &'a Pool,
    pub market_data: &'a MarketDataClient,
    /// The cache key of the source (`iex`, `sip`, `synthetic`).
    pub feed: &'a str,
    /// The most bars one range may span.
    pub max_bars: u32,
    pub now: DateTime<Utc>,
}

/// One page of bars, oldest first, each Alpaca's object as received.
#[derive(Debug)]
pub struct BarsPage {
    pub symbol: String,
    pub timeframe: String,
    pub bars: Vec<String>,
    pub next_page_token: Option<String>,
}

pub async fn historical_bars(deps: BarsDeps<'_>, query: BarsQuery) -> Result<BarsPage, DataError> {
    let from = match query.after {
        Some(after) => (after + Duration::microseconds(1)).max(query.start),
        None => query.start,
    };
    let to = query.end;
    if query.timeframe.periods_in(query.start, query.end) > i64::from(deps.max_bars) {
        return Err(DataError::RangeTooLarge { cap: deps.max_bars });
    }
    let key = SeriesKey {
        symbol: query.symbol.clone(),
        timeframe: query.timeframe.as_alpaca(),
        adjustment: query.adjustment.to_owned(),
        feed: deps.feed.to_owned(),
    };
    // A bar that started at or before this has closed: it is final.
    let final_until = deps.now - query.timeframe.span();

    let mut forming: Vec<(DateTime<Utc>, String)> = Vec::new();
    if from <= to {
        let mut gaps = {
            let client = deps.pool.get().await?;
            repo::touch(&client, &key, from, to, deps.now).await?;
            repo::missing(&client, &key, from, to).await?
        };
        if gaps.len() > MAX_GAPS {
            gaps = vec![(gaps[0].0, gaps[gaps.len() - 1].1)];
        }
        for (gap_from, gap_to) in gaps {
            let request = BarsRequest {
                symbol: key.symbol.clone(),
                timeframe: key.timeframe.clone(),
                adjustment: key.adjustment.clone(),
                start: gap_from,
                end: gap_to,
                max_bars: deps.max_bars as usize,
            };
            let bars = deps.market_data.bars(request).await?;
            let (closed, open): (Vec<_>, Vec<_>) = bars.iter().partition(|b| b.t <= final_until);
            forming.extend(open.iter().map(|b| (b.t, b.raw.clone())));
            // Complete up to the last final moment, unless the fetch stopped at the cap.
            let complete_to = if bars.len() >= deps.max_bars as usize {
                closed.last().map(|b| b.t)
            } else {
                Some(gap_to.min(final_until))
            };
            let covered = complete_to
                .filter(|&t| t >= gap_from)
                .map(|t| (gap_from, t));
            let mut client = deps.pool.get().await?;
            repo::store(&mut client, &key, &closed, covered, deps.now).await?;
        }
    }

    let want = i64::from(query.limit) + 1;
    let mut rows = {
        let client = deps.pool.get().await?;
        repo::page(&client, &key, from, to, want).await?
    };
    for bar in forming {
        if !rows.iter().any(|(t, _)| *t == bar.0) {
            rows.push(bar);
        }
    }
    rows.sort_by_key(|(t, _)| *t);
    let next_page_token = (rows.len() > query.limit as usize).then(|| {
        rows.truncate(query.limit as usize);
        page_token(rows[rows.len() - 1].0)
    });
    Ok(BarsPage {
        symbol: key.symbol,
        timeframe: key.timeframe,
        bars: rows.into_iter().map(|(_, raw)| raw).collect(),
        next_page_token,
    })
}
