//! Wiring: the one place that turns [`Settings`] into what each actor and domain takes.
//!
//! Domains never read `Settings`: each takes its own small configuration type (the broker's
//! [`BrokerConfig`], the market-data actor's [`MarketDataConfig`], trading's [`RiskLimits`], the
//! mailer's [`MailConfig`], ...), built here from the parsed settings. A new setting is parsed in
//! `settings/` and reaches its consumer through one function of this module.

use std::time::Duration;

use deadpool_postgres::Pool;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use raptor_actors::broker::{BrokerConfig, BrokerKind};
use raptor_actors::clock::SharedClock;
use raptor_actors::mailer::{MailerArgs, Transport};
use raptor_actors::market_data::{DataSource, MarketDataConfig};
use raptor_actors::outbound::{AccountBudget, AccountPolicy, BudgetPolicy, OutboundBudget};
use raptor_actors::trade_stream::{stream_url, StreamSource, TradeStreamConfig};
use secrecy::ExposeSecret;
use webauthn_rs::prelude::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::email::MailConfig;
use crate::error_reporting::{ErrorReporting, InvalidDsn};
use crate::http::config::ProxyTrust;
use crate::http::cookie::SessionCookie;
use crate::http::HttpConfig;
use crate::settings::alpaca_url::{SIMULATED_MODE, TRADING_MODE};
use crate::settings::{AppEnv, ConfigError, Settings};
use crate::trading::risk::RiskLimits;

/// Where links in emails and operator messages point when no `FRONTEND_ORIGIN` is set.
const DEFAULT_FRONTEND: &str = "http://localhost:3000";
/// The sender when `EMAIL_FROM` is unset.
const DEFAULT_FROM: &str = "Raxx <no-reply@raxx.app>";
/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

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

/// The market-data actor's configuration. With credentials, Alpaca; without, a synthetic
/// source in development or beside the simulated broker (never on a deployed dyno), else
/// nothing: data routes then answer 503 `market_data_unavailable`.
pub fn market_data_config(settings: &Settings) -> MarketDataConfig {
    let alpaca = &settings.alpaca;
    let source = match (&alpaca.api_key, &alpaca.api_secret) {
        (Some(key), Some(secret)) => DataSource::Alpaca {
            base_url: alpaca.data_base_url.clone(),
            api_key: key.clone(),
            api_secret: secret.clone(),
            feed: alpaca.data_feed.clone(),
        },
        // The simulated broker (development and test only) prices its orders from this too.
        _ if settings.app_env == AppEnv::Development
            || broker_config(settings).kind == BrokerKind::Simulated =>
        {
            DataSource::Synthetic
        }
        _ => DataSource::Unconfigured,
    };
    MarketDataConfig {
        source,
        request_timeout: alpaca.request_timeout,
        latest_ttl: settings.market_data.latest_ttl,
        max_cached: settings.market_data.max_cached,
    }
}

/// The key historical bars are cached under for this source: the feed, or `synthetic`.
pub fn market_data_feed(settings: &Settings) -> String {
    match market_data_config(settings).source {
        DataSource::Alpaca { feed, .. } => feed,
        DataSource::Synthetic => "synthetic".into(),
        DataSource::Unconfigured => "none".into(),
    }
}

/// The trade stream's source: the simulated broker's events when the broker is simulated,
/// Alpaca's paper stream when credentials are set, else none.
pub fn trade_stream_config(settings: &Settings) -> TradeStreamConfig {
    let broker = broker_config(settings);
    let source = match (broker.kind, &broker.api_key, &broker.api_secret) {
        (BrokerKind::Simulated, _, _) => StreamSource::Simulated,
        (_, Some(key_id), Some(secret_key)) => {
            match stream_url(&broker.base_url, !settings.app_env.is_deployed()) {
                Ok(url) => StreamSource::Alpaca {
                    url,
                    key_id: key_id.clone(),
                    secret_key: secret_key.clone(),
                },
                Err(problem) => {
                    tracing::error!(%problem, "no trade stream for ALPACA_PAPER_BASE_URL");
                    StreamSource::Off
                }
            }
        }
        _ => StreamSource::Off,
    };
    let mut config = TradeStreamConfig::new(source);
    config.per_user = settings.trading_streams_per_user;
    config
}

/// The pre-trade risk limits trading checks (`TRADING_*`, `PAPER_BOOK_INITIAL_CASH`).
pub fn risk_limits(settings: &Settings) -> RiskLimits {
    let risk = &settings.risk;
    RiskLimits {
        max_order_notional: risk.max_order_notional,
        max_open_orders: risk.max_open_orders,
        max_orders_per_day: risk.max_orders_per_day,
        asset_classes: risk.asset_classes.clone(),
        initial_cash: risk.initial_cash,
        user_calls_per_minute: risk.user_calls_per_minute,
    }
}

/// The relying party from `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME` and `WEBAUTHN_ORIGIN`, or `None`
/// when passkeys are not configured (auth routes then answer 503; refused when deployed).
pub fn relying_party(settings: &Settings) -> Result<Option<Webauthn>, ConfigError> {
    let w = &settings.webauthn;
    let fail = |variable, problem: &str| ConfigError {
        variable,
        problem: problem.to_owned(),
    };
    let (Some(rp_id), Some(origin)) = (&w.rp_id, &w.origin) else {
        if settings.app_env.is_deployed() {
            let missing = match w.rp_id {
                None => "WEBAUTHN_RP_ID",
                Some(_) => "WEBAUTHN_ORIGIN",
            };
            return Err(fail(missing, "is required"));
        }
        return Ok(None);
    };
    let origin = Url::parse(origin).map_err(|_| fail("WEBAUTHN_ORIGIN", "is not a URL"))?;
    let builder = WebauthnBuilder::new(rp_id, &origin)
        .map_err(|_| {
            fail(
                "WEBAUTHN_RP_ID",
                "must be a domain that WEBAUTHN_ORIGIN belongs to",
            )
        })?
        .rp_name(w.rp_name.as_deref().unwrap_or("Raxx"));
    builder
        .build()
        .map(Some)
        .map_err(|_| fail("WEBAUTHN_ORIGIN", "is not usable with WEBAUTHN_RP_ID"))
}

/// The first `FRONTEND_ORIGIN`, where links in emails and operator messages point.
pub fn frontend_origin(settings: &Settings) -> &str {
    settings
        .frontend_origins
        .first()
        .map(String::as_str)
        .unwrap_or(DEFAULT_FRONTEND)
}

/// `<first FRONTEND_ORIGIN>/recover?token=`, where recovery links point.
pub fn recovery_link_base(settings: &Settings) -> String {
    format!("{}/recover?token=", frontend_origin(settings))
}

/// The mailer's configuration: its transport from `SMTP_URL` (without it, development writes
/// emails to the log and other environments keep them queued) and its sender from `EMAIL_FROM`.
pub fn mail_config(settings: &Settings) -> Result<MailConfig, ConfigError> {
    let transport = match &settings.smtp_url {
        Some(url) => {
            let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .map_err(|_| ConfigError {
                    variable: "SMTP_URL",
                    problem: "is not a valid SMTP URL".into(),
                })?;
            Transport::Smtp(builder.timeout(Some(SMTP_TIMEOUT)).build())
        }
        None if settings.app_env == AppEnv::Development => Transport::Log,
        None => Transport::Disabled,
    };
    let from: Mailbox = settings
        .email_from
        .as_deref()
        .unwrap_or(DEFAULT_FROM)
        .parse()
        .map_err(|_| ConfigError {
            variable: "EMAIL_FROM",
            problem: "is not a valid address".into(),
        })?;
    Ok(MailConfig {
        transport,
        from,
        frontend_origin: frontend_origin(settings).to_owned(),
        hasher: settings.token_hasher(),
    })
}

/// The mailer actor's arguments for these settings.
pub fn mailer_args(
    settings: &Settings,
    pool: &Pool,
    clock: &SharedClock,
) -> Result<MailerArgs, ConfigError> {
    Ok(crate::email::mailer_args(
        mail_config(settings)?,
        pool.clone(),
        clock.clone(),
    ))
}

/// Error reporting: to Sentry when `SENTRY_DSN` is set, tagged with `APP_ENV`; else off.
pub fn error_reporting(settings: &Settings) -> Result<ErrorReporting, InvalidDsn> {
    ErrorReporting::new(settings.sentry_dsn.as_ref(), settings.app_env.as_str())
}

/// What the HTTP layer's handlers and middleware read of the settings.
pub fn http_config(settings: &Settings) -> HttpConfig {
    let flags = &settings.flags;
    HttpConfig {
        app_env: settings.app_env,
        hasher: settings.token_hasher(),
        proxies: ProxyTrust {
            hops: settings.trusted_proxy_hops,
            enforce_cloudflare: flags.enforce_cf_origin,
            cloudflare_ranges: settings.cloudflare_ranges.clone(),
        },
        global_per_minute: flags
            .global_rate_limit
            .then_some(settings.rate_limit_per_minute),
        registration_open: flags.webauthn_registration,
        step_up_window: settings.step_up_window,
        static_dir: settings.static_dir.clone(),
        max_bars: settings.market_data.max_bars,
        missing_config: settings.missing_optional(),
        listen: settings
            .database_url()
            .and_then(|url| crate::db::connection_config(url, settings.database.ssl).ok()),
    }
}

/// The `session` cookie's attributes (`SESSION_COOKIE_DOMAIN`).
pub fn session_cookie(settings: &Settings) -> SessionCookie {
    SessionCookie::new(settings.session_cookie_domain.clone())
}

/// Whether SIGUSR1 panics the session store: the `fault-injection` feature, never deployed.
pub fn fault_injection(settings: &Settings) -> bool {
    cfg!(feature = "fault-injection") && !settings.app_env.is_deployed()
}

/// The one outbound budget to Alpaca that trading and market data share, with every other
/// process through Postgres (SPEC: below Alpaca's own limit, with a share market data can never
/// take); this process's own window is the fallback while Postgres cannot be asked.
pub fn outbound_budget(settings: &Settings, pool: &Pool) -> OutboundBudget {
    let fallback = OutboundBudget::new(BudgetPolicy {
        limit: settings.alpaca.rate_limit_per_minute,
        reserved_for_trading: settings.alpaca.trading_reserved_per_minute,
        window: Duration::from_secs(60),
        max_wait: raptor_actors::broker::MAX_QUEUE_WAIT,
    });
    fallback.with_account(AccountBudget::new(pool.clone(), account_policy(settings)))
}

/// The account's share of Alpaca's limit for every process together (follows a SIGHUP).
pub fn account_policy(settings: &Settings) -> AccountPolicy {
    AccountPolicy::per_minute(
        settings.alpaca.account_rate_limit_per_minute,
        settings.alpaca.trading_reserved_per_minute,
    )
}

/// The backtest worker's arguments: its jobs read bars cached under this source's feed.
pub fn backtest_worker(
    settings: &Settings,
    pool: &Pool,
    actors: &raptor_actors::Actors,
    clock: &SharedClock,
    listen: &tokio_postgres::Config,
) -> raptor_actors::backtests::BacktestWorkerArgs {
    crate::backtest::worker::worker_args(market_data_feed(settings), pool, actors, clock, listen)
}

/// When each retention job runs (`SCHEDULE_*`).
pub fn retention_schedules(settings: &Settings) -> crate::retention::Schedules {
    let s = &settings.schedules;
    crate::retention::Schedules {
        session_purge: s.session_purge.clone(),
        token_purge: s.token_purge.clone(),
        quarantine_purge: s.quarantine_purge.clone(),
        audit_retention: s.audit_retention.clone(),
        outbox_purge: s.outbox_purge.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;

    fn settings(overrides: &[(&str, &str)]) -> Settings {
        let base = [
            ("APP_ENV", "test"),
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:9/unused"),
            ("DATABASE_SSL", "disable"),
            ("SECRET_KEY", "unit-test-only-key-0123456789-abcdefghijklm"),
        ];
        let env: HashMap<String, String> = base
            .iter()
            .chain(overrides)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(|k| env.get(k).cloned()).expect("valid test settings")
    }

    #[test]
    fn the_http_layer_reads_what_the_settings_say_and_nothing_when_a_flag_is_off() {
        let on = http_config(&settings(&[
            ("ENABLE_GLOBAL_RATE_LIMIT", "true"),
            ("RATE_LIMIT_PER_MINUTE", "7"),
            ("FLAG_WEBAUTHN_REGISTRATION", "true"),
            ("FLAG_ENFORCE_CF_ORIGIN", "true"),
            ("TRUSTED_PROXY_HOPS", "2"),
            ("STEP_UP_WINDOW_SECS", "90"),
            ("HISTORICAL_BARS_MAX", "123"),
            ("STATIC_DIR", "/srv/static"),
            ("SMTP_URL", "smtp://127.0.0.1:2525"),
        ]));
        assert_eq!(on.app_env, AppEnv::Test);
        assert_eq!(on.global_per_minute, Some(7));
        assert!(on.registration_open);
        assert!(on.proxies.enforce_cloudflare);
        assert_eq!(on.proxies.hops, 2);
        assert_eq!(on.step_up_window, Duration::from_secs(90));
        assert_eq!(on.max_bars, 123);
        assert_eq!(on.static_dir.as_deref(), Some(Path::new("/srv/static")));
        assert!(!on.missing_config.contains(&"SMTP_URL"));
        assert!(on.listen.is_some());

        let off = http_config(&settings(&[
            ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
            ("RATE_LIMIT_PER_MINUTE", "7"),
        ]));
        assert_eq!(off.global_per_minute, None);
        assert!(!off.registration_open);
        assert!(!off.proxies.enforce_cloudflare);
        assert_eq!(off.static_dir, None);
        assert!(off.missing_config.contains(&"SMTP_URL"));
    }
}
