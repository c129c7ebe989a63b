//! Parameter sweeps and the equity chart (issue 27): a sweep is one job whose combinations are
//! ranked and each equal to the single run of its request; bad sweeps are a 422 that queues
//! nothing; the chart is the owner's SVG with a line per series and the drawdowns shaded.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_data_stub::AlpacaDataStub;
use crate::backtest::{body, get, post, web, worker};
use crate::helpers::{error_code, eventually, SignedIn, TestApp};

fn sweep_body() -> Value {
    json!({
        "base": body(),
        "grid": {"strategy.params.fast": [3, 5, 10], "strategy.params.slow": [8, 20],
                 "position_size_pct": ["50", "95"]},
        "rank_by": "total_return",
    })
}

async fn post_sweep(app: &TestApp, user: &SignedIn, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/api/backtest/sweeps", user)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn finished_sweep(app: &TestApp, user: &SignedIn, response: reqwest::Response) -> Value {
    let first: Value = response.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(20), "the sweep ends", || async {
        let sweep: Value = get(app, user, &format!("/api/backtest/sweeps/{id}"))
            .await
            .json()
            .await
            .ok()?;
        (sweep["status"] == "succeeded").then_some(sweep)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sweep_ranks_combinations_each_equal_to_its_single_run() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let worker = worker(&app, &stub).await;
    let response = post_sweep(&app, &user, &sweep_body()).await;
    assert!(matches!(response.status().as_u16(), 201 | 202));
    let sweep = finished_sweep(&app, &user, response).await;
    let fetches = stub.count("/v2/stocks/bars");
    assert_eq!(
        (sweep["total"].as_u64(), sweep["skipped"].as_u64()),
        (Some(12), Some(2))
    );
    let combos = sweep["combinations"].as_array().unwrap();
    assert_eq!(
        combos.len(),
        10,
        "fast 10 ≥ slow 8 is skipped for both sizes"
    );
    assert_eq!(sweep["best"], combos[0]);
    assert_eq!(sweep["progress"], 1.0);
    let returns: Vec<f64> = combos
        .iter()
        .map(|c| c["metrics"]["total_return"].as_f64().unwrap())
        .collect();
    assert!(returns.windows(2).all(|w| w[0] >= w[1]), "{returns:?}");

    for combo in [&combos[0], &combos[9]] {
        let mut single = body();
        single["strategy"]["params"]["fast"] = combo["params"]["strategy.params.fast"].clone();
        single["strategy"]["params"]["slow"] = combo["params"]["strategy.params.slow"].clone();
        single["position_size_pct"] = combo["params"]["position_size_pct"].clone();
        let run: Value = post(&app, &user, &single).await.json().await.unwrap();
        assert_eq!(run["status"], "succeeded");
        assert_eq!(run["metrics"], combo["metrics"], "{single}");
        assert_eq!(
            run["trades"].as_array().unwrap().len(),
            combo["metrics"]["trades"]
        );
    }
    assert_eq!(
        stub.count("/v2/stocks/bars"),
        fetches,
        "bars were cached once"
    );

    let list: Value = get(&app, &user, "/api/backtest/sweeps")
        .await
        .json()
        .await
        .unwrap();
    let sweeps = list["sweeps"].as_array().unwrap();
    assert_eq!(sweeps.len(), 1);
    assert!(
        sweeps[0].get("combinations").is_none(),
        "lists omit combinations"
    );
    assert_eq!(sweeps[0]["best"], sweep["best"]);
    let id = sweep["id"].as_str().unwrap();
    assert_eq!(
        get(&app, &user, &format!("/api/backtest/{id}"))
            .await
            .status(),
        404
    );
    let runs: Value = get(&app, &user, "/api/backtest")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        runs["runs"].as_array().unwrap().len(),
        2,
        "runs list no sweeps"
    );
    let other = app.sign_in("other@example.com", false).await;
    let theirs = get(&app, &other, &format!("/api/backtest/sweeps/{id}")).await;
    assert_eq!(theirs.status(), 404);
    worker.shutdown().await;
}

#[tokio::test]
async fn bad_sweeps_are_a_422_naming_each_field_and_queue_nothing() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let mut bad = sweep_body();
    bad["base"]["initial_cash"] = json!("-5");
    bad["rank_by"] = json!("luck");
    let response = post_sweep(&app, &user, &bad).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    let fields = error["error"]["fields"].as_object().unwrap();
    assert!(fields.contains_key("base.initial_cash") && fields.contains_key("rank_by"));

    let cases = [
        json!({"grid": {"strategy.params.fast": [3]}}),
        json!({"base": body()}),
        json!({"base": body(), "grid": {"strategy.params.period": [5]}}),
        json!({"base": body(), "grid": {"strategy.params.fast": [0]}}),
        json!({"base": body(), "grid": {"strategy.params.fast": [30, 40]}}),
        json!({"base": body(), "grid": {"commission": ["1"]}}),
        json!({"base": body(), "grid": {"strategy.params.fast": (1..=25).collect::<Vec<_>>(),
                                         "strategy.params.slow": (30..=50).collect::<Vec<_>>()}}),
        json!([1, 2]),
    ];
    for case in cases {
        let response = post_sweep(&app, &user, &case).await;
        assert_eq!(response.status(), 422, "{case}");
        assert_eq!(error_code(response).await, "invalid_request");
    }
    assert_eq!(app.db.count("SELECT count(*) FROM backtest_runs").await, 0);
    let audited = "SELECT count(*) FROM audit_log WHERE event = 'backtest.run'";
    assert_eq!(app.db.count(audited).await, 0);
}

#[tokio::test]
async fn a_queued_sweep_is_canceled_with_delete() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let queued: Value = post_sweep(&app, &user, &sweep_body())
        .await
        .json()
        .await
        .unwrap();
    let id = queued["id"].as_str().unwrap();
    assert_eq!(queued["status"], "queued");
    let response = app
        .authed(Method::DELETE, &format!("/api/backtest/{id}"), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sweep: Value = get(&app, &user, &format!("/api/backtest/sweeps/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sweep["status"], "canceled");
}

/// `(polylines stroked in colour, polygons filled in colour)` of an SVG document.
fn series(svg: &str, colour: &str) -> (usize, usize) {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses");
    let has = |n: &roxmltree::Node, attr: &str| {
        n.attribute(attr)
            .is_some_and(|c| c.eq_ignore_ascii_case(colour))
    };
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && has(n, "stroke"))
        .count();
    let areas = doc
        .descendants()
        .filter(|n| n.has_tag_name("polygon") && has(n, "fill"))
        .count();
    (lines, areas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_equity_chart_is_the_owners_svg_with_a_line_per_series() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = web(&stub).await;
    let other = app.sign_in("other@example.com", false).await;
    let queued: Value = post(&app, &user, &body()).await.json().await.unwrap();
    let id = queued["id"].as_str().unwrap().to_owned();
    let path = format!("/api/backtest/{id}/equity.svg");
    let early = get(&app, &user, &path).await;
    assert_eq!(early.status(), 409, "not finished");
    assert_eq!(error_code(early).await, "not_finished");

    let worker = worker(&app, &stub).await;
    eventually(Duration::from_secs(20), "the run succeeds", || async {
        let run: Value = get(&app, &user, &format!("/api/backtest/{id}"))
            .await
            .json()
            .await
            .ok()?;
        (run["status"] == "succeeded").then_some(())
    })
    .await;
    let response = get(&app, &user, &path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert_eq!(series(&svg, "#1F77B4"), (1, 0), "one equity line");
    assert_eq!(series(&svg, "#7F7F7F"), (1, 0), "one buy-and-hold line");
    assert!(series(&svg, "#D62728").1 >= 1, "drawdowns shaded");

    assert_eq!(get(&app, &other, &path).await.status(), 404, "owner only");
    assert_eq!(app.get(&path).await.status(), 401);
    assert_eq!(
        get(&app, &user, "/api/backtest/nope/equity.svg")
            .await
            .status(),
        404
    );
    worker.shutdown().await;
}
