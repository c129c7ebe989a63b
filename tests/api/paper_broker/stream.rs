//! The `/stream` websocket on the broker's own listener: the upgrade done by hand (hyper's
//! upgrade and tungstenite's accept key; the application's axum has no `ws` feature), then
//! Alpaca's protocol (authenticate → `authorized`, or `unauthorized` and close; listen →
//! `listening`), answers and `trade_updates` in binary frames as Alpaca's paper stream sends
//! them. An update reaches only the connections listening when it happened.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::alpaca_stub::{alpaca_error, KEY_ID, SECRET};

#[derive(Clone, Debug)]
enum Command {
    /// A `trade_updates` message, numbered in the order updates happened.
    Send {
        seq: u64,
        text: Arc<str>,
    },
    DropAll,
}

/// Every connection's commands and the stream's counters.
pub struct Hub {
    commands: broadcast::Sender<Command>,
    /// Updates sent so far: a connection delivers only those numbered after it listened.
    sent: AtomicU64,
    pub listening: watch::Sender<usize>,
    pub sessions: AtomicUsize,
    pub refuse: AtomicBool,
}

impl Hub {
    pub fn new() -> Self {
        Self {
            commands: broadcast::channel(8_192).0,
            sent: AtomicU64::new(0),
            listening: watch::Sender::new(0),
            sessions: AtomicUsize::new(0),
            refuse: AtomicBool::new(false),
        }
    }

    /// Sends a `trade_updates` data object to every connection listening now.
    pub fn send(&self, data: &str) {
        let seq = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let text = format!(r#"{{"stream":"trade_updates","data":{data}}}"#).into();
        let _ = self.commands.send(Command::Send { seq, text });
    }

    /// Drops every connection without a close frame.
    pub fn drop_all(&self) {
        let _ = self.commands.send(Command::DropAll);
    }
}

/// Answers a websocket upgrade request on `/stream` (503 while connections are refused).
pub fn upgrade(hub: Arc<Hub>, headers: &HeaderMap, on_upgrade: Option<OnUpgrade>) -> Response {
    if hub.refuse.load(Ordering::SeqCst) {
        return alpaca_error(
            StatusCode::SERVICE_UNAVAILABLE,
            50300000,
            "stream unavailable",
        );
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let is_upgrade = header(header::UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let (Some(key), Some(on_upgrade), true) =
        (header(header::SEC_WEBSOCKET_KEY), on_upgrade, is_upgrade)
    else {
        return alpaca_error(
            StatusCode::BAD_REQUEST,
            40000000,
            "a websocket upgrade is expected",
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let commands = hub.commands.subscribe();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        session(ws, commands, &hub).await;
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, "websocket".to_owned()),
            (header::CONNECTION, "upgrade".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

fn binary(value: Value) -> Message {
    Message::Binary(value.to_string().into_bytes().into())
}

/// Answers one client message; `false` ends the session.
async fn answer<S>(
    ws: &mut WebSocketStream<S>,
    msg: &Value,
    hub: &Hub,
    since: &mut Option<u64>,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match msg["action"].as_str() {
        Some("authenticate") => {
            let data = &msg["data"];
            let ok = data["key_id"] == KEY_ID && data["secret_key"] == SECRET;
            let status = if ok { "authorized" } else { "unauthorized" };
            let answer = json!({"stream": "authorization",
                "data": {"status": status, "action": "authenticate"}});
            let _ = ws.send(binary(answer)).await;
            if ok {
                hub.sessions.fetch_add(1, Ordering::SeqCst);
            } else {
                let _ = ws.close(None).await;
            }
            ok
        }
        Some("listen") => {
            let streams = msg["data"]["streams"].clone();
            let answer = json!({"stream": "listening", "data": {"streams": streams}});
            let _ = ws.send(binary(answer)).await;
            let wanted = streams
                .as_array()
                .is_some_and(|s| s.contains(&json!("trade_updates")));
            match (wanted, since.is_some()) {
                (true, false) => {
                    *since = Some(hub.sent.load(Ordering::SeqCst));
                    hub.listening.send_modify(|n| *n += 1);
                }
                (false, true) => {
                    *since = None;
                    hub.listening.send_modify(|n| *n -= 1);
                }
                _ => {}
            }
            true
        }
        _ => true,
    }
}

async fn session<S>(
    mut ws: WebSocketStream<S>,
    mut commands: broadcast::Receiver<Command>,
    hub: &Hub,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // The number of the last update sent before this connection listened.
    let mut since: Option<u64> = None;
    let mut authorized = false;
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(_)) => continue,
                    _ => break,
                };
                let Ok(msg) = serde_json::from_str::<Value>(&text) else { continue };
                if msg["action"] == "listen" && !authorized {
                    break;
                }
                if !answer(&mut ws, &msg, hub, &mut since).await {
                    break;
                }
                authorized |= msg["action"] == "authenticate";
            }
            command = commands.recv() => match command {
                Ok(Command::Send { seq, text }) if since.is_some_and(|s| seq > s) => {
                    if ws.send(Message::Binary(text.as_bytes().to_vec().into())).await.is_err() {
                        break;
                    }
                }
                Ok(Command::Send { .. }) => {}
                Ok(Command::DropAll) | Err(_) => break,
            },
        }
    }
    if since.is_some() {
        hub.listening.send_modify(|n| *n -= 1);
    }
}
