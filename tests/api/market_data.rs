//! Market data (issue: market data and historical bars) against the Alpaca data stand-in: every
//! route, the cache, coalescing, paging, each error mapping, bad input, and the session guard.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::alpaca_data_stub::{fixture, AlpacaDataStub, DataBehaviour};
use crate::helpers::{error_code, spawn_app_with, SignedIn, TestApp};

async fn app_with(stub: &AlpacaDataStub, extra: &[(&str, &str)]) -> (TestApp, SignedIn) {
    let mut overrides = stub.overrides();
    overrides.extend_from_slice(extra);
    let app = spawn_app_with(&overrides).await;
    let user = app.sign_in("reader@example.com", false).await;
    (app, user)
}

async fn get(app: &TestApp, user: &SignedIn, path: &str) -> reqwest::Response {
    app.authed(Method::GET, path, user)
        .send()
        .await
        .expect("request")
}

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "expected 200");
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn latest_quotes_pass_alpacas_objects_through_keyed_by_symbol_and_are_cached() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = app_with(&stub, &[("MARKET_DATA_TTL_MS", "60000")]).await;
    let body = json(
        get(
            &app,
            &user,
            "/api/market-data/quotes/latest?symbols=aapl,ZZZZ",
        )
        .await,
    )
    .await;
    let expected = fixture("test_get_latest_quote")["quotes"]["AAPL"].clone();
    assert_eq!(
        body["quotes"]["AAPL"], expected,
        "Alpaca's object, unchanged"
    );
    assert!(
        body["quotes"].get("ZZZZ").is_none(),
        "an unknown symbol is absent"
    );
    assert_eq!(stub.count("/v2/stocks/quotes/latest"), 1);
    let asked = &stub.seen()[0].query;
    assert_eq!(asked["symbols"], "AAPL,ZZZZ");
    assert_eq!(asked["feed"], "iex");
    assert_eq!(stub.bad_credentials(), 0);

    // Inside the TTL, both the known and the unknown symbol come from memory.
    let again = json(
        get(
            &app,
            &user,
            "/api/market-data/quotes/latest?symbols=AAPL,ZZZZ",
        )
        .await,
    )
    .await;
    assert_eq!(again, body);
    assert_eq!(
        stub.count("/v2/stocks/quotes/latest"),
        1,
        "no second upstream call"
    );
}

#[tokio::test]
async fn every_latest_route_and_compare_quotes_answer_with_alpacas_objects() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = app_with(&stub, &[]).await;
    let trades = json(
        get(
            &app,
            &user,
            "/api/market-data/trades/latest?symbols=AAPL,TSLA",
        )
        .await,
    )
    .await;
    let fixture_trades = fixture("test_get_multisymbol_latest_trade")["trades"].clone();
    assert_eq!(trades["trades"], fixture_trades);
    let bars = json(get(&app, &user, "/api/market-data/bars/latest?symbols=SPY").await).await;
    assert_eq!(
        bars["bars"]["SPY"],
        fixture("test_multi_stock_latest_bar")["bars"]["SPY"]
    );
    let snapshots = json(get(&app, &user, "/api/market-data/snapshots?symbols=AAPL").await).await;
    assert_eq!(snapshots["AAPL"], fixture("test_get_snapshot")["AAPL"]);
    assert_eq!(
        snapshots["AAPL"]["minuteBar"]["vw"].to_string(),
        "161.448073",
        "decimal precision kept"
    );
    let compare = json(get(&app, &user, "/api/compare-quotes?symbol=AAPL").await).await;
    assert_eq!(compare["symbol"], "AAPL");
    assert_eq!(
        compare["quote"],
        fixture("test_get_latest_quote")["quotes"]["AAPL"]
    );
    assert_eq!(compare["trade"], fixture_trades["AAPL"]);
}

#[tokio::test]
async fn fifty_concurrent_identical_misses_make_exactly_one_alpaca_call() {
    let stub = AlpacaDataStub::start().await;
    stub.delay(Duration::from_millis(300));
    let (app, user) = app_with(&stub, &[("MARKET_DATA_TTL_MS", "60000")]).await;
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = app.authed(
            Method::GET,
            "/api/market-data/quotes/latest?symbols=MSFT",
            &user,
        );
        requests.spawn(request.send());
    }
    while let Some(answer) = requests.join_next().await {
        let answer = answer.unwrap().unwrap();
        assert_eq!(answer.status(), 200);
        let body: Value = answer.json().await.unwrap();
        assert!(body["quotes"]["MSFT"].is_object());
    }
    assert_eq!(stub.count("/v2/stocks/quotes/latest"), 1);
}

#[tokio::test]
async fn historical_bars_follow_alpacas_pages_and_are_then_served_from_postgres() {
    let stub = AlpacaDataStub::start().await;
    stub.page_size(3);
    let (app, user) = app_with(&stub, &[]).await;
    // 2024-01-01 (Mon) .. 2024-01-12 (Fri): ten weekdays, four pages of three at Alpaca.
    let path = "/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01T00:00:00Z&end=2024-01-12T00:00:00Z";
    let body = json(get(&app, &user, path).await).await;
    assert_eq!(body["symbol"], "AAPL");
    assert_eq!(body["timeframe"], "1Day");
    assert!(body["next_page_token"].is_null());
    let bars = body["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 10);
    assert_eq!(bars[0]["t"], "2024-01-01T00:00:00Z");
    assert_eq!(bars[9]["t"], "2024-01-12T00:00:00Z");
    let template = &fixture("test_get_bars")["bars"]["AAPL"][0];
    for field in ["o", "h", "l", "c", "v", "n", "vw"] {
        assert_eq!(bars[0][field], template[field], "{field} passed through");
    }
    let times: Vec<&str> = bars.iter().map(|b| b["t"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert_eq!(
        stub.count("/v2/stocks/bars"),
        4,
        "every Alpaca page followed"
    );
    assert_eq!(app.db.count("SELECT count(*) FROM market_bars").await, 10);

    // The same range again: Postgres, no Alpaca call.
    assert_eq!(json(get(&app, &user, path).await).await, body);
    assert_eq!(stub.count("/v2/stocks/bars"), 4);

    // A longer range fetches only the missing part.
    stub.page_size(100);
    let longer = "/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01T00:00:00Z&end=2024-01-19T00:00:00Z";
    let body = json(get(&app, &user, longer).await).await;
    assert_eq!(body["bars"].as_array().unwrap().len(), 15);
    let last = stub.seen().into_iter().last().unwrap();
    assert_eq!(
        last.query["start"], "2024-01-12T00:00:00.000001Z",
        "asked from the end of what is covered"
    );
}

#[tokio::test]
async fn raptor_pages_a_range_with_its_own_tokens() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = app_with(&stub, &[]).await;
    let base = "/api/historical-data/bars?symbol=MSFT&timeframe=1Day&start=2024-01-01&end=2024-01-12&limit=4";
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..5 {
        let path = match &token {
            Some(t) => format!("{base}&page_token={t}"),
            None => base.to_owned(),
        };
        let body = json(get(&app, &user, &path).await).await;
        all.extend(
            body["bars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["t"].as_str().unwrap().to_owned()),
        );
        token = body["next_page_token"].as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all.len(), 10, "three pages of 4, 4 and 2: {all:?}");
    assert!(token.is_none());
    assert_eq!(
        stub.count("/v2/stocks/bars"),
        1,
        "pages after the first come from Postgres"
    );
}

#[tokio::test]
async fn a_bar_still_forming_is_served_but_never_stored_as_final() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = app_with(&stub, &[]).await;
    let now = chrono::Utc::now();
    let start = (now - chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:00Z")
        .to_string();
    let path = format!("/api/historical-data/bars?symbol=AAPL&timeframe=1Min&start={start}");
    let body = json(get(&app, &user, &path).await).await;
    let served = body["bars"].as_array().unwrap().len() as i64;
    let stored = app.db.count("SELECT count(*) FROM market_bars").await;
    assert!(served >= 5, "served {served}");
    assert!(
        stored < served,
        "the last minute is not final: stored {stored} of {served}"
    );
    let open = app
        .db
        .count("SELECT count(*) FROM market_bars WHERE t > now() - interval '1 minute'")
        .await;
    assert_eq!(open, 0);
}

#[tokio::test]
async fn bad_input_is_a_422_naming_the_field_and_costs_no_alpaca_call() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = app_with(&stub, &[]).await;
    let many: Vec<String> = (0..51).map(|i| format!("S{i}")).collect();
    let cases = [
        ("/api/market-data/quotes/latest".to_owned(), "symbols"),
        ("/api/market-data/quotes/latest?symbols=AA%20PL".to_owned(), "symbols"),
        (format!("/api/market-data/trades/latest?symbols={}", many.join(",")), "symbols"),
        ("/api/market-data/snapshots?symbols=$$$".to_owned(), "symbols"),
        ("/api/historical-data/bars?symbol=AAPL&timeframe=2Day&start=2024-01-01".to_owned(), "timeframe"),
        ("/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-02-01&end=2024-01-01".to_owned(), "start"),
        ("/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=last%20week".to_owned(), "start"),
        ("/api/historical-data/bars?timeframe=1Day&start=2024-01-01".to_owned(), "symbol"),
        ("/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01&limit=10001".to_owned(), "limit"),
        ("/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01&page_token=forged".to_owned(), "page_token"),
        ("/api/compare-quotes?symbol=AAPL,MSFT".to_owned(), "symbol"),
    ];
    for (path, field) in cases {
        let response = get(&app, &user, &path).await;
        assert_eq!(response.status(), 422, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["fields"].get(field).is_some(),
            "{path}: {body}"
        );
    }
    let too_long = get(
        &app,
        &user,
        "/api/historical-data/bars?symbol=AAPL&timeframe=1Min&start=2020-01-01&end=2024-01-01",
    )
    .await;
    assert_eq!(too_long.status(), 422);
    let body: Value = too_long.json().await.unwrap();
    assert_eq!(body["error"]["code"], "range_too_large");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("100000"));
    assert_eq!(stub.total(), 0, "no Alpaca call for bad input");
}

#[tokio::test]
async fn alpacas_failures_map_to_the_specs_statuses_without_leaking_them() {
    let stub = AlpacaDataStub::start().await;
    let (app, user) = app_with(
        &stub,
        &[
            ("ALPACA_REQUEST_TIMEOUT_SECS", "1"),
            ("MARKET_DATA_TTL_MS", "1"),
        ],
    )
    .await;
    let path = "/api/market-data/quotes/latest?symbols=AAPL";

    stub.behave(DataBehaviour::Fail(
        403,
        r#"{"code":40310000,"message":"subscription does not permit querying recent SIP data"}"#
            .into(),
    ));
    let response = get(&app, &user, path).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "market_data_rejected");
    assert_eq!(
        body["error"]["message"],
        "subscription does not permit querying recent SIP data"
    );
    assert!(
        !body.to_string().contains("40310000"),
        "Alpaca's body is not forwarded raw"
    );

    stub.behave(DataBehaviour::Fail(500, "oops".into()));
    let response = get(
        &app,
        &user,
        "/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01&end=2024-01-05",
    )
    .await;
    assert_eq!(response.status(), 502);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(&stub.url) && !text.contains("oops"),
        "{text}"
    );

    stub.behave(DataBehaviour::Hang);
    let response = get(&app, &user, path).await;
    assert_eq!(response.status(), 504);
    assert_eq!(error_code(response).await, "market_data_timeout");

    // Last, since Alpaca's 429 pauses every request to it for its Retry-After (5 s unsaid).
    stub.behave(DataBehaviour::Fail(
        429,
        r#"{"code":42910000,"message":"rate limit exceeded"}"#.into(),
    ));
    let response = get(&app, &user, path).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    assert_eq!(error_code(response).await, "market_data_rate_limited");
    let sent = stub.total();
    stub.behave(DataBehaviour::Normal);
    let paused = get(&app, &user, "/api/market-data/quotes/latest?symbols=MSFT").await;
    assert_eq!(paused.status(), 503, "the pause holds");
    assert_eq!(error_code(paused).await, "market_data_rate_limited");
    assert_eq!(
        stub.total(),
        sent,
        "nothing reached Alpaca while it asked us to wait"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(&[
        ("ALPACA_PAPER_API_KEY", "k"),
        ("ALPACA_PAPER_API_SECRET", "s"),
        ("ALPACA_DATA_BASE_URL", &url),
    ])
    .await;
    let user = app.sign_in("reader@example.com", false).await;
    let response = get(&app, &user, "/api/market-data/trades/latest?symbols=AAPL").await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "market_data_unreachable");
}

#[tokio::test]
async fn without_credentials_data_routes_are_503_and_without_a_session_401() {
    let app = spawn_app_with(&[]).await;
    let anonymous = app.get("/api/market-data/quotes/latest?symbols=AAPL").await;
    assert_eq!(anonymous.status(), 401);
    let anonymous = app
        .get("/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01")
        .await;
    assert_eq!(anonymous.status(), 401);
    let user = app.sign_in("reader@example.com", false).await;
    for path in [
        "/api/market-data/quotes/latest?symbols=AAPL",
        "/api/market-data/snapshots?symbols=AAPL",
        "/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01&end=2024-01-10",
        "/api/compare-quotes?symbol=AAPL",
    ] {
        let response = get(&app, &user, path).await;
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(error_code(response).await, "market_data_unavailable");
    }
}

#[tokio::test]
async fn development_without_credentials_serves_labelled_deterministic_synthetic_data() {
    let app = spawn_app_with(&[("APP_ENV", "development"), ("LOG_FORMAT", "json")]).await;
    let user = app.sign_in("dev@example.com", false).await;
    let path =
        "/api/historical-data/bars?symbol=AAPL&timeframe=1Day&start=2024-01-01&end=2024-01-31";
    let first = json(get(&app, &user, path).await).await;
    let bars = first["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 23, "weekdays of January 2024");
    assert_eq!(bars[0]["synthetic"], true);
    let quote = json(get(&app, &user, "/api/market-data/quotes/latest?symbols=AAPL").await).await;
    assert_eq!(quote["quotes"]["AAPL"]["synthetic"], true);
    // Deterministic: a fresh cache (another symbol's range) gives the same prices again.
    let again = json(get(&app, &user, &path.replace("2024-01-01", "2023-12-30")).await).await;
    let again_bars = again["bars"].as_array().unwrap();
    assert_eq!(&again_bars[again_bars.len() - bars.len()..], &bars[..]);
}
