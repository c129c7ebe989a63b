//! Market-data routes (SPEC §3), all behind a session: `GET /api/market-data/{quotes,trades,
//! bars}/latest?symbols=`, `GET /api/market-data/snapshots?symbols=`,
//! `GET /api/historical-data/bars` and the legacy `GET /api/compare-quotes?symbol=`.
//!
//! Latest objects are Alpaca's, unchanged, keyed by symbol in Alpaca's own envelope
//! (`{"quotes":{"AAPL":{…}}}`; snapshots: `{"AAPL":{…}}`); a symbol Alpaca does not know is
//! simply absent. Every parameter arrives as a string, so a wrong one is a 422 naming the
//! field, and costs no Alpaca call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use raptor_actors::market_data::{LatestKind, MarketDataError};

use super::error::ErrorCode;
use super::extract::{Caller, CurrentSession};
use super::{ApiError, AppState};
use crate::market_data::bars::{historical_bars, BarsDeps};
use crate::market_data::request::RawBarsQuery;
use crate::market_data::{self, BarsQuery, DataError, Symbols};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/market-data/quotes/latest", get(quotes))
        .route("/api/market-data/trades/latest", get(trades))
        .route("/api/market-data/bars/latest", get(latest_bars))
        .route("/api/market-data/snapshots", get(snapshots))
        .route("/api/historical-data/bars", get(bars))
        .route("/api/compare-quotes", get(compare))
}

type Params = Query<HashMap<String, String>>;

async fn quotes(
    State(s): State<AppState>,
    _: CurrentSession,
    Query(p): Params,
) -> Result<Response, ApiError> {
    latest(&s, LatestKind::Quotes, &p).await
}

async fn trades(
    State(s): State<AppState>,
    _: CurrentSession,
    Query(p): Params,
) -> Result<Response, ApiError> {
    latest(&s, LatestKind::Trades, &p).await
}

async fn latest_bars(
    State(s): State<AppState>,
    _: CurrentSession,
    Query(p): Params,
) -> Result<Response, ApiError> {
    latest(&s, LatestKind::Bars, &p).await
}

async fn snapshots(
    State(s): State<AppState>,
    _: CurrentSession,
    Query(p): Params,
) -> Result<Response, ApiError> {
    latest(&s, LatestKind::Snapshots, &p).await
}

async fn latest(
    state: &AppState,
    kind: LatestKind,
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let symbols =
        Symbols::parse(params.get("symbols").map(String::as_str)).map_err(DataError::from)?;
    let found = market_data::latest(&state.actors.market_data, kind, &symbols).await?;
    // One buffer, sized once: the objects are copied in as received, never re-serialized.
    let size = found
        .iter()
        .map(|(s, o)| s.len() + o.len() + 4)
        .sum::<usize>()
        + 16;
    let mut body = String::with_capacity(size);
    if let Some(key) = kind.envelope() {
        body.push_str("{\"");
        body.push_str(key);
        body.push_str("\":");
    }
    push_object(&mut body, found.iter().map(|(s, o)| (s.as_str(), o)));
    if kind.envelope().is_some() {
        body.push('}');
    }
    Ok(json(body))
}

/// `GET /api/historical-data/bars`: `{symbol, timeframe, bars:[…], next_page_token}`.
async fn bars(
    State(state): State<AppState>,
    _: CurrentSession,
    Query(raw): Query<RawBarsQuery>,
) -> Result<Response, ApiError> {
    let query = BarsQuery::parse(raw, state.now()).map_err(DataError::from)?;
    let deps = BarsDeps {
        pool: &state.pool,
        market_data: &state.actors.market_data,
        feed: &state.market_data_feed,
        max_bars: state.settings.market_data.max_bars,
        now: state.now(),
    };
    let page = historical_bars(deps, query).await?;
    Ok(json(format!(
        r#"{{"symbol":{},"timeframe":{},"bars":[{}],"next_page_token":{}}}"#,
        serde_json::Value::from(page.symbol),
        serde_json::Value::from(page.timeframe),
        page.bars.join(","),
        serde_json::Value::from(page.next_page_token),
    )))
}

/// `GET /api/compare-quotes?symbol=` (legacy): `{symbol, quote, trade}`, each Alpaca's latest
/// object or `null`. Rate-limited per client.
async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    _: CurrentSession,
    Query(params): Params,
) -> Result<Response, ApiError> {
    if let Err(wait) = state.compare_limiter.check(caller.ip) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many requests; slow down",
        )
        .with_retry_after(wait));
    }
    let raw = params.get("symbol").map(String::as_str);
    let symbol = match Symbols::parse(raw) {
        Ok(s) if s.as_slice().len() == 1 => s,
        _ => {
            return Err(DataError::Invalid(crate::input::InvalidInput::single(
                "symbol",
                "must be one symbol",
            ))
            .into())
        }
    };
    let c = market_data::compare_quotes(&state.actors.market_data, &symbol).await?;
    let raw_or_null = |o: &Option<Arc<str>>| o.as_deref().unwrap_or("null").to_owned();
    Ok(json(format!(
        r#"{{"symbol":{},"quote":{},"trade":{}}}"#,
        serde_json::Value::from(c.symbol),
        raw_or_null(&c.quote),
        raw_or_null(&c.trade),
    )))
}

/// Appends `{"AAPL":<object>,…}` from objects kept as received.
fn push_object<'a>(out: &mut String, entries: impl Iterator<Item = (&'a str, &'a Arc<str>)>) {
    out.push('{');
    for (i, (symbol, object)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A parsed symbol needs no escaping, but the key is written as JSON all the same.
        out.push_str(&serde_json::to_string(symbol).expect("a string serializes"));
        out.push(':');
        out.push_str(object);
    }
    out.push('}');
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl From<DataError> for ApiError {
    fn from(error: DataError) -> Self {
        match error {
            DataError::Invalid(invalid) => ApiError::invalid_input(ErrorCode::InvalidQuery, invalid),
            DataError::RangeTooLarge { cap } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::RangeTooLarge,
                format!("the range spans more than {cap} bars; ask for a shorter range or a longer timeframe"),
            ),
            DataError::Provider(e) => provider_error(e),
            DataError::Unavailable(e) => e.into(),
            DataError::Storage(e) => e.into(),
        }
    }
}

/// SPEC §3's mapping: refusals 422 with Alpaca's message, 429 → 503 with `Retry-After`,
/// timeout 504, unreachable 502; no credentials 503 `market_data_unavailable`.
fn provider_error(error: MarketDataError) -> ApiError {
    use StatusCode as S;
    match error {
        MarketDataError::Unavailable => ApiError::new(
            S::SERVICE_UNAVAILABLE,
            ErrorCode::MarketDataUnavailable,
            "market data is not configured",
        )
        .with_retry_after(Duration::from_secs(60)),
        MarketDataError::Rejected(message) => ApiError::new(
            S::UNPROCESSABLE_ENTITY,
            ErrorCode::MarketDataRejected,
            message,
        ),
        MarketDataError::RateLimited { retry_after } => ApiError::new(
            S::SERVICE_UNAVAILABLE,
            ErrorCode::MarketDataRateLimited,
            "too many requests to the data provider; retry shortly",
        )
        .with_retry_after(retry_after),
        MarketDataError::Timeout => ApiError::new(
            S::GATEWAY_TIMEOUT,
            ErrorCode::MarketDataTimeout,
            "the data provider did not answer in time",
        ),
        MarketDataError::Unreachable => ApiError::new(
            S::BAD_GATEWAY,
            ErrorCode::MarketDataUnreachable,
            "the data provider cannot be reached",
        ),
        MarketDataError::BadGateway => ApiError::new(
            S::BAD_GATEWAY,
            ErrorCode::MarketDataError,
            "the data provider answered unexpectedly",
        ),
    }
}
