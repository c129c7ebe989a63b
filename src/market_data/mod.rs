//! Market data (SPEC §3): latest quotes, trades, bars and snapshots, historical bars, and the
//! legacy side-by-side quote. One operator-owned Alpaca data account serves every user, so
//! caching and coalescing are what keep the product inside Alpaca's quota.
//!
//! Use cases: [`latest`] and [`compare_quotes`] (from the market-data actor's in-memory cache,
//! misses coalesced there) and [`bars::historical_bars`] (from the Postgres bar cache, only the
//! missing part of a range fetched). The actor (`raptor_actors::market_data`) owns the Alpaca
//! client; this module owns the rules: what a valid request is, which bars are final, and how a
//! range is paged.

pub mod bars;
mod repo;
pub mod request;
mod timeframe;

use std::sync::Arc;

use raptor_actors::market_data::{
    LatestKind, MarketDataCallError, MarketDataClient, MarketDataError,
};
use raptor_actors::ActorUnavailable;

pub use request::{BarsQuery, Symbols};
pub use timeframe::Timeframe;

use crate::db::StorageError;
use crate::input::InvalidInput;

/// Why market data could not be served, in data words.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The range spans more bars than one request may.
    #[error("the range spans more than {cap} bars")]
    RangeTooLarge { cap: u32 },
    #[error(transparent)]
    Provider(#[from] MarketDataError),
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
crate::db::storage_errors!(DataError);

impl From<MarketDataCallError> for DataError {
    fn from(error: MarketDataCallError) -> Self {
        match error {
            MarketDataCallError::Unavailable(e) => DataError::Unavailable(e),
            MarketDataCallError::Data(e) => DataError::Provider(e),
        }
    }
}

/// The latest object of each symbol Alpaca knows, in the order asked (unknown ones absent).
pub async fn latest(
    client: &MarketDataClient,
    kind: LatestKind,
    symbols: &Symbols,
) -> Result<Vec<(String, Arc<str>)>, DataError> {
    let found = client.latest(kind, symbols.as_slice()).await?;
    Ok(found
        .into_iter()
        .filter_map(|(symbol, object)| object.map(|o| (symbol, o)))
        .collect())
}

/// The latest quote and trade of one symbol, side by side (legacy `compare-quotes`).
pub struct Comparison {
    pub symbol: String,
    pub quote: Option<Arc<str>>,
    pub trade: Option<Arc<str>>,
}

pub async fn compare_quotes(
    client: &MarketDataClient,
    symbol: &Symbols,
) -> Result<Comparison, DataError> {
    let (quote, trade) = tokio::try_join!(
        client.latest(LatestKind::Quotes, symbol.as_slice()),
        client.latest(LatestKind::Trades, symbol.as_slice()),
    )?;
    let first = |found: Vec<(String, Option<Arc<str>>)>| found.into_iter().next().and_then(|f| f.1);
    Ok(Comparison {
        symbol: symbol.as_slice().first().cloned().unwrap_or_default(),
        quote: first(quote),
        trade: first(trade),
    })
}
