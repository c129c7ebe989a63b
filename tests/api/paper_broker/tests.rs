//! The paper broker's REST side, over real HTTP: validation and credentials, partial fills and
//! what they do to the order, the position and the account, order listings, FILL activities
//! and their paging. (The helpers here serve `tests_stream` too.)

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::PaperBroker;
use crate::alpaca_stub::{Behaviour, KEY_ID, SECRET};

/// A request to the broker with the configured credentials; the status and the JSON answer
/// (`null` when there is none).
pub async fn call(
    broker: &PaperBroker,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", broker.url))
        .header("apca-api-key-id", KEY_ID)
        .header("apca-api-secret-key", SECRET)
        .timeout(Duration::from_secs(5));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the broker answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An order body: `market` when `limit` is `None`.
pub fn order_body(symbol: &str, side: &str, qty: &str, limit: Option<&str>) -> Value {
    let mut body = json!({"symbol": symbol, "side": side, "qty": qty, "type": "market",
        "time_in_force": "day", "client_order_id": uuid::Uuid::new_v4().to_string()});
    if let Some(price) = limit {
        body["type"] = json!("limit");
        body["limit_price"] = json!(price);
    }
    body
}

/// Submits an order; its id.
pub async fn submit(broker: &PaperBroker, body: Value) -> String {
    let (status, order) = call(broker, Method::POST, "/v2/orders", Some(body)).await;
    assert_eq!(status, 200, "{order}");
    order["id"].as_str().expect("an order id").to_owned()
}

/// Asserts `value` has every field of `expected`, with the same value.
pub fn has(value: &Value, expected: Value) {
    for (key, want) in expected.as_object().expect("an object") {
        assert_eq!(&value[key], want, "{key} in {value}");
    }
}

async fn ids(broker: &PaperBroker, path: &str) -> Vec<String> {
    let (status, listed) = call(broker, Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {listed}");
    let listed = listed.as_array().expect("a list").iter();
    listed
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn orders_are_validated_and_requests_checked_like_alpaca() {
    let broker = PaperBroker::start().await;
    let anonymous = reqwest::get(format!("{}/v2/account", broker.url))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let mut both = order_body("AAPL", "buy", "1", None);
    both["notional"] = json!("10");
    let mut no_price = order_body("AAPL", "buy", "1", Some("1"));
    no_price["limit_price"] = Value::Null;
    for bad in [
        both,
        no_price,
        json!({"side": "buy", "qty": "1", "type": "market"}),
    ] {
        let (status, error) = call(&broker, Method::POST, "/v2/orders", Some(bad)).await;
        assert_eq!(
            (status, error["code"].clone()),
            (422, json!(40010001)),
            "{error}"
        );
    }
    let taken = order_body("AAPL", "buy", "1", None);
    submit(&broker, taken.clone()).await;
    let (status, error) = call(&broker, Method::POST, "/v2/orders", Some(taken)).await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        json!({"code": 40010001, "message": "client_order_id must be unique"})
    );
    assert_eq!(broker.count(Method::POST, "/v2/orders"), 5);
    assert_eq!(broker.seen().last().unwrap().method, Method::POST);

    broker.behave(Behaviour::Fail(
        500,
        r#"{"code":50010000,"message":"boom"}"#.into(),
    ));
    assert_eq!(call(&broker, Method::GET, "/v2/account", None).await.0, 500);
    broker.behave(Behaviour::Hang);
    let hung = reqwest::Client::new()
        .get(format!("{}/v2/account", broker.url))
        .header("apca-api-key-id", KEY_ID)
        .header("apca-api-secret-key", SECRET)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    broker.behave(Behaviour::Normal);
    // No price for AAPL was set: the market order waits.
    assert_eq!(broker.orders()[0]["status"], "new");
    broker.set_price("AAPL", "200");
    let mut notional = order_body("AAPL", "buy", "1", None);
    (notional["qty"], notional["notional"]) = (Value::Null, json!("50"));
    let id = submit(&broker, notional).await;
    let filled = json!({"status": "filled", "notional": "50", "qty": null, "filled_qty": "0.25"});
    has(&broker.order(&id), filled);
}

#[tokio::test]
async fn executions_move_the_order_and_record_activities() {
    let broker = PaperBroker::start().await;
    let id = submit(&broker, order_body("aapl", "buy", "3", Some("105"))).await;
    broker.fill(&id, "1", "100");
    let partial =
        json!({"status": "partially_filled", "filled_qty": "1", "filled_avg_price": "100"});
    has(&broker.order(&id), partial);
    let activity = json!({"type": "partial_fill", "qty": "1", "cum_qty": "1", "leaves_qty": "2",
        "order_status": "partially_filled", "order_id": id});
    has(&broker.activities()[0], activity);
    broker.fill(&id, "2", "103");
    let (_, order) = call(&broker, Method::GET, &format!("/v2/orders/{id}"), None).await;
    let filled = json!({"status": "filled", "filled_qty": "3", "filled_avg_price": "102",
        "limit_price": "105", "qty": "3", "symbol": "AAPL", "canceled_at": null});
    has(&order, filled);
    assert_eq!(
        order["filled_at"],
        broker.activities()[1]["transaction_time"]
    );
    has(
        &broker.activities()[1],
        json!({"type": "fill", "leaves_qty": "0", "cum_qty": "3"}),
    );
}

#[tokio::test]
async fn executions_move_the_position_and_the_account() {
    let broker = PaperBroker::start().await;
    broker.auto_fill(false);
    let id = submit(&broker, order_body("AAPL", "buy", "3", None)).await;
    broker.fill(&id, "3", "102");
    broker.set_price("AAPL", "110");
    broker.auto_fill(true);
    let (_, position) = call(&broker, Method::GET, "/v2/positions/AAPL", None).await;
    has(
        &position,
        json!({"qty": "3", "side": "long", "avg_entry_price": "102",
        "cost_basis": "306", "market_value": "330", "unrealized_pl": "24", "current_price": "110"}),
    );
    submit(&broker, order_body("AAPL", "sell", "1", None)).await;
    has(
        &broker.position("AAPL").unwrap(),
        json!({"qty": "2", "avg_entry_price": "102"}),
    );
    let (_, account) = call(&broker, Method::GET, "/v2/account", None).await;
    // 100,000 − 306 + 110
    has(
        &account,
        json!({"cash": "99804", "long_market_value": "220", "equity": "100024"}),
    );
    submit(&broker, order_body("AAPL", "sell", "5", None)).await;
    has(
        &broker.position("AAPL").unwrap(),
        json!({"qty": "-3", "side": "short", "avg_entry_price": "110"}),
    );
    submit(&broker, order_body("AAPL", "buy", "3", None)).await;
    let (status, _) = call(&broker, Method::GET, "/v2/positions/AAPL", None).await;
    assert_eq!(status, 404);
    let (_, positions) = call(&broker, Method::GET, "/v2/positions", None).await;
    assert_eq!(positions, json!([]));
}

#[tokio::test]
async fn orders_are_listed_by_status_time_direction_and_symbol() {
    let broker = PaperBroker::start().await;
    broker.set_price("AAPL", "10");
    let mut made = Vec::new();
    for (symbol, limit) in [
        ("AAPL", None),
        ("MSFT", Some("5")),
        ("AAPL", Some("5")),
        ("TSLA", Some("5")),
    ] {
        made.push(submit(&broker, order_body(symbol, "buy", "1", limit)).await);
    }
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(ids(&broker, "/v2/orders").await, newest_first[..3]);
    assert_eq!(ids(&broker, "/v2/orders?status=closed").await, made[..1]);
    assert_eq!(
        ids(&broker, "/v2/orders?status=all&limit=2").await,
        newest_first[..2]
    );
    assert_eq!(
        ids(&broker, "/v2/orders?status=all&direction=asc&nested=true").await,
        made
    );
    assert_eq!(
        ids(
            &broker,
            "/v2/orders?status=all&symbols=AAPL,TSLA&direction=asc"
        )
        .await,
        [made[0].as_str(), &made[2], &made[3]]
    );
    let submitted = broker.order(&made[1])["submitted_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = urlencode(&submitted);
    assert_eq!(
        ids(&broker, &format!("/v2/orders?status=all&after={at}")).await,
        newest_first[..2]
    );
    assert_eq!(
        ids(&broker, &format!("/v2/orders?status=all&until={at}")).await,
        made[..1]
    );
    let client_id = broker.orders()[2]["client_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v2/orders:by_client_order_id?client_order_id={client_id}");
    assert_eq!(
        call(&broker, Method::GET, &path, None).await.1["id"],
        made[2].as_str()
    );
    let unknown = format!("/v2/orders/{}", uuid::Uuid::new_v4());
    assert_eq!(call(&broker, Method::GET, &unknown, None).await.0, 404);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn fill_activities_are_listed_and_paged() {
    let broker = PaperBroker::start().await;
    broker.set_price("SPY", "500.5");
    let mut orders = Vec::new();
    for _ in 0..5 {
        orders.push(submit(&broker, order_body("SPY", "buy", "2", None)).await);
    }
    let all = broker.activities();
    let activity = &all[0];
    let (stamp, uuid) = activity["id"].as_str().unwrap().split_once("::").unwrap();
    assert!(
        stamp.len() == 17 && stamp.bytes().all(|b| b.is_ascii_digit()),
        "{activity}"
    );
    assert!(uuid.parse::<uuid::Uuid>().is_ok());
    let expected = json!({"activity_type": "FILL", "type": "fill", "price": "500.5", "qty": "2",
        "side": "buy", "symbol": "SPY", "leaves_qty": "0", "cum_qty": "2", "order_status": "filled"});
    has(activity, expected);
    assert_eq!(activity["order_id"], orders[0].as_str());
    let all_ids: Vec<String> = all
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let page = "/v2/account/activities/FILL?direction=asc&page_size=2";
    assert_eq!(ids(&broker, page).await, all_ids[..2]);
    let next = format!("{page}&page_token={}", all_ids[1]);
    assert_eq!(ids(&broker, &next).await, all_ids[2..4]);
    let last = format!("{page}&page_token={}", all_ids[3]);
    assert_eq!(ids(&broker, &last).await, all_ids[4..]);
    let newest = ids(
        &broker,
        "/v2/account/activities?activity_types=FILL&page_size=1",
    )
    .await;
    assert_eq!(newest, all_ids[4..]);
    let older = format!("/v2/account/activities/FILL?page_token={}", all_ids[2]);
    assert_eq!(
        ids(&broker, &older).await,
        [all_ids[1].as_str(), &all_ids[0]]
    );
    let time = urlencode(all[2]["transaction_time"].as_str().unwrap());
    let after = format!("/v2/account/activities/FILL?direction=asc&after={time}");
    assert_eq!(ids(&broker, &after).await, all_ids[3..]);
    assert!(ids(&broker, "/v2/account/activities/DIV").await.is_empty());
}
