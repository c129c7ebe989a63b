//! The one upstream connection: Alpaca's paper websocket (authenticate, listen to
//! `trade_updates`, read text and binary frames, answer pings), reconnecting with jittered
//! exponential backoff until the actor aborts it; or the simulated broker's events. Each
//! `trade_updates` data object goes to the actor as [`TradeStreamMsg::Data`].

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ractor::ActorRef;
use secrecy::{ExposeSecret, SecretString};
use tokio_tungstenite::tungstenite::Message;

use super::config::{StreamSource, TradeStreamConfig};
use super::event::{parse_frame, Frame};
use super::TradeStreamMsg;

/// Bound on connecting and on the authorization handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the upstream; it runs until aborted (or the actor is gone). The simulated feed is
/// subscribed to before this returns, so no event emitted after it is missed.
pub(super) fn start(
    config: TradeStreamConfig,
    actor: ActorRef<TradeStreamMsg>,
) -> tokio::task::JoinHandle<()> {
    let simulated =
        matches!(config.source, StreamSource::Simulated).then(crate::broker::simulated_events);
    tokio::spawn(run(config, actor, simulated))
}

async fn run(
    config: TradeStreamConfig,
    actor: ActorRef<TradeStreamMsg>,
    simulated: Option<tokio::sync::broadcast::Receiver<String>>,
) {
    match config.source.clone() {
        StreamSource::Alpaca {
            url,
            key_id,
            secret_key,
        } => {
            let mut backoff = config.backoff;
            loop {
                let result = session(&url, &key_id, &secret_key, &actor).await;
                let listened = matches!(result, Ok(true) | Err((true, _)));
                match result {
                    Ok(_) => tracing::info!("trade stream closed by Alpaca; reconnecting"),
                    Err((_, error)) => tracing::warn!(%error, "trade stream lost; reconnecting"),
                }
                if actor.cast(TradeStreamMsg::Upstream(false)).is_err() {
                    return;
                }
                if listened {
                    backoff = config.backoff;
                }
                let jitter = rand::random_range(0.5..1.5);
                tokio::time::sleep(backoff.mul_f64(jitter)).await;
                backoff = (backoff * 2).min(config.max_backoff);
            }
        }
        StreamSource::Simulated => {
            let Some(mut events) = simulated else { return };
            let _ = actor.cast(TradeStreamMsg::Upstream(true));
            loop {
                match events.recv().await {
                    Ok(data) => {
                        if actor.cast(TradeStreamMsg::Data(data)).is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "simulated events missed");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        }
        StreamSource::Off => std::future::pending().await,
    }
}

/// One connection: `Ok(listened)` when Alpaca closed it, `Err((listened, why))` on failure;
/// `listened` says whether it got as far as listening (the backoff then starts over).
async fn session(
    url: &str,
    key_id: &SecretString,
    secret_key: &SecretString,
    actor: &ActorRef<TradeStreamMsg>,
) -> Result<bool, (bool, String)> {
    let fail = |listened: bool| move |e: String| (listened, e);
    let (mut ws, _) =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| (false, "connect timed out".to_owned()))?
            .map_err(|e| (false, e.to_string()))?;
    let auth = serde_json::json!({
        "action": "authenticate",
        "data": {"key_id": key_id.expose_secret(), "secret_key": secret_key.expose_secret()},
    });
    ws.send(Message::Text(auth.to_string().into()))
        .await
        .map_err(|e| fail(false)(e.to_string()))?;
    let mut listened = false;
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let next = if listened {
            ws.next().await
        } else {
            tokio::time::timeout_at(deadline, ws.next())
                .await
                .map_err(|_| (false, "no authorization in time".to_owned()))?
        };
        let text = match next {
            None | Some(Ok(Message::Close(_))) => return Ok(listened),
            Some(Err(e)) => return Err((listened, e.to_string())),
            Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
            Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text,
                Err(_) => continue,
            },
            Some(Ok(_)) => continue,
        };
        match parse_frame(&text) {
            Frame::Authorized => {
                let listen = r#"{"action":"listen","data":{"streams":["trade_updates"]}}"#;
                ws.send(Message::Text(listen.into()))
                    .await
                    .map_err(|e| (false, e.to_string()))?;
            }
            Frame::Unauthorized(why) => {
                return Err((false, format!("not authorized: {why}")));
            }
            Frame::Listening => {
                listened = true;
                let _ = actor.cast(TradeStreamMsg::Upstream(true));
            }
            Frame::TradeUpdate(data) => {
                if actor.cast(TradeStreamMsg::Data(data)).is_err() {
                    return Ok(listened);
                }
            }
            Frame::Other => {}
        }
    }
}
