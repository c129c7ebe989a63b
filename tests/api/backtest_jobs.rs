//! The backtest job lifecycle (issue 27): cancelling a queued or running job, retrying
//! transient failures with backoff (attempts visible), answering an equal request with the
//! earlier job, taking jobs round-robin across users, and lists as pages of summaries.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::alpaca_data_stub::{AlpacaDataStub, DataBehaviour};
use crate::backtest::{body, get, post, web, worker};
use crate::helpers::{error_code, eventually, SignedIn, TestApp};

const DEADLINE: Duration = Duration::from_secs(20);

async fn delete(app: &TestApp, user: &SignedIn, id: &str) -> reqwest::Response {
    app.authed(Method::DELETE, &format!("/api/backtest/{id}"), user)
        .send()
        .await
        .expect("request")
}

async fn run_of(app: &TestApp, user: &SignedIn, id: &str) -> Value {
    get(app, user, &format!("/api/backtest/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn until_status(app: &TestApp, user: &SignedIn, id: &str, status: &str) -> Value {
    eventually(DEADLINE, &format!("the run is {status}"), || async {
        let run = run_of(app, user, id).await;
        (run["status"] == status).then_some(run)
    })
    .await
}

fn id_of(run: &Value) -> String {
    run["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_run_is_canceled_at_once_and_never_runs() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let other = app.sign_in("other@example.com", false).await;
    let queued: Value = post(&app, &user, &body()).await.json().await.unwrap();
    let id = id_of(&queued);

    assert_eq!(delete(&app, &other, &id).await.status(), 404, "not theirs");
    assert_eq!(delete(&app, &user, "not-a-uuid").await.status(), 404);
    let response = delete(&app, &user, &id).await;
    assert_eq!(response.status(), 200);
    let canceled: Value = response.json().await.unwrap();
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["finished_at"].is_string());

    let again = delete(&app, &user, &id).await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "already_finished");

    // A worker that starts later runs the next run, not the canceled one.
    let worker = worker(&app, &stub).await;
    let mut next = body();
    next["strategy"] = json!({"name": "buy_and_hold"});
    let response = post(&app, &user, &next).await;
    assert_eq!(response.status(), 201);
    let canceled = run_of(&app, &user, &id).await;
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled.get("metrics").is_none());
    assert_eq!(canceled["attempts"], 0);
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_run_is_canceled_within_a_second_and_the_slot_is_freed() {
    let stub = AlpacaDataStub::start().await;
    stub.behave(DataBehaviour::Hang);
    let (app, user) = web(&stub).await;
    let worker = worker(&app, &stub).await;
    let pending: Value = post(&app, &user, &body()).await.json().await.unwrap();
    let id = id_of(&pending);
    until_status(&app, &user, &id, "running").await;

    let response = delete(&app, &user, &id).await;
    assert_eq!(response.status(), 200);
    let asked = std::time::Instant::now();
    // The worker lets go of it: with both slots free, two new runs both start.
    stub.behave(DataBehaviour::Normal);
    let sql = format!(
        "SELECT count(*) FROM backtest_runs WHERE id = '{id}' AND status = 'canceled' AND result IS NULL"
    );
    // Another range: the hung fetch is not shared with it.
    let mut second = body();
    second["start"] = json!("2024-02-01T00:00:00Z");
    let response = post(&app, &user, &second).await;
    assert!(response.status() == 201 || response.status() == 202);
    let second_id = id_of(&response.json().await.unwrap());
    until_status(&app, &user, &second_id, "succeeded").await;
    assert_eq!(app.db.count(&sql).await, 1, "the cancel stands");
    eventually(
        Duration::from_secs(3),
        "the worker stops the canceled run",
        || async {
            let busy = "SELECT count(*) FROM backtest_runs WHERE status = 'running'";
            (app.db.count(busy).await == 0).then_some(())
        },
    )
    .await;
    assert!(asked.elapsed() < Duration::from_secs(10));
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transient_failures_are_retried_with_backoff_until_the_third_attempt_fails() {
    let stub = AlpacaDataStub::start().await;
    stub.behave(DataBehaviour::Fail(503, r#"{"message":"busy"}"#.into()));
    let (app, user) = web(&stub).await;
    let worker = worker(&app, &stub).await;
    let response = post(&app, &user, &body()).await;
    let id = id_of(&response.json().await.unwrap());
    let failed = until_status(&app, &user, &id, "failed").await;
    assert_eq!(failed["attempts"], 3);
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("failed after 3 attempts: market data"),
        "{reason}"
    );
    assert!(failed["last_error"]
        .as_str()
        .unwrap()
        .starts_with("market data"));
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_provider_recovers_succeeds_on_a_later_attempt() {
    let stub = AlpacaDataStub::start().await;
    stub.behave(DataBehaviour::Fail(503, r#"{"message":"busy"}"#.into()));
    let (app, user) = web(&stub).await;
    let worker = worker(&app, &stub).await;
    let response = post(&app, &user, &body()).await;
    let id = id_of(&response.json().await.unwrap());
    // The submission's 2-s wait may already cover the first retry: take whichever is waiting.
    let waiting = eventually(DEADLINE, "an attempt fails and waits to retry", || async {
        let run = run_of(&app, &user, &id).await;
        (run["status"] == "queued" && run["last_error"].is_string()).then_some(run)
    })
    .await;
    assert!(waiting["retry_at"].is_string(), "{waiting}");
    let failed = waiting["attempts"].as_i64().unwrap();
    assert!((1..3).contains(&failed), "{waiting}");
    stub.behave(DataBehaviour::Normal);
    let run = until_status(&app, &user, &id, "succeeded").await;
    assert_eq!(run["attempts"], failed + 1);
    assert!(run["metrics"].is_object());
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_equal_request_gets_the_earlier_run_until_ten_minutes_after_it_ended() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let other = app.sign_in("other@example.com", false).await;
    let queued: Value = post(&app, &user, &body()).await.json().await.unwrap();
    let again = post(&app, &user, &body()).await;
    assert_eq!(again.status(), 202, "equal to a queued run");
    assert_eq!(id_of(&again.json().await.unwrap()), id_of(&queued));
    let theirs: Value = post(&app, &other, &body()).await.json().await.unwrap();
    assert_ne!(
        id_of(&theirs),
        id_of(&queued),
        "another user's run is theirs"
    );

    let worker = worker(&app, &stub).await;
    until_status(&app, &user, &id_of(&queued), "succeeded").await;
    let again = post(&app, &user, &body()).await;
    assert_eq!(again.status(), 200, "equal to a run that just succeeded");
    let reused: Value = again.json().await.unwrap();
    assert_eq!(id_of(&reused), id_of(&queued));
    assert!(reused["metrics"].is_object());
    let mut different = body();
    different["commission"] = json!("0.002");
    assert_eq!(post(&app, &user, &different).await.status(), 201);

    app.clock.advance(chrono::Duration::seconds(601));
    let fresh = post(&app, &user, &body()).await;
    assert_eq!(fresh.status(), 201, "ten minutes later it runs again");
    assert_ne!(id_of(&fresh.json().await.unwrap()), id_of(&queued));
    let audited = "SELECT count(*) FROM audit_log WHERE event = 'backtest.run'";
    assert_eq!(
        app.db.count(audited).await,
        4,
        "reused runs are not audited again"
    );
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_users_long_queue_delays_another_users_run_by_at_most_one_run_per_slot() {
    let stub = AlpacaDataStub::start().await;
    let (app, busy) = web(&stub).await;
    let patient = app.sign_in("patient@example.com", false).await;
    let request = raptor::backtest::BacktestRequest::parse(&body(), 1_000_000)
        .unwrap()
        .to_json();
    let db = app.db.client().await;
    let insert = "INSERT INTO backtest_runs (id, user_id, request, created_at)
                  VALUES (gen_random_uuid(), $1, $2, now() - $3 * interval '1 second')";
    for i in 0..50 {
        db.execute(insert, &[&busy.user_id, &request, &(100.0 - f64::from(i))])
            .await
            .unwrap();
    }
    let mut theirs = body();
    theirs["strategy"] = json!({"name": "buy_and_hold"});
    let response = post(&app, &patient, &theirs).await;
    assert_eq!(response.status(), 202);
    let id: Uuid = id_of(&response.json().await.unwrap()).parse().unwrap();

    let worker = worker(&app, &stub).await;
    until_status(&app, &patient, &id.to_string(), "succeeded").await;
    let row = db
        .query_one(
            "SELECT count(*) FROM backtest_runs
              WHERE claim_seq < (SELECT claim_seq FROM backtest_runs WHERE id = $1)",
            &[&id],
        )
        .await
        .unwrap();
    let before: i64 = row.get(0);
    assert!(
        before <= 2,
        "{before} of the other user's runs went first (2 slots)"
    );
    worker.shutdown().await;
}

#[tokio::test]
async fn lists_are_pages_of_summaries_with_a_cursor() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let db = app.db.client().await;
    let insert = "INSERT INTO backtest_runs (id, user_id, status, request, result, created_at)
                  VALUES (gen_random_uuid(), $1, 'succeeded', '{}',
                          '{\"bars\": 3, \"trades\": [], \"equity_curve\": []}',
                          now() - $2 * interval '1 second')";
    for i in 0..5 {
        db.execute(insert, &[&user.user_id, &f64::from(i)])
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut path = "/api/backtest?limit=2".to_owned();
    loop {
        let page: Value = get(&app, &user, &path).await.json().await.unwrap();
        for run in page["runs"].as_array().unwrap() {
            assert_eq!(run["bars"], 3);
            assert!(run.get("trades").is_none() && run.get("equity_curve").is_none());
            seen.push(run["created_at"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/backtest?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );

    for bad in ["limit=0", "limit=101", "cursor=forged", "limit=x"] {
        let response = get(&app, &user, &format!("/api/backtest?{bad}")).await;
        assert_eq!(response.status(), 422, "{bad}");
    }
}
