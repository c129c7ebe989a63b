//! Where the trade-updates stream comes from, and its bounds.

use std::time::Duration;

use secrecy::SecretString;

/// The stream's source.
#[derive(Debug, Clone)]
pub enum StreamSource {
    /// Alpaca's paper `trade_updates` websocket.
    Alpaca {
        /// The websocket's address (`wss://paper-api.alpaca.markets/stream`).
        url: String,
        /// The API key id it authenticates with.
        key_id: SecretString,
        /// The API secret it authenticates with.
        secret_key: SecretString,
    },
    /// The simulated broker's events (`raptor dev`, tests).
    Simulated,
    /// No broker credentials: no events (clients still connect and get heartbeats).
    Off,
}

/// The stream actor's configuration.
#[derive(Debug, Clone)]
pub struct TradeStreamConfig {
    /// Where the events come from.
    pub source: StreamSource,
    /// Events kept per dyno for `Last-Event-ID` resume.
    pub replay: usize,
    /// Events a client may fall behind before it is dropped.
    pub lag: usize,
    /// First reconnect delay (doubled up to `max_backoff`, with jitter).
    pub backoff: Duration,
    /// The longest reconnect delay.
    pub max_backoff: Duration,
    /// How often the kill switch and the ledger's need of the stream are checked.
    pub tick: Duration,
    /// Streams one user may keep open in this process (`TRADING_STREAMS_PER_USER`); a new one
    /// beyond closes their oldest.
    pub per_user: usize,
}

impl TradeStreamConfig {
    /// The defaults for `source`.
    pub fn new(source: StreamSource) -> Self {
        Self {
            source,
            replay: 1_000,
            lag: 256,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            tick: Duration::from_secs(1),
            per_user: 5,
        }
    }
}

/// The paper stream's URL for the paper REST base URL `base`: `https://host` becomes
/// `wss://host/stream`; `http://` (to `ws://`) only for a loopback host when `allow_loopback`
/// (development and test).
pub fn stream_url(base: &str, allow_loopback: bool) -> Result<String, String> {
    let base = base.trim().trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        return Ok(format!("wss://{rest}/stream"));
    }
    if let Some(rest) = base.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "[") || rest.starts_with("[::1]");
        if allow_loopback && loopback {
            return Ok(format!("ws://{rest}/stream"));
        }
        return Err("plain http is allowed only to loopback in development and test".into());
    }
    Err(format!("{base:?} is not an http(s) URL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_url_follows_the_paper_host() {
        assert_eq!(
            stream_url("https://paper-api.alpaca.markets", false).unwrap(),
            "wss://paper-api.alpaca.markets/stream"
        );
        assert_eq!(
            stream_url("http://127.0.0.1:4000/", true).unwrap(),
            "ws://127.0.0.1:4000/stream"
        );
        assert!(stream_url("http://127.0.0.1:4000", false).is_err());
        assert!(stream_url("http://example.com", true).is_err());
        assert!(stream_url("ftp://x", true).is_err());
    }
}
