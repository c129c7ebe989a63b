//! Startup configuration errors, checked against the real binary.

use std::process::Command;

fn raptor(env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_raptor"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("raptor runs")
}

fn assert_refused(output: &std::process::Output, variable: &str) {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one clear line, got: {stderr}");
    assert!(lines[0].contains(variable), "names {variable}: {stderr}");
}

#[test]
fn production_without_secret_key_refuses_to_start() {
    let output = raptor(&[("DATABASE_URL", "postgres://postgres@127.0.0.1/x")]);
    assert_refused(&output, "SECRET_KEY");
}

#[test]
fn production_with_a_short_secret_key_refuses_to_start() {
    let output = raptor(&[
        ("SECRET_KEY", "too-short"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1/x"),
    ]);
    assert_refused(&output, "SECRET_KEY");
}

#[test]
fn production_without_database_url_refuses_to_start() {
    let output = raptor(&[("SECRET_KEY", crate::helpers::TEST_SECRET_KEY)]);
    assert_refused(&output, "DATABASE_URL");
}

#[test]
fn alpaca_live_host_refuses_to_start_even_in_test() {
    let output = raptor(&[
        ("APP_ENV", "test"),
        ("SECRET_KEY", crate::helpers::TEST_SECRET_KEY),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1/x"),
        ("ALPACA_PAPER_BASE_URL", "https://api.alpaca.markets"),
    ]);
    assert_refused(&output, "ALPACA_PAPER_BASE_URL");
}

#[test]
fn the_secret_key_never_appears_in_the_error() {
    let output = raptor(&[
        ("SECRET_KEY", "short-but-secret"),
        ("DATABASE_URL", "postgres://u:pw-in-url@127.0.0.1/x"), // secret-scan: allow (a fake password the test proves is never echoed)
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains("short-but-secret") && !all.contains("pw-in-url"));
}
