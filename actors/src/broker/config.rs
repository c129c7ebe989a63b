//! What the broker is configured with, and what that configuration says about the kill switch.
//!
//! Configuration engages the switch when `ALPACA_AUTH_MODE` is not `trading` or when the
//! credentials are missing. The simulated broker needs neither, and exists only outside
//! production and staging: a configuration that asks for it there is refused here as well as at
//! startup, so no code path can select it on a deployed dyno.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;

/// The one place an Alpaca stand-in is never allowed to be: Alpaca's live trading host.
pub const LIVE_HOST: &str = "api.alpaca.markets";

/// Which broker answers trading requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// Alpaca's paper trading API (or a loopback stand-in outside deployments).
    AlpacaPaper,
    /// An in-process simulation for `raptor dev` without credentials.
    Simulated,
}

impl BrokerKind {
    /// The name clients see in `GET /api/trading/mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerKind::AlpacaPaper => "alpaca_paper",
            BrokerKind::Simulated => "simulated",
        }
    }
}

/// The broker's configuration, re-read on SIGHUP.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Alpaca or the simulator.
    pub kind: BrokerKind,
    /// `ALPACA_AUTH_MODE` is `trading`.
    pub trading_enabled: bool,
    /// `ALPACA_PAPER_BASE_URL`, already checked to be a paper host (or loopback outside
    /// deployments).
    pub base_url: String,
    /// `ALPACA_PAPER_API_KEY`.
    pub api_key: Option<SecretString>,
    /// `ALPACA_PAPER_API_SECRET`.
    pub api_secret: Option<SecretString>,
    /// Bound on one request to Alpaca, connection included.
    pub request_timeout: Duration,
    /// Outbound requests allowed per minute.
    pub rate_limit_per_minute: u32,
    /// Production or staging: the simulated broker is refused.
    pub deployed: bool,
}

/// The latest configuration, shared with the supervisor so a restarted broker starts with what
/// the last SIGHUP loaded rather than what the process started with.
pub type SharedBrokerConfig = Arc<Mutex<BrokerConfig>>;

/// Why configuration keeps trading off; clients see this text in `GET /api/trading/mode`.
pub const NOT_TRADING_MODE: &str = "ALPACA_AUTH_MODE is not set to trading";
/// Why trading is off without Alpaca credentials.
pub const NO_CREDENTIALS: &str = "credentials not configured";
/// Why trading is off when a deployment is configured with the simulator.
pub const SIMULATED_REFUSED: &str = "the simulated broker is refused in production and staging";

impl BrokerConfig {
    /// `Some(reason)` when this configuration engages the kill switch.
    pub fn engaged_by(&self) -> Option<&'static str> {
        match self.kind {
            BrokerKind::Simulated if self.deployed => Some(SIMULATED_REFUSED),
            BrokerKind::Simulated => None,
            BrokerKind::AlpacaPaper if !self.trading_enabled => Some(NOT_TRADING_MODE),
            BrokerKind::AlpacaPaper if self.api_key.is_none() || self.api_secret.is_none() => {
                Some(NO_CREDENTIALS)
            }
            BrokerKind::AlpacaPaper => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: BrokerKind) -> BrokerConfig {
        BrokerConfig {
            kind,
            trading_enabled: true,
            base_url: "https://paper-api.alpaca.markets".into(),
            api_key: Some("key".into()),
            api_secret: Some("secret".into()),
            request_timeout: Duration::from_secs(10),
            rate_limit_per_minute: 180,
            deployed: true,
        }
    }

    #[test]
    fn configuration_engages_the_switch_for_each_reason() {
        assert_eq!(config(BrokerKind::AlpacaPaper).engaged_by(), None);
        let mut off = config(BrokerKind::AlpacaPaper);
        off.trading_enabled = false;
        assert_eq!(off.engaged_by(), Some(NOT_TRADING_MODE));
        let mut keyless = config(BrokerKind::AlpacaPaper);
        keyless.api_secret = None;
        assert_eq!(keyless.engaged_by(), Some(NO_CREDENTIALS));
    }

    #[test]
    fn the_simulator_is_never_selected_on_a_deployed_dyno() {
        assert_eq!(
            config(BrokerKind::Simulated).engaged_by(),
            Some(SIMULATED_REFUSED)
        );
        let mut laptop = config(BrokerKind::Simulated);
        laptop.deployed = false;
        assert_eq!(laptop.engaged_by(), None);
    }
}
