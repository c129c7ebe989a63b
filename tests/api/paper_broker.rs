//! A paper broker standing in for Alpaca's paper account: ONE loopback server serving both the
//! Trading API v2 (`/v2/orders`, `/v2/positions`, `/v2/account`, `/v2/account/activities`) and
//! the `trade_updates` websocket (`/stream`, where the application derives it from the same base
//! URL), both checking `alpaca_stub`'s credentials, so one [`PaperBroker::overrides`] set works.
//!
//! It keeps orders, positions, cash and FILL activities in Alpaca's shapes (built on the real
//! payloads in `tests/fixtures/alpaca/trading/`), fills a market order at once when the test set
//! a price for its symbol, and fills, expires or rejects any open order when the test says so.
//! Each change goes out on the websocket only to the connections listening at that moment: a
//! fill while the stream is down is never sent later, as with Alpaca; it is only in the REST
//! answers (orders, positions, activities), which is what reconciliation reads.

mod book;
mod order;
mod routes;
mod stream;
pub mod tests;
mod tests_stream;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::alpaca_stub::{Behaviour, Seen, KEY_ID, SECRET};
use routes::Shared;

pub struct PaperBroker {
    /// The base URL (`http://127.0.0.1:port`); the stream is at `ws://127.0.0.1:port/stream`.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PaperBroker {
    fn drop(&mut self) {
        self.task.abort();
        self.shared.hub.drop_all();
    }
}

fn decimal(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a decimal"))
}

impl PaperBroker {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            book: Mutex::default(),
            hub: Arc::new(stream::Hub::new()),
            behaviour: Mutex::new(Behaviour::Normal),
            seen: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(routes::handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared, task }
    }

    /// The configuration that points the application (REST and stream) at this broker.
    pub fn overrides(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("ALPACA_AUTH_MODE", "trading"),
            ("ALPACA_PAPER_API_KEY", KEY_ID),
            ("ALPACA_PAPER_API_SECRET", SECRET),
            ("ALPACA_PAPER_BASE_URL", self.url.as_str()),
        ]
    }

    /// The stream's URL (`ws://…/stream`).
    pub fn stream_url(&self) -> String {
        format!("{}/stream", self.url.replacen("http://", "ws://", 1))
    }

    /// The price market orders in `symbol` fill at (and positions are valued at).
    pub fn set_price(&self, symbol: &str, price: &str) {
        let price = decimal(price);
        self.shared
            .with_book(|b| b.prices.insert(symbol.to_uppercase(), price));
    }

    /// Whether a market order fills in full as it is taken when its symbol has a price (on by
    /// default); off, every order stays open until [`PaperBroker::fill`].
    pub fn auto_fill(&self, on: bool) {
        self.shared.with_book(|b| b.auto_fill = on);
    }

    /// One execution of `qty` at `price` for the open order `order` (its id or client order
    /// id): the order's `filled_qty`, `filled_avg_price` (volume-weighted), `status` and
    /// `filled_at`, the position and the cash follow, a FILL activity is recorded, and
    /// `partial_fill` or `fill` goes to the listening connections. Returns that event's data
    /// object. Panics when the order is closed or `qty` would overfill it.
    pub fn fill(&self, order: &str, qty: &str, price: &str) -> Value {
        let (qty, price) = (decimal(qty), decimal(price));
        self.shared
            .with_book(|b| b.fill(order, qty, price))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Expires the open order `order` (`expired` event). Panics when it is not open.
    pub fn expire(&self, order: &str) {
        self.settle(order, "expired");
    }

    /// Rejects the open order `order` (`rejected` event). Panics when it is not open.
    pub fn reject(&self, order: &str) {
        self.settle(order, "rejected");
    }

    fn settle(&self, order: &str, status: &str) {
        self.shared
            .with_book(|b| b.settle(order, status))
            .unwrap_or_else(|e| panic!("{status} {order}: {e:?}"));
    }

    /// Every order taken, oldest first, in Alpaca's shape.
    pub fn orders(&self) -> Vec<Value> {
        self.shared
            .with_book(|b| b.orders.iter().map(|o| o.json()).collect())
    }

    /// The order with this id or client order id. Panics when there is none.
    pub fn order(&self, order: &str) -> Value {
        self.shared
            .with_book(|b| b.index(order).map(|i| b.orders[i].json()))
            .unwrap_or_else(|| panic!("no order {order}"))
    }

    /// The account's position in `symbol` in Alpaca's shape, if it holds one.
    pub fn position(&self, symbol: &str) -> Option<Value> {
        self.shared
            .with_book(|b| b.position_json(&symbol.to_uppercase()))
    }

    /// The FILL activities, oldest first.
    pub fn activities(&self) -> Vec<Value> {
        self.shared.with_book(|b| b.activities.clone())
    }

    /// Drops every websocket connection, without a close frame.
    pub fn drop_stream(&self) {
        self.shared.hub.drop_all();
    }

    /// While `true`, websocket connections are refused (503 to the upgrade request); the
    /// connections already open stay (drop them with [`PaperBroker::drop_stream`]).
    pub fn refuse_stream(&self, refuse: bool) {
        self.shared.hub.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Connections listening to `trade_updates` now.
    pub fn listening(&self) -> usize {
        *self.shared.hub.listening.borrow()
    }

    /// Connections authenticated so far.
    pub fn sessions(&self) -> usize {
        self.shared.hub.sessions.load(Ordering::SeqCst)
    }

    /// Waits until exactly `n` connections listen; panics after `deadline`.
    pub async fn wait_listening(&self, n: usize, deadline: Duration) {
        let mut listening = self.shared.hub.listening.subscribe();
        let waited = tokio::time::timeout(deadline, listening.wait_for(|&l| l == n)).await;
        assert!(
            waited.is_ok(),
            "{} connections listening, not {n}, after {deadline:?}",
            self.listening()
        );
    }

    /// Every HTTP request received (the `/stream` upgrades included), oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests received with `method` on `path`.
    pub fn count(&self, method: Method, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }

    /// How the REST API answers from now on (the stream is not affected).
    pub fn behave(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }
}
