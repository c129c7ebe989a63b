//! Paper trading's side of the main crate: the broker's configuration from [`Settings`], and
//! the local order ledger ([`ledger`]) that records which user placed which order through the
//! shared operator account.
//!
//! The domain types (orders, symbols, the kill switch) belong to the broker actor and live in
//! `raptor_actors::broker`; the routes are in `crate::http::trading`.

pub mod ledger;

use raptor_actors::broker::{BrokerConfig, BrokerKind};

use crate::settings::alpaca_url::{SIMULATED_MODE, TRADING_MODE};
use crate::settings::{AppEnv, Settings};

/// The broker's configuration. The simulated broker is chosen by `ALPACA_AUTH_MODE=simulated`
/// (development and test), or by `raptor dev` when neither a mode nor credentials are set; it
/// is never chosen in production or staging (settings refuse it, and the broker re-checks).
pub fn broker_config(settings: &Settings) -> BrokerConfig {
    let alpaca = &settings.alpaca;
    let mode = alpaca
        .auth_mode
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    let has_credentials = alpaca.api_key.is_some() && alpaca.api_secret.is_some();
    let laptop_default =
        settings.app_env == AppEnv::Development && mode.is_empty() && !has_credentials;
    let kind = if !settings.app_env.is_deployed() && (mode == SIMULATED_MODE || laptop_default) {
        BrokerKind::Simulated
    } else {
        BrokerKind::AlpacaPaper
    };
    BrokerConfig {
        kind,
        trading_enabled: mode == TRADING_MODE,
        base_url: alpaca.paper_base_url.clone(),
        api_key: alpaca.api_key.clone(),
        api_secret: alpaca.api_secret.clone(),
        request_timeout: alpaca.request_timeout,
        rate_limit_per_minute: alpaca.rate_limit_per_minute,
        deployed: settings.app_env.is_deployed(),
    }
}
