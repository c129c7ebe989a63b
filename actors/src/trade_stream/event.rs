//! The stream's frames and events: Alpaca's `trade_updates` messages parsed just enough to
//! route them (event name, client order id, order status), the data object kept as received.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

/// One order event, numbered by this dyno.
#[derive(Debug, Clone)]
pub struct TradeEvent {
    /// Increasing on this dyno, across restarts (`Last-Event-ID`).
    pub id: u64,
    /// `new`, `fill`, `partial_fill`, `canceled`, ...
    pub event: String,
    /// The order's `client_order_id`.
    pub client_order_id: Option<String>,
    /// The order's Alpaca id.
    pub order_id: Option<String>,
    /// The order's status after the event.
    pub order_status: Option<String>,
    /// The event's time as Alpaca wrote it.
    pub timestamp: Option<String>,
    /// The event's `data` object exactly as received (the Alpaca order inside, unchanged).
    pub data: Arc<str>,
    /// The order object exactly as received.
    pub order: Arc<str>,
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum StreamItem {
    /// An order event.
    Event(Arc<TradeEvent>),
    /// The kill switch was engaged: the stream ends.
    TradingDisabled(String),
    /// The user opened more streams than the per-user cap: this one, their oldest, ends.
    Replaced,
    /// The stream's session ended (revoked, logged out, replaced by recovery, erased).
    SessionEnded,
}

/// A frame from the upstream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Alpaca accepted the keys.
    Authorized,
    /// Alpaca refused the keys, with its reason.
    Unauthorized(String),
    /// Alpaca confirmed the `trade_updates` subscription.
    Listening,
    /// A `trade_updates` message's `data` object, as received.
    TradeUpdate(String),
    /// Anything else (ignored).
    Other,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    stream: String,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Status {
    status: Option<String>,
    action: Option<String>,
}

/// Parses one text (or UTF-8 binary) frame.
pub fn parse_frame(text: &str) -> Frame {
    let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text) else {
        return Frame::Other;
    };
    let data = envelope.data.map(RawValue::get).unwrap_or("null");
    match envelope.stream.as_str() {
        "authorization" => match serde_json::from_str::<Status>(data) {
            Ok(Status {
                status: Some(status),
                ..
            }) if status == "authorized" => Frame::Authorized,
            Ok(Status { status, action }) => Frame::Unauthorized(format!(
                "{} ({})",
                status.unwrap_or_default(),
                action.unwrap_or_default()
            )),
            Err(_) => Frame::Unauthorized("unreadable".into()),
        },
        "listening" => Frame::Listening,
        "trade_updates" => Frame::TradeUpdate(data.to_owned()),
        _ => Frame::Other,
    }
}

#[derive(Deserialize)]
struct Data<'a> {
    event: String,
    timestamp: Option<String>,
    #[serde(borrow)]
    order: &'a RawValue,
}

#[derive(Deserialize)]
struct OrderFields {
    id: Option<String>,
    client_order_id: Option<String>,
    status: Option<String>,
}

/// The event in `data` (a `trade_updates` data object), numbered `id`; `None` when it is not
/// an order event.
pub fn event_from(id: u64, data: &str) -> Option<TradeEvent> {
    let parsed: Data<'_> = serde_json::from_str(data).ok()?;
    // The name becomes an SSE `event:` line: a plain word only.
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if parsed.event.is_empty() || parsed.event.len() > 64 || !parsed.event.chars().all(plain) {
        return None;
    }
    let order: OrderFields = serde_json::from_str(parsed.order.get()).ok()?;
    Some(TradeEvent {
        id,
        event: parsed.event,
        client_order_id: order.client_order_id,
        order_id: order.id,
        order_status: order.status,
        timestamp: parsed.timestamp,
        data: Arc::from(data),
        order: Arc::from(parsed.order.get()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_told_apart() {
        let auth =
            r#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#;
        assert_eq!(parse_frame(auth), Frame::Authorized);
        let denied = r#"{"stream":"authorization","data":{"status":"unauthorized","action":"authenticate"}}"#;
        assert!(matches!(parse_frame(denied), Frame::Unauthorized(_)));
        let listening = r#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#;
        assert_eq!(parse_frame(listening), Frame::Listening);
        let update = r#"{"stream":"trade_updates","data":{"event":"fill","order":{"id":"a","client_order_id":"c","status":"filled","qty":"1.50"},"price":"10"}}"#;
        let Frame::TradeUpdate(data) = parse_frame(update) else {
            panic!("not an update")
        };
        let event = event_from(7, &data).unwrap();
        assert_eq!(event.event, "fill");
        assert_eq!(event.client_order_id.as_deref(), Some("c"));
        assert_eq!(event.order_status.as_deref(), Some("filled"));
        assert_eq!(
            &*event.order,
            r#"{"id":"a","client_order_id":"c","status":"filled","qty":"1.50"}"#
        );
        assert_eq!(parse_frame("not json"), Frame::Other);
    }
}
