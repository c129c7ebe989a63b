//! The paper trading proxy against an Alpaca stand-in: every route, bodies byte for byte, order
//! validation, idempotent submission (also under concurrency), the error mapping, the outbound
//! rate limit, and who may see and cancel which order.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_data_stub::AlpacaDataStub;
use crate::alpaca_stub::{AlpacaStub, Behaviour};
use crate::helpers::{error_code, spawn_app_with, SignedIn, TestApp};

const ORDERS: &str = "/api/trading/orders";

/// The application, trading through `stub`, with `extra` configuration, and a market-data
/// stand-in that prices every order (AAPL at the fixture's 161.2958).
pub async fn trading_app(stub: &AlpacaStub, extra: &[(&str, &str)]) -> TestApp {
    let data = AlpacaDataStub::start().await;
    let mut overrides = stub.overrides();
    overrides.push(("ALPACA_DATA_BASE_URL", data.url.as_str()));
    overrides.extend_from_slice(extra);
    let mut app = spawn_app_with(&overrides).await;
    app.peers.push(Box::new(data));
    app
}

pub fn market_order() -> Value {
    json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"})
}

pub async fn get(app: &TestApp, user: &SignedIn, path: &str) -> reqwest::Response {
    app.authed(Method::GET, path, user).send().await.unwrap()
}

pub async fn submit(app: &TestApp, user: &SignedIn, order: &Value) -> reqwest::Response {
    app.authed(Method::POST, ORDERS, user)
        .body(order.to_string())
        .send()
        .await
        .unwrap()
}

async fn submit_with_key(
    app: &TestApp,
    user: &SignedIn,
    order: &Value,
    key: &str,
) -> reqwest::Response {
    app.authed(Method::POST, ORDERS, user)
        .header("idempotency-key", key)
        .body(order.to_string())
        .send()
        .await
        .unwrap()
}

async fn cancel(app: &TestApp, user: &SignedIn, id: &str) -> reqwest::Response {
    app.authed(Method::DELETE, &format!("{ORDERS}/{id}"), user)
        .send()
        .await
        .unwrap()
}

/// `(event, actor, subject, details)` of every audit row, in order, but the `book.open` rows
/// each trader's first trading request writes (tests/api/books.rs checks those).
pub async fn audit_rows(app: &TestApp) -> Vec<(String, Option<uuid::Uuid>, Option<String>, Value)> {
    app.db
        .client()
        .await
        .query(
            "SELECT event, actor_user_id, subject, details FROM audit_log \
             WHERE event <> 'book.open' ORDER BY seq",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let details: String = r.get(3);
            (
                r.get(0),
                r.get(1),
                r.get(2),
                serde_json::from_str(&details).unwrap(),
            )
        })
        .collect()
}

/// The query string of the last request the stand-in received.
/// The error body of a response, after checking the SPEC shape.
async fn error_body(response: reqwest::Response) -> Value {
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_says_paper_alpaca_and_a_released_switch() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let response = get(&app, &user, "/api/trading/mode").await;
    assert_eq!(response.status(), 200);
    let mode: Value = response.json().await.unwrap();
    assert_eq!(mode["paper"], true);
    assert_eq!(mode["broker"], "alpaca_paper");
    assert_eq!(mode["trading_enabled"], true);
    assert_eq!(mode["kill_switch"]["engaged"], false);
    assert_eq!(mode["kill_switch"]["reason"], Value::Null);
    assert_eq!(stub.seen().len(), 0, "mode never reaches the broker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trading_route_needs_a_session() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let routes = [
        (Method::GET, "/api/trading/mode"),
        (Method::GET, "/api/trading/readiness"),
        (Method::GET, "/api/trading/account"),
        (Method::GET, "/api/trading/positions"),
        (Method::GET, ORDERS),
        (Method::POST, ORDERS),
        (
            Method::DELETE,
            "/api/trading/orders/61e69015-8549-4bfd-b9c3-01e75843f47d",
        ),
        (Method::GET, "/api/trading/kill-switch"),
        (Method::POST, "/api/trading/kill-switch"),
    ];
    for (method, path) in routes {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .header("origin", crate::helpers::ORIGIN)
            .header("content-type", "application/json")
            .body(market_order().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
        assert_eq!(error_code(response).await, "unauthenticated");
    }
    assert_eq!(stub.seen().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_and_positions_are_the_callers_own_book_and_the_shared_account_is_for_operators() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("PAPER_BOOK_INITIAL_CASH", "25000")]).await;
    let user = app.sign_in("trader@example.com", false).await;

    let account = get(&app, &user, "/api/trading/account").await;
    assert_eq!(account.status(), 200);
    let account: Value = account.json().await.unwrap();
    assert_eq!(account["cash"], "25000.00");
    assert_eq!(account["buying_power"], "25000.00");
    assert_eq!(account["initial_cash"], "25000.00");
    assert_eq!(account["currency"], "USD");
    assert!(account.get("account_number").is_none(), "{account}");
    let positions = get(&app, &user, "/api/trading/positions").await;
    assert_eq!(positions.status(), 200);
    assert_eq!(positions.json::<Value>().await.unwrap(), json!([]));
    let none = get(&app, &user, "/api/trading/positions/AAPL").await;
    assert_eq!(none.status(), 404);
    assert_eq!(error_code(none).await, "position_not_found");
    // Reading a book never asks Alpaca.
    assert_eq!(stub.count(Method::GET, "/v2/account"), 0);
    assert_eq!(stub.count(Method::GET, "/v2/positions"), 0);

    // The shared account's own figures are an operator's, in the diagnostic.
    let operator = app.sign_in("operator@example.com", true).await;
    let diagnostic = get(&app, &operator, "/api/system/diagnostic").await;
    let diagnostic: Value = diagnostic.json().await.unwrap();
    assert_eq!(diagnostic["paper_account"]["account"]["cash"], "-23140.2");
    assert!(diagnostic["paper_account"]["positions"].is_array());
    let refused = get(&app, &user, "/api/system/diagnostic").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(stub.bad_credentials(), 0, "every request carried the keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_checks_the_credentials_against_the_broker() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let ready = get(&app, &user, "/api/trading/readiness").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(body["broker"], "alpaca_paper");
    assert_eq!(stub.count(Method::GET, "/v2/account"), 1);

    // Credentials Alpaca refuses: not ready, and nothing about them leaks.
    let wrong = trading_app(&stub, &[("ALPACA_PAPER_API_SECRET", "test-wrong-secret")]).await;
    let user = wrong.sign_in("trader@example.com", false).await;
    let not_ready = get(&wrong, &user, "/api/trading/readiness").await;
    assert_eq!(not_ready.status(), 503);
    assert!(not_ready.headers().contains_key("retry-after"));
    let text = not_ready.text().await.unwrap();
    assert!(text.contains("broker_not_ready"), "{text}");
    for secret in [
        "test-wrong-secret",
        "test-key-id",
        stub.url.as_str(),
        "127.0.0.1",
    ] {
        assert!(!text.contains(secret), "{text} leaks {secret}");
    }
    assert_eq!(stub.bad_credentials(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_order_is_alpacas_answer_recorded_and_audited() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let order = json!({"symbol": "aapl", "qty": 1.5, "side": "buy", "type": "limit",
                       "time_in_force": "gtc", "limit_price": "300.10"});
    let response = submit(&app, &user, &order).await;
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    // Alpaca's body unchanged: numbers stay numbers, nulls stay nulls.
    assert!(text.contains(r#""qty": 1,"#), "{text}");
    assert!(text.contains(r#""commission": 1.25"#), "{text}");
    assert!(text.contains(r#""filled_avg_price": null"#), "{text}");
    let placed: Value = serde_json::from_str(&text).unwrap();
    let alpaca_id = placed["id"].as_str().unwrap().to_owned();

    // What reached Alpaca: decimals as the client wrote them, a client order id of ours.
    let sent: Value = serde_json::from_str(
        &stub
            .seen()
            .iter()
            .find(|s| s.method == Method::POST)
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(sent["symbol"], "AAPL");
    assert_eq!(sent["qty"], "1.5");
    assert_eq!(sent["limit_price"], "300.10");
    assert_eq!(sent["type"], "limit");
    assert_eq!(sent["time_in_force"], "gtc");
    let client_order_id = sent["client_order_id"].as_str().unwrap();
    assert_eq!(placed["client_order_id"], client_order_id);

    let row = app
        .db
        .client()
        .await
        .query_one(
            "SELECT id, user_id, alpaca_order_id, status, broker_status, broker_body, symbol, side \
             FROM orders",
            &[],
        )
        .await
        .unwrap();
    let ledger_id: uuid::Uuid = row.get(0);
    assert_eq!(row.get::<_, uuid::Uuid>(1), user.user_id);
    assert_eq!(row.get::<_, String>(2), alpaca_id);
    assert_eq!(row.get::<_, String>(3), "accepted");
    assert_eq!(row.get::<_, i32>(4), 200);
    assert_eq!(
        row.get::<_, String>(5),
        text,
        "the ledger keeps the body as received"
    );
    assert_eq!(
        (row.get::<_, String>(6), row.get::<_, String>(7)),
        ("AAPL".into(), "buy".into())
    );

    let rows = audit_rows(&app).await;
    let events: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(events, ["order.submit.requested", "order.submit.accepted"]);
    for (_, actor, subject, _) in &rows {
        assert_eq!(*actor, Some(user.user_id));
        assert_eq!(subject.as_deref(), Some(ledger_id.to_string().as_str()));
    }
    assert_eq!(rows[0].3["qty"], "1.5");
    assert_eq!(rows[1].3["alpaca_order_id"], alpaca_id.as_str());
    let all = serde_json::to_string(&rows.iter().map(|r| &r.3).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains("test-key-id") && !all.contains("test-secret-value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_orders_get_field_errors_and_never_reach_the_broker() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let with = |change: Value| {
        let mut order = market_order();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                order.as_object_mut().unwrap().remove(k);
            } else {
                order[k] = v.clone();
            }
        }
        order
    };
    let cases = [
        (with(json!({"symbol": "AA PL"})), vec!["symbol"]),
        (with(json!({"symbol": null})), vec!["symbol"]),
        (with(json!({"qty": "0"})), vec!["qty"]),
        (with(json!({"qty": "-2"})), vec!["qty"]),
        (with(json!({"qty": null})), vec!["qty"]),
        (with(json!({"notional": "100"})), vec!["notional"]),
        (with(json!({"side": "hold"})), vec!["side"]),
        (with(json!({"type": "trailing_stop"})), vec!["trail_price"]),
        (with(json!({"type": "trailing_limit"})), vec!["type"]),
        (
            with(json!({"time_in_force": "week"})),
            vec!["time_in_force"],
        ),
        (with(json!({"type": "limit"})), vec!["limit_price"]),
        (with(json!({"type": "stop"})), vec!["stop_price"]),
        (
            with(json!({"type": "stop_limit", "limit_price": "1"})),
            vec!["stop_price"],
        ),
        (with(json!({"limit_price": "10"})), vec!["limit_price"]),
        (
            json!({"symbol": "", "side": "sideways", "qty": "0"}),
            vec!["qty", "side", "symbol", "time_in_force", "type"],
        ),
    ];
    for (order, expected) in cases {
        let response = submit(&app, &user, &order).await;
        assert_eq!(response.status(), 422, "{order}");
        let error = error_body(response).await;
        assert_eq!(error["code"], "invalid_order", "{order}");
        let mut fields: Vec<&str> = error["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(fields, expected, "{order}");
    }

    // Not JSON at all: 400. JSON of the wrong shape or types: 422.
    let malformed = app
        .authed(Method::POST, ORDERS, &user)
        .body(r#"{"symbol": "AAPL", "qty": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(error_code(malformed).await, "malformed_json");
    for wrong in [
        with(json!({"qty": true})),
        with(json!({"qty": "one"})),
        with(json!({"symbol": 5})),
        with(json!({"quantity": "1"})),
        json!(["AAPL"]),
    ] {
        let response = submit(&app, &user, &wrong).await;
        assert_eq!(response.status(), 422, "{wrong}");
        assert_eq!(error_code(response).await, "invalid_request", "{wrong}");
    }
    let bad_key = submit_with_key(&app, &user, &market_order(), "has space").await;
    assert_eq!(bad_key.status(), 422);
    assert!(error_body(bad_key).await["fields"]["Idempotency-Key"].is_string());

    assert_eq!(
        stub.seen().len(),
        0,
        "validation comes before any broker call"
    );
    assert_eq!(audit_rows(&app).await.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_submission_returns_the_first_result_without_a_second_order() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;

    let first = submit_with_key(&app, &user, &market_order(), "retry-1").await;
    assert_eq!(first.status(), 201);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first = first.text().await.unwrap();
    let again = submit_with_key(&app, &user, &market_order(), "retry-1").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first);
    assert_eq!(stub.orders_received(), 1);

    // The client's own client_order_id works as the key too.
    let mut keyed = market_order();
    keyed["client_order_id"] = json!("my-order-7");
    let one = submit(&app, &user, &keyed).await.text().await.unwrap();
    let two = submit(&app, &user, &keyed).await.text().await.unwrap();
    assert_eq!(one, two);
    assert_eq!(stub.orders_received(), 2);

    // The same key for a different order is a client error, and sends nothing.
    let mut other = market_order();
    other["qty"] = json!("2");
    let conflict = submit_with_key(&app, &user, &other, "retry-1").await;
    assert_eq!(conflict.status(), 409);
    assert_eq!(error_code(conflict).await, "idempotency_key_reused");

    // Keys are per user: another user's identical key places their own order.
    let other_user = app.sign_in("other@example.com", false).await;
    let theirs = submit_with_key(&app, &other_user, &market_order(), "retry-1").await;
    assert_eq!(theirs.status(), 201);
    assert_ne!(theirs.text().await.unwrap(), first);
    assert_eq!(stub.orders_received(), 3);

    // Without a key, every submission is a new order.
    submit(&app, &user, &market_order()).await;
    submit(&app, &user, &market_order()).await;
    assert_eq!(stub.orders_received(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_identical_concurrent_submissions_place_exactly_one_order() {
    let stub = AlpacaStub::start().await;
    stub.delay_orders(Duration::from_millis(300));
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let order = market_order();
    let (a, b) = tokio::join!(
        submit_with_key(&app, &user, &order, "double-click"),
        submit_with_key(&app, &user, &order, "double-click"),
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (201, 201));
    let replayed = [&a, &b]
        .iter()
        .filter(|r| r.headers().contains_key("idempotent-replayed"))
        .count();
    assert_eq!(
        replayed, 1,
        "one placed the order, the other got its result"
    );
    assert_eq!(a.text().await.unwrap(), b.text().await.unwrap());
    assert_eq!(stub.orders_received(), 1);
    let rows: i64 = app.db.count("SELECT count(*) FROM orders").await;
    assert_eq!(rows, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_whose_answer_was_lost_is_settled_not_repeated() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("ALPACA_REQUEST_TIMEOUT_SECS", "1")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    // Alpaca takes the order but the answer comes too late: 504, outcome unknown.
    stub.delay_orders(Duration::from_millis(1500));
    let lost = submit_with_key(&app, &user, &market_order(), "flaky-network").await;
    assert_eq!(lost.status(), 504);
    assert_eq!(error_code(lost).await, "broker_timeout");
    assert_eq!(stub.orders_received(), 1);
    // The retry finds the order at Alpaca by its client order id instead of placing another.
    stub.delay_orders(Duration::ZERO);
    let retry = submit_with_key(&app, &user, &market_order(), "flaky-network").await;
    assert_eq!(retry.status(), 201);
    assert_eq!(stub.orders_received(), 1);
    assert_eq!(stub.count(Method::GET, "/v2/orders:by_client_order_id"), 1);
    let events: Vec<String> = audit_rows(&app).await.into_iter().map(|r| r.0).collect();
    assert_eq!(
        events,
        [
            "order.submit.requested",
            "order.submit.rejected",
            "order.submit.accepted"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_list_their_own_orders_from_the_ledger_and_never_anothers() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    let operator = app.sign_in("operator@example.com", true).await;
    let alices = submit(&app, &alice, &market_order())
        .await
        .text()
        .await
        .unwrap();
    let bobs = submit(&app, &bob, &market_order())
        .await
        .text()
        .await
        .unwrap();
    let listed_before = stub.count(Method::GET, "/v2/orders");

    let listed = get(&app, &alice, "/api/trading/orders?status=all&limit=10").await;
    assert_eq!(listed.status(), 200);
    assert_eq!(listed.text().await.unwrap(), format!("[{alices}]"));
    let bobs_list = get(&app, &bob, "/api/trading/orders?status=all").await;
    assert_eq!(bobs_list.text().await.unwrap(), format!("[{bobs}]"));
    // An operator's own list is their own orders too (the account is in the diagnostic).
    let operators = get(&app, &operator, "/api/trading/orders?status=all").await;
    assert_eq!(operators.text().await.unwrap(), "[]");

    // One order by id: the owner's only.
    let id = serde_json::from_str::<Value>(&alices).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = get(&app, &alice, &format!("{ORDERS}/{id}")).await;
    assert_eq!(one.status(), 200);
    assert_eq!(one.text().await.unwrap(), alices);
    let theirs = get(&app, &bob, &format!("{ORDERS}/{id}")).await;
    assert_eq!(theirs.status(), 404);
    assert_eq!(
        get(&app, &bob, &format!("{ORDERS}/not-an-id"))
            .await
            .status(),
        404
    );
    // None of it asked Alpaca.
    assert_eq!(stub.count(Method::GET, "/v2/orders"), listed_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_list_parameters_are_validated() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("status=pending", "status"),
    ] {
        let response = get(&app, &user, &format!("{ORDERS}?{query}")).await;
        assert_eq!(response.status(), 422, "{query}");
        let error = error_body(response).await;
        assert_eq!(error["code"], "invalid_query");
        assert!(error["fields"][field].is_string(), "{query}: {error}");
    }
    assert_eq!(stub.seen().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cancels_their_own_order_and_only_theirs() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let mallory = app.sign_in("mallory@example.com", false).await;
    let placed: Value = submit(&app, &alice, &market_order())
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_str().unwrap();
    let path = format!("/v2/orders/{id}");

    let theirs = cancel(&app, &mallory, id).await;
    assert_eq!(theirs.status(), 404);
    assert_eq!(
        stub.count(Method::DELETE, &path),
        0,
        "never sent for someone else"
    );

    let canceled = cancel(&app, &alice, id).await;
    assert_eq!(canceled.status(), 204);
    assert_eq!(stub.count(Method::DELETE, &path), 1);
    let status: String = app
        .db
        .client()
        .await
        .query_one("SELECT status FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "canceled");

    // Alpaca's 422 (not cancelable) is a 422 with its message.
    let twice = cancel(&app, &alice, id).await;
    assert_eq!(twice.status(), 422);
    let error = error_body(twice).await;
    assert_eq!(error["code"], "broker_rejected");
    assert_eq!(error["message"], "order is not cancelable");

    let audited: Vec<(Option<String>, Value)> = audit_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.0 == "order.cancel")
        .map(|r| (r.2, r.3))
        .collect();
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[0].0.as_deref(), Some(id));
    assert_eq!(audited[0].1["outcome"], "canceled");
    assert_eq!(audited[1].1["outcome"], "broker_rejected");

    assert_eq!(cancel(&app, &alice, "not-an-id").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpaca_refusals_become_422_with_alpacas_message_and_are_remembered() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    for (status, message) in [(403, "insufficient buying power"), (422, "qty must be > 0")] {
        let body = json!({"code": 40310000, "message": message}).to_string();
        stub.behave(Behaviour::Fail(status, body.clone()));
        let key = format!("refused-{status}");
        let refused = submit_with_key(&app, &user, &market_order(), &key).await;
        assert_eq!(refused.status(), 422, "alpaca {status}");
        let error = error_body(refused).await;
        assert_eq!(error["code"], "broker_rejected");
        assert_eq!(error["message"], message);

        // The ledger keeps Alpaca's answer; a retry repeats the refusal without asking again.
        stub.behave(Behaviour::Normal);
        let before = stub.orders_received();
        let again = submit_with_key(&app, &user, &market_order(), &key).await;
        assert_eq!(again.status(), 422);
        assert_eq!(error_body(again).await["message"], message);
        assert_eq!(stub.orders_received(), before);
        let stored: (String, i32, String) = {
            let row = app
                .db
                .client()
                .await
                .query_one(
                    "SELECT status, broker_status, broker_body FROM orders \
                     WHERE idempotency_key = $1",
                    &[&key],
                )
                .await
                .unwrap();
            (row.get(0), row.get(1), row.get(2))
        };
        assert_eq!(stored, ("rejected".to_owned(), i32::from(status), body));
    }
    let rejected = audit_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.0 == "order.submit.rejected")
        .count();
    assert_eq!(rejected, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_failures_map_to_clear_statuses() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let cases = [
        (
            404,
            "{\"code\": 40410000, \"message\": \"not found\"}",
            404,
            "not_found",
        ),
        (
            500,
            "{\"message\": \"internal error\"}",
            502,
            "broker_error",
        ),
        (200, "this is not json", 502, "broker_error"),
        // Last: Alpaca's 429 pauses every request to it for its Retry-After.
        (
            429,
            "{\"code\": 42910000, \"message\": \"rate limit exceeded\"}",
            503,
            "broker_rate_limited",
        ),
    ];
    // A 404 on a cancel of one's own order is a 404 too.
    let placed: Value = submit(&app, &user, &market_order())
        .await
        .json()
        .await
        .unwrap();
    stub.behave(Behaviour::Fail(
        404,
        "{\"code\": 40410000, \"message\": \"order not found\"}".into(),
    ));
    let gone = cancel(&app, &user, placed["id"].as_str().unwrap()).await;
    assert_eq!(gone.status(), 404);
    for (alpaca, body, status, code) in cases {
        stub.behave(Behaviour::Fail(alpaca, body.to_owned()));
        let response = submit(&app, &user, &market_order()).await;
        assert_eq!(response.status(), status, "alpaca {alpaca}");
        if alpaca == 429 {
            let wait: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
        let text = response.text().await.unwrap();
        assert!(text.contains(code), "alpaca {alpaca}: {text}");
        assert!(
            !text.contains(&stub.url) && !text.contains("test-key-id"),
            "{text}"
        );
    }
    // The pause holds: nothing reaches Alpaca until its Retry-After has passed.
    let sent = stub.seen().len();
    stub.behave(Behaviour::Normal);
    let paused = submit(&app, &user, &market_order()).await;
    assert_eq!(paused.status(), 503);
    assert_eq!(stub.seen().len(), sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_broker_answers_504_within_the_timeout() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("ALPACA_REQUEST_TIMEOUT_SECS", "1")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    stub.behave(Behaviour::Hang);
    // Reads come from the books and the ledger: a hanging Alpaca does not touch them.
    for path in ["/api/trading/account", "/api/trading/positions", ORDERS] {
        assert_eq!(get(&app, &user, path).await.status(), 200, "{path}");
    }
    let started = Instant::now();
    let response = submit(&app, &user, &market_order()).await;
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(stub.orders_received(), 1, "a POST is never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_answers_502_after_one_retry() {
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("ALPACA_PAPER_BASE_URL", &closed)]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let response = submit(&app, &user, &market_order()).await;
    assert_eq!(response.status(), 502);
    let text = response.text().await.unwrap();
    assert!(text.contains("broker_unreachable"), "{text}");
    assert!(
        !text.contains(&closed) && !text.contains("127.0.0.1"),
        "{text}"
    );
    let submitted = submit(&app, &user, &market_order()).await;
    assert_eq!(submitted.status(), 502);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbound_rate_limit_refuses_excess_callers_with_503() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("ALPACA_ACCOUNT_RATE_LIMIT_PER_MINUTE", "2")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let mut limited = None;
    for _ in 0..4 {
        let started = Instant::now();
        let response = submit(&app, &user, &market_order()).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused, not hung"
        );
        if response.status() == 503 {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), 201);
    }
    let limited = limited.expect("the third request in a minute is refused");
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(error_code(limited).await, "broker_rate_limited");
    assert!(
        stub.seen().len() <= 2,
        "nothing beyond the limit reached Alpaca"
    );
    // Reads never wait on that budget.
    assert_eq!(get(&app, &user, "/api/trading/account").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_orders_from_one_user_is_limited_and_never_starves_others() {
    let stub = AlpacaStub::start().await;
    stub.delay_orders(Duration::from_millis(200));
    let app = trading_app(&stub, &[]).await;
    let trader = app.sign_in("burst@example.com", false).await;
    let bystander = app.sign_in("bystander@example.com", false).await;

    let mut submits = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let request = app
            .authed(Method::POST, ORDERS, &trader)
            .body(market_order().to_string());
        submits.spawn(async move { request.send().await.unwrap() });
    }
    let reads: Vec<_> = (0..20)
        .map(|_| app.authed(Method::GET, "/api/auth/passkeys", &bystander))
        .collect();
    let their_order = app
        .authed(Method::POST, ORDERS, &bystander)
        .body(market_order().to_string());
    let bystander_task = tokio::spawn(async move {
        let mut statuses = vec![their_order.send().await.unwrap().status().as_u16()];
        for request in reads {
            statuses.push(request.send().await.unwrap().status().as_u16());
        }
        statuses
    });

    let (mut placed, mut limited) = (0, 0);
    while let Some(response) = submits.join_next().await {
        let response = response.unwrap();
        match response.status().as_u16() {
            201 => placed += 1,
            429 => {
                let wait: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1);
                assert_eq!(error_code(response).await, "rate_limited");
                limited += 1;
            }
            other => panic!("a submission answered {other}"),
        }
    }
    let statuses = bystander_task.await.unwrap();
    assert_eq!(
        statuses[0], 201,
        "the other user's order is placed normally"
    );
    assert!(
        statuses[1..].iter().all(|s| *s == 200),
        "the other user is served normally: {statuses:?}"
    );
    assert_eq!(placed + limited, 40);
    assert!(placed <= 10, "one user's share of the lane: {placed}");
    assert!(
        placed >= 1 && limited >= 1,
        "{placed} placed, {limited} limited"
    );
    // Every 201 is exactly one broker order and one accepted ledger row; nothing else exists.
    assert_eq!(stub.orders_received(), placed + 1);
    let accepted = app
        .db
        .count("SELECT count(*) FROM orders WHERE status = 'accepted'")
        .await;
    let all = app.db.count("SELECT count(*) FROM orders").await;
    assert_eq!((accepted, all), (placed as i64 + 1, placed as i64 + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_beyond_any_order_are_field_errors_and_the_server_keeps_serving() {
    let app = spawn_app_with(&[("ALPACA_AUTH_MODE", "simulated")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let max = "79228162514264337593543950335";
    let cases = [
        (json!({"qty": max}), "qty"),
        (json!({"qty": null, "notional": max}), "notional"),
        (json!({"type": "limit", "limit_price": max}), "limit_price"),
        (
            json!({"type": "stop", "stop_price": "1000000000.5"}),
            "stop_price",
        ),
        (json!({"qty": "0.0000000001"}), "qty"),
    ];
    for (change, field) in cases {
        let mut order = market_order();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                order.as_object_mut().unwrap().remove(k);
            } else {
                order[k] = v.clone();
            }
        }
        let response = submit(&app, &user, &order).await;
        assert_eq!(response.status(), 422, "{order}");
        let error = error_body(response).await;
        assert_eq!(error["code"], "invalid_order", "{order}");
        assert!(error["fields"][field].is_string(), "{order}: {error}");
    }
    // The largest order accepted is refused by the book (no cash for it), not a panic.
    let mut big = market_order();
    big["qty"] = json!("1000000000");
    let refused = submit(&app, &user, &big).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_code(refused).await, "insufficient_buying_power");
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(get(&app, &user, "/api/trading/account").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_abandoned_mid_call_is_reconciled_before_any_retry() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("ALPACA_REQUEST_TIMEOUT_SECS", "1")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    stub.delay_orders(Duration::from_millis(1500));
    let lost = submit_with_key(&app, &user, &market_order(), "crashed").await;
    assert_eq!(lost.status(), 504);
    stub.delay_orders(Duration::ZERO);
    // What a process that died between the broker call and recording its outcome leaves: a
    // claim long past its lifetime.
    app.db
        .client()
        .await
        .execute(
            "UPDATE orders SET status = 'submitting', claim_id = gen_random_uuid(), \
             claimed_at = now() - interval '1 hour'",
            &[],
        )
        .await
        .unwrap();
    let retry = submit_with_key(&app, &user, &market_order(), "crashed").await;
    assert_eq!(retry.status(), 201);
    assert_eq!(
        stub.orders_received(),
        1,
        "found at the broker, not sent again"
    );
    assert_eq!(stub.count(Method::GET, "/v2/orders:by_client_order_id"), 1);
    let status: String = app
        .db
        .client()
        .await
        .query_one("SELECT status FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "accepted");
    let again = submit_with_key(&app, &user, &market_order(), "crashed").await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broker_call_that_changes_something_is_audited_before_it_is_made() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let placed: Value = submit(&app, &user, &market_order())
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_str().unwrap();
    assert_eq!(cancel(&app, &user, id).await.status(), 204);
    let events: Vec<(String, Option<String>)> = audit_rows(&app)
        .await
        .into_iter()
        .map(|r| (r.0, r.2))
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "order.submit.requested",
            "order.submit.accepted",
            "order.cancel.requested",
            "order.cancel"
        ]
    );
    assert_eq!(events[2].1.as_deref(), Some(id));
}
