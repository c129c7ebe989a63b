//! Backtest data in the GDPR requests and in retention (issue 27): the export holds a
//! person's runs and sweeps and erasure removes them at once; the historical-bar cache keeps a
//! range 90 days after it was last read, and the bars no kept range covers go with it.

use chrono::{DateTime, Utc};
use raptor::retention::Job;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::alpaca_data_stub::AlpacaDataStub;
use std::time::Duration;

use crate::backtest::{body, get, post, web, worker};
use crate::helpers::{eventually, SignedIn, TestApp};
use crate::retention::{pool, raptor_cli, run_job};

async fn insert_job(db: &tokio_postgres::Client, user: Uuid, kind: &str) -> Uuid {
    let id = Uuid::new_v4();
    db.execute(
        "INSERT INTO backtest_runs (id, user_id, kind, status, request, result, created_at)
         VALUES ($1, $2, $3, 'succeeded', '{\"symbol\": \"AAPL\"}', '{\"bars\": 1}', now())",
        &[&id, &user, &kind],
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn the_export_holds_the_persons_runs_and_sweeps_and_erasure_removes_them() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let other = app.sign_in("other@example.com", false).await;
    let db = app.db.client().await;
    let run = insert_job(&db, user.user_id, "run").await;
    let sweep = insert_job(&db, user.user_id, "sweep").await;
    let theirs = insert_job(&db, other.user_id, "run").await;

    let response = app
        .authed(reqwest::Method::GET, "/api/account/export", &user)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let export: Value = response.json().await.unwrap();
    let held = export["backtests"].as_array().unwrap();
    let ids: Vec<&str> = held.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{held:?}");
    assert!(ids.contains(&run.to_string().as_str()) && ids.contains(&sweep.to_string().as_str()));
    assert!(!ids.contains(&theirs.to_string().as_str()));
    let kinds: Vec<&Value> = held.iter().map(|b| &b["kind"]).collect();
    assert!(kinds.contains(&&json!("sweep")));
    assert_eq!(held[0]["request"]["symbol"], "AAPL");

    let response = app
        .authed(reqwest::Method::DELETE, "/api/account", &user)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mine = format!(
        "SELECT count(*) FROM backtest_runs WHERE user_id = '{}'",
        user.user_id
    );
    assert_eq!(
        app.db.count(&mine).await,
        0,
        "gone at erasure, not after the quarantine"
    );
    assert_eq!(app.db.count("SELECT count(*) FROM backtest_runs").await, 1);
}

async fn insert_range(
    db: &tokio_postgres::Client,
    symbol: &str,
    days: (i64, i64),
    used_at: DateTime<Utc>,
) {
    let day = |d: i64| DateTime::<Utc>::from_timestamp(1_700_006_400 + d * 86_400, 0).unwrap();
    db.execute(
        "INSERT INTO market_bar_coverage
            (symbol, timeframe, adjustment, feed, covered_from, covered_to, fetched_at, used_at)
         VALUES ($1, '1Day', 'all', 'iex', $2, $3, $4, $4)",
        &[&symbol, &day(days.0), &day(days.1), &used_at],
    )
    .await
    .unwrap();
    for d in days.0..=days.1 {
        db.execute(
            "INSERT INTO market_bars (symbol, timeframe, adjustment, feed, t, o, h, l, c, v, raw, fetched_at)
             VALUES ($1, '1Day', 'all', 'iex', $2, 1, 1, 1, 1, 1, '{}', $3) ON CONFLICT DO NOTHING",
            &[&symbol, &day(d), &used_at],
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn cached_bars_unread_for_90_days_are_removed_with_their_ranges() {
    let stub = AlpacaDataStub::start().await;
    let (app, _) = web(&stub).await;
    let db = app.db.client().await;
    let now = Utc::now();
    let old = now - chrono::Duration::days(91);
    insert_range(&db, "OLD", (0, 9), old).await;
    insert_range(&db, "MIX", (0, 9), old).await;
    insert_range(&db, "MIX", (5, 14), now - chrono::Duration::days(89)).await;

    let (ok, stdout, stderr) = raptor_cli(&app, &["retention", "report"]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("market_bar_coverage") && stdout.contains("market_bars"),
        "{stdout}"
    );

    let pool = pool(&app, 2).await;
    let removed = run_job(&pool, Job::OutboxPurge, now).await;
    assert_eq!(
        removed,
        2 + 10 + 5,
        "two ranges, OLD's 10 bars, MIX's 5 no kept range covers"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM market_bars WHERE symbol = 'OLD'")
            .await,
        0
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM market_bars WHERE symbol = 'MIX'")
            .await,
        10
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM market_bar_coverage")
            .await,
        1
    );
}

/// Submits a run and waits until it has succeeded.
async fn finish(app: &TestApp, user: &SignedIn, body: &Value) {
    let run: Value = post(app, user, body).await.json().await.unwrap();
    let id = run["id"].as_str().unwrap().to_owned();
    let run = eventually(Duration::from_secs(20), "the run ends", || async {
        let path = format!("/api/backtest/{id}");
        let run: Value = get(app, user, &path).await.json().await.ok()?;
        run["finished_at"].is_string().then_some(run)
    })
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reading_cached_bars_marks_their_range_as_used() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let worker = worker(&app, &stub).await;
    finish(&app, &user, &body()).await;
    let used = "SELECT count(*) FROM market_bar_coverage WHERE used_at IS NOT NULL";
    assert_eq!(
        app.db.count(used).await,
        0,
        "a fresh range counts from its fetch"
    );
    let mut again = body();
    again["strategy"] = json!({"name": "buy_and_hold"});
    finish(&app, &user, &again).await;
    assert!(
        app.db.count(used).await >= 1,
        "the second run read the cached range"
    );
    worker.shutdown().await;
}
