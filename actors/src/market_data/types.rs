//! The market-data actor's protocol: what can be asked, what comes back, and what can go wrong.

use chrono::{DateTime, Utc};

/// Which "latest" endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatestKind {
    /// Latest quotes.
    Quotes,
    /// Latest trades.
    Trades,
    /// Latest minute bars.
    Bars,
    /// Snapshots (quote, trade and bars together).
    Snapshots,
}

impl LatestKind {
    /// How many kinds there are.
    pub const COUNT: usize = 4;

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Alpaca's path for it.
    pub(crate) fn path(self) -> &'static str {
        match self {
            LatestKind::Quotes => "/v2/stocks/quotes/latest",
            LatestKind::Trades => "/v2/stocks/trades/latest",
            LatestKind::Bars => "/v2/stocks/bars/latest",
            LatestKind::Snapshots => "/v2/stocks/snapshots",
        }
    }

    /// The key Alpaca nests the per-symbol objects under (`None`: the body is the map).
    pub fn envelope(self) -> Option<&'static str> {
        match self {
            LatestKind::Quotes => Some("quotes"),
            LatestKind::Trades => Some("trades"),
            LatestKind::Bars => Some("bars"),
            LatestKind::Snapshots => None,
        }
    }
}

/// A range of bars of one symbol, as Alpaca is asked for it. Equal requests share one flight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BarsRequest {
    /// The symbol, upper case.
    pub symbol: String,
    /// Alpaca's spelling, e.g. `1Day`, `15Min`.
    pub timeframe: String,
    /// `raw`, `split`, `dividend` or `all`.
    pub adjustment: String,
    /// The first instant wanted.
    pub start: DateTime<Utc>,
    /// Inclusive, as at Alpaca.
    pub end: DateTime<Utc>,
    /// The most bars wanted; paging stops once this many arrived.
    pub max_bars: usize,
}

/// One bar: its fields for computation and its object exactly as Alpaca sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The bar's start.
    pub t: DateTime<Utc>,
    /// Open.
    pub o: f64,
    /// High.
    pub h: f64,
    /// Low.
    pub l: f64,
    /// Close.
    pub c: f64,
    /// Volume.
    pub v: f64,
    /// Number of trades, when Alpaca sends it.
    pub n: Option<i64>,
    /// Volume-weighted average price, when Alpaca sends it.
    pub vw: Option<f64>,
    /// `{"t":…,"o":…,…}` as received, for passing through unchanged.
    pub raw: String,
}

/// Why market data could not be had, in data words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketDataError {
    /// No credentials (and no synthetic source): nothing can be asked.
    #[error("market data is not configured")]
    Unavailable,
    /// Alpaca refused the request (403, 422, 400): its message, shortened.
    #[error("the data provider refused the request: {0}")]
    Rejected(String),
    /// Our outbound budget or Alpaca's own limit; nothing was done.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// No answer in time.
    #[error("the data provider did not answer in time")]
    Timeout,
    /// No connection could be made.
    #[error("the data provider cannot be reached")]
    Unreachable,
    /// A 5xx, a 401, a body that is not what Alpaca documents.
    #[error("the data provider answered unexpectedly")]
    BadGateway,
}
