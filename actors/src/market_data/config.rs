//! What the market-data actor is configured with.

use std::time::Duration;

use secrecy::SecretString;

/// Where market data comes from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// Alpaca's Market Data API (or a loopback stand-in outside deployments).
    Alpaca {
        /// `ALPACA_DATA_BASE_URL`, already checked.
        base_url: String,
        /// `ALPACA_PAPER_API_KEY`.
        api_key: SecretString,
        /// `ALPACA_PAPER_API_SECRET`.
        api_secret: SecretString,
        /// `iex` (free plan) or `sip`.
        feed: String,
    },
    /// Deterministic made-up data for `raptor dev` without credentials; never deployed.
    Synthetic,
    /// No credentials: every data request answers "unavailable".
    Unconfigured,
}

impl DataSource {
    /// The name diagnostics show.
    pub fn as_str(&self) -> &'static str {
        match self {
            DataSource::Alpaca { .. } => "alpaca",
            DataSource::Synthetic => "synthetic",
            DataSource::Unconfigured => "unconfigured",
        }
    }
}

/// The market-data actor's configuration.
#[derive(Debug, Clone)]
pub struct MarketDataConfig {
    /// Alpaca, synthetic data, or none.
    pub source: DataSource,
    /// Bound on one request to Alpaca, connection included.
    pub request_timeout: Duration,
    /// How long a latest quote, trade, bar or snapshot is served from memory.
    pub latest_ttl: Duration,
    /// Entries kept in memory at most (beyond it, expired ones go, then everything).
    pub max_cached: usize,
}
