//! `GET /api/trading/stream`: the caller's live order events as Server-Sent Events
//! (docs/trading.md). Each event is `event: <Alpaca event>`, `id: <dyno sequence>`,
//! `data: <Alpaca's trade_updates data object, the order unchanged inside>`; a comment
//! heartbeat every 15 s; `Last-Event-ID` resumes from the dyno's replay buffer (an unknown id
//! gets `event: reset` first: re-read the orders). The kill switch ends the stream with
//! `event: trading_disabled`; a user's oldest stream on this dyno past
//! `TRADING_STREAMS_PER_USER` ends with `event: superseded` (not Alpaca's order event `replaced`); a stream whose session ends
//! (logout, revocation, recovery, erasure) just ends, within 2 s.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{trader, trading, BrokerErrors, TRADING_DISABLED_MESSAGE};
use crate::audit::Origin;
use crate::http::error::ErrorCode;
use crate::http::extract::CurrentSession;
use crate::http::{ApiError, AppState};
use crate::trading::stream::{open_stream, StreamMessage};

/// The route: the one path whose connections the acceptor serves without hyper
/// ([`crate::http::STREAM_PATHS`]).
pub const PATH: &str = "/api/trading/stream";
/// How often an idle stream sends a heartbeat comment.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// The `code` of the `superseded` event's data.
pub const REPLACED_CODE: &str = "too_many_streams";
/// The `message` of the `superseded` event's data.
const REPLACED_MESSAGE: &str =
    "This account opened more order streams than allowed; this one, its oldest, was closed.";
/// The reconnection delay the `superseded` event asks of an `EventSource` that is not closed, so
/// two pages of one user do not take each other's stream in a loop.
const REPLACED_RETRY: Duration = Duration::from_secs(60);

/// The caller's own order updates as Server-Sent Events, until the client leaves.
#[utoipa::path(
    get,
    path = "/api/trading/stream",
    tag = "trading",
    operation_id = "order_stream",
    security(("session" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (an unknown id gets `event: reset` first)", example = "0")),
    responses(
        (status = 200, description = "`text/event-stream`, one `StreamEvent` each: `event: <Alpaca event>` / `id: <sequence>` / `data: <TradeUpdate>`; `event: reset` / `data: <StreamReset>` (re-read the orders); `event: trading_disabled` / `data: <TradingDisabled>` ends the stream; `event: superseded` / `data: <StreamSuperseded>` (`retry: 60000`, code `too_many_streams`) ends the user's oldest stream on this dyno when they open more than `TRADING_STREAMS_PER_USER` (default 5): close that `EventSource`; the stream ends without an event within 2 s of its session being revoked, logged out, replaced by recovery or erased; a `heartbeat` comment every 15 s", content_type = "text/event-stream", body = super::stream_events::StreamEvent),
        BrokerErrors,
    ),
)]
pub async fn stream(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let orders = open_stream(
        trading(&state),
        &state.actors.trade_stream,
        &trader(&caller, &user),
        user.session_id,
        last_event_id.as_deref(),
    )
    .await?;
    let events = futures_util::stream::unfold(orders, |mut orders| async move {
        let message = orders.next().await?;
        Some((Ok::<_, Infallible>(sse_event(message)), orders))
    });
    let keep_alive = KeepAlive::new().interval(HEARTBEAT).text("heartbeat");
    Ok(Sse::new(events).keep_alive(keep_alive).into_response())
}

fn sse_event(message: StreamMessage) -> Event {
    match message {
        StreamMessage::Event(event) => Event::default()
            .id(event.id.to_string())
            .event(event.event.as_str())
            .data(&*event.data),
        StreamMessage::Reset => Event::default().event("reset").data("{}"),
        StreamMessage::TradingDisabled => Event::default().event("trading_disabled").data(
            json!({
                "code": ErrorCode::TradingDisabled.as_str(),
                "message": TRADING_DISABLED_MESSAGE,
            })
            .to_string(),
        ),
        StreamMessage::Replaced => Event::default()
            .event("superseded")
            .retry(REPLACED_RETRY)
            .data(json!({"code": REPLACED_CODE, "message": REPLACED_MESSAGE}).to_string()),
    }
}
