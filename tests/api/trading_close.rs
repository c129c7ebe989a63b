//! Closing what you own (issue 26 item 4): a position of one's own book sold with a market
//! order, all of one's positions, all of one's open orders cancelled; never Alpaca's
//! account-wide close-all or cancel-all, which would touch the other users on the account.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::books::book_app;
use crate::helpers::{error_code, eventually, SignedIn, TestApp};
use crate::paper_broker::PaperBroker;
use crate::trading::{get, submit};

const WAIT: Duration = Duration::from_secs(10);

async fn delete(app: &TestApp, user: &SignedIn, path: &str) -> reqwest::Response {
    app.authed(Method::DELETE, path, user).send().await.unwrap()
}

async fn buy(app: &TestApp, user: &SignedIn, qty: &str, limit: Option<&str>) -> String {
    let mut order = json!({"symbol": "AAPL", "qty": qty, "side": "buy", "type": "market",
        "time_in_force": "gtc"});
    if let Some(limit) = limit {
        (order["type"], order["limit_price"]) = (json!("limit"), json!(limit));
    }
    let response = submit(app, user, &order).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Waits until `user` holds `qty` AAPL (`None`: no position).
async fn holds(app: &TestApp, user: &SignedIn, qty: Option<&str>) {
    eventually(WAIT, &format!("AAPL position {qty:?}"), || async {
        let positions: Value = get(app, user, "/api/trading/positions")
            .await
            .json()
            .await
            .unwrap();
        let held = positions
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["symbol"] == "AAPL");
        (held
            .map(|p| p["qty"].as_str().unwrap().to_owned())
            .as_deref()
            == qty)
            .then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_sells_only_the_callers_own_quantity() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    buy(&app, &alice, "10", None).await;
    buy(&app, &bob, "4", None).await;
    holds(&app, &alice, Some("10")).await;
    holds(&app, &bob, Some("4")).await;

    let half = delete(&app, &alice, "/api/trading/positions/aapl?percentage=50").await;
    assert_eq!(half.status(), 200);
    let order: Value = half.json().await.unwrap();
    assert_eq!(
        (&order["side"], &order["qty"], &order["type"]),
        (&json!("sell"), &json!("5"), &json!("market"))
    );
    holds(&app, &alice, Some("5")).await;
    let two = delete(&app, &alice, "/api/trading/positions/AAPL?qty=2").await;
    assert_eq!(two.status(), 200);
    holds(&app, &alice, Some("3")).await;

    for (path, code) in [
        (
            "/api/trading/positions/AAPL?qty=1&percentage=5",
            "invalid_order",
        ),
        (
            "/api/trading/positions/AAPL?percentage=150",
            "invalid_order",
        ),
        ("/api/trading/positions/AAPL?qty=4", "insufficient_position"),
    ] {
        let refused = delete(&app, &alice, path).await;
        assert_eq!(refused.status(), 422, "{path}");
        assert_eq!(error_code(refused).await, code, "{path}");
    }
    let none = delete(&app, &bob, "/api/trading/positions/MSFT").await;
    assert_eq!(none.status(), 404);
    assert_eq!(error_code(none).await, "position_not_found");

    let all = delete(&app, &alice, "/api/trading/positions").await;
    assert_eq!(all.status(), 207);
    let results: Value = all.json().await.unwrap();
    assert_eq!(results.as_array().unwrap().len(), 1, "{results}");
    assert_eq!(
        (&results[0]["symbol"], &results[0]["status"]),
        (&json!("AAPL"), &json!(200))
    );
    assert_eq!(results[0]["body"]["qty"], "3");
    holds(&app, &alice, None).await;
    holds(&app, &bob, Some("4")).await;
    // Every sell is alice's own order, in her list.
    let orders: Value = get(&app, &alice, "/api/trading/orders?status=all")
        .await
        .json()
        .await
        .unwrap();
    let sells = orders
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["side"] == "sell")
        .count();
    assert_eq!(sells, 3);
    let account_wide = broker
        .seen()
        .into_iter()
        .filter(|s| s.method == Method::DELETE && s.path.starts_with("/v2/positions"))
        .count();
    assert_eq!(account_wide, 0, "never Alpaca's close-position routes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_all_cancels_only_the_callers_open_orders() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    let mine = [
        buy(&app, &alice, "1", Some("100")).await,
        buy(&app, &alice, "2", Some("101")).await,
    ];
    let theirs = buy(&app, &bob, "1", Some("100")).await;

    let response = delete(&app, &alice, "/api/trading/orders").await;
    assert_eq!(response.status(), 207);
    let results: Value = response.json().await.unwrap();
    let mut cancelled: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["status"], 200, "{r}");
            r["id"].as_str().unwrap()
        })
        .collect();
    cancelled.sort_unstable();
    let mut expected: Vec<&str> = mine.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(cancelled, expected);
    assert_eq!(
        broker.order(&theirs)["status"],
        "new",
        "bob's order is untouched"
    );
    let open: Value = get(&app, &bob, "/api/trading/orders?status=open")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(
        broker.count(Method::DELETE, "/v2/orders"),
        0,
        "never Alpaca's cancel-all"
    );
    let again: Value = delete(&app, &alice, "/api/trading/orders")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!([]));
}
