//! Paper-only: which Alpaca base URLs a deployment may use.
//!
//! Production and staging accept only Alpaca's paper trading host; development and test also
//! accept a loopback stand-in. Alpaca's live trading host is refused everywhere.

use std::net::IpAddr;

use url::{Host, Url};

pub const PAPER_HOST: &str = "paper-api.alpaca.markets";
pub const LIVE_HOST: &str = "api.alpaca.markets";
pub const DATA_HOST: &str = "data.alpaca.markets";

/// Checks the trading base URL; the error says what is wrong.
pub fn check_paper(raw: &str, deployed: bool) -> Result<(), String> {
    check(raw, PAPER_HOST, deployed)
}

/// Checks the market data base URL.
pub fn check_data(raw: &str, deployed: bool) -> Result<(), String> {
    check(raw, DATA_HOST, deployed)
}

/// `ALPACA_AUTH_MODE=simulated` selects the simulated broker, which production and staging
/// refuse. Any value but `trading` (or `simulated` on a laptop) engages the kill switch.
pub fn check_auth_mode(mode: Option<&str>, deployed: bool) -> Result<(), String> {
    match mode {
        Some(SIMULATED_MODE) if deployed => {
            Err("is \"simulated\", which only development and test allow".into())
        }
        _ => Ok(()),
    }
}

/// The `ALPACA_AUTH_MODE` that trades through Alpaca's paper API.
pub const TRADING_MODE: &str = "trading";
/// The `ALPACA_AUTH_MODE` that selects the simulated broker (development and test only).
pub const SIMULATED_MODE: &str = "simulated";

fn check(raw: &str, allowed_host: &str, deployed: bool) -> Result<(), String> {
    let url = Url::parse(raw).map_err(|_| format!("is not a URL (got {raw:?})"))?;
    let host = url.host().ok_or_else(|| "has no host".to_owned())?;
    if let Host::Domain(name) = &host {
        if name.eq_ignore_ascii_case(LIVE_HOST) {
            return Err("points at Alpaca's live trading host; Raptor trades on paper only".into());
        }
        if name.eq_ignore_ascii_case(allowed_host) {
            return if url.scheme() == "https" {
                Ok(())
            } else {
                Err("must use https".into())
            };
        }
    }
    if !deployed && is_loopback(&host) {
        return Ok(());
    }
    Err(format!(
        "must be https://{allowed_host}{}",
        if deployed {
            ""
        } else {
            " or a loopback stand-in"
        }
    ))
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_host_is_refused_in_every_environment() {
        for deployed in [true, false] {
            assert!(check_paper("https://api.alpaca.markets", deployed).is_err());
            assert!(check_paper("https://API.alpaca.markets/v2", deployed).is_err());
        }
    }

    #[test]
    fn loopback_stand_in_only_outside_deployments() {
        assert!(check_paper("http://127.0.0.1:9999", false).is_ok());
        assert!(check_paper("http://localhost:9999", false).is_ok());
        assert!(check_paper("http://127.0.0.1:9999", true).is_err());
        assert!(check_paper("https://paper-api.alpaca.markets", true).is_ok());
        assert!(check_paper("http://paper-api.alpaca.markets", true).is_err());
        assert!(check_paper("https://paper-api.alpaca.markets.evil.example", true).is_err());
    }
}
