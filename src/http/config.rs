//! What the HTTP layer reads of the configuration: one small type, built from the settings in
//! `startup::wiring` (as each domain's own config type is), so no handler or middleware reads
//! `Settings`. A new setting a handler needs becomes a field here and one line of the wiring.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use raptor_actors::token::TokenHasher;

use crate::settings::ip_ranges::IpRanges;
use crate::settings::AppEnv;

/// The HTTP layer's configuration (fixed for the life of the process).
#[derive(Clone)]
pub struct HttpConfig {
    /// The environment: which development routes exist, whether errors may say more.
    pub app_env: AppEnv,
    /// Keys the HMAC of stored tokens (sessions, emailed tokens, limit counters).
    pub hasher: TokenHasher,
    /// Which hops of a request are trusted to name its client.
    pub proxies: ProxyTrust,
    /// The global per-client limit per minute (`RATE_LIMIT_PER_MINUTE`), `None` when
    /// `ENABLE_GLOBAL_RATE_LIMIT` is off.
    pub global_per_minute: Option<u32>,
    /// Whether registration is open (`FLAG_WEBAUTHN_REGISTRATION`).
    pub registration_open: bool,
    /// How long a step-up (re-authentication) lets dangerous changes through
    /// (`STEP_UP_WINDOW_SECS`).
    pub step_up_window: Duration,
    /// Where static files are served from (`STATIC_DIR`), if anywhere.
    pub static_dir: Option<PathBuf>,
    /// The most bars one historical-data page may ask for (`HISTORICAL_BARS_MAX`).
    pub max_bars: u32,
    /// Optional settings that are unset, each switching a capability off (diagnostics).
    pub missing_config: Vec<&'static str>,
    /// The direct database connection a LISTEN needs (backtest runs finishing); `None` when
    /// the database URL cannot give one.
    pub listen: Option<tokio_postgres::Config>,
}

/// Which hops of a request are trusted to name its client ([`super::client_ip`]).
#[derive(Clone)]
pub struct ProxyTrust {
    /// `TRUSTED_PROXY_HOPS`: the n-th `X-Forwarded-For` entry from the right is the client.
    pub hops: usize,
    /// `FLAG_ENFORCE_CF_ORIGIN`: every request must come through Cloudflare.
    pub enforce_cloudflare: bool,
    /// Cloudflare's published ranges, where the connecting hop must lie when enforced.
    pub cloudflare_ranges: Arc<IpRanges>,
}
