//! Pre-trade risk limits (issue 13, docs/trading.md): each limit refuses with 422 `risk_limit`
//! naming it, audited as `order.submit.refused`, before anything reaches the broker; the count
//! limits are per user and hold under concurrent submissions.

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_stub::AlpacaStub;
use crate::helpers::{SignedIn, TestApp};
use crate::trading::{audit_rows, market_order, submit, trading_app};

fn limit_order(qty: &str, price: &str) -> Value {
    json!({"symbol": "AAPL", "qty": qty, "side": "buy", "type": "limit",
           "limit_price": price, "time_in_force": "day"})
}

async fn error_body(response: reqwest::Response) -> Value {
    response.json::<Value>().await.unwrap()["error"].clone()
}

/// Asserts a 422 `risk_limit` naming `limit`.
async fn assert_refused(response: reqwest::Response, limit: &str) {
    assert_eq!(response.status(), 422);
    let error = error_body(response).await;
    assert_eq!(error["code"], "risk_limit", "{error}");
    assert_eq!(error["fields"]["limit"], limit, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains(limit),
        "{error}"
    );
}

async fn refusals(app: &TestApp) -> Vec<Value> {
    audit_rows(app)
        .await
        .into_iter()
        .filter(|(event, ..)| event == "order.submit.refused")
        .map(|(.., details)| details)
        .collect()
}

async fn submit_with_key(app: &TestApp, user: &SignedIn, order: &Value, key: &str) -> u16 {
    app.authed(Method::POST, "/api/trading/orders", user)
        .header("idempotency-key", key)
        .body(order.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_orders_are_limited_per_user_until_they_close() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("TRADING_MAX_OPEN_ORDERS", "2")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let other = app.sign_in("other@example.com", false).await;
    assert_eq!(
        submit_with_key(&app, &user, &market_order(), "a").await,
        201
    );
    assert_eq!(
        submit_with_key(&app, &user, &market_order(), "b").await,
        201
    );
    assert_refused(
        submit(&app, &user, &market_order()).await,
        "max_open_orders",
    )
    .await;
    // A replay of an order already placed is not a new order: replayed, not refused.
    assert_eq!(
        submit_with_key(&app, &user, &market_order(), "a").await,
        201
    );
    assert_eq!(stub.orders_received(), 2, "a refusal sends nothing");
    // Another user is not held back by this one.
    assert_eq!(submit(&app, &other, &market_order()).await.status(), 201);

    let refused = refusals(&app).await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["limit"], "max_open_orders");
    assert_eq!(refused[0]["symbol"], "AAPL");

    // Once the stream reports them filled, they no longer count.
    app.db
        .client()
        .await
        .execute("UPDATE orders SET order_status = 'filled'", &[])
        .await
        .unwrap();
    assert_eq!(submit(&app, &user, &market_order()).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_per_day_are_limited_per_user() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("TRADING_MAX_ORDERS_PER_DAY", "2")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    for _ in 0..2 {
        assert_eq!(submit(&app, &user, &market_order()).await.status(), 201);
    }
    // Closed orders still count against the day.
    app.db
        .client()
        .await
        .execute("UPDATE orders SET order_status = 'filled'", &[])
        .await
        .unwrap();
    assert_refused(
        submit(&app, &user, &market_order()).await,
        "max_orders_per_day",
    )
    .await;
    assert_eq!(stub.orders_received(), 2);
    assert_eq!(refusals(&app).await[0]["limit"], "max_orders_per_day");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notional_of_an_order_is_priced_at_the_market_or_above_and_never_guessed() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("TRADING_MAX_ORDER_NOTIONAL", "1000")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    // AAPL's latest trade (the market-data stand-in) is 161.2958.
    let mut notional = market_order();
    notional["qty"] = Value::Null;
    notional["notional"] = json!("1000.01");
    assert_refused(submit(&app, &user, &notional).await, "max_order_notional").await;
    // A stated price below the market cannot make an order look smaller: 10 × 161.2958.
    assert_refused(
        submit(&app, &user, &limit_order("10", "100")).await,
        "max_order_notional",
    )
    .await;
    // One above the market is taken at its word: 6 × 170.
    assert_refused(
        submit(&app, &user, &limit_order("6", "170")).await,
        "max_order_notional",
    )
    .await;
    assert_eq!(stub.orders_received(), 0);
    assert_eq!(
        submit(&app, &user, &limit_order("6", "100")).await.status(),
        201
    );
    // A market order: the latest trade plus the 2% collar, 6 × 164.52 = 987.13.
    let mut market = market_order();
    market["qty"] = json!("6");
    assert_eq!(submit(&app, &user, &market).await.status(), 201);
    market["qty"] = json!("6.1");
    assert_refused(submit(&app, &user, &market).await, "max_order_notional").await;
    notional["notional"] = json!("1000");
    assert_eq!(submit(&app, &user, &notional).await.status(), 201);
    // No latest trade: refused, not sent, whatever the stated price.
    let mut unknown = limit_order("1", "1");
    unknown["symbol"] = json!("ZZZZ");
    let unpriced = submit(&app, &user, &unknown).await;
    assert_eq!(unpriced.status(), 503);
    assert!(unpriced.headers().contains_key("retry-after"));
    let error = error_body(unpriced).await;
    assert_eq!(error["code"], "service_unavailable");
    assert!(
        error["message"].as_str().unwrap().contains("ZZZZ"),
        "{error}"
    );
    assert_eq!(stub.orders_received(), 3);
    assert_eq!(refusals(&app).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_asset_classes_trade() {
    let stub = AlpacaStub::start().await;
    let crypto = json!({"symbol": "BTC/USD", "notional": "10", "side": "buy", "type": "market",
                        "time_in_force": "gtc"});
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    assert_refused(submit(&app, &user, &crypto).await, "asset_class").await;
    assert_eq!(stub.orders_received(), 0);

    let app = trading_app(&stub, &[("TRADING_ASSET_CLASSES", "us_equity,crypto")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    assert_eq!(submit(&app, &user, &crypto).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_cannot_pass_a_limit_together() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("TRADING_MAX_OPEN_ORDERS", "2")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    // Four at once (the per-user in-flight limit), each a different order.
    let one = || async { submit(&app, &user, &market_order()).await.status().as_u16() };
    let (a, b, c, d) = tokio::join!(one(), one(), one(), one());
    let statuses = [a, b, c, d];
    let placed = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 422).count();
    assert_eq!((placed, refused), (2, 2), "{statuses:?}");
    assert_eq!(stub.orders_received(), 2);
    let open: i64 = app
        .db
        .client()
        .await
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 2);
}
