//! Issue 24 item 8: a retry after a lost answer that meets Alpaca's 422 for a client order id it
//! already holds records what Alpaca has, never `rejected`.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::alpaca_stub::AlpacaStub;
use crate::helpers::{SignedIn, TestApp};
use crate::trading::{audit_rows, market_order, trading_app};

async fn submit_keyed(app: &TestApp, user: &SignedIn, key: &str) -> reqwest::Response {
    app.authed(Method::POST, "/api/trading/orders", user)
        .header("idempotency-key", key)
        .body(market_order().to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_meets_a_duplicate_client_order_id_records_alpacas_order() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("ALPACA_REQUEST_TIMEOUT_SECS", "1")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    // Alpaca takes the order but the answer is lost.
    stub.delay_orders(Duration::from_millis(1500));
    assert_eq!(submit_keyed(&app, &user, "lost-once").await.status(), 504);
    assert_eq!(stub.orders_received(), 1);
    // The retry's lookup does not see it yet, so it sends again and meets Alpaca's 422.
    stub.delay_orders(Duration::ZERO);
    stub.miss_lookups(1);
    let retry = submit_keyed(&app, &user, "lost-once").await;
    assert_eq!(retry.status(), 201, "what Alpaca holds is the answer");
    let order: Value = retry.json().await.unwrap();
    assert_eq!(
        stub.orders_received(),
        2,
        "the second POST was refused as a duplicate"
    );
    assert_eq!(stub.count(Method::GET, "/v2/orders:by_client_order_id"), 2);
    let row = app
        .db
        .client()
        .await
        .query_one("SELECT status, alpaca_order_id FROM orders", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "accepted");
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        order["id"].as_str()
    );
    let rows = audit_rows(&app).await;
    let last = rows.last().unwrap();
    assert_eq!(last.0, "order.submit.accepted");
    assert_eq!(last.3["settled_after_lost_answer"], true);
    // The order is the caller's, listed and replayed like any other.
    let again = submit_keyed(&app, &user, "lost-once").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}
