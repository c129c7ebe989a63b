//! Trailing stops and order classes (issue 26 items 2 and 3): a `trailing_stop` with exactly
//! one of `trail_price` / `trail_percent`, priced at the latest trade plus its trail, replaced
//! with Alpaca's `trail`; `bracket`, `oco` and `oto` orders under Alpaca's rules, their legs
//! recorded as the owner's orders, listed with the parent, reserving once, and their events
//! reaching the owner's book and stream; a replacement's `replaced` and `new` updates.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_stub::{AlpacaStub, Behaviour};
use crate::books::book_app;
use crate::helpers::{eventually, SignedIn, TestApp};
use crate::paper_broker::PaperBroker;
use crate::trading::{get, submit, trading_app};
use crate::trading_stream::SseClient;

const WAIT: Duration = Duration::from_secs(10);

async fn json_of(app: &TestApp, user: &SignedIn, path: &str) -> Value {
    let response = get(app, user, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn buying_power(app: &TestApp, user: &SignedIn) -> String {
    let account = json_of(app, user, "/api/trading/account").await;
    account["buying_power"].as_str().unwrap().to_owned()
}

async fn patch(app: &TestApp, user: &SignedIn, id: &str, body: Value) -> reqwest::Response {
    app.authed(Method::PATCH, &format!("/api/trading/orders/{id}"), user)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Submits `order`, expecting 422 `invalid_order` naming `field`.
async fn refused(app: &TestApp, user: &SignedIn, order: Value, field: &str) {
    let response = submit(app, user, &order).await;
    assert_eq!(response.status(), 422, "{order}");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_order", "{error}");
    assert!(
        error["error"]["fields"][field].is_string(),
        "{field} named for {order}: {error}"
    );
}

/// The last order body the Alpaca stand-in received.
fn last_sent(stub: &AlpacaStub) -> Value {
    let seen = stub.seen();
    let sent = seen
        .iter()
        .rev()
        .find(|s| s.method == Method::POST && s.path == "/v2/orders")
        .expect("an order reached Alpaca");
    serde_json::from_str(&sent.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailing_stop_is_priced_at_the_latest_trade_plus_its_trail_and_replaced_by_trail() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let order = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "trailing_stop",
        "time_in_force": "gtc", "trail_price": "2.5"});
    for (change, field) in [
        (json!({"trail_percent": "1"}), "trail_percent"),
        (json!({"trail_price": null}), "trail_price"),
        (json!({"time_in_force": "ioc"}), "time_in_force"),
        (
            json!({"trail_price": null, "trail_percent": "100"}),
            "trail_percent",
        ),
        (json!({"limit_price": "150"}), "limit_price"),
        (
            json!({"order_class": "bracket", "take_profit": {"limit_price": "200"},
            "stop_loss": {"stop_price": "100"}}),
            "type",
        ),
    ] {
        let mut bad = order.clone();
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        refused(&app, &alice, bad, field).await;
    }
    let mut limit = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
        "time_in_force": "day", "limit_price": "150", "trail_price": "1"});
    refused(&app, &alice, limit.clone(), "trail_price").await;
    assert_eq!(stub.orders_received(), 0, "nothing invalid reached Alpaca");

    let response = submit(&app, &alice, &order).await;
    assert_eq!(response.status(), 201);
    let placed: Value = response.json().await.unwrap();
    assert_eq!(placed["type"], "trailing_stop");
    assert_eq!(placed["trail_price"], "2.5");
    assert!(placed.get("trail_percent").is_some() && placed.get("hwm").is_some());
    let sent = last_sent(&stub);
    assert_eq!(
        (&sent["type"], &sent["trail_price"], &sent["time_in_force"]),
        (&json!("trailing_stop"), &json!("2.5"), &json!("gtc"))
    );
    assert!(sent.get("trail_percent").is_none() && sent.get("limit_price").is_none());
    // (161.2958 + 2.5) × 1.02: the latest trade plus the trail, with the market collar.
    assert_eq!(buying_power(&app, &alice).await, "99832.93");

    let id = placed["id"].as_str().unwrap();
    let response = patch(&app, &alice, id, json!({"trail": "3"})).await;
    assert_eq!(response.status(), 200);
    let replacement: Value = response.json().await.unwrap();
    assert_eq!(replacement["trail_price"], "3");
    let seen = stub.seen();
    let replace = seen.iter().find(|s| s.method == Method::PATCH).unwrap();
    let replace: Value = serde_json::from_str(&replace.body).unwrap();
    assert_eq!(replace["trail"], "3");
    assert_eq!(buying_power(&app, &alice).await, "99832.42");

    // `trail` is refused for an order that is not a trailing stop.
    limit.as_object_mut().unwrap().remove("trail_price");
    let placed: Value = submit(&app, &alice, &limit).await.json().await.unwrap();
    let id = placed["id"].as_str().unwrap();
    let response = patch(&app, &alice, id, json!({"trail": "1"})).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["fields"]["trail"].is_string(), "{error}");
}

/// A buy bracket: a limit entry at 150, a take-profit at 170, a stop-limit exit at 140 / 139.5.
fn bracket() -> Value {
    json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit",
        "time_in_force": "gtc", "limit_price": "150", "order_class": "bracket",
        "take_profit": {"limit_price": "170"},
        "stop_loss": {"stop_price": "140", "limit_price": "139.5"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_class_rules_are_checked_before_anything_reaches_alpaca() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let with = |change: Value| {
        let mut order = bracket();
        for (k, v) in change.as_object().unwrap() {
            order[k] = v.clone();
        }
        order
    };
    for (order, field) in [
        (with(json!({"stop_loss": null})), "stop_loss"),
        (
            with(json!({"take_profit": {"limit_price": "149"}})),
            "take_profit.limit_price",
        ),
        (
            with(json!({"stop_loss": {"stop_price": "151"}})),
            "stop_loss.stop_price",
        ),
        (
            with(json!({"stop_loss": {"stop_price": "140", "limit_price": "141"}})),
            "stop_loss.limit_price",
        ),
        (
            with(json!({"type": "stop", "limit_price": null, "stop_price": "150"})),
            "type",
        ),
        (with(json!({"time_in_force": "ioc"})), "time_in_force"),
        (with(json!({"qty": "1.5"})), "qty"),
        (with(json!({"order_class": "oto"})), "order_class"),
        (with(json!({"order_class": "triangle"})), "order_class"),
        (with(json!({"order_class": "simple"})), "take_profit"),
        // Long only: exits sell, so a bracket opens with a buy and an oco sells.
        (
            with(json!({"order_class": "oco", "limit_price": null})),
            "side",
        ),
        (
            with(
                json!({"side": "sell", "take_profit": {"limit_price": "130"},
            "stop_loss": {"stop_price": "160"}}),
            ),
            "side",
        ),
        // A market entry's exits are checked against the latest trade (161.2958).
        (
            with(json!({"type": "market", "limit_price": null,
            "take_profit": {"limit_price": "160"}})),
            "take_profit.limit_price",
        ),
    ] {
        refused(&app, &alice, order, field).await;
    }
    assert_eq!(stub.orders_received(), 0, "nothing invalid reached Alpaca");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_classes_follow_alpacas_rules_and_legs_are_the_owners_orders() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    let bracket = bracket();

    let response = submit(&app, &alice, &bracket).await;
    assert_eq!(response.status(), 201);
    let placed: Value = response.json().await.unwrap();
    let sent = last_sent(&stub);
    assert_eq!(sent["order_class"], "bracket");
    assert_eq!(sent["take_profit"], json!({"limit_price": "170"}));
    assert_eq!(
        sent["stop_loss"],
        json!({"stop_price": "140", "limit_price": "139.5"})
    );
    let legs = placed["legs"].as_array().expect("Alpaca's legs");
    assert_eq!(legs.len(), 2);
    // The entry alone reserves: 2 × 161.2958 (the latest trade, above the limit).
    assert_eq!(buying_power(&app, &alice).await, "99677.41");

    let parent = placed["id"].as_str().unwrap();
    let shown = json_of(&app, &alice, &format!("/api/trading/orders/{parent}")).await;
    let leg_ids: Vec<&str> = shown["legs"]
        .as_array()
        .expect("listed with its legs")
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        leg_ids,
        [
            legs[0]["id"].as_str().unwrap(),
            legs[1]["id"].as_str().unwrap()
        ]
    );
    let db = app.db.client().await;
    let owned = db
        .query_one(
            "SELECT count(*) FROM orders l JOIN orders p ON l.parent_id = p.id \
             WHERE p.alpaca_order_id = $1 AND l.user_id = $2 AND l.reserve_price IS NULL",
            &[&parent, &alice.user_id],
        )
        .await
        .unwrap();
    assert_eq!(owned.get::<_, i64>(0), 2, "each leg is alice's order");
    // Flat by default (each leg listed too); `nested=true` lists the legs only in the parent.
    let count = |listed: &Value| listed.as_array().unwrap().len();
    let flat = json_of(&app, &alice, "/api/trading/orders?status=all").await;
    assert_eq!(count(&flat), 3, "{flat}");
    let nested = json_of(&app, &alice, "/api/trading/orders?status=all&nested=true").await;
    assert_eq!(count(&nested), 1, "{nested}");
    assert_eq!(nested[0]["legs"].as_array().map(Vec::len), Some(2));
    let bad = get(&app, &alice, "/api/trading/orders?nested=maybe").await;
    assert_eq!(bad.status(), 422);
    let leg = legs[0]["id"].as_str().unwrap();
    let own_leg = get(&app, &alice, &format!("/api/trading/orders/{leg}")).await;
    assert_eq!(own_leg.status(), 200);
    let theirs = get(&app, &bob, &format!("/api/trading/orders/{leg}")).await;
    assert_eq!(theirs.status(), 404);

    // oto: one exit; a stop-loss on a market entry is below the latest trade.
    let oto = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
        "time_in_force": "day", "order_class": "oto", "stop_loss": {"stop_price": "150"}});
    let response = submit(&app, &alice, &oto).await;
    assert_eq!(response.status(), 201);
    let placed: Value = response.json().await.unwrap();
    assert_eq!(placed["legs"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oco_reserves_its_shares_once_and_a_legs_fill_reaches_the_owner() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let mut stream = SseClient::open(&app, &alice, None).await;
    broker.wait_listening(1, WAIT).await;

    // A market bracket: the entry fills at 150; its exits are held legs of alice's.
    let bracket = json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market",
        "time_in_force": "gtc", "order_class": "bracket",
        "take_profit": {"limit_price": "170"}, "stop_loss": {"stop_price": "140"}});
    let response = submit(&app, &alice, &bracket).await;
    assert_eq!(response.status(), 201);
    let placed: Value = response.json().await.unwrap();
    let take_profit = placed["legs"][0]["id"].as_str().unwrap().to_owned();
    eventually(WAIT, "the entry's fill in the book", || async {
        let positions = json_of(&app, &alice, "/api/trading/positions").await;
        (positions[0]["qty"] == "10").then_some(())
    })
    .await;
    let entry = placed["id"].as_str().unwrap().to_owned();
    eventually(WAIT, "the entry filled in the ledger", || async {
        let order = json_of(&app, &alice, &format!("/api/trading/orders/{entry}")).await;
        (order["status"] == "filled").then_some(())
    })
    .await;
    // Its open exits hold back the 10 shares (once for both): they cannot be sold again.
    let sell_one = json!({"symbol": "AAPL", "qty": "1", "side": "sell", "type": "limit",
        "time_in_force": "gtc", "limit_price": "180"});
    let response = submit(&app, &alice, &sell_one).await;
    assert_eq!(response.status(), 422, "the exits hold the position");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["fields"]["limit"], "position", "{error}");

    // The take-profit leg fills: its event reaches alice's stream and her book.
    broker.fill(&take_profit, "10", "170");
    let mut seen_leg = false;
    while !seen_leg {
        let event = stream.next().await.expect("the stream stays open");
        let data: Value = serde_json::from_str(&event.data).unwrap_or_default();
        seen_leg = event.event == "fill" && data["order"]["id"] == take_profit.as_str();
    }
    // The other exit was cancelled with it, and the ledger follows.
    let stop_loss = placed["legs"][1]["id"].as_str().unwrap().to_owned();
    eventually(WAIT, "the other exit cancelled", || async {
        let leg = json_of(&app, &alice, &format!("/api/trading/orders/{stop_loss}")).await;
        (leg["status"] == "canceled").then_some(())
    })
    .await;
    let account = eventually(WAIT, "the leg's fill in the book", || async {
        let account = json_of(&app, &alice, "/api/trading/account").await;
        (account["cash"] == "100200.00").then_some(account)
    })
    .await;
    assert_eq!(account["realized_pl"], "200.00");

    // An oco sells 4 of 10 bought: the 4 are held back once, so 6 more can still be sold.
    let buy = json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market",
        "time_in_force": "day"});
    assert_eq!(submit(&app, &alice, &buy).await.status(), 201);
    eventually(WAIT, "the second buy in the book", || async {
        let positions = json_of(&app, &alice, "/api/trading/positions").await;
        (positions[0]["qty"] == "10").then_some(())
    })
    .await;
    let oco = json!({"symbol": "AAPL", "qty": "4", "side": "sell", "type": "limit",
        "time_in_force": "gtc", "order_class": "oco",
        "take_profit": {"limit_price": "170"}, "stop_loss": {"stop_price": "140"}});
    let response = submit(&app, &alice, &oco).await;
    assert_eq!(response.status(), 201);
    let placed: Value = response.json().await.unwrap();
    assert_eq!(placed["order_class"], "oco");
    assert_eq!(placed["legs"].as_array().map(Vec::len), Some(1));
    let sell = |qty: &str| {
        json!({"symbol": "AAPL", "qty": qty, "side": "sell", "type": "limit",
            "time_in_force": "gtc", "limit_price": "180"})
    };
    let too_many = submit(&app, &alice, &sell("7")).await;
    assert_eq!(too_many.status(), 422);
    assert_eq!(submit(&app, &alice, &sell("6")).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_streams_replaced_then_new_and_the_book_follows() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let mut stream = SseClient::open(&app, &alice, None).await;
    broker.wait_listening(1, WAIT).await;
    let order = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
        "time_in_force": "gtc", "limit_price": "140"});
    let placed: Value = submit(&app, &alice, &order).await.json().await.unwrap();
    let old = placed["id"].as_str().unwrap().to_owned();
    let new_event = stream.next().await.unwrap();
    assert_eq!(new_event.event, "new");
    // Priced at the market, 150, above the limit.
    assert_eq!(buying_power(&app, &alice).await, "99850.00");

    let response = patch(
        &app,
        &alice,
        &old,
        json!({"qty": "2", "limit_price": "141"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let replacement: Value = response.json().await.unwrap();
    let new = replacement["id"].as_str().unwrap().to_owned();
    assert_eq!(replacement["replaces"], old.as_str());

    let replaced = stream.next().await.unwrap();
    assert_eq!(replaced.event, "replaced");
    let data: Value = serde_json::from_str(&replaced.data).unwrap();
    assert_eq!(
        (&data["order"]["id"], &data["order"]["replaced_by"]),
        (&json!(old), &json!(new))
    );
    let renewed = stream.next().await.unwrap();
    assert_eq!(renewed.event, "new");
    let data: Value = serde_json::from_str(&renewed.data).unwrap();
    assert_eq!(data["order"]["id"], new.as_str());
    assert_eq!(data["order"]["replaces"], old.as_str());

    // The replacement's reservation replaced the old one: 2 × 150.
    assert_eq!(buying_power(&app, &alice).await, "99700.00");
    eventually(WAIT, "the ledger follows both events", || async {
        let open = json_of(&app, &alice, "/api/trading/orders?status=open").await;
        let ids: Vec<String> = open
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        let db = app.db.client().await;
        let status: Option<String> = db
            .query_one(
                "SELECT order_status FROM orders WHERE alpaca_order_id = $1",
                &[&old],
            )
            .await
            .unwrap()
            .get(0);
        (ids == [new.clone()] && status.as_deref() == Some("replaced")).then_some(())
    })
    .await;
    assert_eq!(buying_power(&app, &alice).await, "99700.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_needs_room_for_its_legs_under_the_open_orders_limit() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[("TRADING_MAX_OPEN_ORDERS", "3")]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let simple = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
        "time_in_force": "gtc", "limit_price": "150"});
    assert_eq!(submit(&app, &alice, &simple).await.status(), 201);

    // One open order and a bracket's three would make four.
    let response = submit(&app, &alice, &bracket()).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "risk_limit", "{error}");
    assert_eq!(
        error["error"]["fields"]["limit"], "max_open_orders",
        "{error}"
    );
    assert_eq!(
        stub.orders_received(),
        1,
        "the refused bracket sent nothing"
    );

    // An oto's two fit, and then the limit is reached: legs count as open orders.
    let oto = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
        "time_in_force": "gtc", "limit_price": "150", "order_class": "oto",
        "take_profit": {"limit_price": "170"}});
    assert_eq!(submit(&app, &alice, &oto).await.status(), 201);
    let response = submit(&app, &alice, &simple).await;
    assert_eq!(
        response.status(),
        422,
        "three open orders, the oto's leg among them"
    );
    assert_eq!(stub.orders_received(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legs_of_an_order_whose_answer_was_lost_are_the_owners_after_reconciliation() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[("ALPACA_REQUEST_TIMEOUT_SECS", "1")]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    // The stream is down, and the bracket reaches Alpaca but its answer never reaches Raptor.
    broker.refuse_stream(true);
    broker.drop_stream();
    broker.wait_listening(0, WAIT).await;
    broker.behave(Behaviour::LoseAnswers);
    let bracket = json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market",
        "time_in_force": "gtc", "order_class": "bracket",
        "take_profit": {"limit_price": "170"}, "stop_loss": {"stop_price": "140"}});
    let response = submit(&app, &alice, &bracket).await;
    assert_eq!(response.status(), 504, "the answer was lost");
    broker.behave(Behaviour::Normal);

    // At Alpaca the entry filled at 150 and now its take-profit exit fills at 170.
    let orders = broker.orders();
    assert_eq!(orders.len(), 3, "the entry and its two legs: {orders:?}");
    let take_profit = orders
        .iter()
        .find(|o| o["type"] == "limit" && o["side"] == "sell")
        .expect("the take-profit leg")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    broker.fill(&take_profit, "10", "170");

    // The reconnect's reconciliation lists the bracket with its legs: they are alice's, and
    // their fills reach her book, none the operator's.
    broker.refuse_stream(false);
    eventually(WAIT, "the exit's fill in alice's book", || async {
        let account = json_of(&app, &alice, "/api/trading/account").await;
        (account["cash"] == "100200.00").then_some(())
    })
    .await;
    let leg = json_of(&app, &alice, &format!("/api/trading/orders/{take_profit}")).await;
    assert_eq!(leg["status"], "filled", "{leg}");
    let operator_fills = app
        .db
        .count("SELECT count(*) FROM fills WHERE user_id = '00000000-0000-0000-0000-000000000000'")
        .await;
    assert_eq!(operator_fills, 0, "nothing went to the operator book");
}
