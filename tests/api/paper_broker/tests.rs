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
}

#[tokio::test]
async fn executions_move_the_order_the_position_and_the_account() {
    let broker = PaperBroker::start().await;
    let id = submit(&broker, order_body("aapl", "buy", "3", Some("105"))).await;
    broker.fill(&id, "1", "100");
    let order = broker.order(&id);
    assert_eq!(order["status"], "partially_filled");
    assert_eq!(
        (&order["filled_qty"], &order["filled_avg_price"]),
        (&json!("1"), &json!("100"))
    );
    let first = &broker.activities()[0];
    assert_eq!(
        (&first["type"], &first["cum_qty"], &first["leaves_qty"]),
        (&json!("partial_fill"), &json!("1"), &json!("2"))
    );
    broker.fill(&id, "2", "103");
    let (_, order) = call(&broker, Method::GET, &format!("/v2/orders/{id}"), None).await;
    assert_eq!(order["status"], "filled");
    assert_eq!(
        (&order["filled_qty"], &order["filled_avg_price"]),
        (&json!("3"), &json!("102"))
    );
    assert_eq!(
        (&order["limit_price"], &order["qty"], &order["symbol"]),
        (&json!("105"), &json!("3"), &json!("AAPL"))
    );
    assert!(order["filled_at"].is_string() && order["canceled_at"].is_null());

    broker.set_price("AAPL", "110");
    let (_, position) = call(&broker, Method::GET, "/v2/positions/AAPL", None).await;
    let figures = [
        "qty",
        "side",
        "avg_entry_price",
        "cost_basis",
        "market_value",
        "unrealized_pl",
    ];
    let figures: Vec<&Value> = figures.iter().map(|f| &position[f]).collect();
    assert_eq!(
        figures,
        [
            &json!("3"),
            &json!("long"),
            &json!("102"),
            &json!("306"),
            &json!("330"),
            &json!("24")
        ]
    );
    submit(&broker, order_body("AAPL", "sell", "1", None)).await;
    assert_eq!(broker.position("AAPL").unwrap()["qty"], "2");
    assert_eq!(broker.position("AAPL").unwrap()["avg_entry_price"], "102");
    let (_, account) = call(&broker, Method::GET, "/v2/account", None).await;
    // 100,000 − 306 + 110
    assert_eq!(
        (&account["cash"], &account["long_market_value"]),
        (&json!("99804"), &json!("220"))
    );
    submit(&broker, order_body("AAPL", "sell", "2", None)).await;
    assert!(broker.position("AAPL").is_none());
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
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&activity[key], value, "{key}");
    }
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
