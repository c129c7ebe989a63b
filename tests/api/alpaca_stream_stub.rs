//! A stand-in for Alpaca's paper `trade_updates` websocket (`/stream`): it speaks the protocol
//! (authenticate with the configured key → `authorized`, or `unauthorized` and close; listen →
//! `listening`), answers in binary frames as Alpaca's paper stream does (and text frames where
//! a test asks), sends the events a test gives it, and can drop every connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

pub const KEY_ID: &str = "stream-key-id";
pub const SECRET: &str = "stream-secret";

#[derive(Clone, Debug)]
enum Command {
    Send { text: String, binary: bool },
    DropAll,
}

#[derive(Default)]
struct Counters {
    sessions: AtomicUsize,
    listening: AtomicUsize,
}

pub struct AlpacaStreamStub {
    url: String,
    commands: broadcast::Sender<Command>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl AlpacaStreamStub {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (commands, _) = broadcast::channel(8_192);
        let counters = Arc::new(Counters::default());
        let (tx, c) = (commands.clone(), counters.clone());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (rx, c) = (tx.subscribe(), c.clone());
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(socket).await {
                        session(ws, rx, &c).await;
                    }
                });
            }
        });
        Self {
            url,
            commands,
            counters,
            task,
        }
    }

    /// The configuration that points the application at this stand-in.
    pub fn overrides(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("ALPACA_AUTH_MODE", "trading"),
            ("ALPACA_PAPER_API_KEY", KEY_ID),
            ("ALPACA_PAPER_API_SECRET", SECRET),
            ("ALPACA_PAPER_BASE_URL", self.url.as_str()),
        ]
    }

    /// Connections authenticated so far.
    pub fn sessions(&self) -> usize {
        self.counters.sessions.load(Ordering::SeqCst)
    }

    /// Connections listening to `trade_updates` now.
    pub fn listening(&self) -> usize {
        self.counters.listening.load(Ordering::SeqCst)
    }

    /// Sends a `trade_updates` message with `data` to every listening connection.
    pub fn send_update(&self, data: &str, binary: bool) {
        let text = format!(r#"{{"stream":"trade_updates","data":{data}}}"#);
        let _ = self.commands.send(Command::Send { text, binary });
    }

    /// Drops every connection without a close frame.
    pub fn drop_all(&self) {
        let _ = self.commands.send(Command::DropAll);
    }
}

impl Drop for AlpacaStreamStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `trade_updates` data object: `event` for `order` (its exact text).
pub fn update(event: &str, order: &str) -> String {
    format!(
        r#"{{"event":"{event}","execution_id":"e-{event}","order":{order},"price":"1.50","qty":"1","timestamp":"2026-11-25T10:00:00.5Z"}}"#
    )
}

async fn session<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    mut commands: broadcast::Receiver<Command>,
    counters: &Counters,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut listening = false;
    let reply = |v: Value| Message::Binary(v.to_string().into_bytes().into());
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
                match msg["action"].as_str() {
                    Some("authenticate") => {
                        let ok = msg["data"]["key_id"] == KEY_ID && msg["data"]["secret_key"] == SECRET;
                        let status = if ok { "authorized" } else { "unauthorized" };
                        let answer = json!({"stream": "authorization",
                            "data": {"status": status, "action": "authenticate"}});
                        let _ = ws.send(reply(answer)).await;
                        if !ok {
                            let _ = ws.close(None).await;
                            break;
                        }
                        counters.sessions.fetch_add(1, Ordering::SeqCst);
                    }
                    Some("listen") => {
                        let answer = json!({"stream": "listening",
                            "data": {"streams": msg["data"]["streams"]}});
                        let _ = ws.send(reply(answer)).await;
                        if !listening {
                            listening = true;
                            counters.listening.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    _ => {}
                }
            }
            command = commands.recv() => match command {
                Ok(Command::Send { text, binary }) if listening => {
                    let message = if binary {
                        Message::Binary(text.into_bytes().into())
                    } else {
                        Message::Text(text.into())
                    };
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
                Ok(Command::DropAll) => break,
                Ok(_) => {}
                Err(_) => break,
            },
        }
    }
    if listening {
        counters.listening.fetch_sub(1, Ordering::SeqCst);
    }
}
