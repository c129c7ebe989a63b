//! A Sentry stand-in: a real HTTP server on loopback that takes envelopes at
//! `POST /api/<project>/envelope/`, as Sentry's ingest does, and keeps every request it receives
//! (path, headers and body, byte for byte) so a test can search all of it.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;

/// One request the stand-in received, as text.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: String,
    pub body: String,
}

type Log = Arc<Mutex<Vec<Received>>>;

pub struct SentryStub {
    address: std::net::SocketAddr,
    received: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SentryStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SentryStub {
    pub async fn start() -> Self {
        let received = Log::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/api/{project}/envelope/", post(envelope))
            .with_state(received.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            address,
            received,
            task,
        }
    }

    /// A DSN for project 42 of this stand-in.
    pub fn dsn(&self) -> String {
        format!("http://publickey@{}/42", self.address)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The events in the envelopes received so far (an envelope is a header line, then an
    /// item header line and a payload line per item).
    pub fn events(&self) -> Vec<serde_json::Value> {
        let mut events = Vec::new();
        for received in self.received() {
            let mut lines = received.body.lines().skip(1);
            while let Some(item) = lines.next() {
                let item: serde_json::Value = serde_json::from_str(item).expect("an item header");
                let payload = lines.next().expect("an item payload");
                if item["type"] == "event" {
                    events.push(serde_json::from_str(payload).expect("an event"));
                }
            }
        }
        events
    }
}

async fn envelope(
    State(received): State<Log>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let headers = headers
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    received.lock().unwrap().push(Received {
        path: format!("/api/{project}/envelope/"),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    "{}"
}
