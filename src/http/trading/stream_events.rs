//! The events of `GET /api/trading/stream` as the OpenAPI document describes them (OpenAPI
//! 3.1: the `text/event-stream` schema describes one event, `{event, id, data}`, with `data`
//! a JSON text whose shape `contentSchema` gives per event). Schema only; the handler is
//! `super::stream`.
//!
//! - `event: <Alpaca's event name>` (`new`, `fill`, `partial_fill`, `canceled`, …), `id: <the
//!   dyno's sequence>`, `data:` a [`TradeUpdate`];
//! - `event: reset`, `data:` a [`StreamReset`]: events may have been missed, re-read the orders;
//! - `event: trading_disabled`, `data:` a [`TradingDisabled`]; nothing follows;
//! - `event: superseded`, `data:` a [`StreamSuperseded`]: the user opened more streams than
//!   `TRADING_STREAMS_PER_USER` on this dyno and this, their oldest, ends; nothing follows.

#![allow(dead_code)] // Schema-only types.

use std::borrow::Cow;

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::http::schemas::alpaca::AlpacaOrder;

/// The `data` of an order event: Alpaca's `trade_updates` data, the order unchanged inside.
#[derive(ToSchema)]
pub struct TradeUpdate {
    /// The event's name again (`new`, `fill`, `partial_fill`, `canceled`, `expired`,
    /// `replaced`, `rejected`, `pending_new`, `done_for_day`, …).
    event: String,
    /// The order after the event.
    order: AlpacaOrder,
    /// When it happened (RFC 3339).
    #[schema(nullable = false)]
    timestamp: Option<String>,
    /// A fill's price (`fill`, `partial_fill`).
    #[schema(nullable = false)]
    price: Option<String>,
    /// A fill's quantity.
    #[schema(nullable = false)]
    qty: Option<String>,
    /// The position's size after the fill (the shared account's).
    #[schema(nullable = false)]
    position_qty: Option<String>,
    #[schema(nullable = false)]
    execution_id: Option<String>,
}

/// The `data` of `event: reset`: events may have been missed (an unknown `Last-Event-ID`, or
/// the stream was closed for a newer one of yours); re-read `GET /api/trading/orders`.
#[derive(ToSchema)]
pub struct StreamReset {
    /// Why, when the server says (for example `superseded`).
    #[schema(nullable = false)]
    reason: Option<String>,
}

/// The `data` of `event: trading_disabled`: the kill switch was engaged; the stream ends.
#[derive(ToSchema)]
pub struct TradingDisabled {
    /// `trading_disabled`.
    code: String,
    message: String,
}

/// The `data` of `event: superseded`: this stream, the user's oldest on the dyno, was closed
/// because they opened more than `TRADING_STREAMS_PER_USER`; close the `EventSource`.
#[derive(ToSchema)]
pub struct StreamSuperseded {
    /// `too_many_streams`.
    code: String,
    /// What happened, in words.
    message: String,
}

/// One Server-Sent Event of the stream, as a client (or schemathesis) parses it.
pub struct StreamEvent;

impl PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .description(Some(
                "One event: `event` names it, `data` is JSON whose shape `contentSchema` gives; \
                 order events carry `id` (send it back as `Last-Event-ID` to resume)",
            ))
            .item(event("^[a-z_]+$", true, "TradeUpdate"))
            .item(event("^reset$", false, "StreamReset"))
            .item(event("^trading_disabled$", false, "TradingDisabled"))
            .item(event("^superseded$", false, "StreamSuperseded"))
            .into()
    }
}

impl ToSchema for StreamEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StreamEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("TradeUpdate".into(), TradeUpdate::schema()));
        schemas.push(("StreamReset".into(), StreamReset::schema()));
        schemas.push(("TradingDisabled".into(), TradingDisabled::schema()));
        schemas.push(("StreamSuperseded".into(), StreamSuperseded::schema()));
        TradeUpdate::schemas(schemas);
    }
}

/// An event named by `name_pattern` whose `data` is the JSON text of component `data`.
fn event(name_pattern: &str, with_id: bool, data: &str) -> Schema {
    let content_schema =
        serde_json::to_value(Ref::from_schema_name(data)).expect("a reference serialises");
    let data_text = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .description(Some(format!("JSON: a `{data}`")))
        .extensions(Some(Extensions::from_iter([(
            "contentSchema",
            content_schema,
        )])));
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(name_pattern)),
        )
        .required("event")
        .property("data", data_text)
        .required("data")
        .property(
            "id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]+$"))
                .description(Some("The dyno's event sequence")),
        )
        .property("retry", ObjectBuilder::new().schema_type(Type::Integer));
    if with_id {
        object = object.required("id");
    }
    object.build().into()
}
