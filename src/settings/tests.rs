use std::collections::HashMap;

use super::*;

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(|k| env.get(k).cloned())
}

const KEY: &str = "0123456789abcdef0123456789abcdef-long-enough";

#[test]
fn app_env_defaults_to_production_and_demands_secrets() {
    let err = load(&[("DATABASE_URL", "postgres://x")]).unwrap_err();
    assert_eq!(err.variable, "SECRET_KEY");
    let err = load(&[("SECRET_KEY", "short"), ("DATABASE_URL", "postgres://x")]).unwrap_err();
    assert_eq!(err.variable, "SECRET_KEY");
    let err = load(&[("SECRET_KEY", KEY)]).unwrap_err();
    assert_eq!(err.variable, "DATABASE_URL");
    let ok = load(&[("SECRET_KEY", KEY), ("DATABASE_URL", "postgres://x")]).unwrap();
    assert_eq!(ok.app_env, AppEnv::Production);
    assert_eq!(ok.database.ssl, DatabaseSsl::Require);
}

#[test]
fn production_refuses_a_non_paper_broker_url() {
    let err = load(&[
        ("SECRET_KEY", KEY),
        ("DATABASE_URL", "postgres://x"),
        ("ALPACA_PAPER_BASE_URL", "http://127.0.0.1:9"),
    ])
    .unwrap_err();
    assert_eq!(err.variable, "ALPACA_PAPER_BASE_URL");
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let settings = load(&[
        ("SECRET_KEY", KEY),
        ("DATABASE_URL", "postgres://user:hunter2-db-password@db/x"), // secret-scan: allow (fake)
        ("ALPACA_PAPER_API_KEY", "PKTESTKEYVALUE"),
        ("ALPACA_PAPER_API_SECRET", "alpaca-secret-value"),
    ])
    .unwrap();
    let printed = format!("{settings:?}");
    for secret in [
        KEY,
        "hunter2-db-password",
        "PKTESTKEYVALUE",
        "alpaca-secret-value",
    ] {
        assert!(
            !printed.contains(secret),
            "{secret} leaked into Debug output"
        );
    }
    assert!(printed.contains("REDACTED"));
}

#[test]
fn a_wildcard_origin_is_refused() {
    let err = load(&[
        ("APP_ENV", "test"),
        ("SECRET_KEY", KEY),
        ("DATABASE_URL", "postgres://x"),
        ("FRONTEND_ORIGIN", "*"),
    ])
    .unwrap_err();
    assert_eq!(err.variable, "FRONTEND_ORIGIN");
}

#[test]
fn unknown_app_env_is_refused() {
    assert_eq!(
        load(&[("APP_ENV", "prod")]).unwrap_err().variable,
        "APP_ENV"
    );
}

#[test]
fn the_default_pool_fits_a_twenty_connection_plan_and_zero_is_refused() {
    let ok = load(&[("SECRET_KEY", KEY), ("DATABASE_URL", "postgres://x")]).unwrap();
    // web=2 worker=1 (docs/capacity.md): 2 × (pool + 3 LISTEN) + (pool + 1 LISTEN) + 3 spare.
    assert!(3 * ok.database.pool_size + 7 + 3 <= 20);
    let err = load(&[
        ("SECRET_KEY", KEY),
        ("DATABASE_URL", "postgres://x"),
        ("DATABASE_POOL_SIZE", "0"),
    ])
    .unwrap_err();
    assert_eq!(err.variable, "DATABASE_POOL_SIZE");
}
