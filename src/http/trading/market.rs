//! `GET /api/market/clock` and `GET /api/market/calendar`: Alpaca's market clock and trading
//! calendar (`crate::trading::market`), in Alpaca's field names.

use axum::extract::State;
use axum::Json;
use chrono::NaiveDate;
use raptor_actors::broker::{CalendarDay, MarketClock};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{trading, BrokerErrors};
use crate::http::error::ErrorCode;
use crate::http::extract::CurrentSession;
use crate::http::openapi::ErrorBody;
use crate::http::query::ApiQuery;
use crate::http::{ApiError, AppState};
use crate::trading::market::{self, CalendarError};

/// The body of `GET /api/market/clock` (Alpaca's clock).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"timestamp": "2026-12-07T11:30:00.1-05:00", "is_open": true,
    "next_open": "2026-12-08T09:30:00-05:00", "next_close": "2026-12-07T16:00:00-05:00"}))]
pub struct ClockBody {
    /// Now, as Alpaca saw it (RFC 3339).
    timestamp: String,
    /// Whether the regular session is open.
    is_open: bool,
    /// The next regular open (RFC 3339).
    next_open: String,
    /// The next regular close (RFC 3339).
    next_close: String,
}

impl From<MarketClock> for ClockBody {
    fn from(c: MarketClock) -> Self {
        Self {
            timestamp: c.timestamp,
            is_open: c.is_open,
            next_open: c.next_open,
            next_close: c.next_close,
        }
    }
}

/// One trading day of `GET /api/market/calendar` (Alpaca's calendar day; New York times).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"date": "2026-12-07", "open": "09:30", "close": "16:00",
    "session_open": "0400", "session_close": "2000", "settlement_date": "2026-12-08"}))]
pub struct CalendarDayBody {
    date: NaiveDate,
    /// The regular open, `HH:MM`.
    open: String,
    /// The regular close, `HH:MM` (earlier on a short day).
    close: String,
    /// The extended session's start, `HHMM`.
    session_open: Option<String>,
    /// The extended session's end, `HHMM`.
    session_close: Option<String>,
    settlement_date: Option<NaiveDate>,
}

impl From<CalendarDay> for CalendarDayBody {
    fn from(d: CalendarDay) -> Self {
        Self {
            date: d.date,
            open: d.open,
            close: d.close,
            session_open: d.session_open,
            session_close: d.session_close,
            settlement_date: d.settlement_date,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarParams {
    /// The first day (`YYYY-MM-DD`, default today).
    #[param(example = "2026-12-01")]
    start: Option<String>,
    /// The last day (default 30 days after `start`; at most 366 days after it).
    #[param(example = "2026-12-31")]
    end: Option<String>,
}

impl From<CalendarError> for ApiError {
    fn from(error: CalendarError) -> Self {
        match error {
            CalendarError::Invalid(problems) => {
                ApiError::invalid_input(ErrorCode::InvalidQuery, problems)
            }
            CalendarError::Broker(error) => error.into(),
            CalendarError::Storage(error) => error.into(),
        }
    }
}

/// `GET /api/market/clock`: whether the market is open, and its next open and close.
#[utoipa::path(
    get,
    path = "/api/market/clock",
    tag = "trading",
    operation_id = "market_clock",
    security(("session" = [])),
    responses(
        (status = 200, description = "Alpaca's market clock (kept a few seconds)", body = ClockBody),
        BrokerErrors,
    ),
)]
pub async fn clock(
    State(state): State<AppState>,
    _: CurrentSession,
) -> Result<Json<ClockBody>, ApiError> {
    Ok(Json(market::clock(&trading(&state)).await?.into()))
}

/// `GET /api/market/calendar?start=&end=`: the trading days in the range.
#[utoipa::path(
    get,
    path = "/api/market/calendar",
    tag = "trading",
    operation_id = "market_calendar",
    security(("session" = [])),
    params(CalendarParams),
    responses(
        (status = 200, description = "The trading days from `start` to `end` (holidays left out)", body = [CalendarDayBody]),
        (status = 422, description = "`invalid_query`: `start` or `end` is not a date, or the range is backwards or longer than 366 days", body = ErrorBody),
        BrokerErrors,
    ),
)]
pub async fn calendar(
    State(state): State<AppState>,
    _: CurrentSession,
    ApiQuery(params): ApiQuery<CalendarParams>,
) -> Result<Json<Vec<CalendarDayBody>>, ApiError> {
    let trading = trading(&state);
    let today = trading.clock.now().date_naive();
    let (start, end) = market::parse_range(params.start.as_deref(), params.end.as_deref(), today)
        .map_err(|e| ApiError::invalid_input(ErrorCode::InvalidQuery, e))?;
    let days = market::calendar(&trading, start, end).await?;
    Ok(Json(days.into_iter().map(Into::into).collect()))
}
