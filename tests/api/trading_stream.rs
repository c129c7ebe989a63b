//! Live order events (issue 13): `GET /api/trading/stream` relays Alpaca's `trade_updates`
//! (through a websocket stand-in) as Server-Sent Events, only to the orders' owners (operators
//! see all), resumes with `Last-Event-ID`, survives an upstream drop, updates the ledger, ends
//! with `trading_disabled` when the kill switch is engaged; the simulated broker emits events.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::alpaca_stream_stub::{update, AlpacaStreamStub};
use crate::alpaca_stub::payload;
use crate::helpers::{eventually, spawn_app_with, SignedIn, TestApp};
use crate::trading::{market_order, submit};

pub(crate) const STREAM: &str = "/api/trading/stream";
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// One received SSE event.
#[derive(Debug)]
pub(crate) struct Sse {
    pub(crate) id: Option<String>,
    pub(crate) event: String,
    pub(crate) data: String,
}

pub(crate) struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    pub(crate) async fn open(app: &TestApp, user: &SignedIn, last_event_id: Option<&str>) -> Self {
        let mut request = app.authed(Method::GET, STREAM, user);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        // Served without hyper's buffers (tests/api/stream_connections.rs), whether the request
        // opened a connection or reused one of the client's pool.
        assert_eq!(response.headers()["connection"], "close");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (heartbeat comments skipped), or `None` when the stream ended.
    pub(crate) async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim_start().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim_start().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue;
                }
                return Some(Sse {
                    id,
                    event,
                    data: data.join("\n"),
                });
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("an event in time")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// An Alpaca order object (the fixture's exact text) for `client_order_id`.
pub(crate) fn order(client_order_id: &str, status: &str) -> String {
    payload("test_market_order")
        .replace("eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4", client_order_id)
        .replace(
            r#""status": "accepted""#,
            &format!(r#""status": "{status}""#),
        )
}

/// A ledger row: `user` placed the (accepted) order `client_order_id`.
pub(crate) async fn placed(app: &TestApp, user: &SignedIn, client_order_id: &str) {
    app.db
        .client()
        .await
        .execute(
            "INSERT INTO orders (id, user_id, client_order_id, symbol, side, request, status, \
             created_at, updated_at) VALUES ($1, $2, $3, 'AAPL', 'buy', '{}', 'accepted', now(), now())",
            &[&Uuid::new_v4(), &user.user_id, &client_order_id],
        )
        .await
        .unwrap();
}

async fn order_status(app: &TestApp, client_order_id: &str) -> Option<String> {
    app.db
        .client()
        .await
        .query_one(
            "SELECT order_status FROM orders WHERE client_order_id = $1",
            &[&client_order_id],
        )
        .await
        .unwrap()
        .get(0)
}

pub(crate) async fn listening(stub: &AlpacaStreamStub, n: usize) {
    eventually(WAIT, "the upstream listens", || async {
        (stub.listening() == n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_gets_only_their_own_order_events_and_operators_all() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    let operator = app.sign_in("ops@example.com", true).await;
    placed(&app, &alice, "alice-1").await;
    placed(&app, &bob, "bob-1").await;
    let mut a = SseClient::open(&app, &alice, None).await;
    let mut b = SseClient::open(&app, &bob, None).await;
    let mut o = SseClient::open(&app, &operator, None).await;
    listening(&stub, 1).await;
    assert_eq!(stub.sessions(), 1, "one upstream for every client");

    let bobs = update("fill", &order("bob-1", "filled"));
    let alices = update("partial_fill", &order("alice-1", "partially_filled"));
    let unknown = update("new", &order("not-ours", "new"));
    stub.send_update(&bobs, true);
    stub.send_update(&unknown, false);
    stub.send_update(&alices, false);

    let first = a.next().await.unwrap();
    assert_eq!(
        first.event, "partial_fill",
        "bob's event never reaches alice"
    );
    assert_eq!(
        first.data, alices,
        "the data object, order inside, unchanged"
    );
    let theirs = b.next().await.unwrap();
    assert_eq!(
        (theirs.event.as_str(), theirs.data.as_str()),
        ("fill", bobs.as_str())
    );
    let all: Vec<String> = [o.next().await, o.next().await, o.next().await]
        .into_iter()
        .map(|e| e.unwrap().data)
        .collect();
    assert_eq!(all, [bobs, unknown, alices]);
    let data: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(data["order"]["client_order_id"], "alice-1");

    // The ledger follows the events.
    eventually(WAIT, "the ledger has both events", || async {
        let bobs = order_status(&app, "bob-1").await;
        let alices = order_status(&app, "alice-1").await;
        (bobs.as_deref() == Some("filled") && alices.as_deref() == Some("partially_filled"))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_after_its_last_event_and_the_upstream_reconnects() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    placed(&app, &alice, "alice-1").await;
    // Bob keeps the upstream wanted while Alice is away.
    let _bob = SseClient::open(&app, &bob, None).await;
    let mut a = SseClient::open(&app, &alice, None).await;
    listening(&stub, 1).await;
    let events: Vec<String> = ["new", "partial_fill", "fill"]
        .iter()
        .map(|e| update(e, &order("alice-1", "new")))
        .collect();
    stub.send_update(&events[0], true);
    stub.send_update(&events[1], true);
    let first = a.next().await.unwrap();
    assert_eq!(a.next().await.unwrap().data, events[1]);
    drop(a);
    stub.send_update(&events[2], false);

    let mut a = SseClient::open(&app, &alice, first.id.as_deref()).await;
    assert_eq!(a.next().await.unwrap().data, events[1], "replayed");
    let third = a.next().await.unwrap();
    assert_eq!(third.data, events[2], "replayed");
    assert!(third.id.unwrap().parse::<u64>().unwrap() > first.id.unwrap().parse().unwrap());

    // An id this dyno does not hold: the client is told to re-read its orders.
    let mut lost = SseClient::open(&app, &alice, Some("12")).await;
    assert_eq!(lost.next().await.unwrap().event, "reset");

    // The upstream drops: the actor reconnects and authenticates again.
    stub.drop_all();
    eventually(WAIT, "a second session", || async {
        (stub.sessions() >= 2 && stub.listening() == 1).then_some(())
    })
    .await;
    let after = update("canceled", &order("alice-1", "canceled"));
    stub.send_update(&after, true);
    assert_eq!(a.next().await.unwrap().data, after);
    assert_eq!(lost.next().await.unwrap().data, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_ends_streams_with_trading_disabled() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let operator = app.sign_in("ops@example.com", true).await;
    let mut a = SseClient::open(&app, &alice, None).await;
    listening(&stub, 1).await;
    let engaged = app
        .authed(Method::POST, "/api/trading/kill-switch", &operator)
        .body(json!({"engaged": true, "reason": "incident"}).to_string())
        .send()
        .await
        .unwrap();
    assert!(engaged.status().is_success());
    let last = a.next().await.unwrap();
    assert_eq!(last.event, "trading_disabled");
    let data: Value = serde_json::from_str(&last.data).unwrap();
    assert_eq!(data["code"], "trading_disabled");
    assert!(a.next().await.is_none(), "the stream ends");
    let refused = app
        .authed(Method::GET, STREAM, &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_broker_streams_its_order_events() {
    let app = spawn_app_with(&[("ALPACA_AUTH_MODE", "simulated")]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let mut a = SseClient::open(&app, &alice, None).await;
    // The simulated feed is per process: wait until this app's stream is attached.
    let placed = submit(&app, &alice, &market_order()).await;
    assert_eq!(placed.status(), 201);
    let body: Value = placed.json().await.unwrap();
    let event = loop {
        let event = a.next().await.unwrap();
        let data: Value = serde_json::from_str(&event.data).unwrap();
        if data["order"]["client_order_id"] == body["client_order_id"] {
            break data;
        }
    };
    assert_eq!(event["event"], "fill");
    assert_eq!(event["order"]["status"], "filled");
    assert!(event["price"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_settles_a_row_a_crash_left_unsettled_audited_first() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let db = app.db.client().await;
    let insert = "INSERT INTO orders (id, user_id, client_order_id, symbol, side, request, \
                  status, claim_id, claimed_at, created_at, updated_at) \
                  VALUES ($1, $2, $3, 'AAPL', 'buy', '{}', 'submitting', gen_random_uuid(), \
                  now() - $4::text::interval, now(), now())";
    // What a process that died between the broker call and recording its answer leaves, and a
    // submission still in flight.
    let crashed = Uuid::new_v4();
    db.execute(insert, &[&crashed, &alice.user_id, &"crashed", &"1 hour"])
        .await
        .unwrap();
    db.execute(
        insert,
        &[&Uuid::new_v4(), &alice.user_id, &"in-flight", &"0 seconds"],
    )
    .await
    .unwrap();
    let mut a = SseClient::open(&app, &alice, None).await;
    listening(&stub, 1).await;
    let crashed_order = order("crashed", "new");
    stub.send_update(&update("new", &crashed_order), true);
    stub.send_update(&update("new", &order("in-flight", "new")), true);
    a.next().await.unwrap();
    a.next().await.unwrap();

    let row = |coid: &'static str| {
        let db = &db;
        async move {
            let r = db
                .query_one(
                    "SELECT status, order_status, broker_body FROM orders \
                     WHERE client_order_id = $1",
                    &[&coid],
                )
                .await
                .unwrap();
            (
                r.get::<_, String>(0),
                r.get::<_, Option<String>>(1),
                r.get::<_, Option<String>>(2),
            )
        }
    };
    let settled = eventually(WAIT, "the crashed row is settled", || async {
        let r = row("crashed").await;
        (r.0 == "accepted").then_some(r)
    })
    .await;
    assert_eq!(settled.1.as_deref(), Some("new"));
    assert_eq!(settled.2.as_deref(), Some(crashed_order.as_str()));
    eventually(WAIT, "the in-flight row has its status", || async {
        (row("in-flight").await.1.is_some()).then_some(())
    })
    .await;
    assert_eq!(
        row("in-flight").await.0,
        "submitting",
        "its holder records it"
    );

    let audit = crate::trading::audit_rows(&app).await;
    let settlement: Vec<_> = audit
        .iter()
        .filter(|(event, ..)| event == "order.submit.accepted")
        .collect();
    assert_eq!(settlement.len(), 1);
    assert_eq!(settlement[0].1, Some(alice.user_id));
    assert_eq!(settlement[0].2, Some(crashed.to_string()));
    assert_eq!(settlement[0].3["settled_by"], "trade_stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_is_connected_only_while_someone_listens() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    assert_eq!(stub.sessions(), 0, "nobody listens, no order is open");
    let a = SseClient::open(&app, &alice, None).await;
    listening(&stub, 1).await;
    drop(a);
    listening(&stub, 0).await;
    // An open order keeps it connected for the ledger, with nobody listening.
    placed(&app, &alice, "alice-1").await;
    listening(&stub, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_keep_up_is_dropped() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let operator = app.sign_in("ops@example.com", true).await;
    let mut slow = SseClient::open(&app, &operator, None).await;
    listening(&stub, 1).await;
    // Far more than the socket buffers and the per-client lag bound hold, unread.
    let padding = "x".repeat(8 * 1024);
    let total = 4_000;
    for n in 0..total {
        let order =
            format!(r#"{{"id":"o{n}","client_order_id":"c{n}","status":"new","pad":"{padding}"}}"#);
        stub.send_update(&update("new", &order), true);
        if n % 500 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Now read: what was buffered arrives, then the stream ends instead of waiting.
    let mut received = 0;
    while slow.next().await.is_some() {
        received += 1;
    }
    assert!(
        received < total,
        "the slow client was dropped after {received} events"
    );
}
