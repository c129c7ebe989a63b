//! Typed configuration (SPEC §2), parsed once at startup.
//!
//! A value that is missing or malformed stops startup with a [`ConfigError`] naming the
//! variable. Secrets are `secrecy` types: their `Debug` output is redacted, and reading one is a
//! visible `expose_secret()` call.

pub mod alpaca_url;
pub mod ip_ranges;
pub mod smtp_url;
mod source;

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretBox, SecretString};

pub use source::Source;

/// Every variable Raptor reads; an environment variable not listed here is ignored.
pub const VARIABLES: &[&str] = &[
    "APP_ENV",
    "PORT",
    "BIND_ADDRESS",
    "DATABASE_URL",
    "DATABASE_CONNECTION_POOL_URL",
    "DATABASE_SSL",
    "DATABASE_POOL_SIZE",
    "SECRET_KEY",
    "SECRET_KEY_PREVIOUS",
    "FRONTEND_ORIGIN",
    "WEBAUTHN_RP_ID",
    "WEBAUTHN_RP_NAME",
    "WEBAUTHN_ORIGIN",
    "FLAG_WEBAUTHN_REGISTRATION",
    "FLAG_ENFORCE_CF_ORIGIN",
    "CLOUDFLARE_IP_RANGES",
    "ALPACA_AUTH_MODE",
    "ALPACA_PAPER_API_KEY",
    "ALPACA_PAPER_API_SECRET",
    "ALPACA_PAPER_BASE_URL",
    "ALPACA_DATA_BASE_URL",
    "ALPACA_REQUEST_TIMEOUT_SECS",
    "ALPACA_ACCOUNT_RATE_LIMIT_PER_MINUTE",
    "ALPACA_RATE_LIMIT_PER_MINUTE",
    "ALPACA_TRADING_RESERVED_PER_MINUTE",
    "ALPACA_DATA_FEED",
    "TRADING_MAX_ORDER_NOTIONAL",
    "TRADING_MAX_OPEN_ORDERS",
    "TRADING_MAX_ORDERS_PER_DAY",
    "TRADING_ASSET_CLASSES",
    "PAPER_BOOK_INITIAL_CASH",
    "TRADING_USER_CALLS_PER_MINUTE",
    "TRADING_STREAMS_PER_USER",
    "MARKET_DATA_TTL_MS",
    "MARKET_DATA_CACHE_MAX_ENTRIES",
    "HISTORICAL_BARS_MAX",
    "ENABLE_GLOBAL_RATE_LIMIT",
    "RATE_LIMIT_PER_MINUTE",
    "TRUSTED_PROXY_HOPS",
    "SESSION_COOKIE_DOMAIN",
    "STEP_UP_WINDOW_SECS",
    "SMTP_URL",
    "EMAIL_FROM",
    "SENTRY_DSN",
    "STATIC_DIR",
    "SHUTDOWN_GRACE_SECS",
    "HTTP_HEADER_READ_TIMEOUT_SECS",
    "HTTP_IDLE_TIMEOUT_SECS",
    "HTTP_MAX_CONNECTIONS",
    "SUPERVISOR_BACKOFF_MS",
    "SUPERVISOR_MAX_RESTARTS",
    "SUPERVISOR_RESTART_WINDOW_SECS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "SCHEDULE_SESSION_PURGE",
    "SCHEDULE_TOKEN_PURGE",
    "SCHEDULE_QUARANTINE_PURGE",
    "SCHEDULE_AUDIT_RETENTION",
    "SCHEDULE_OUTBOX_PURGE",
];

/// Minimum length of `SECRET_KEY` outside development.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Production,
    Staging,
    Development,
    Test,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Production => "production",
            AppEnv::Staging => "staging",
            AppEnv::Development => "development",
            AppEnv::Test => "test",
        }
    }

    /// Production-like environments: strict secrets, paper host only, HSTS.
    pub fn is_deployed(self) -> bool {
        matches!(self, AppEnv::Production | AppEnv::Staging)
    }
}

/// A configuration value is missing or unusable; startup stops with this one line.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn config_error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// How the database connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseSsl {
    Disable,
    Prefer,
    Require,
}

/// HMAC key material for stored tokens and signed state.
pub type SecretKey = SecretBox<[u8]>;

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub port: u16,
    pub bind_address: IpAddr,
    pub database: DatabaseSettings,
    pub secret_key: std::sync::Arc<SecretKey>,
    pub secret_key_previous: Option<std::sync::Arc<SecretKey>>,
    /// The keyed token hasher, built once from the two keys above.
    token_hasher: std::sync::OnceLock<raptor_actors::token::TokenHasher>,
    /// Exact origins allowed for CORS and CSRF checks, e.g. `https://raxx.app`.
    pub frontend_origins: Vec<String>,
    pub webauthn: WebauthnSettings,
    pub flags: Flags,
    pub rate_limit_per_minute: u32,
    pub trusted_proxy_hops: usize,
    /// With `FLAG_ENFORCE_CF_ORIGIN`, the connecting hop must be in these (Cloudflare's ranges,
    /// `config/cloudflare-ips.txt`, or `CLOUDFLARE_IP_RANGES`).
    pub cloudflare_ranges: std::sync::Arc<ip_ranges::IpRanges>,
    pub alpaca: AlpacaSettings,
    pub market_data: MarketDataSettings,
    /// Pre-trade risk limits per user on the shared paper account.
    pub risk: RiskSettings,
    /// Order streams (`GET /api/trading/stream`) one user may keep open per process; a new one
    /// closes their oldest (`TRADING_STREAMS_PER_USER`).
    pub trading_streams_per_user: usize,
    pub session_cookie_domain: Option<String>,
    /// How recent a passkey assertion adding or removing a passkey, ending the other sessions
    /// and erasing the account need (`STEP_UP_WINDOW_SECS`).
    pub step_up_window: Duration,
    pub smtp_url: Option<SecretString>,
    pub email_from: Option<String>,
    pub sentry_dsn: Option<SecretString>,
    pub static_dir: Option<PathBuf>,
    pub shutdown_grace: Duration,
    /// Header-read and idle timeouts, connection cap, HTTP/2 limits.
    pub connections: raptor_actors::acceptor::ConnectionLimits,
    pub restart: raptor_actors::supervisor::RestartPolicy,
    pub log_json: bool,
    pub log_level: String,
    /// When the worker's retention jobs run (`SCHEDULE_*`, six-field cron patterns).
    pub schedules: Schedules,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: the direct connection (LISTEN, migrations, operator commands, and the
    /// pool when no pooler is configured).
    pub url: Option<SecretString>,
    /// `DATABASE_CONNECTION_POOL_URL`: a transaction-mode pooler (Heroku's connection pooling,
    /// PgBouncer) the pool goes through instead.
    pub pool_url: Option<SecretString>,
    pub ssl: DatabaseSsl,
    pub pool_size: usize,
}

#[derive(Debug, Clone)]
pub struct WebauthnSettings {
    pub rp_id: Option<String>,
    pub rp_name: Option<String>,
    pub origin: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Flags {
    pub webauthn_registration: bool,
    pub enforce_cf_origin: bool,
    pub global_rate_limit: bool,
}

#[derive(Debug, Clone)]
pub struct AlpacaSettings {
    pub auth_mode: Option<String>,
    pub api_key: Option<SecretString>,
    pub api_secret: Option<SecretString>,
    pub paper_base_url: String,
    pub data_base_url: String,
    pub request_timeout: Duration,
    /// Outbound requests to Alpaca per minute for all processes together (below Alpaca's own
    /// 200), trading and market data together, shared through Postgres.
    pub account_rate_limit_per_minute: u32,
    /// Fallback: what this one process may send a minute while Postgres cannot be asked for
    /// the account's budget.
    pub rate_limit_per_minute: u32,
    /// Of those, how many market data may never use (kept for order submission); market data
    /// always gets at least one a minute.
    pub trading_reserved_per_minute: u32,
    /// `ALPACA_DATA_FEED`: `iex` (free plan) or `sip`.
    pub data_feed: String,
}

/// Pre-trade risk limits (docs/trading.md), checked before any broker call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskSettings {
    /// Largest notional of one order in USD; `None` (`off`, development and test only) checks
    /// no notional.
    pub max_order_notional: Option<rust_decimal::Decimal>,
    /// Orders one user may have open (submitted and not yet filled, cancelled, expired...).
    pub max_open_orders: u32,
    /// Orders one user may submit per UTC day.
    pub max_orders_per_day: u32,
    /// Asset classes one may trade (`us_equity`, `crypto`).
    pub asset_classes: Vec<String>,
    /// The cash (USD) a paper book starts with when it is opened.
    pub initial_cash: rust_decimal::Decimal,
    /// Broker calls (order submits and cancels) one user may make a minute, per process.
    pub user_calls_per_minute: u32,
}

/// Market data caching and bounds.
#[derive(Debug, Clone)]
pub struct MarketDataSettings {
    /// How long latest quotes, trades, bars and snapshots are served from memory.
    pub latest_ttl: Duration,
    /// Latest objects kept in memory at most, per kind.
    pub max_cached: usize,
    /// The most bars one historical request may span.
    pub max_bars: u32,
}

impl Settings {
    /// Loads settings from the process environment over the embedded files.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(|key| std::env::var(key).ok())
    }

    /// Loads settings from `env` (a lookup of environment variables) over the embedded files.
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let app_env = match env("APP_ENV").as_deref().map(str::trim) {
            None | Some("") | Some("production") => AppEnv::Production,
            Some("staging") => AppEnv::Staging,
            Some("development") => AppEnv::Development,
            Some("test") => AppEnv::Test,
            Some(other) => {
                return Err(config_error(
                    "APP_ENV",
                    format!("must be production, staging, development or test (got {other:?})"),
                ))
            }
        };
        let src = Source::layered(app_env.as_str(), env);
        Self::parse(app_env, &src)
    }

    /// Parses every section; each section's function names the variables it reads.
    fn parse(app_env: AppEnv, src: &Source) -> Result<Self, ConfigError> {
        let deployed = app_env.is_deployed();
        let (secret_key, secret_key_previous) = secret_keys(app_env, src)?;
        let database = database(app_env, src)?;
        let alpaca = alpaca(src, deployed)?;
        let risk = risk(src, deployed)?;
        let frontend_origins = frontend_origins(src)?;
        if let Some(url) = src.get("SMTP_URL") {
            smtp_url::check_smtp_url(url)?;
        }
        let log_json = log_json(src)?;
        Ok(Settings {
            app_env,
            port: number(src, "PORT")?,
            bind_address: number(src, "BIND_ADDRESS")?,
            database,
            secret_key,
            secret_key_previous,
            token_hasher: std::sync::OnceLock::new(),
            frontend_origins,
            webauthn: webauthn(src),
            flags: flags(src)?,
            rate_limit_per_minute: positive(src, "RATE_LIMIT_PER_MINUTE")?,
            trusted_proxy_hops: number(src, "TRUSTED_PROXY_HOPS")?,
            cloudflare_ranges: std::sync::Arc::new(cloudflare_ranges(src)?),
            alpaca,
            market_data: market_data(src)?,
            risk,
            trading_streams_per_user: positive(src, "TRADING_STREAMS_PER_USER")?,
            session_cookie_domain: src.get("SESSION_COOKIE_DOMAIN").map(str::to_owned),
            step_up_window: Duration::from_secs(positive(src, "STEP_UP_WINDOW_SECS")?),
            smtp_url: src.get("SMTP_URL").map(SecretString::from),
            email_from: src.get("EMAIL_FROM").map(str::to_owned),
            sentry_dsn: src.get("SENTRY_DSN").map(SecretString::from),
            static_dir: src.get("STATIC_DIR").map(PathBuf::from),
            shutdown_grace: shutdown_grace(src)?,
            connections: connections(src)?,
            restart: restart(src)?,
            log_json,
            log_level: src.get("LOG_LEVEL").unwrap_or("info").to_owned(),
            schedules: schedules(src)?,
        })
    }

    /// The HMAC keys for stored tokens (current, and previous during a rotation).
    pub fn token_hasher(&self) -> raptor_actors::token::TokenHasher {
        self.token_hasher
            .get_or_init(|| {
                raptor_actors::token::TokenHasher::new(
                    self.secret_key.clone(),
                    self.secret_key_previous.clone(),
                )
            })
            .clone()
    }

    /// Names of optional settings that are unset and switch a capability off.
    pub fn missing_optional(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        let checks: [(&'static str, bool); 7] = [
            ("SMTP_URL", self.smtp_url.is_some()),
            ("ALPACA_PAPER_API_KEY", self.alpaca.api_key.is_some()),
            ("ALPACA_PAPER_API_SECRET", self.alpaca.api_secret.is_some()),
            ("WEBAUTHN_RP_ID", self.webauthn.rp_id.is_some()),
            ("WEBAUTHN_ORIGIN", self.webauthn.origin.is_some()),
            (
                "SESSION_COOKIE_DOMAIN",
                self.session_cookie_domain.is_some(),
            ),
            ("SENTRY_DSN", self.sentry_dsn.is_some()),
        ];
        for (name, present) in checks {
            if !present {
                missing.push(name);
            }
        }
        missing
    }

    /// The database URL; `raptor dev` fills it in when it starts a local cluster.
    pub fn database_url(&self) -> Option<&str> {
        self.database.url.as_ref().map(|u| u.expose_secret())
    }

    /// The pooler's URL (`DATABASE_CONNECTION_POOL_URL`), when one is configured.
    pub fn database_pool_url(&self) -> Option<&str> {
        self.database.pool_url.as_ref().map(|u| u.expose_secret())
    }
}

fn number<T: FromStr>(src: &Source, key: &'static str) -> Result<T, ConfigError> {
    let raw = src
        .get(key)
        .ok_or_else(|| config_error(key, "is required"))?;
    raw.parse()
        .map_err(|_| config_error(key, format!("is not valid (got {raw:?})")))
}

fn positive<T: FromStr + Default + PartialOrd>(
    src: &Source,
    key: &'static str,
) -> Result<T, ConfigError> {
    let value: T = number(src, key)?;
    if value > T::default() {
        Ok(value)
    } else {
        Err(config_error(key, "must be greater than zero"))
    }
}

/// `SECRET_KEY` and `SECRET_KEY_PREVIOUS`: at least [`MIN_SECRET_KEY_BYTES`] outside
/// development, where an unset key is replaced by an ephemeral one.
fn secret_keys(
    app_env: AppEnv,
    src: &Source,
) -> Result<(std::sync::Arc<SecretKey>, Option<std::sync::Arc<SecretKey>>), ConfigError> {
    let development = app_env == AppEnv::Development;
    let secret_key = match src.get("SECRET_KEY") {
        Some(key) if key.len() >= MIN_SECRET_KEY_BYTES || development => key.as_bytes().to_vec(),
        Some(_) => {
            return Err(config_error(
                "SECRET_KEY",
                format!("must be at least {MIN_SECRET_KEY_BYTES} bytes"),
            ))
        }
        None if development => {
            tracing::warn!("SECRET_KEY unset: using an ephemeral development key");
            rand::random::<[u8; 32]>().to_vec()
        }
        None => return Err(config_error("SECRET_KEY", "is required")),
    };
    let secret_key_previous = match src.get("SECRET_KEY_PREVIOUS") {
        Some(key) if key.len() < MIN_SECRET_KEY_BYTES && !development => {
            return Err(config_error(
                "SECRET_KEY_PREVIOUS",
                format!("must be at least {MIN_SECRET_KEY_BYTES} bytes"),
            ))
        }
        Some(key) => Some(std::sync::Arc::new(SecretKey::from(
            key.as_bytes().to_vec(),
        ))),
        None => None,
    };
    Ok((
        std::sync::Arc::new(SecretKey::from(secret_key)),
        secret_key_previous,
    ))
}

/// `DATABASE_*`: the URL (optional in development, where `raptor dev` fills it in), the
/// pooler's URL, TLS and the pool's size.
fn database(app_env: AppEnv, src: &Source) -> Result<DatabaseSettings, ConfigError> {
    let url = src.get("DATABASE_URL").map(SecretString::from);
    if url.is_none() && app_env != AppEnv::Development {
        return Err(config_error("DATABASE_URL", "is required"));
    }
    let ssl = match src.get("DATABASE_SSL") {
        Some("disable") => DatabaseSsl::Disable,
        Some("prefer") | None => DatabaseSsl::Prefer,
        Some("require") => DatabaseSsl::Require,
        Some(other) => {
            return Err(config_error(
                "DATABASE_SSL",
                format!("must be disable, prefer or require (got {other:?})"),
            ))
        }
    };
    Ok(DatabaseSettings {
        url,
        pool_url: src
            .get("DATABASE_CONNECTION_POOL_URL")
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(SecretString::from),
        ssl,
        pool_size: positive(src, "DATABASE_POOL_SIZE")?,
    })
}

/// `ALPACA_*`: credentials, hosts (the paper host only when deployed), timeout, the outbound
/// budget and the data feed.
fn alpaca(src: &Source, deployed: bool) -> Result<AlpacaSettings, ConfigError> {
    let paper_base_url = src
        .get("ALPACA_PAPER_BASE_URL")
        .unwrap_or_default()
        .to_owned();
    alpaca_url::check_paper(&paper_base_url, deployed)
        .map_err(|problem| config_error("ALPACA_PAPER_BASE_URL", problem))?;
    alpaca_url::check_auth_mode(src.get("ALPACA_AUTH_MODE"), deployed)
        .map_err(|problem| config_error("ALPACA_AUTH_MODE", problem))?;
    let data_base_url = src
        .get("ALPACA_DATA_BASE_URL")
        .unwrap_or_default()
        .to_owned();
    alpaca_url::check_data(&data_base_url, deployed)
        .map_err(|problem| config_error("ALPACA_DATA_BASE_URL", problem))?;
    let account_rate_limit_per_minute = positive(src, "ALPACA_ACCOUNT_RATE_LIMIT_PER_MINUTE")?;
    let rate_limit_per_minute = positive(src, "ALPACA_RATE_LIMIT_PER_MINUTE")?;
    let trading_reserved_per_minute = number(src, "ALPACA_TRADING_RESERVED_PER_MINUTE")?;
    let data_feed = src.get("ALPACA_DATA_FEED").unwrap_or("iex").to_owned();
    if !matches!(data_feed.as_str(), "iex" | "sip" | "delayed_sip" | "otc") {
        return Err(config_error(
            "ALPACA_DATA_FEED",
            format!("must be iex, sip, delayed_sip or otc (got {data_feed:?})"),
        ));
    }
    Ok(AlpacaSettings {
        auth_mode: src.get("ALPACA_AUTH_MODE").map(str::to_owned),
        api_key: src.get("ALPACA_PAPER_API_KEY").map(SecretString::from),
        api_secret: src.get("ALPACA_PAPER_API_SECRET").map(SecretString::from),
        paper_base_url,
        data_base_url,
        request_timeout: Duration::from_secs(positive(src, "ALPACA_REQUEST_TIMEOUT_SECS")?),
        account_rate_limit_per_minute,
        rate_limit_per_minute,
        trading_reserved_per_minute,
        data_feed,
    })
}

/// `FRONTEND_ORIGIN`: comma-separated exact http(s) origins, never `*`.
fn frontend_origins(src: &Source) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = src
        .get("FRONTEND_ORIGIN")
        .unwrap_or_default()
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for origin in &origins {
        if origin == "*" || !(origin.starts_with("https://") || origin.starts_with("http://")) {
            return Err(config_error(
                "FRONTEND_ORIGIN",
                format!("{origin:?} is not an exact http(s) origin"),
            ));
        }
    }
    Ok(origins)
}

/// `LOG_FORMAT`: `json` or `pretty`.
fn log_json(src: &Source) -> Result<bool, ConfigError> {
    match src.get("LOG_FORMAT") {
        Some("json") => Ok(true),
        Some("pretty") => Ok(false),
        other => Err(config_error(
            "LOG_FORMAT",
            format!("must be json or pretty (got {other:?})"),
        )),
    }
}

/// `WEBAUTHN_*`: the relying party (checked when it is built, `startup::wiring`).
fn webauthn(src: &Source) -> WebauthnSettings {
    WebauthnSettings {
        rp_id: src.get("WEBAUTHN_RP_ID").map(str::to_owned),
        rp_name: src.get("WEBAUTHN_RP_NAME").map(str::to_owned),
        origin: src.get("WEBAUTHN_ORIGIN").map(str::to_owned),
    }
}

/// `FLAG_*` and `ENABLE_GLOBAL_RATE_LIMIT`.
fn flags(src: &Source) -> Result<Flags, ConfigError> {
    Ok(Flags {
        webauthn_registration: flag(src, "FLAG_WEBAUTHN_REGISTRATION")?,
        enforce_cf_origin: flag(src, "FLAG_ENFORCE_CF_ORIGIN")?,
        global_rate_limit: flag(src, "ENABLE_GLOBAL_RATE_LIMIT")?,
    })
}

/// `MARKET_DATA_*` and `HISTORICAL_BARS_MAX`.
fn market_data(src: &Source) -> Result<MarketDataSettings, ConfigError> {
    Ok(MarketDataSettings {
        latest_ttl: Duration::from_millis(positive(src, "MARKET_DATA_TTL_MS")?),
        max_cached: positive(src, "MARKET_DATA_CACHE_MAX_ENTRIES")?,
        max_bars: positive(src, "HISTORICAL_BARS_MAX")?,
    })
}

/// `HTTP_*`: header-read and idle timeouts, the connection cap.
fn connections(src: &Source) -> Result<raptor_actors::acceptor::ConnectionLimits, ConfigError> {
    let secs = |key: &'static str| positive(src, key).map(Duration::from_secs);
    Ok(raptor_actors::acceptor::ConnectionLimits {
        header_read_timeout: secs("HTTP_HEADER_READ_TIMEOUT_SECS")?,
        idle_timeout: secs("HTTP_IDLE_TIMEOUT_SECS")?,
        max_connections: positive(src, "HTTP_MAX_CONNECTIONS")?,
        ..Default::default()
    })
}

/// `SUPERVISOR_*`: how a failed child is restarted.
fn restart(src: &Source) -> Result<raptor_actors::supervisor::RestartPolicy, ConfigError> {
    Ok(raptor_actors::supervisor::RestartPolicy {
        initial_backoff: Duration::from_millis(positive(src, "SUPERVISOR_BACKOFF_MS")?),
        max_backoff: Duration::from_secs(5),
        max_restarts: positive(src, "SUPERVISOR_MAX_RESTARTS")?,
        window: Duration::from_secs(positive(src, "SUPERVISOR_RESTART_WINDOW_SECS")?),
    })
}

fn risk(src: &Source, deployed: bool) -> Result<RiskSettings, ConfigError> {
    const NOTIONAL: &str = "TRADING_MAX_ORDER_NOTIONAL";
    let max_order_notional = match src.get(NOTIONAL).map(str::trim) {
        Some("off") if !deployed => None,
        Some("off") => {
            return Err(config_error(
                NOTIONAL,
                "cannot be off in production or staging",
            ))
        }
        _ => Some(positive::<rust_decimal::Decimal>(src, NOTIONAL)?),
    };
    const CLASSES: &str = "TRADING_ASSET_CLASSES";
    let asset_classes: Vec<String> = src
        .get(CLASSES)
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    if let Some(other) = asset_classes
        .iter()
        .find(|c| !matches!(c.as_str(), "us_equity" | "crypto"))
    {
        return Err(config_error(
            CLASSES,
            format!("must list us_equity or crypto (got {other:?})"),
        ));
    }
    Ok(RiskSettings {
        max_order_notional,
        max_open_orders: positive(src, "TRADING_MAX_OPEN_ORDERS")?,
        max_orders_per_day: positive(src, "TRADING_MAX_ORDERS_PER_DAY")?,
        asset_classes,
        initial_cash: positive(src, "PAPER_BOOK_INITIAL_CASH")?,
        user_calls_per_minute: positive(src, "TRADING_USER_CALLS_PER_MINUTE")?,
    })
}

/// When the worker's jobs run (`SCHEDULE_*`); `startup::wiring` hands them to the retention
/// domain.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// `SCHEDULE_SESSION_PURGE`
    pub session_purge: raptor_actors::scheduler::Schedule,
    /// `SCHEDULE_TOKEN_PURGE`
    pub token_purge: raptor_actors::scheduler::Schedule,
    /// `SCHEDULE_QUARANTINE_PURGE`
    pub quarantine_purge: raptor_actors::scheduler::Schedule,
    /// `SCHEDULE_AUDIT_RETENTION`
    pub audit_retention: raptor_actors::scheduler::Schedule,
    /// `SCHEDULE_OUTBOX_PURGE`
    pub outbox_purge: raptor_actors::scheduler::Schedule,
}

fn schedules(src: &Source) -> Result<Schedules, ConfigError> {
    let schedule = |key: &'static str| {
        let raw = src
            .get(key)
            .ok_or_else(|| config_error(key, "is required"))?;
        raptor_actors::scheduler::Schedule::parse(raw).map_err(|e| config_error(key, e.to_string()))
    };
    Ok(Schedules {
        session_purge: schedule("SCHEDULE_SESSION_PURGE")?,
        token_purge: schedule("SCHEDULE_TOKEN_PURGE")?,
        quarantine_purge: schedule("SCHEDULE_QUARANTINE_PURGE")?,
        audit_retention: schedule("SCHEDULE_AUDIT_RETENTION")?,
        outbox_purge: schedule("SCHEDULE_OUTBOX_PURGE")?,
    })
}

/// `SHUTDOWN_GRACE_SECS`, at most what Heroku's 30 s leave for the drain
/// (`raptor_actors::supervisor::MAX_DRAIN`).
fn shutdown_grace(src: &Source) -> Result<Duration, ConfigError> {
    const KEY: &str = "SHUTDOWN_GRACE_SECS";
    let grace = Duration::from_secs(number(src, KEY)?);
    let max = raptor_actors::supervisor::MAX_DRAIN;
    if grace > max {
        return Err(config_error(
            KEY,
            format!(
                "must be at most {} (Heroku stops a dyno 30 s after SIGTERM; docs/capacity.md)",
                max.as_secs()
            ),
        ));
    }
    Ok(grace)
}

/// `CLOUDFLARE_IP_RANGES` (comma-separated CIDRs) when set, else the committed list.
fn cloudflare_ranges(src: &Source) -> Result<ip_ranges::IpRanges, ConfigError> {
    const KEY: &str = "CLOUDFLARE_IP_RANGES";
    match src.get(KEY).map(str::trim).filter(|v| !v.is_empty()) {
        Some(list) => ip_ranges::IpRanges::parse(list.split(',')).map_err(|p| config_error(KEY, p)),
        None => Ok(ip_ranges::IpRanges::cloudflare()),
    }
}

fn flag(src: &Source, key: &'static str) -> Result<bool, ConfigError> {
    match src.get(key).map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") | None => Ok(false),
        Some(other) => Err(config_error(
            key,
            format!("must be true or false (got {other:?})"),
        )),
    }
}

#[cfg(test)]
mod tests;
