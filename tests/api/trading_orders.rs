//! Order shapes through the real route against the Alpaca stand-in: stop and stop-limit orders,
//! every time in force, and the rules for a client's idempotency key (header or
//! `client_order_id`).

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_stub::AlpacaStub;
use crate::helpers::{SignedIn, TestApp};
use crate::trading::{market_order, submit, trading_app};

const ORDERS: &str = "/api/trading/orders";

/// What the stand-in received as the body of its last order submission.
fn last_sent(stub: &AlpacaStub) -> Value {
    let seen = stub.seen();
    let body = &seen
        .iter()
        .rev()
        .find(|s| s.method == Method::POST)
        .expect("an order reached the broker")
        .body;
    serde_json::from_str(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_stop_limit_orders_reach_the_broker_with_their_prices() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("stops@example.com", false).await;

    let stop = json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "stop",
                      "time_in_force": "gtc", "stop_price": "180.25"});
    assert_eq!(submit(&app, &user, &stop).await.status(), 201);
    let sent = last_sent(&stub);
    assert_eq!(sent["type"], "stop");
    assert_eq!(sent["stop_price"], "180.25");
    assert_eq!(sent["side"], "buy");
    assert!(sent.get("limit_price").is_none_or(Value::is_null), "{sent}");

    let stop_limit = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "stop_limit",
                            "time_in_force": "day", "stop_price": "190", "limit_price": "191.5"});
    assert_eq!(submit(&app, &user, &stop_limit).await.status(), 201);
    let sent = last_sent(&stub);
    assert_eq!(sent["type"], "stop_limit");
    assert_eq!(sent["stop_price"], "190");
    assert_eq!(sent["limit_price"], "191.5");

    // A stop price on a limit order is refused before the broker hears of it.
    let wrong = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
                       "time_in_force": "day", "limit_price": "1", "stop_price": "2"});
    assert_eq!(submit(&app, &user, &wrong).await.status(), 422);
    assert_eq!(stub.orders_received(), 2);
    let events = app
        .db
        .count("SELECT count(*) FROM audit_log WHERE event = 'order.submit.accepted'")
        .await;
    assert_eq!(events, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_time_in_force_reaches_the_broker_as_sent() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("tif@example.com", false).await;
    for tif in ["day", "gtc", "opg", "cls", "ioc", "fok"] {
        let mut order = market_order();
        order["time_in_force"] = tif.into();
        let response = submit(&app, &user, &order).await;
        assert_eq!(response.status(), 201, "{tif}");
        assert_eq!(last_sent(&stub)["time_in_force"], tif);
    }
    for bad in ["DAY", "week", "", " day"] {
        let mut order = market_order();
        order["time_in_force"] = bad.into();
        let response = submit(&app, &user, &order).await;
        assert_eq!(response.status(), 422, "{bad:?}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["fields"]["time_in_force"].is_string(),
            "{body}"
        );
    }
    assert_eq!(stub.orders_received(), 6);
}

async fn with_header_key(app: &TestApp, user: &SignedIn, key: &str) -> reqwest::Response {
    app.authed(Method::POST, ORDERS, user)
        .header("idempotency-key", key)
        .body(market_order().to_string())
        .send()
        .await
        .unwrap()
}

async fn with_body_key(app: &TestApp, user: &SignedIn, key: &str) -> reqwest::Response {
    let mut order = market_order();
    order["client_order_id"] = key.into();
    submit(app, user, &order).await
}

/// The field a 422 blames.
async fn blamed(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_order", "{body}");
    body["error"]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_one_to_128_printable_characters_in_header_or_body() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("keys@example.com", false).await;
    let too_long = "k".repeat(129);
    for bad in [
        too_long.as_str(),
        "",
        "   ",
        "has space",
        "tab\there",
        "ключ",
    ] {
        if !bad.contains('\t') && bad.is_ascii() {
            assert_eq!(
                blamed(with_header_key(&app, &user, bad).await).await,
                ["Idempotency-Key"],
                "header {bad:?}"
            );
        }
        assert_eq!(
            blamed(with_body_key(&app, &user, bad).await).await,
            ["client_order_id"],
            "body {bad:?}"
        );
    }
    // A header that is not even text is no key either.
    let raw = app
        .authed(Method::POST, ORDERS, &user)
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .body(market_order().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(blamed(raw).await, ["Idempotency-Key"]);
    assert_eq!(
        stub.orders_received(),
        0,
        "no invalid key reached the broker"
    );

    // The longest key, in either place, is accepted and replays its first outcome.
    let longest = "k".repeat(128);
    assert_eq!(with_header_key(&app, &user, &longest).await.status(), 201);
    let again = with_body_key(&app, &user, &longest).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(stub.orders_received(), 1);
}
