//! `DELETE /api/trading/positions/{symbol}`, `DELETE /api/trading/positions` and
//! `DELETE /api/trading/orders`: close the caller's own positions and cancel the caller's own
//! open orders (`crate::trading::close`), never through Alpaca's account-wide routes. The
//! answers are Alpaca's: the sell order for one position; for many, one result per position or
//! order with its HTTP status (207 Multi-Status).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::{idempotency_key, passthrough, trader, trading, BrokerErrors};
use crate::audit::Origin;
use crate::http::error::ErrorCode;
use crate::http::extract::CurrentSession;
use crate::http::openapi::ErrorBody;
use crate::http::query::ApiQuery;
use crate::http::schemas::alpaca::AlpacaOrder;
use crate::http::{ApiError, AppState};
use crate::trading::close::{self, CloseAmount, CloseError};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CloseParams {
    /// Shares to sell (at most what open sells leave); not with `percentage`.
    #[param(pattern = r"^\d+(\.\d+)?$", example = "1")]
    qty: Option<String>,
    /// A share (above 0, at most 100) of what is available, rounded down (to whole shares for
    /// an asset that is not fractionable); not with `qty`.
    #[param(pattern = r"^\d+(\.\d+)?$", example = "50")]
    percentage: Option<String>,
}

/// An error in a multi-status result, as Alpaca's `{code, message}` with Raptor's codes.
#[derive(Serialize, ToSchema)]
pub struct ResultError {
    /// One of the error codes (`not_found`, `broker_rejected`, `rate_limited`, …).
    #[schema(example = "broker_rejected")]
    code: &'static str,
    message: String,
}

impl ResultError {
    fn of(error: ApiError) -> (u16, Self) {
        let body = Self {
            code: error.code.as_str(),
            message: error.message.into_owned(),
        };
        (error.status.as_u16(), body)
    }
}

/// One order's cancel in `DELETE /api/trading/orders`.
#[derive(Serialize, ToSchema)]
pub struct CancelResult {
    /// Alpaca's order id.
    id: String,
    /// 200 when cancelled; else the status the cancel alone would have answered.
    #[schema(example = 200)]
    status: u16,
    /// Why it was not cancelled (absent when it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<ResultError>,
}

/// One position's close in `DELETE /api/trading/positions`.
#[derive(Serialize, ToSchema)]
pub struct CloseResult {
    /// The position's symbol.
    symbol: String,
    /// 200 when the sell order was placed; else the status closing it alone would have answered.
    #[schema(example = 200)]
    status: u16,
    /// Status 200: Alpaca's sell order object, unchanged; otherwise `{code, message}` as in
    /// [`ResultError`].
    #[schema(value_type = CloseBody)]
    body: Box<RawValue>,
}

/// What a [`CloseResult`] carries: the sell order, or why there is none (schema only: `anyOf`,
/// since Alpaca's order allows fields of its own).
struct CloseBody;

impl utoipa::PartialSchema for CloseBody {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(AlpacaOrder::name()))
            .item(Ref::from_schema_name(ResultError::name()))
            .into()
    }
}

impl ToSchema for CloseBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((AlpacaOrder::name().into(), AlpacaOrder::schema()));
        AlpacaOrder::schemas(schemas);
        schemas.push((ResultError::name().into(), ResultError::schema()));
        ResultError::schemas(schemas);
    }
}

impl From<CloseError> for ApiError {
    fn from(error: CloseError) -> Self {
        match error {
            CloseError::NoPosition => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::PositionNotFound,
                "you hold no position in this symbol",
            ),
            CloseError::Read(error) => error.into(),
            CloseError::Submit(error) => error.into(),
        }
    }
}

/// `DELETE /api/trading/positions/{symbol}`: sells the caller's own position (all of it, `qty`
/// shares, or a `percentage`) with a market order; 200 with Alpaca's order.
#[utoipa::path(
    delete,
    path = "/api/trading/positions/{symbol}",
    tag = "trading",
    operation_id = "close_position",
    security(("session" = [])),
    params(
        ("symbol" = String, Path, description = "The symbol, e.g. `AAPL`"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried close with the same key returns the first outcome"),
        CloseParams,
    ),
    responses(
        (status = 200, description = "The market sell order placed for the caller, Alpaca's order object", body = AlpacaOrder),
        (status = 404, description = "`position_not_found`: the caller holds none", body = ErrorBody),
        (status = 422, description = "`invalid_order` (`qty`/`percentage`), `insufficient_position`, `risk_limit`, `asset_not_tradable` or `broker_rejected`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many orders in flight or broker calls; retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        BrokerErrors,
    ),
)]
pub async fn close_position(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    headers: HeaderMap,
    Path(symbol): Path<String>,
    ApiQuery(params): ApiQuery<CloseParams>,
) -> Result<Response, ApiError> {
    let amount = CloseAmount::parse(params.qty.as_deref(), params.percentage.as_deref())
        .map_err(|e| ApiError::invalid_input(ErrorCode::InvalidOrder, e))?;
    let key = idempotency_key(&headers);
    let trader = trader(&caller, &user);
    let placed =
        close::close_position(trading(&state), &trader, key.as_deref(), &symbol, amount).await?;
    let mut response = passthrough(StatusCode::OK, placed.body);
    if placed.replayed {
        let replayed = HeaderValue::from_static("true");
        response
            .headers_mut()
            .insert("idempotent-replayed", replayed);
    }
    Ok(response)
}

/// `DELETE /api/trading/positions`: closes each of the caller's positions with a market sell;
/// 207 with one result per position (never Alpaca's account-wide close).
#[utoipa::path(
    delete,
    path = "/api/trading/positions",
    tag = "trading",
    operation_id = "close_all_positions",
    security(("session" = [])),
    responses(
        (status = 207, description = "One result per position of the caller's", body = [CloseResult]),
        BrokerErrors,
    ),
)]
pub async fn close_all(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
) -> Result<Response, ApiError> {
    let trader = trader(&caller, &user);
    let results = close::close_all(trading(&state), &trader).await?;
    let body: Vec<CloseResult> = results
        .into_iter()
        .map(|(symbol, closed)| {
            let (status, body) = match closed {
                Ok(placed) => (200, placed.body.into_string()),
                Err(error) => {
                    let (status, error) = ResultError::of(error.into());
                    (status, serde_json::to_string(&error).unwrap_or_default())
                }
            };
            let body = RawValue::from_string(body)
                .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("JSON null"));
            CloseResult {
                symbol,
                status,
                body,
            }
        })
        .collect();
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

/// `DELETE /api/trading/orders`: cancels each of the caller's own open orders; 207 with one
/// result per order (never Alpaca's account-wide cancel).
#[utoipa::path(
    delete,
    path = "/api/trading/orders",
    tag = "trading",
    operation_id = "cancel_all_orders",
    security(("session" = [])),
    responses(
        (status = 207, description = "One result per open order of the caller's", body = [CancelResult]),
        BrokerErrors,
    ),
)]
pub async fn cancel_all(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
) -> Result<Response, ApiError> {
    let trader = trader(&caller, &user);
    let results = close::cancel_all(trading(&state), &trader).await?;
    let body: Vec<CancelResult> = results
        .into_iter()
        .map(|(id, canceled)| match canceled {
            Ok(()) => CancelResult {
                id,
                status: 200,
                body: None,
            },
            Err(error) => {
                let (status, body) = ResultError::of(error.into());
                CancelResult {
                    id,
                    status,
                    body: Some(body),
                }
            }
        })
        .collect();
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}
