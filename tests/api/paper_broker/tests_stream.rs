//! The paper broker's `trade_updates` websocket, with a real websocket client: the events of
//! an order's life in Alpaca's shape, a fill while the stream is down never delivered, a
//! reconnect after a drop, cancel / expire / reject.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::tests::{call, has, order_body, submit};
use super::PaperBroker;
use crate::alpaca_stub::{KEY_ID, SECRET};

const WAIT: Duration = Duration::from_secs(5);

/// A `trade_updates` client, as the application's upstream connection is.
struct Listener {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Listener {
    /// Connects, authenticates and listens to `trade_updates`.
    async fn open(broker: &PaperBroker) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(broker.stream_url())
            .await
            .expect("the stream accepts");
        let mut listener = Self { ws };
        let auth =
            json!({"action": "authenticate", "data": {"key_id": KEY_ID, "secret_key": SECRET}});
        listener.send(auth).await;
        assert_eq!(listener.message().await["data"]["status"], "authorized");
        listener
            .send(json!({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            .await;
        assert_eq!(listener.message().await["stream"], "listening");
        listener
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next message, which Alpaca's paper stream sends as a binary frame.
    async fn message(&mut self) -> Value {
        let frame = tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("a message in time");
        match frame {
            Some(Ok(Message::Binary(bytes))) => serde_json::from_slice(&bytes).unwrap(),
            other => panic!("not a binary message: {other:?}"),
        }
    }

    /// The next `trade_updates` data object, checked to be `event`.
    async fn update(&mut self, event: &str) -> Value {
        let message = self.message().await;
        assert_eq!(message["stream"], "trade_updates");
        assert_eq!(message["data"]["event"], event, "{message}");
        message["data"].clone()
    }

    /// Asserts the connection ends without a close frame.
    async fn dropped(mut self) {
        let frame = tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("the end in time");
        assert!(matches!(frame, None | Some(Err(_))), "{frame:?}");
    }
}

#[tokio::test]
async fn a_market_order_is_new_then_filled_at_the_set_price() {
    let broker = PaperBroker::start().await;
    broker.set_price("AAPL", "123.45");
    let mut listener = Listener::open(&broker).await;
    let body = order_body("AAPL", "buy", "2", None);
    let (status, accepted) = call(&broker, Method::POST, "/v2/orders", Some(body.clone())).await;
    assert_eq!(status, 200);
    has(
        &accepted,
        json!({"status": "accepted", "client_order_id": body["client_order_id"]}),
    );
    let new = listener.update("new").await;
    has(
        &new["order"],
        json!({"id": accepted["id"], "status": "new"}),
    );
    let fill = listener.update("fill").await;
    has(
        &fill,
        json!({"price": "123.45", "qty": "2", "position_qty": "2"}),
    );
    let order = json!({"id": accepted["id"], "status": "filled", "filled_qty": "2",
        "filled_avg_price": "123.45", "filled_at": fill["timestamp"]});
    has(&fill["order"], order);
    let execution_id = fill["execution_id"].as_str().unwrap();
    assert!(execution_id.parse::<uuid::Uuid>().is_ok());
    assert!(chrono::DateTime::parse_from_rfc3339(fill["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(broker.position("AAPL").unwrap()["cost_basis"], "246.9");
    assert_eq!(broker.sessions(), 1);
}

#[tokio::test]
async fn partial_fills_stream_the_cumulative_quantity_and_average() {
    let broker = PaperBroker::start().await;
    broker.auto_fill(false);
    broker.set_price("MSFT", "400");
    let mut listener = Listener::open(&broker).await;
    let id = submit(&broker, order_body("MSFT", "buy", "3", None)).await;
    listener.update("new").await;
    let returned = broker.fill(&id, "1", "100");
    let partial = listener.update("partial_fill").await;
    assert_eq!(partial, returned);
    has(
        &partial,
        json!({"qty": "1", "price": "100", "position_qty": "1"}),
    );
    let order = json!({"status": "partially_filled", "filled_qty": "1", "filled_avg_price": "100"});
    has(&partial["order"], order);
    broker.fill(&id, "2", "101");
    let fill = listener.update("fill").await;
    has(
        &fill,
        json!({"qty": "2", "price": "101", "position_qty": "3"}),
    );
    // (100 + 2 × 101) / 3
    let order = json!({"status": "filled", "filled_qty": "3", "filled_avg_price": "100.666666667"});
    has(&fill["order"], order);
    assert_ne!(fill["execution_id"], partial["execution_id"]);
}

#[tokio::test]
async fn a_fill_while_the_stream_is_down_is_never_sent_and_reconnecting_works() {
    let broker = PaperBroker::start().await;
    let mut first = Listener::open(&broker).await;
    broker.wait_listening(1, WAIT).await;
    let missed = submit(&broker, order_body("AAPL", "buy", "1", Some("100"))).await;
    first.update("new").await;
    broker.refuse_stream(true);
    broker.drop_stream();
    broker.wait_listening(0, WAIT).await;
    first.dropped().await;
    assert!(tokio_tungstenite::connect_async(broker.stream_url())
        .await
        .is_err());
    broker.fill(&missed, "1", "99");

    broker.refuse_stream(false);
    let mut second = Listener::open(&broker).await;
    assert_eq!((broker.listening(), broker.sessions()), (1, 2));
    let next = submit(&broker, order_body("AAPL", "buy", "1", Some("100"))).await;
    let new = second.update("new").await;
    assert_eq!(
        new["order"]["id"],
        next.as_str(),
        "the missed fill never comes"
    );
    // Only the REST API tells of it.
    let (_, order) = call(&broker, Method::GET, &format!("/v2/orders/{missed}"), None).await;
    assert_eq!(
        (&order["status"], &order["filled_avg_price"]),
        (&json!("filled"), &json!("99"))
    );
    assert_eq!(broker.count(Method::GET, "/stream"), 3);
}

#[tokio::test]
async fn cancel_expire_and_reject_settle_open_orders() {
    let broker = PaperBroker::start().await;
    let mut listener = Listener::open(&broker).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(submit(&broker, order_body("TSLA", "sell", "1", Some("300"))).await);
        listener.update("new").await;
    }
    let path = format!("/v2/orders/{}", ids[0]);
    assert_eq!(call(&broker, Method::DELETE, &path, None).await.0, 204);
    let canceled = listener.update("canceled").await;
    assert!(canceled["order"]["canceled_at"].is_string());
    let (status, error) = call(&broker, Method::DELETE, &path, None).await;
    assert_eq!((status, &error["code"]), (422, &json!(42210000)));
    let unknown = format!("/v2/orders/{}", uuid::Uuid::new_v4());
    assert_eq!(call(&broker, Method::DELETE, &unknown, None).await.0, 404);
    broker.expire(&ids[1]);
    let expired = listener.update("expired").await;
    assert_eq!(
        (
            &expired["order"]["status"],
            expired["order"]["expired_at"].is_string()
        ),
        (&json!("expired"), true)
    );
    broker.reject(&ids[2]);
    assert_eq!(
        listener.update("rejected").await["order"]["status"],
        "rejected"
    );
    let (_, open) = call(&broker, Method::GET, "/v2/orders", None).await;
    assert_eq!(open, json!([]));
    let (_, closed) = call(&broker, Method::GET, "/v2/orders?status=closed", None).await;
    assert_eq!(closed.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_trades_and_listens_through_the_one_base_url() {
    let broker = PaperBroker::start().await;
    let app = crate::books::book_app(&broker, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let order = json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit",
                       "time_in_force": "day", "limit_price": "100"});
    let response = crate::trading::submit(&app, &user, &order).await;
    assert_eq!(response.status(), 201);
    let placed: Value = response.json().await.unwrap();
    let id = placed["id"].as_str().unwrap();
    assert_eq!(
        broker.order(id)["client_order_id"],
        placed["client_order_id"]
    );
    // An open order in the ledger makes the application listen.
    broker.wait_listening(1, Duration::from_secs(10)).await;
    broker.fill(id, "2", "99.5");
    let ledger = app.db.client().await;
    crate::helpers::eventually(
        Duration::from_secs(10),
        "the ledger has the fill",
        || async {
            let row = ledger
                .query_one(
                    "SELECT order_status FROM orders WHERE alpaca_order_id = $1",
                    &[&id],
                )
                .await
                .unwrap();
            (row.get::<_, Option<String>>(0).as_deref() == Some("filled")).then_some(())
        },
    )
    .await;
}
