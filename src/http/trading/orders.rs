//! `GET/POST /api/trading/orders` and `DELETE /api/trading/orders/{id}`: parse, call the use
//! case (`crate::trading::{submit, orders}`), map the answer. The submission protocol (claim,
//! intent, call, record; idempotency and reconciliation; the per-user in-flight limit) is
//! described in `crate::trading::submit` and docs/trading.md.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{passthrough, trader, trading};
use crate::http::error::ErrorCode;
use crate::http::extract::{Caller, CurrentSession};
use crate::http::{ApiError, ApiJson, AppState};
use crate::trading::ids::OrderQuery;
use crate::trading::order::OrderDraft;
use crate::trading::{orders, submit};

/// Header a client sets so that a retried submission returns the first result.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a response that repeats an earlier submission's outcome.
const REPLAYED: &str = "idempotent-replayed";

#[derive(Debug, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    limit: Option<String>,
}

/// `GET /api/trading/orders?status=open|closed|all&limit=1..500`: the caller's orders, newest
/// first (an operator sees every order of the account).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(user): CurrentSession,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = OrderQuery::parse(params.status.as_deref(), params.limit.as_deref())
        .map_err(|e| ApiError::invalid_input(ErrorCode::InvalidQuery, e))?;
    let orders = orders::list_orders(trading(&state), &trader(&caller, &user), query).await?;
    Ok(passthrough(StatusCode::OK, orders))
}

/// `POST /api/trading/orders`: 201 with Alpaca's order, or the first outcome again for a
/// repeated idempotency key (`Idempotent-Replayed: true`).
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(user): CurrentSession,
    headers: HeaderMap,
    ApiJson(draft): ApiJson<OrderDraft>,
) -> Result<Response, ApiError> {
    // A header that is not text cannot be a key; its lossy text fails the key's parser.
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
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
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(user): CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    orders::cancel_order(trading(&state), &trader(&caller, &user), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
