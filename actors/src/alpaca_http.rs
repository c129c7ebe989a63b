//! The HTTP client every Alpaca API call goes through (trading and market data): rustls, the
//! operator's key pair as sensitive default headers (never printed by `Debug`), a connect
//! timeout, a whole-request timeout, no redirects.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

/// Connecting never takes longer than this, whatever the request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client sending `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` on every request; `Err` says
/// why it cannot exist (never with a secret).
pub fn client(
    key: &SecretString,
    secret: &SecretString,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let mut headers = HeaderMap::new();
    headers.insert("APCA-API-KEY-ID", sensitive(key)?);
    headers.insert("APCA-API-SECRET-KEY", sensitive(secret)?);
    reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("raptor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| "the HTTP client cannot be built".to_owned())
}

fn sensitive(secret: &SecretString) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(secret.expose_secret())
        .map_err(|_| "a credential is not a valid header value")?;
    value.set_sensitive(true);
    Ok(value)
}
