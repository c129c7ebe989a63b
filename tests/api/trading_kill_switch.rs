//! The kill switch (configuration, operator API, CLI, every instance within a second, reloaded
//! configuration) and the simulated broker that `raptor dev` uses without credentials.

use std::time::Duration;

use raptor::settings::AppEnv;
use raptor::Settings;
use raptor_actors::broker::BrokerKind;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::alpaca_stub::AlpacaStub;
use crate::helpers::{
    error_code, eventually, spawn_app, spawn_app_with, test_settings, SignedIn, TestApp,
    TEST_SECRET_KEY,
};
use crate::trading::{audit_rows, get, market_order, submit, trading_app};

const SWITCH: &str = "/api/trading/kill-switch";

async fn set_switch(
    app: &TestApp,
    operator: &SignedIn,
    engaged: bool,
    reason: &str,
) -> reqwest::Response {
    app.authed(Method::POST, SWITCH, operator)
        .body(json!({"engaged": engaged, "reason": reason}).to_string())
        .send()
        .await
        .unwrap()
}

async fn mode(app: &TestApp, user: &SignedIn) -> Value {
    let response = get(app, user, "/api/trading/mode").await;
    assert_eq!(response.status(), 200, "mode answers even when engaged");
    response.json().await.unwrap()
}

/// Asserts the SPEC's answer of a trading route while the switch is engaged.
async fn assert_trading_disabled(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "trading_disabled", "{body}");
    assert_eq!(body["error"]["message"], "credentials not configured");
    assert!(body["error"]["request_id"].is_string());
}

/// Every trading route but `mode`, as `user`.
async fn every_trading_route(app: &TestApp, user: &SignedIn) -> Vec<reqwest::Response> {
    let id = "61e69015-8549-4bfd-b9c3-01e75843f47d";
    vec![
        get(app, user, "/api/trading/readiness").await,
        get(app, user, "/api/trading/account").await,
        get(app, user, "/api/trading/positions").await,
        get(app, user, "/api/trading/orders").await,
        submit(app, user, &market_order()).await,
        app.authed(Method::DELETE, &format!("/api/trading/orders/{id}"), user)
            .send()
            .await
            .unwrap(),
    ]
}

/// Polls `app`'s account route until it answers `status`.
async fn account_becomes(app: &TestApp, user: &SignedIn, status: u16, deadline: Duration) {
    eventually(deadline, &format!("account answers {status}"), || async {
        (get(app, user, "/api/trading/account").await.status() == status).then_some(())
    })
    .await;
}

fn raptor_cli(app: &TestApp, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"));
    command
        .args(args)
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &app.db.url)
        .env("DATABASE_SSL", "disable")
        .env("SECRET_KEY", TEST_SECRET_KEY);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trading_mode_every_trading_route_but_mode_answers_503() {
    let app = spawn_app().await;
    let user = app.sign_in("trader@example.com", false).await;
    let mode = mode(&app, &user).await;
    assert_eq!(mode["paper"], true);
    assert_eq!(mode["broker"], "alpaca_paper");
    assert_eq!(mode["trading_enabled"], false);
    assert_eq!(mode["kill_switch"]["engaged"], true);
    assert_eq!(mode["kill_switch"]["source"], "config");
    assert_eq!(
        mode["kill_switch"]["reason"],
        "ALPACA_AUTH_MODE is not set to trading"
    );
    for response in every_trading_route(&app, &user).await {
        assert_trading_disabled(response).await;
    }
    let orders: i64 = app.db.count("SELECT count(*) FROM orders").await;
    assert_eq!(orders, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_engage_the_switch() {
    let stub = AlpacaStub::start().await;
    let app = spawn_app_with(&[
        ("ALPACA_AUTH_MODE", "trading"),
        ("ALPACA_PAPER_API_KEY", "test-key-id"),
        ("ALPACA_PAPER_BASE_URL", &stub.url),
    ])
    .await;
    let user = app.sign_in("trader@example.com", false).await;
    let mode = mode(&app, &user).await;
    assert_eq!(mode["kill_switch"]["reason"], "credentials not configured");
    for response in every_trading_route(&app, &user).await {
        assert_trading_disabled(response).await;
    }
    assert_eq!(stub.seen().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_engages_and_releases_the_switch_through_the_api() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let operator = app.sign_in("operator@example.com", true).await;
    assert_eq!(get(&app, &user, "/api/trading/account").await.status(), 200);

    let engaged = set_switch(&app, &operator, true, "incident 7: runaway orders").await;
    assert_eq!(engaged.status(), 200);
    let view: Value = engaged.json().await.unwrap();
    assert_eq!(view["engaged"], true);
    assert_eq!(view["source"], "operator");
    assert_eq!(
        view["operator"]["changed_by"],
        format!("api:{}", operator.user_id)
    );

    let seen = stub.seen().len();
    for response in every_trading_route(&app, &user).await {
        assert_trading_disabled(response).await;
    }
    assert_eq!(
        stub.seen().len(),
        seen,
        "nothing reaches Alpaca while engaged"
    );
    let mode = mode(&app, &user).await;
    assert_eq!(mode["kill_switch"]["source"], "operator");
    assert_eq!(mode["kill_switch"]["reason"], "incident 7: runaway orders");
    assert_eq!(mode["kill_switch"]["operator"]["engaged"], true);
    assert!(mode["kill_switch"]["operator"].get("changed_by").is_none());
    let diagnostic: Value = get(&app, &operator, "/api/system/diagnostic")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(diagnostic["kill_switch"]["engaged"], true);
    assert_eq!(diagnostic["kill_switch"]["source"], "operator");

    let released = set_switch(&app, &operator, false, "incident 7 resolved").await;
    assert_eq!(released.status(), 200);
    assert_eq!(released.json::<Value>().await.unwrap()["engaged"], false);
    assert_eq!(get(&app, &user, "/api/trading/account").await.status(), 200);

    let changes: Vec<_> = audit_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.0.starts_with("kill_switch."))
        .collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].0, "kill_switch.engage");
    assert_eq!(changes[1].0, "kill_switch.release");
    for (_, actor, _, details) in &changes {
        assert_eq!(*actor, Some(operator.user_id));
        assert_eq!(details["source"], "api");
    }
    assert_eq!(changes[0].3["reason"], "incident 7: runaway orders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_may_use_the_switch_route() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let operator = app.sign_in("operator@example.com", true).await;

    let forbidden = set_switch(&app, &user, true, "i want to stop everyone").await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(error_code(forbidden).await, "operator_only");
    let read = get(&app, &user, SWITCH).await;
    assert_eq!(read.status(), 403);
    assert_eq!(get(&app, &operator, SWITCH).await.status(), 200);

    let no_reason = set_switch(&app, &operator, true, "   ").await;
    assert_eq!(no_reason.status(), 422);
    let body: Value = no_reason.json().await.unwrap();
    assert!(body["error"]["fields"]["reason"].is_string(), "{body}");
    // A control character (NUL cannot even be stored) is refused the same way, not a 503.
    for reason in ["stop\u{0}now", "stop\u{1b}[2Jnow"] {
        let refused = set_switch(&app, &operator, true, reason).await;
        assert_eq!(refused.status(), 422, "{reason:?}");
    }
    let mistyped = app
        .authed(Method::POST, SWITCH, &operator)
        .body(json!({"engaged": "yes", "reason": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(mistyped.status(), 422);
    let malformed = app
        .authed(Method::POST, SWITCH, &operator)
        .body("{\"engaged\": true,")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    assert_eq!(get(&app, &user, "/api/trading/account").await.status(), 200);
    assert!(audit_rows(&app).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engage_on_one_instance_stops_trading_on_every_instance_within_a_second() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let peer = app.spawn_peer(&stub.overrides()).await;
    let user = app.sign_in("trader@example.com", false).await;
    let operator = app.sign_in("operator@example.com", true).await;
    assert_eq!(
        get(&peer, &user, "/api/trading/account").await.status(),
        200
    );

    let engaged = set_switch(&app, &operator, true, "incident 8").await;
    assert_eq!(engaged.status(), 200);
    account_becomes(&peer, &user, 503, Duration::from_secs(1)).await;
    assert_trading_disabled(submit(&peer, &user, &market_order()).await).await;
    assert_eq!(
        mode(&peer, &user).await["kill_switch"]["reason"],
        "incident 8"
    );

    let released = set_switch(&peer, &operator, false, "incident 8 over").await;
    assert_eq!(released.status(), 200);
    account_becomes(&app, &user, 200, Duration::from_secs(1)).await;
    assert_eq!(stub.orders_received(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_engages_and_releases_the_switch_on_running_instances() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    assert_eq!(get(&app, &user, "/api/trading/account").await.status(), 200);

    let engage = raptor_cli(&app, &["kill-switch", "engage", "--reason", "incident 9"])
        .output()
        .await
        .unwrap();
    assert!(
        engage.status.success(),
        "{}",
        String::from_utf8_lossy(&engage.stderr)
    );
    account_becomes(&app, &user, 503, Duration::from_secs(1)).await;
    let mode = mode(&app, &user).await;
    assert_eq!(mode["kill_switch"]["source"], "operator");
    assert_eq!(mode["kill_switch"]["reason"], "incident 9");

    // An instance that starts while the switch is engaged starts engaged.
    let late = app.spawn_peer(&stub.overrides()).await;
    account_becomes(&late, &user, 503, Duration::from_secs(1)).await;

    let status = raptor_cli(&app, &["kill-switch", "status"])
        .output()
        .await
        .unwrap();
    assert!(status.status.success());
    let stored: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(stored["engaged"], true);
    assert_eq!(stored["changed_by"], "cli");

    let missing_reason = raptor_cli(&app, &["kill-switch", "release"])
        .output()
        .await
        .unwrap();
    assert!(!missing_reason.status.success(), "--reason is required");

    let release = raptor_cli(
        &app,
        &["kill-switch", "release", "--reason", "incident 9 over"],
    )
    .output()
    .await
    .unwrap();
    assert!(
        release.status.success(),
        "{}",
        String::from_utf8_lossy(&release.stderr)
    );
    account_becomes(&app, &user, 200, Duration::from_secs(1)).await;
    account_becomes(&late, &user, 200, Duration::from_secs(1)).await;

    let changes: Vec<_> = audit_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.0.starts_with("kill_switch."))
        .map(|r| (r.0, r.3["source"].clone(), r.3["reason"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (
                "kill_switch.engage".to_owned(),
                json!("cli"),
                json!("incident 9")
            ),
            (
                "kill_switch.release".to_owned(),
                json!("cli"),
                json!("incident 9 over")
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_configuration_turns_trading_off_and_on_and_is_audited() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    assert_eq!(get(&app, &user, "/api/trading/account").await.status(), 200);

    // What a SIGHUP does after the operator removed ALPACA_AUTH_MODE.
    let mut off = stub.overrides();
    off.retain(|(k, _)| *k != "ALPACA_AUTH_MODE");
    app.app().reload(&test_settings(&app.db.url, &off));
    account_becomes(&app, &user, 503, Duration::from_secs(1)).await;
    assert_eq!(mode(&app, &user).await["kill_switch"]["source"], "config");

    app.app()
        .reload(&test_settings(&app.db.url, &stub.overrides()));
    account_becomes(&app, &user, 200, Duration::from_secs(1)).await;

    let changes = eventually(Duration::from_secs(2), "both changes audited", || async {
        let changes: Vec<_> = audit_rows(&app)
            .await
            .into_iter()
            .filter(|r| r.0.starts_with("kill_switch."))
            .map(|r| (r.0, r.3["source"].clone()))
            .collect();
        (changes.len() == 2).then_some(changes)
    })
    .await;
    assert_eq!(
        changes,
        [
            ("kill_switch.engage".to_owned(), json!("config")),
            ("kill_switch.release".to_owned(), json!("config")),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_broker_fills_cancels_and_keeps_cash_and_positions_consistent() {
    let app = spawn_app_with(&[("ALPACA_AUTH_MODE", "simulated")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let mode = mode(&app, &user).await;
    assert_eq!(mode["broker"], "simulated");
    assert_eq!(mode["trading_enabled"], true);
    assert_eq!(
        get(&app, &user, "/api/trading/readiness").await.status(),
        200
    );

    let cash =
        |account: &Value| Decimal::from_str_exact(account["cash"].as_str().unwrap()).unwrap();
    let account: Value = get(&app, &user, "/api/trading/account")
        .await
        .json()
        .await
        .unwrap();
    let start = cash(&account);
    // The book follows the simulated broker's fills (stream or reconciliation).
    let holds = |qty: &'static str| {
        let (app, user) = (&app, &user);
        async move {
            eventually(
                Duration::from_secs(10),
                &format!("{qty} AAPL held"),
                || async {
                    let positions: Value = get(app, user, "/api/trading/positions")
                        .await
                        .json()
                        .await
                        .unwrap();
                    (positions[0]["qty"] == qty).then_some(positions)
                },
            )
            .await
        }
    };

    let bought = submit(
        &app,
        &user,
        &json!({"symbol": "AAPL", "qty": 3, "side": "buy",
        "type": "market", "time_in_force": "day"}),
    )
    .await;
    assert_eq!(bought.status(), 201);
    let bought: Value = bought.json().await.unwrap();
    assert_eq!(bought["status"], "filled");
    let price = Decimal::from_str_exact(bought["filled_avg_price"].as_str().unwrap()).unwrap();
    holds("3").await;

    let sold = submit(
        &app,
        &user,
        &json!({"symbol": "AAPL", "qty": "1", "side": "sell",
        "type": "market", "time_in_force": "day"}),
    )
    .await;
    assert_eq!(sold.status(), 201);
    let positions = holds("2").await;
    assert_eq!(positions[0]["symbol"], "AAPL");
    assert_eq!(positions[0]["qty"], "2");
    let account: Value = get(&app, &user, "/api/trading/account")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cash(&account), start - price * Decimal::from(2));

    let too_many = submit(
        &app,
        &user,
        &json!({"symbol": "AAPL", "qty": "5", "side": "sell",
        "type": "market", "time_in_force": "day"}),
    )
    .await;
    assert_eq!(too_many.status(), 422);
    assert_eq!(error_code(too_many).await, "insufficient_position");

    let resting = submit(
        &app,
        &user,
        &json!({"symbol": "AAPL", "qty": "1", "side": "buy",
        "type": "limit", "limit_price": "0.01", "time_in_force": "gtc"}),
    )
    .await;
    assert_eq!(resting.status(), 201);
    let resting: Value = resting.json().await.unwrap();
    assert_eq!(resting["status"], "new");
    let open: Value = get(&app, &user, "/api/trading/orders")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["id"], resting["id"]);
    let id = resting["id"].as_str().unwrap();
    let canceled = app
        .authed(Method::DELETE, &format!("/api/trading/orders/{id}"), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(canceled.status(), 204);
    let all: Value = get(&app, &user, "/api/trading/orders?status=all")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["status"], "canceled");
    let account: Value = get(&app, &user, "/api/trading/account")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cash(&account),
        start - price * Decimal::from(2),
        "a cancel moves no cash"
    );
}

fn deployed_env(
    app_env: &'static str,
    extra: &[(&'static str, &'static str)],
) -> impl Fn(&str) -> Option<String> {
    let mut vars = vec![
        ("APP_ENV", app_env),
        ("DATABASE_URL", "postgres://raptor@db.example/raptor"),
        ("SECRET_KEY", TEST_SECRET_KEY),
    ];
    vars.extend_from_slice(extra);
    move |key: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn the_simulated_broker_can_never_be_selected_in_production_or_staging() {
    for app_env in ["production", "staging"] {
        let error = Settings::load(deployed_env(app_env, &[("ALPACA_AUTH_MODE", "simulated")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("ALPACA_AUTH_MODE"), "{app_env}: {error}");

        let settings = Settings::load(deployed_env(app_env, &[])).unwrap();
        let config = raptor::startup::wiring::broker_config(&settings);
        assert_eq!(config.kind, BrokerKind::AlpacaPaper, "{app_env}");
        assert!(config.engaged_by().is_some(), "no credentials: engaged");
    }

    // On a laptop without credentials, `raptor dev` gets the simulator...
    let laptop = Settings::load(deployed_env("development", &[])).unwrap();
    assert_eq!(laptop.app_env, AppEnv::Development);
    let config = raptor::startup::wiring::broker_config(&laptop);
    assert_eq!(config.kind, BrokerKind::Simulated);
    assert_eq!(config.engaged_by(), None);
    // ...and real paper trading once credentials are configured.
    let with_keys = Settings::load(deployed_env(
        "development",
        &[
            ("ALPACA_AUTH_MODE", "trading"),
            ("ALPACA_PAPER_API_KEY", "test-key-id"),
            ("ALPACA_PAPER_API_SECRET", "test-secret-value"),
        ],
    ))
    .unwrap();
    let config = raptor::startup::wiring::broker_config(&with_keys);
    assert_eq!(config.kind, BrokerKind::AlpacaPaper);
    assert_eq!(config.engaged_by(), None);
}

#[test]
fn the_outbound_rate_limit_defaults_to_190_a_minute_for_the_account_and_must_be_positive() {
    let settings = Settings::load(deployed_env("production", &[])).unwrap();
    assert_eq!(settings.alpaca.account_rate_limit_per_minute, 190);
    assert_eq!(settings.alpaca.rate_limit_per_minute, 60, "the fallback");
    for name in [
        "ALPACA_ACCOUNT_RATE_LIMIT_PER_MINUTE",
        "ALPACA_RATE_LIMIT_PER_MINUTE",
    ] {
        let error = Settings::load(deployed_env("production", &[(name, "0")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains(name), "{error}");
        let error = Settings::load(deployed_env("production", &[(name, "many")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains(name), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_rereads_configuration_and_the_server_keeps_serving() {
    use nix::sys::signal::{kill, Signal};

    let db = crate::helpers::TestDb::create().await;
    let env: Vec<(String, String)> = [
        ("APP_ENV", "test"),
        ("DATABASE_URL", db.url.as_str()),
        ("DATABASE_SSL", "disable"),
        ("SECRET_KEY", TEST_SECRET_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let migrate = tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"))
        .arg("migrate")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .status()
        .await
        .unwrap();
    assert!(migrate.success());
    let server = crate::serve_process::ServeProcess::start(&env).await;
    let mut child = server.child;
    let log = server.log;
    let health = format!("{}/health", server.base);
    let up = || async {
        reqwest::get(&health)
            .await
            .ok()
            .filter(|r| r.status() == 200)
            .map(|_| ())
    };
    eventually(Duration::from_secs(20), "the server answers", up).await;

    kill(
        nix::unistd::Pid::from_raw(child.id().unwrap() as i32),
        Signal::SIGHUP,
    )
    .unwrap();
    eventually(Duration::from_secs(5), "the reload is logged", || async {
        log.lock()
            .unwrap()
            .contains("configuration reloaded")
            .then_some(())
    })
    .await;
    eventually(Duration::from_secs(5), "still serving", up).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP does not stop it"
    );
}
