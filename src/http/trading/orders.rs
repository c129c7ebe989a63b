//! `GET/POST /api/trading/orders` and `DELETE /api/trading/orders/{id}`: parse, call the use
//! case (`crate::trading::{submit, orders}`), map the answer. The submission protocol (claim,
//! intent, call, record; idempotency and reconciliation; the per-user in-flight limit) is
//! described in `crate::trading::submit` and docs/trading.md.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{idempotency_key, passthrough, trader, trading, BrokerErrors};
use crate::audit::Origin;
use crate::http::error::ErrorCode;
use crate::http::error_schema::ErrorBody;
use crate::http::extract::CurrentSession;
use crate::http::query::ApiQuery;
use crate::http::schemas::alpaca::AlpacaOrder;
use crate::http::{ApiError, ApiJson, AppState};
use crate::trading::listing::{OrderQuery, RawOrderQuery};
use crate::trading::order::OrderDraft;
use crate::trading::replace::{self, ReplaceDraft, ReplaceError};
use crate::trading::{orders, submit};

/// Header a client sets so that a retried submission returns the first result.
/// Set on a response that repeats an earlier submission's outcome.
const REPLAYED: &str = "idempotent-replayed";

/// Response header: the `cursor` of the next page, when there is one.
const NEXT_CURSOR: &str = "x-next-cursor";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `open` (default), `closed` or `all`.
    #[param(pattern = "^(open|closed|all)$", example = "open")]
    status: Option<String>,
    /// 1 to 500 (default 50).
    #[param(pattern = "^[0-9]+$", example = "50")]
    limit: Option<String>,
    /// Only orders created after this time (RFC 3339, or a date).
    #[param(example = "2026-01-02T00:00:00Z")]
    after: Option<String>,
    /// Only orders created before this time (RFC 3339, or a date).
    #[param(example = "2026-12-31T00:00:00Z")]
    until: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(pattern = "^(asc|desc)$", example = "desc")]
    direction: Option<String>,
    /// Comma-separated symbols, e.g. `AAPL,MSFT`.
    #[param(example = "AAPL,MSFT")]
    symbols: Option<String>,
    /// The `X-Next-Cursor` of the previous page, to continue the same listing.
    cursor: Option<String>,
    /// Alpaca's `nested`: `true` lists the legs of bracket, oco and oto orders only inside
    /// their parent's `legs`; `false` (the default) also lists each leg on its own. A parent
    /// always shows its `legs`.
    #[param(pattern = "^(true|false)$", example = "true")]
    nested: Option<String>,
}

/// The body of `POST /api/trading/orders` (SPEC §3): `qty` or `notional`, not both. Amounts
/// are decimal strings (numbers accepted). Unknown fields are refused.
#[derive(ToSchema)]
#[schema(example = json!({
    "symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
    "time_in_force": "day", "limit_price": "150.25"
}))]
#[allow(dead_code)] // Documents `OrderDraft`; a test deserialises every documented field into it.
pub struct OrderBody {
    /// A symbol Alpaca lists (`GET /api/assets`), e.g. `AAPL`.
    symbol: String,
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "1")]
    qty: Option<String>,
    /// A dollar amount instead of `qty`: market orders of a fractionable asset, `day` (crypto:
    /// `gtc` or `ioc`).
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "250.00")]
    notional: Option<String>,
    side: OrderSide,
    #[schema(rename = "type")]
    order_type: OrderType,
    time_in_force: TimeInForce,
    /// Limit and stop-limit orders.
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "150.25")]
    limit_price: Option<String>,
    /// Stop and stop-limit orders.
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$")]
    stop_price: Option<String>,
    /// Trailing-stop orders: how far (USD) the stop trails the best price. Give this or
    /// `trail_percent`, not both.
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "2.50")]
    trail_price: Option<String>,
    /// Trailing-stop orders: how far (percent, below 100) the stop trails the best price.
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "1.5")]
    trail_percent: Option<String>,
    /// Limit orders with `day` only: may also fill in the pre- and after-market sessions.
    extended_hours: Option<bool>,
    /// `simple` (the default), `bracket` (an entry and both exits; `market` or `limit`), `oco`
    /// (both exits, `limit`; the order is itself the exit) or `oto` (an entry and one exit).
    /// Every class but `simple` takes a whole `qty`, `day` or `gtc`, no extended hours.
    order_class: Option<OrderClass>,
    /// The take-profit exit (bracket, oco, oto).
    take_profit: Option<TakeProfitBody>,
    /// The stop-loss exit (bracket, oco, oto).
    stop_loss: Option<StopLossBody>,
    /// The client's own idempotency key, when it sends no `Idempotency-Key` header.
    client_order_id: Option<String>,
}

/// `order_class`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OrderClass {
    Simple,
    Bracket,
    Oco,
    Oto,
}

/// Alpaca's `take_profit`: a limit exit, beyond the entry (above it when the exit sells).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TakeProfitBody {
    #[schema(value_type = String, pattern = r"^\d+(\.\d+)?$", example = "160.00")]
    limit_price: String,
}

/// Alpaca's `stop_loss`: a stop exit short of the entry (below it when the exit sells); with
/// `limit_price` (at or beyond the stop, away from the entry) a stop-limit.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StopLossBody {
    #[schema(value_type = String, pattern = r"^\d+(\.\d+)?$", example = "140.00")]
    stop_price: String,
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "139.50")]
    limit_price: Option<String>,
}

/// `GET /api/trading/orders`: the caller's orders from the ledger (never Alpaca), in Alpaca's
/// order objects; `X-Next-Cursor` names the next page.
#[utoipa::path(
    get,
    path = "/api/trading/orders",
    tag = "trading",
    operation_id = "list_orders",
    security(("session" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "The caller's orders as Alpaca's order objects", body = [AlpacaOrder], headers(("X-Next-Cursor" = String, description = "Pass as `cursor` for the next page; absent on the last page"))),
        (status = 422, description = "`invalid_query`: a parameter is not valid or repeated (`error.fields` names each)", body = ErrorBody),
        BrokerErrors,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let query = OrderQuery::parse(RawOrderQuery {
        status: params.status.as_deref(),
        limit: params.limit.as_deref(),
        after: params.after.as_deref(),
        until: params.until.as_deref(),
        direction: params.direction.as_deref(),
        symbols: params.symbols.as_deref(),
        cursor: params.cursor.as_deref(),
        nested: params.nested.as_deref(),
    })
    .map_err(|e| ApiError::invalid_input(ErrorCode::InvalidQuery, e))?;
    let page = orders::list_orders(trading(&state), &trader(&caller, &user), query).await?;
    let body = format!("[{}]", page.orders.join(","));
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(next) = page.next {
        if let Ok(value) = HeaderValue::from_str(&next.encode()) {
            response.headers_mut().insert(NEXT_CURSOR, value);
        }
    }
    Ok(response)
}

/// `GET /api/trading/orders/{id}`: one of the caller's orders, from the ledger.
#[utoipa::path(
    get,
    path = "/api/trading/orders/{id}",
    tag = "trading",
    operation_id = "get_order",
    security(("session" = [])),
    params(("id" = String, Path, description = "Alpaca's order id")),
    responses(
        (status = 200, description = "Alpaca's order object, as last seen", body = AlpacaOrder),
        (status = 404, description = "`not_found`: no such order of yours", body = ErrorBody),
        BrokerErrors,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let order = orders::get_order(trading(&state), &trader(&caller, &user), &id).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        order,
    )
        .into_response())
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OrderSide {
    Buy,
    Sell,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OrderType {
    Market,
    Limit,
    Stop,
    StopLimit,
    TrailingStop,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TimeInForce {
    Day,
    Gtc,
    Opg,
    Cls,
    Ioc,
    Fok,
}

/// `POST /api/trading/orders`: 201 with Alpaca's order, or the first outcome again for a
/// repeated idempotency key (`Idempotent-Replayed: true`).
#[utoipa::path(
    post,
    path = "/api/trading/orders",
    tag = "trading",
    operation_id = "submit_order",
    security(("session" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried submission with the same key returns the first outcome")),
    request_body = OrderBody,
    responses(
        (status = 201, description = "Alpaca's order object, unchanged", body = AlpacaOrder, headers(("Idempotent-Replayed" = String, description = "`true` when this repeats an earlier submission's outcome"))),
        (status = 409, description = "`idempotency_key_reused`: the key was used for a different order", body = ErrorBody),
        (status = 422, description = "`invalid_order` (`error.fields` names each field's problem), `asset_not_tradable` (unknown, inactive or not tradable at Alpaca), `risk_limit` (`error.fields.limit` names the limit), `broker_rejected` (Alpaca's message), or `invalid_request`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many orders from this client (120 a minute, every dyno) or in flight; retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        BrokerErrors,
    ),
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    headers: HeaderMap,
    ApiJson(draft): ApiJson<OrderDraft>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers);
    let trader = trader(&caller, &user);
    let placed = submit::submit_order(trading(&state), &trader, key.as_deref(), draft).await?;
    let mut response = passthrough(StatusCode::CREATED, placed.body);
    if placed.replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `DELETE /api/trading/orders/{id}`: 204 once the broker cancelled it. A user may cancel only
/// orders they placed (an operator, any order of the account).
#[utoipa::path(
    delete,
    path = "/api/trading/orders/{id}",
    tag = "trading",
    operation_id = "cancel_order",
    security(("session" = [])),
    params(("id" = String, Path, description = "Alpaca's order id")),
    responses(
        (status = 204, description = "Cancelled at the broker"),
        (status = 404, description = "`not_found`: no such order of yours", body = ErrorBody),
        BrokerErrors,
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    orders::cancel_order(trading(&state), &trader(&caller, &user), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The body of `PATCH /api/trading/orders/{id}` (Alpaca's replace): at least one change; amounts
/// are decimal strings (numbers accepted). Unknown fields are refused.
#[derive(ToSchema)]
#[schema(example = json!({"qty": "2", "limit_price": "151.00"}))]
#[allow(dead_code)] // Documents `ReplaceDraft`.
pub struct ReplaceBody {
    /// The new quantity (not for a `notional` order).
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "2")]
    qty: Option<String>,
    /// Limit and stop-limit orders.
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$", example = "151.00")]
    limit_price: Option<String>,
    /// Stop and stop-limit orders.
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$")]
    stop_price: Option<String>,
    /// Trailing-stop orders only (refused for every other type): the new `trail_price` or
    /// `trail_percent`, whichever the order has (Alpaca's `trail`).
    #[schema(value_type = Option<String>, pattern = r"^\d+(\.\d+)?$")]
    trail: Option<String>,
    time_in_force: Option<TimeInForce>,
    /// The client's own idempotency key, when it sends no `Idempotency-Key` header.
    client_order_id: Option<String>,
}

impl From<ReplaceError> for ApiError {
    fn from(error: ReplaceError) -> Self {
        match error {
            ReplaceError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such order")
            }
            ReplaceError::NotOpen => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BrokerRejected,
                "the order is no longer open, so it cannot be replaced",
            ),
            ReplaceError::Submit(error) => error.into(),
        }
    }
}

/// `PATCH /api/trading/orders/{id}`: replaces one of the caller's open orders (Alpaca's
/// `PATCH /v2/orders/{id}`); 200 with the replacement, Alpaca's order object (`replaces` names
/// the old one).
#[utoipa::path(
    patch,
    path = "/api/trading/orders/{id}",
    tag = "trading",
    operation_id = "replace_order",
    security(("session" = [])),
    params(
        ("id" = String, Path, description = "Alpaca's order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried replacement with the same key returns the first outcome"),
    ),
    request_body = ReplaceBody,
    responses(
        (status = 200, description = "The replacement, Alpaca's order object", body = AlpacaOrder, headers(("Idempotent-Replayed" = String, description = "`true` when this repeats an earlier replacement's outcome"))),
        (status = 404, description = "`not_found`: no such order of yours", body = ErrorBody),
        (status = 422, description = "`invalid_order` (`error.fields`), `broker_rejected` (Alpaca's reason, or the order is no longer open), `risk_limit`, `insufficient_buying_power`, `insufficient_position`, `asset_not_tradable`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many orders in flight or broker calls; retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        BrokerErrors,
    ),
)]
pub async fn replace(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<ReplaceDraft>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers);
    let trader = trader(&caller, &user);
    let placed =
        replace::replace_order(trading(&state), &trader, key.as_deref(), &id, draft).await?;
    let mut response = passthrough(StatusCode::OK, placed.body);
    if placed.replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}
