//! Backtests as durable jobs (issue 11): a web dyno queues, a worker dyno runs, the web dyno
//! answers 201 when the run ends within 2 s, else 202; runs are the caller's own; bad input is
//! a 422 that creates nothing; limits answer 429 with `Retry-After`; an abandoned run is
//! claimed again once its lease expires. (The engine's agreement with backtrader is the unit
//! test `backtest::golden`.)

use std::sync::Arc;
use std::time::Duration;

use raptor::Application;
use raptor_actors::clock::OffsetClock;
use raptor_actors::supervisor::Mode;
use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_data_stub::{AlpacaDataStub, DataBehaviour};
use crate::helpers::{error_code, eventually, spawn_app_with, test_settings, SignedIn, TestApp};

pub(crate) fn body() -> Value {
    json!({"symbol":"AAPL","timeframe":"1Day","start":"2024-01-01T00:00:00Z",
           "end":"2024-12-31T00:00:00Z","strategy":{"name":"sma_crossover","params":{"fast":3,"slow":8}},
           "initial_cash":"100000","commission":"0.001","slippage_bps":"5","position_size_pct":"95"})
}

pub(crate) async fn web(stub: &AlpacaDataStub) -> (TestApp, SignedIn) {
    let app = spawn_app_with(&stub.overrides()).await;
    let user = app.sign_in("quant@example.com", false).await;
    (app, user)
}

/// A worker dyno on the app's database, its market data pointed at the stand-in.
pub(crate) async fn worker(app: &TestApp, stub: &AlpacaDataStub) -> Application {
    let settings = test_settings(&app.db.url, &stub.overrides());
    Application::build_with_clock(settings, Mode::Worker, Arc::new(OffsetClock::default()))
        .await
        .expect("worker starts")
}

pub(crate) async fn post(app: &TestApp, user: &SignedIn, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/api/backtest", user)
        .json(body)
        .send()
        .await
        .expect("request")
}

pub(crate) async fn get(app: &TestApp, user: &SignedIn, path: &str) -> reqwest::Response {
    app.authed(Method::GET, path, user)
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_a_worker_finishes_within_the_wait_is_answered_201_in_full() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let worker = worker(&app, &stub).await;

    let response = post(&app, &user, &body()).await;
    assert_eq!(response.status(), 201);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["request"]["symbol"], "AAPL");
    assert_eq!(run["request"]["strategy"]["params"]["slow"], 8);
    assert_eq!(run["bars"], 262, "every weekday of 2024 up to Dec 31");
    let metrics = &run["metrics"];
    assert!(
        metrics["final_equity"].is_string(),
        "money is a decimal string"
    );
    for ratio in ["total_return", "max_drawdown", "exposure"] {
        assert!(metrics[ratio].is_number(), "{ratio} is a number");
    }
    let trades = run["trades"].as_array().unwrap();
    assert_eq!(metrics["trades"], trades.len());
    if let Some(trade) = trades.first() {
        assert!(trade["entry_price"].is_string() && trade["pnl"].is_string());
        assert!(trade["entry_time"].as_str().unwrap().ends_with('Z'));
    }
    let curve = run["equity_curve"].as_array().unwrap();
    assert_eq!(curve.len(), 262);
    assert_eq!(curve[0]["equity"], "100000");

    let id = run["id"].as_str().unwrap();
    let again: Value = get(&app, &user, &format!("/api/backtest/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["metrics"], run["metrics"]);
    let list: Value = get(&app, &user, "/api/backtest")
        .await
        .json()
        .await
        .unwrap();
    let runs = list["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], id);
    assert!(runs[0].get("equity_curve").is_none(), "lists omit curves");
    assert!(runs[0].get("trades").is_none(), "lists omit trades");
    assert_eq!(list["next_cursor"], Value::Null);
    assert_eq!(run["attempts"], 1);
    assert_eq!(run["trades_truncated"], false);
    for metric in ["volatility", "max_drawdown_duration", "benchmark_return"] {
        assert!(metrics[metric].is_number(), "{metric} is a number");
    }
    assert!(
        curve[0]["benchmark"].is_string(),
        "the curve carries buy-and-hold"
    );
    assert_eq!(runs[0]["metrics"], run["metrics"]);

    let audit = app.db.client().await;
    let rows = audit
        .query(
            "SELECT actor_user_id, subject, details FROM audit_log WHERE event = 'backtest.run'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, Option<uuid::Uuid>>(0), Some(user.user_id));
    assert_eq!(rows[0].get::<_, Option<String>>(1).as_deref(), Some(id));
    let details: Value = serde_json::from_str(rows[0].get::<_, &str>(2)).unwrap();
    assert_eq!(details["symbol"], "AAPL");
    assert_eq!(details["strategy"], "sma_crossover");
    assert!(details.get("metrics").is_none(), "results are not audited");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_worker_the_run_waits_queued_and_a_later_worker_dyno_runs_it() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;

    let response = post(&app, &user, &body()).await;
    assert_eq!(response.status(), 202);
    let queued: Value = response.json().await.unwrap();
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["progress"], 0.0);
    assert_eq!(stub.total(), 0, "the web dyno fetches no bars");
    let id = queued["id"].as_str().unwrap().to_owned();

    let worker = worker(&app, &stub).await;
    let run = eventually(
        Duration::from_secs(10),
        "the worker finishes the run",
        || async {
            let run: Value = get(&app, &user, &format!("/api/backtest/{id}"))
                .await
                .json()
                .await
                .ok()?;
            (run["status"] == "succeeded").then_some(run)
        },
    )
    .await;
    assert_eq!(run["progress"], 1.0);
    assert!(stub.count("/v2/stocks/bars") >= 1);
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_bars_cannot_be_had_fails_with_a_reason() {
    let stub = AlpacaDataStub::start().await;
    stub.behave(DataBehaviour::Fail(
        403,
        r#"{"message":"forbidden"}"#.into(),
    ));
    let (app, user) = web(&stub).await;
    let worker = worker(&app, &stub).await;

    let response = post(&app, &user, &body()).await;
    assert_eq!(response.status(), 201);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["status"], "failed");
    assert!(run["reason"].as_str().unwrap().starts_with("market data"));
    assert!(run.get("metrics").is_none());
    worker.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_a_422_naming_each_field_and_creates_no_run() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let mut bad = body();
    bad["strategy"]["params"] = json!({"fast": 30, "slow": 10});
    bad["initial_cash"] = json!("-1");
    bad["commission"] = json!("-0.001");
    bad["slippage_bps"] = json!("1001");
    bad["start"] = json!("2025-06-01T00:00:00Z");
    let response = post(&app, &user, &bad).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_request");
    let fields = error["error"]["fields"].as_object().unwrap();
    for field in [
        "strategy.params.fast",
        "initial_cash",
        "commission",
        "slippage_bps",
        "start",
    ] {
        assert!(fields.contains_key(field), "{field} named in {fields:?}");
    }

    let mut unknown = body();
    unknown["strategy"] = json!({"name": "martingale"});
    assert_eq!(post(&app, &user, &unknown).await.status(), 422);
    let mut too_long = body();
    too_long["timeframe"] = json!("1Min");
    too_long["start"] = json!("2015-01-01T00:00:00Z");
    assert_eq!(post(&app, &user, &too_long).await.status(), 422);

    assert_eq!(app.db.count("SELECT count(*) FROM backtest_runs").await, 0);
    let audited = "SELECT count(*) FROM audit_log WHERE event = 'backtest.run'";
    assert_eq!(app.db.count(audited).await, 0);
}

#[tokio::test]
async fn limits_answer_429_with_retry_after() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let db = app.db.client().await;
    let insert = "INSERT INTO backtest_runs (id, user_id, status, request, created_at, lease_until)
                  VALUES (gen_random_uuid(), $1, $2, '{}', now(), now() + interval '1 hour')";
    for _ in 0..20 {
        db.execute(insert, &[&user.user_id, &"queued"])
            .await
            .unwrap();
    }
    let response = post(&app, &user, &body()).await;
    assert_eq!(response.status(), 429, "twenty runs already queued");
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_code(response).await, "rate_limited");

    db.execute("UPDATE backtest_runs SET status = 'succeeded'", &[])
        .await
        .unwrap();
    for _ in 0..30 {
        db.execute(insert, &[&user.user_id, &"succeeded"])
            .await
            .unwrap();
    }
    let response = post(&app, &user, &body()).await;
    assert_eq!(response.status(), 429, "fifty runs today");
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        wait > 23 * 3600 && wait <= 24 * 3600,
        "until a day after the oldest: {wait}"
    );
    assert_eq!(app.db.count("SELECT count(*) FROM backtest_runs").await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_are_their_owners_alone_and_need_a_session() {
    let stub = AlpacaDataStub::start().await;
    let (app, owner) = web(&stub).await;
    let other = app.sign_in("other@example.com", false).await;
    let response = post(&app, &owner, &body()).await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let theirs = get(&app, &other, &format!("/api/backtest/{id}")).await;
    assert_eq!(theirs.status(), 404);
    let list: Value = get(&app, &other, "/api/backtest")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["runs"], json!([]));
    assert_eq!(app.get("/api/backtest").await.status(), 401);
    assert_eq!(
        get(&app, &owner, "/api/backtest/not-a-uuid").await.status(),
        404
    );

    // Erasure removes the runs with the account.
    let db = app.db.client().await;
    db.execute("DELETE FROM users WHERE id = $1", &[&owner.user_id])
        .await
        .unwrap();
    assert_eq!(app.db.count("SELECT count(*) FROM backtest_runs").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_abandoned_by_a_dead_dyno_is_claimed_again_after_its_lease() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let request = raptor::backtest::BacktestRequest::parse(&body(), 1_000_000)
        .unwrap()
        .to_json();
    let db = app.db.client().await;
    let abandoned = uuid::Uuid::new_v4();
    let held = uuid::Uuid::new_v4();
    let insert = "INSERT INTO backtest_runs
                    (id, user_id, status, request, created_at, attempts, lease_until)
                  VALUES ($1, $2, 'running', $3, now(), 1, now() + $4 * interval '1 second')";
    db.execute(insert, &[&abandoned, &user.user_id, &request, &-5.0f64])
        .await
        .unwrap();
    db.execute(insert, &[&held, &user.user_id, &request, &3600.0f64])
        .await
        .unwrap();

    let worker = worker(&app, &stub).await;
    let status = |id: uuid::Uuid| {
        let app = &app;
        async move {
            let sql = format!("SELECT status FROM backtest_runs WHERE id = '{id}'");
            let row = app.db.client().await.query_one(&sql, &[]).await.unwrap();
            row.get::<_, String>(0)
        }
    };
    eventually(
        Duration::from_secs(10),
        "the expired lease is reclaimed",
        || async { (status(abandoned).await == "succeeded").then_some(()) },
    )
    .await;
    assert_eq!(status(held).await, "running", "a live lease is left alone");
    worker.shutdown().await;
}
