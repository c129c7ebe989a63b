//! Replacing an order (issue 26 item 1): `PATCH /api/trading/orders/{id}` → Alpaca's
//! `PATCH /v2/orders/{id}`; the replacement is the caller's order, linked both ways, the book's
//! reservation follows it, `Idempotency-Key` replays, Alpaca's refusal is 422 with its reason,
//! and another user's order is 404.

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_stub::{AlpacaStub, Behaviour};
use crate::helpers::{error_code, SignedIn, TestApp};
use crate::trading::{get, submit, trading_app};

async fn patch(
    app: &TestApp,
    user: &SignedIn,
    id: &str,
    body: Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .authed(Method::PATCH, &format!("/api/trading/orders/{id}"), user)
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn buying_power(app: &TestApp, user: &SignedIn) -> String {
    let account: Value = get(app, user, "/api/trading/account")
        .await
        .json()
        .await
        .unwrap();
    account["buying_power"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_is_the_callers_order_and_takes_over_the_reservation() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    let limit = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
        "time_in_force": "day", "limit_price": "150"});
    let placed: Value = submit(&app, &alice, &limit).await.json().await.unwrap();
    let old = placed["id"].as_str().unwrap().to_owned();
    // Priced at the latest trade, 161.2958, above the limit.
    assert_eq!(buying_power(&app, &alice).await, "99838.70");

    let change = json!({"qty": "2", "limit_price": "151"});
    let response = patch(&app, &alice, &old, change.clone(), Some("bigger")).await;
    assert_eq!(response.status(), 200);
    let replacement: Value = response.json().await.unwrap();
    let new = replacement["id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(replacement["replaces"], old.as_str());
    let sent: Value = serde_json::from_str(
        &stub
            .seen()
            .iter()
            .find(|s| s.method == Method::PATCH)
            .expect("a replace reached Alpaca")
            .body,
    )
    .unwrap();
    assert_eq!(
        (&sent["qty"], &sent["limit_price"]),
        (&json!("2"), &json!("151"))
    );
    let db = app.db.client().await;
    let rows = db
        .query(
            "SELECT n.client_order_id, n.status, n.replaces = o.id, o.replaced_by = n.id \
             FROM orders n JOIN orders o ON o.alpaca_order_id = $2 WHERE n.alpaca_order_id = $1 \
             AND n.user_id = $3",
            &[&new, &old, &alice.user_id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the replacement is alice's");
    assert_eq!(
        rows[0].get::<_, String>(0),
        sent["client_order_id"].as_str().unwrap()
    );
    assert_eq!(rows[0].get::<_, String>(1), "accepted");
    assert!(
        rows[0].get::<_, bool>(2) && rows[0].get::<_, bool>(3),
        "linked both ways"
    );
    // Only the replacement reserves: 2 × 161.2958.
    assert_eq!(buying_power(&app, &alice).await, "99677.41");
    let open: Value = get(&app, &alice, "/api/trading/orders?status=open")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [new.as_str()]);

    // A retry replays the first outcome; nothing more reaches Alpaca.
    let again = patch(&app, &alice, &old, change, Some("bigger")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(stub.count_prefix(Method::PATCH, "/v2/orders/"), 1);
    // Another user's order does not exist for bob; a replaced order is no longer open.
    let theirs = patch(&app, &bob, &new, json!({"qty": "1"}), None).await;
    assert_eq!(theirs.status(), 404);
    assert_eq!(error_code(theirs).await, "not_found");
    let closed = patch(&app, &alice, &old, json!({"qty": "3"}), None).await;
    assert_eq!(closed.status(), 422);
    for (body, field) in [(json!({}), "body"), (json!({"trail": "1"}), "trail")] {
        let refused = patch(&app, &alice, &new, body, None).await;
        assert_eq!(refused.status(), 422);
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_order");
        assert!(error["error"]["fields"][field].is_string(), "{error}");
    }

    // Alpaca's refusal is 422 with its reason, and the order it refused reserves again.
    stub.behave(Behaviour::Fail(
        422,
        r#"{"code":42210000,"message":"order is not replaceable"}"#.into(),
    ));
    let refused = patch(&app, &alice, &new, json!({"qty": "3"}), None).await;
    assert_eq!(refused.status(), 422);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "broker_rejected");
    assert_eq!(error["error"]["message"], "order is not replaceable");
    stub.behave(Behaviour::Normal);
    assert_eq!(buying_power(&app, &alice).await, "99677.41");
}
