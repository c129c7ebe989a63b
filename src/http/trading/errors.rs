//! The SPEC's statuses for the trading use cases' errors, each mapped in one `From` impl:
//! broker refusals 422 with Alpaca's message, unknown 404, rate limits 503 with `Retry-After`,
//! timeouts 504, anything else from the broker 502, the kill switch 503 `trading_disabled`,
//! and storage as `From<StorageError>` says (503 when the database is gone).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use raptor_actors::broker::BrokerError;
use serde_json::json;

use crate::http::error::ErrorCode;
use crate::http::error_schema::error_response;
use crate::http::ApiError;
use crate::trading::error::{CancelError, ReadError, ReadinessError, StreamError, SubmitError};
use crate::trading::kill_switch::{SwitchError, MAX_REASON_CHARS};
use crate::trading::risk::Limit;

/// The message every trading route but `mode` answers with while the switch is engaged
/// (SPEC §3); `mode` says why.
pub const TRADING_DISABLED_MESSAGE: &str = "credentials not configured";

/// The statuses a route that calls the broker can answer with, for the OpenAPI document
/// (`responses(..., BrokerErrors)`), as [`From<BrokerError>`] maps them.
pub struct BrokerErrors;

impl utoipa::IntoResponses for BrokerErrors {
    fn responses() -> BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        [
            ("422", "`broker_rejected`: Alpaca refused (its message), or `invalid_request`/`invalid_query`/`invalid_order` naming each field in `error.fields`", false),
            ("502", "`broker_unreachable` or `broker_error`: Alpaca cannot be reached or answered unexpectedly", false),
            ("503", "`trading_disabled` (message `credentials not configured`): the kill switch is engaged; `broker_rate_limited`: Alpaca's rate limit; `service_unavailable`: a dependency is down; retry after `Retry-After`", true),
            ("504", "`broker_timeout`: Alpaca did not answer in time", false),
        ]
        .into_iter()
        .map(|(status, description, retry)| (status.to_owned(), error_response(description, retry)))
        .collect()
    }
}

fn trading_disabled() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TradingDisabled,
        TRADING_DISABLED_MESSAGE,
    )
}

impl From<BrokerError> for ApiError {
    fn from(error: BrokerError) -> Self {
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
            BrokerError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "temporarily unavailable; retry shortly",
            )
            .with_retry_after(Duration::from_secs(1)),
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Broker(error) => error.into(),
            ReadError::Storage(error) => error.into(),
            ReadError::Audit(error) => error.into(),
            ReadError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such order")
            }
            ReadError::Corrupt(what) => ApiError::internal(what),
        }
    }
}

impl From<ReadinessError> for ApiError {
    fn from(error: ReadinessError) -> Self {
        match error {
            ReadinessError::Disabled(_) => trading_disabled(),
            ReadinessError::Unavailable(unavailable) => unavailable.into(),
            ReadinessError::NotReady(error) => {
                let cause = ApiError::from(error);
                let mut not_ready = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::BrokerNotReady,
                    format!("the broker is not ready: {}", cause.message),
                );
                not_ready.retry_after = cause.retry_after.or(Some(Duration::from_secs(5)));
                not_ready
            }
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::Invalid(problems) => {
                ApiError::invalid_input(ErrorCode::InvalidOrder, problems)
            }
            SubmitError::KeyReused => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyKeyReused,
                "this idempotency key was used for a different order",
            ),
            SubmitError::TooManyInFlight { retry_after } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many orders in flight; retry shortly",
            )
            .with_retry_after(retry_after),
            SubmitError::RiskLimit(refusal) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                match refusal.limit {
                    Limit::BuyingPower => ErrorCode::InsufficientBuyingPower,
                    Limit::Position => ErrorCode::InsufficientPosition,
                    _ => ErrorCode::RiskLimit,
                },
                refusal.message,
            )
            .with_fields(
                [("limit".to_owned(), json!(refusal.limit.as_str()))]
                    .into_iter()
                    .collect(),
            ),
            SubmitError::NotTradable(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::AssetNotTradable,
                message,
            ),
            SubmitError::NoPrice { symbol } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                format!(
                    "no recent price for {symbol} to check the order against your book; \
                     retry shortly"
                ),
            )
            .with_retry_after(Duration::from_secs(5)),
            SubmitError::InProgress { retry_after } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "an identical order is still being submitted; retry shortly",
            )
            .with_retry_after(retry_after),
            SubmitError::Broker(error) => error.into(),
            SubmitError::Storage(error) => error.into(),
            SubmitError::Audit(error) => error.into(),
            SubmitError::Corrupt(what) => ApiError::internal(what),
        }
    }
}

impl From<StreamError> for ApiError {
    fn from(error: StreamError) -> Self {
        match error {
            StreamError::Broker(error) => error.into(),
            StreamError::Unavailable(unavailable) => unavailable.into(),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such order")
            }
            CancelError::TooMany { retry_after } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many orders and cancels; retry shortly",
            )
            .with_retry_after(retry_after),
            CancelError::Broker(error) => error.into(),
            CancelError::Storage(error) => error.into(),
            CancelError::Audit(error) => error.into(),
        }
    }
}

impl From<SwitchError> for ApiError {
    fn from(error: SwitchError) -> Self {
        let message = match &error {
            SwitchError::InvalidReason => {
                let problem =
                    format!("must say why, in 1 to {MAX_REASON_CHARS} printable characters");
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidRequest,
                    format!("reason {problem}"),
                )
                .with_fields(
                    [("reason".to_owned(), json!(problem))]
                        .into_iter()
                        .collect(),
                );
            }
            SwitchError::NotStored {
                engaged_here: true, ..
            } => "engaged on this instance only: the change could not be stored; retry",
            SwitchError::NotAudited {
                engaged_here: true, ..
            } => "engaged on this instance only: the change could not be audited; retry",
            SwitchError::NotStored { .. } => "the change could not be stored; nothing changed",
            SwitchError::NotAudited { .. } => "the change could not be audited; nothing changed",
        };
        tracing::error!(%error, "kill switch change failed");
        ApiError::unavailable(message)
    }
}
