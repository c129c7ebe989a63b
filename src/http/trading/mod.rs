//! Trading routes (SPEC §3): a signed-in user trades through the operator's one Alpaca paper
//! account, and an operator can stop all trading at once.
//!
//! Raptor is a proxy here, not a re-model: account, position and order bodies are Alpaca's
//! objects exactly as received ([`BrokerJson`]). Handlers parse input into the broker's domain
//! types, ask the broker actor, record orders in the ledger, and map [`BrokerError`] to the
//! SPEC's statuses in [`broker_error`]. While the kill switch is engaged every route here but
//! `mode` (and the operator's own switch route) answers 503 `trading_disabled`.

mod kill_switch;
mod orders;

use crate::http::error::ErrorCode;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use ractor::RpcReplyPort;
use raptor_actors::broker::order::InvalidInput;
use raptor_actors::broker::{
    BrokerError, BrokerJson, BrokerMsg, BrokerStatus, SwitchSource, MAX_QUEUE_WAIT,
};
use raptor_actors::slot::DEFAULT_CALL_TIMEOUT;
use serde_json::json;

use super::extract::CurrentSession;
use super::{ApiError, AppState};

/// The message every trading route but `mode` answers with while the switch is engaged
/// (SPEC §3); `mode` says why.
pub const TRADING_DISABLED_MESSAGE: &str = "credentials not configured";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/trading/mode", get(mode))
        .route("/api/trading/readiness", get(readiness))
        .route("/api/trading/account", get(account))
        .route("/api/trading/positions", get(positions))
        .route(
            "/api/trading/orders",
            get(orders::list).post(orders::submit),
        )
        .route("/api/trading/orders/{id}", delete(orders::cancel))
        .route(
            "/api/trading/kill-switch",
            get(kill_switch::show).post(kill_switch::change),
        )
}

/// `GET /api/trading/mode`: always 200, engaged or not, and says why.
async fn mode(State(state): State<AppState>, _: CurrentSession) -> Result<Response, ApiError> {
    let status = broker_status(&state).await?;
    let operator = status.operator.as_ref();
    let body = json!({
        "paper": true,
        "mode": "paper",
        "broker": status.kind.as_str(),
        "trading_enabled": status.engaged.is_none(),
        "kill_switch": {
            "engaged": status.engaged.is_some(),
            "source": status.engaged.as_ref().map(|(source, _)| source_name(*source)),
            "reason": status.engaged.as_ref().map(|(_, reason)| reason),
            "operator": {
                "engaged": operator.is_some_and(|o| o.engaged),
                "reason": operator.map(|o| &o.reason),
                "changed_at": operator.map(|o| o.changed_at),
            },
        },
    });
    Ok(Json(body).into_response())
}

/// `GET /api/trading/readiness`: 200 when the switch is released and the broker answers with
/// our credentials; 503 otherwise.
async fn readiness(State(state): State<AppState>, _: CurrentSession) -> Result<Response, ApiError> {
    let status = trading_status(&state).await?;
    match ask(&state, BrokerMsg::Check).await {
        Ok(()) => Ok(Json(json!({
            "ready": true,
            "broker": status.kind.as_str(),
            "checks": {
                "credentials": "configured",
                "kill_switch": "released",
                "broker": "answering",
            },
        }))
        .into_response()),
        Err(error) if error.code == ErrorCode::TradingDisabled => Err(error),
        Err(error) => {
            let mut not_ready = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::BrokerNotReady,
                format!("the broker is not ready: {}", error.message),
            );
            not_ready.retry_after = error.retry_after.or(Some(Duration::from_secs(5)));
            Err(not_ready)
        }
    }
}

/// `GET /api/trading/account`: the paper account, as Alpaca sent it.
async fn account(State(state): State<AppState>, _: CurrentSession) -> Result<Response, ApiError> {
    let account = ask(&state, BrokerMsg::GetAccount).await?;
    Ok(passthrough(StatusCode::OK, account))
}

/// `GET /api/trading/positions`: open positions of the paper account, as Alpaca sent them.
async fn positions(State(state): State<AppState>, _: CurrentSession) -> Result<Response, ApiError> {
    let positions = ask(&state, BrokerMsg::ListPositions).await?;
    Ok(passthrough(StatusCode::OK, positions))
}

/// The kill switch as `GET /api/system/diagnostic` shows it; `null` while the broker is down.
pub async fn diagnostic(state: &AppState) -> serde_json::Value {
    match broker_status(state).await {
        Ok(status) => json!({
            "broker": status.kind.as_str(),
            "engaged": status.engaged.is_some(),
            "source": status.engaged.as_ref().map(|(source, _)| source_name(*source)),
            "reason": status.engaged.as_ref().map(|(_, reason)| reason),
        }),
        Err(_) => serde_json::Value::Null,
    }
}

fn source_name(source: SwitchSource) -> &'static str {
    match source {
        SwitchSource::Config => "config",
        SwitchSource::Operator => "operator",
    }
}

/// The broker's kind and switch state.
async fn broker_status(state: &AppState) -> Result<BrokerStatus, ApiError> {
    Ok(state
        .actors
        .broker
        .slot()
        .ask(BrokerMsg::Status, DEFAULT_CALL_TIMEOUT)
        .await?)
}

/// The broker's status, or 503 `trading_disabled` while the switch is engaged.
async fn trading_status(state: &AppState) -> Result<BrokerStatus, ApiError> {
    let status = broker_status(state).await?;
    match status.engaged {
        Some(_) => Err(trading_disabled()),
        None => Ok(status),
    }
}

fn trading_disabled() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TradingDisabled,
        TRADING_DISABLED_MESSAGE,
    )
}

/// How long a request waits for the broker: its turn under the rate limit, one request and one
/// retry, with a margin, so a hanging Alpaca answers 504 from the broker, not a vague 503.
fn broker_call_timeout(state: &AppState) -> Duration {
    MAX_QUEUE_WAIT + state.settings.alpaca.request_timeout * 2 + Duration::from_secs(5)
}

/// Asks the broker something that reaches Alpaca (or the simulator).
async fn ask<T: Send + 'static>(
    state: &AppState,
    build: impl FnOnce(RpcReplyPort<Result<T, BrokerError>>) -> BrokerMsg,
) -> Result<T, ApiError> {
    state
        .actors
        .broker
        .slot()
        .ask(build, broker_call_timeout(state))
        .await?
        .map_err(broker_error)
}

/// The SPEC's mapping of broker failures: refusals 422 with Alpaca's message, unknown 404,
/// rate limits 503 with `Retry-After`, timeouts 504, anything else from the broker 502.
pub fn broker_error(error: BrokerError) -> ApiError {
    match error {
        BrokerError::Disabled(_) => trading_disabled(),
        BrokerError::Refused { message, .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BrokerRejected,
            message,
        ),
        BrokerError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "not found at the broker",
        ),
        BrokerError::RateLimited { retry_after } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::BrokerRateLimited,
            "too many requests to the broker; retry shortly",
        )
        .with_retry_after(retry_after),
        BrokerError::Timeout => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::BrokerTimeout,
            "the broker did not answer in time",
        ),
        BrokerError::Unreachable => ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::BrokerUnreachable,
            "the broker cannot be reached",
        ),
        BrokerError::BadGateway => ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::BrokerError,
            "the broker answered unexpectedly",
        ),
    }
}

/// A 422 naming each field's problem.
fn invalid(code: ErrorCode, invalid: InvalidInput) -> ApiError {
    let message = invalid
        .problems
        .iter()
        .map(|p| format!("{} {}", p.field, p.problem))
        .collect::<Vec<_>>()
        .join("; ");
    let fields = invalid
        .problems
        .into_iter()
        .map(|p| (p.field.to_owned(), json!(p.problem)))
        .collect();
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_fields(fields)
}

/// A broker document as the response body, unchanged.
fn passthrough(status: StatusCode, body: BrokerJson) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into_string(),
    )
        .into_response()
}
