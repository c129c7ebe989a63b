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

#[test]
fn cloudflare_ranges_default_to_the_committed_list_and_a_bad_override_is_named() {
    let base = [("SECRET_KEY", KEY), ("DATABASE_URL", "postgres://x")];
    let committed = load(&base).unwrap();
    assert!(committed
        .cloudflare_ranges
        .contains("173.245.48.1".parse().unwrap()));
    let overridden = load(&[base[0], base[1], ("CLOUDFLARE_IP_RANGES", "192.0.2.0/24")]).unwrap();
    assert!(overridden
        .cloudflare_ranges
        .contains("192.0.2.9".parse().unwrap()));
    assert!(!overridden
        .cloudflare_ranges
        .contains("173.245.48.1".parse().unwrap()));
    for bad in ["192.0.2.0/40", "cloudflare", "192.0.2.0/24,,"] {
        let err = load(&[base[0], base[1], ("CLOUDFLARE_IP_RANGES", bad)]).unwrap_err();
        assert_eq!(err.variable, "CLOUDFLARE_IP_RANGES", "{bad}");
    }
}

#[test]
fn the_pool_url_is_optional_and_kept_apart_from_the_direct_one() {
    let base = [("SECRET_KEY", KEY), ("DATABASE_URL", "postgres://direct")];
    assert_eq!(load(&base).unwrap().database_pool_url(), None);
    let pooled = load(&[
        base[0],
        base[1],
        ("DATABASE_CONNECTION_POOL_URL", "postgres://pooler:6432/db"),
    ])
    .unwrap();
    assert_eq!(
        pooled.database_pool_url(),
        Some("postgres://pooler:6432/db")
    );
    assert_eq!(pooled.database_url(), Some("postgres://direct"));
    assert!(!format!("{pooled:?}").contains("pooler:6432"), "redacted");
}
