//! The development console (`/dev/console`, src/http/dev_console.rs) driven once end to end in
//! Chromium by `tests/browser/dev-console.mjs`: passkey sign-in, the book, an order placed,
//! streamed and cancelled, a backtest and its chart, with the simulated broker and the Alpaca
//! data stand-in. The screenshot is kept as a test artifact in
//! `<target>/test-artifacts/dev-console.png`.

use std::path::Path;
use std::time::Duration;

use crate::alpaca_data_stub::AlpacaDataStub;
use crate::browser::{spawn_on_localhost_with, BrowserTools};
use crate::helpers::{spawn_app, spawn_app_with};
use crate::smtp::SmtpServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_console_signs_in_trades_streams_and_backtests_in_a_browser() {
    let tools = BrowserTools::require();
    let smtp = SmtpServer::start().await;
    let data = AlpacaDataStub::start().await;
    let mut overrides = data.overrides();
    overrides.push(("ALPACA_AUTH_MODE", "simulated"));
    let (app, origin) = spawn_on_localhost_with(&smtp, &overrides).await;
    let _worker = crate::backtest::worker(&app, &data).await;
    let bootstrap = crate::passkey::bootstrap_token(&app, None).await;
    let email = format!("console-{}@example.com", uuid::Uuid::new_v4().simple());
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("create target/test-artifacts");
    let screenshot = artifacts.join("dev-console.png");
    let _ = std::fs::remove_file(&screenshot);

    let node = tools.script_with(
        "dev-console.mjs",
        &origin,
        &bootstrap,
        &email,
        &[("SCREENSHOT", screenshot.to_str().expect("a UTF-8 path"))],
    );
    let transcript = crate::ts_client::follow(node, &smtp, &email, Duration::from_secs(180)).await;
    for expected in [
        "step: sign in: Signed in as",
        "step: place order: Placed buy 1 AAPL",
        "step: cancel order: Canceled AAPL order",
        "step: backtest: Backtest done",
    ] {
        assert!(
            transcript.contains(expected),
            "{expected:?} is missing:\n{transcript}"
        );
    }
    assert!(transcript.ends_with(&format!("OK {email}")), "{transcript}");
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_console_is_served_in_test_under_its_own_csp_and_not_in_production() {
    let app = spawn_app().await;
    let response = app.get("/dev/console").await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );

    let production = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("PORT", "0"),
    ])
    .await;
    assert_eq!(production.get("/dev/console").await.status(), 404);
}
