//! The caller's own book in Alpaca's field names (docs/trading.md "Books"):
//! `GET /api/trading/account`, `GET /api/trading/positions[/{symbol}]` and
//! `GET /api/trading/portfolio/history`. Amounts are decimal strings. Nothing here calls Alpaca.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{trader, trading, BrokerErrors};
use crate::audit::Origin;
use crate::http::error::ErrorCode;
use crate::http::error_schema::ErrorBody;
use crate::http::extract::CurrentSession;
use crate::http::query::ApiQuery;
use crate::http::{ApiError, AppState};
use crate::trading::account;
use crate::trading::book::history::Period;
use crate::trading::book::view::{AccountView, PositionView};

/// Money as Alpaca writes it: a decimal string with two places.
fn money(value: Decimal) -> String {
    let mut value = value.round_dp(2);
    value.rescale(2);
    value.to_string()
}

/// A quantity or price: a decimal string without trailing zeros.
fn amount(value: Decimal) -> String {
    value.round_dp(9).normalize().to_string()
}

/// The body of `GET /api/trading/account`: the caller's paper book.
#[derive(Serialize, ToSchema)]
pub struct AccountBody {
    #[schema(example = "USD")]
    currency: String,
    #[schema(example = "99850.00")]
    cash: String,
    /// Cash less what the caller's open buy orders reserve.
    #[schema(example = "98350.00")]
    buying_power: String,
    /// Cash plus positions at the latest trade price.
    #[schema(example = "100010.00")]
    equity: String,
    #[schema(example = "160.00")]
    long_market_value: String,
    /// Equity at the previous US close (the initial cash before the first close).
    #[schema(example = "100000.00")]
    last_equity: String,
    #[schema(example = "0.00")]
    realized_pl: String,
    #[schema(example = "10.00")]
    unrealized_pl: String,
    #[schema(example = "100000.00")]
    initial_cash: String,
}

impl From<AccountView> for AccountBody {
    fn from(a: AccountView) -> Self {
        Self {
            currency: a.currency,
            cash: money(a.cash),
            buying_power: money(a.buying_power),
            equity: money(a.equity),
            long_market_value: money(a.long_market_value),
            last_equity: money(a.last_equity),
            realized_pl: money(a.realized_pl),
            unrealized_pl: money(a.unrealized_pl),
            initial_cash: money(a.initial_cash),
        }
    }
}

/// One of the caller's positions (long only).
#[derive(Serialize, ToSchema)]
pub struct PositionBody {
    #[schema(example = "AAPL")]
    symbol: String,
    #[schema(example = "us_equity")]
    asset_class: String,
    /// Always `long`.
    #[schema(example = "long")]
    side: &'static str,
    #[schema(example = "10")]
    qty: String,
    /// What the caller's open sell orders do not hold back.
    #[schema(example = "10")]
    qty_available: String,
    #[schema(example = "150.25")]
    avg_entry_price: String,
    #[schema(example = "1502.50")]
    cost_basis: String,
    #[schema(example = "151")]
    current_price: String,
    #[schema(example = "1510.00")]
    market_value: String,
    #[schema(example = "7.50")]
    unrealized_pl: String,
    /// `unrealized_pl / cost_basis`.
    #[schema(example = "0.004992")]
    unrealized_plpc: String,
}

impl From<PositionView> for PositionBody {
    fn from(p: PositionView) -> Self {
        Self {
            symbol: p.symbol,
            asset_class: p.asset_class,
            side: "long",
            qty: amount(p.qty),
            qty_available: amount(p.qty_available),
            avg_entry_price: amount(p.avg_entry_price.round_dp(6)),
            cost_basis: money(p.cost_basis),
            current_price: amount(p.current_price),
            market_value: money(p.market_value),
            unrealized_pl: money(p.unrealized_pl),
            unrealized_plpc: amount(p.unrealized_plpc.round_dp(6)),
        }
    }
}

/// `GET /api/trading/account`: the caller's own paper book, in Alpaca's account field names.
#[utoipa::path(
    get,
    path = "/api/trading/account",
    tag = "trading",
    operation_id = "trading_account",
    security(("session" = [])),
    responses(
        (status = 200, description = "The caller's book (never the shared account)", body = AccountBody),
        BrokerErrors,
    ),
)]
pub async fn account(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
) -> Result<Response, ApiError> {
    let book = account::book(trading(&state), &trader(&caller, &user)).await?;
    Ok(Json(AccountBody::from(book.account)).into_response())
}

/// `GET /api/trading/positions`: the caller's open positions.
#[utoipa::path(
    get,
    path = "/api/trading/positions",
    tag = "trading",
    operation_id = "trading_positions",
    security(("session" = [])),
    responses(
        (status = 200, description = "The caller's positions, by symbol", body = [PositionBody]),
        BrokerErrors,
    ),
)]
pub async fn positions(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
) -> Result<Response, ApiError> {
    let book = account::book(trading(&state), &trader(&caller, &user)).await?;
    let body: Vec<PositionBody> = book.positions.into_iter().map(Into::into).collect();
    Ok(Json(body).into_response())
}

/// `GET /api/trading/positions/{symbol}`: one of the caller's positions.
#[utoipa::path(
    get,
    path = "/api/trading/positions/{symbol}",
    tag = "trading",
    operation_id = "trading_position",
    security(("session" = [])),
    params(("symbol" = String, Path, description = "The symbol, e.g. `AAPL`")),
    responses(
        (status = 200, description = "The caller's position in the symbol", body = PositionBody),
        (status = 404, description = "`position_not_found`: the caller holds none", body = ErrorBody),
        BrokerErrors,
    ),
)]
pub async fn position(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    Path(symbol): Path<String>,
) -> Result<Response, ApiError> {
    let book = account::book(trading(&state), &trader(&caller, &user)).await?;
    let wanted = symbol.trim().to_ascii_uppercase();
    let found = book.positions.into_iter().find(|p| p.symbol == wanted);
    match found {
        Some(position) => Ok(Json(PositionBody::from(position)).into_response()),
        None => Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            ErrorCode::PositionNotFound,
            "you hold no position in this symbol",
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// `1W`, `1M` (default), `3M` or `1A`.
    #[param(pattern = "^(1W|1M|3M|1A)$", example = "1M")]
    period: Option<String>,
    /// `1D` (the only timeframe).
    #[param(pattern = "^1D$", example = "1D")]
    timeframe: Option<String>,
}

/// The body of `GET /api/trading/portfolio/history`, Alpaca's shape.
#[derive(Serialize, ToSchema)]
pub struct HistoryBody {
    /// Unix seconds of each point: each US close, then now.
    timestamp: Vec<i64>,
    #[schema(value_type = Vec<String>)]
    equity: Vec<String>,
    /// Equity less `base_value`.
    #[schema(value_type = Vec<String>)]
    profit_loss: Vec<String>,
    /// `profit_loss / base_value`.
    #[schema(value_type = Vec<String>)]
    profit_loss_pct: Vec<String>,
    /// Equity before the first point.
    base_value: String,
    #[schema(example = "1D")]
    timeframe: &'static str,
}

/// `GET /api/trading/portfolio/history?period=1W|1M|3M|1A&timeframe=1D`: the caller's equity
/// after each US close, and now.
#[utoipa::path(
    get,
    path = "/api/trading/portfolio/history",
    tag = "trading",
    operation_id = "portfolio_history",
    security(("session" = [])),
    params(HistoryParams),
    responses(
        (status = 200, description = "The caller's equity history", body = HistoryBody),
        (status = 422, description = "`invalid_query`: `period` or `timeframe` is not valid", body = ErrorBody),
        BrokerErrors,
    ),
)]
pub async fn portfolio_history(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(user): CurrentSession,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Response, ApiError> {
    let period = Period::parse(params.period.as_deref().unwrap_or("1M"));
    let timeframe_ok = params.timeframe.as_deref().is_none_or(|t| t == "1D");
    let (Some(period), true) = (period, timeframe_ok) else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidQuery,
            "period must be 1W, 1M, 3M or 1A, and timeframe 1D",
        ));
    };
    let history =
        account::portfolio_history(trading(&state), &trader(&caller, &user), period).await?;
    let strings = |v: Vec<Decimal>| v.into_iter().map(money).collect();
    Ok(Json(HistoryBody {
        timestamp: history.timestamp,
        equity: strings(history.equity),
        profit_loss: strings(history.profit_loss),
        profit_loss_pct: history.profit_loss_pct.into_iter().map(amount).collect(),
        base_value: money(history.base_value),
        timeframe: "1D",
    })
    .into_response())
}
