//! Market-data routes (SPEC §3), all behind a session: `GET /api/market-data/{quotes,trades,
//! bars}/latest?symbols=`, `GET /api/market-data/snapshots?symbols=`,
//! `GET /api/historical-data/bars` and the legacy `GET /api/compare-quotes?symbol=`.
//!
//! Latest objects are Alpaca's, unchanged, keyed by symbol in Alpaca's own envelope
//! (`{"quotes":{"AAPL":{…}}}`; snapshots: `{"AAPL":{…}}`); a symbol Alpaca does not know is
//! simply absent. Every parameter arrives as a string, so a wrong one is a 422 naming the
//! field, and costs no Alpaca call.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use raptor_actors::market_data::{LatestKind, MarketDataError};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorCode;
use super::error_schema::{error_response, ErrorBody};
use super::extract::CurrentSession;
use super::query::ApiQuery;
use super::schemas::alpaca::{AlpacaBar, AlpacaQuote, AlpacaSnapshot, AlpacaTrade};
use super::{ApiError, AppState};
use crate::market_data::bars::{historical_bars, BarsDeps};
use crate::market_data::request::RawBarsQuery;
use crate::market_data::{self, BarsQuery, DataError, Symbols};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(quotes))
        .routes(routes!(trades))
        .routes(routes!(latest_bars))
        .routes(routes!(snapshots))
        .routes(routes!(bars))
        .routes(routes!(compare))
}

/// `{"quotes": {"AAPL": <Alpaca's latest quote>, …}}`; a symbol the provider does not know is
/// absent. (The bodies are Alpaca's JSON, kept as received; these types document them.)
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LatestQuotes {
    #[schema(value_type = HashMap<String, AlpacaQuote>)]
    quotes: (),
}

/// `{"trades": {"AAPL": <Alpaca's latest trade>, …}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LatestTrades {
    #[schema(value_type = HashMap<String, AlpacaTrade>)]
    trades: (),
}

/// `{"bars": {"AAPL": <Alpaca's latest bar>, …}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LatestBars {
    #[schema(value_type = HashMap<String, AlpacaBar>)]
    bars: (),
}

/// One page of historical bars, oldest first.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HistoricalBars {
    symbol: String,
    timeframe: String,
    /// Alpaca's bar objects (`t, o, h, l, c, v, n, vw`), unchanged.
    #[schema(value_type = Vec<AlpacaBar>)]
    bars: (),
    /// Pass it as `page_token` for the next page; `null` on the last.
    next_page_token: Option<String>,
}

/// The latest quote and trade of one symbol, each Alpaca's object or `null`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ComparedQuotes {
    symbol: String,
    #[schema(value_type = Option<AlpacaQuote>)]
    quote: (),
    #[schema(value_type = Option<AlpacaTrade>)]
    trade: (),
}

/// The statuses a market-data route can answer with, for the OpenAPI document, as
/// [`provider_error`] and `From<DataError>` map them.
pub struct MarketDataErrors;

impl utoipa::IntoResponses for MarketDataErrors {
    fn responses() -> BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        [
            ("422", "`invalid_query` (`error.fields` names each parameter's problem), `range_too_large`, or `market_data_rejected` (the provider's message)", false),
            ("502", "`market_data_unreachable` or `market_data_error`: the provider cannot be reached or answered unexpectedly", false),
            ("503", "`market_data_unavailable` (not configured), `market_data_rate_limited`, or `service_unavailable`; retry after `Retry-After`", true),
            ("504", "`market_data_timeout`: the provider did not answer in time", false),
        ]
        .into_iter()
        .map(|(status, description, retry)| (status.to_owned(), error_response(description, retry)))
        .collect()
    }
}

type Params = ApiQuery<HashMap<String, String>>;

#[utoipa::path(
    get,
    path = "/api/market-data/quotes/latest",
    tag = "market-data",
    operation_id = "latest_quotes",
    security(("session" = [])),
    params(("symbols" = String, Query, description = "Comma-separated symbols, e.g. `AAPL,MSFT`", example = "AAPL,MSFT")),
    responses(
        (status = 200, description = "The latest quote of each symbol the provider knows", body = LatestQuotes),
        MarketDataErrors,
    ),
)]
async fn quotes(
    State(s): State<AppState>,
    _: CurrentSession,
    ApiQuery(p): Params,
) -> Result<Response, ApiError> {
    latest(&s, LatestKind::Quotes, &p).await
}

#[utoipa::path(
    get,
    path = "/api/market-data/trades/latest",
    tag = "market-data",
    operation_id = "latest_trades",
    security(("session" = [])),
    params(("symbols" = String, Query, description = "Comma-separated symbols, e.g. `AAPL,MSFT`", example = "AAPL,MSFT")),
    responses(
        (status = 200, description = "The latest trade of each symbol the provider knows", body = LatestTrades),
        MarketDataErrors,
    ),
)]
async fn trades(
    State(s): State<AppState>,
    _: CurrentSession,
    ApiQuery(p): Params,
) -> Result<Response, ApiError> {
    latest(&s, LatestKind::Trades, &p).await
}

#[utoipa::path(
    get,
    path = "/api/market-data/bars/latest",
    tag = "market-data",
    operation_id = "latest_bars",
    security(("session" = [])),
    params(("symbols" = String, Query, description = "Comma-separated symbols, e.g. `AAPL,MSFT`", example = "AAPL,MSFT")),
    responses(
        (status = 200, description = "The latest bar of each symbol the provider knows", body = LatestBars),
        MarketDataErrors,
    ),
)]
async fn latest_bars(
    State(s): State<AppState>,
    _: CurrentSession,
    ApiQuery(p): Params,
) -> Result<Response, ApiError> {
    latest(&s, LatestKind::Bars, &p).await
}

#[utoipa::path(
    get,
    path = "/api/market-data/snapshots",
    tag = "market-data",
    operation_id = "snapshots",
    security(("session" = [])),
    params(("symbols" = String, Query, description = "Comma-separated symbols, e.g. `AAPL,MSFT`", example = "AAPL,MSFT")),
    responses(
        (status = 200, description = "`{\"AAPL\": <Alpaca snapshot>, …}`; a symbol the provider does not know is absent", body = HashMap<String, AlpacaSnapshot>),
        MarketDataErrors,
    ),
)]
async fn snapshots(
    State(s): State<AppState>,
    _: CurrentSession,
    ApiQuery(p): Params,
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
#[utoipa::path(
    get,
    path = "/api/historical-data/bars",
    tag = "market-data",
    operation_id = "historical_bars",
    security(("session" = [])),
    params(
        ("symbol" = String, Query, description = "One symbol", example = "AAPL"),
        ("timeframe" = String, Query, description = "Alpaca's: `1Min`…`59Min`, `1Hour`…`23Hour`, `1Day`, `1Week`, `1Month`…`12Month`", example = "1Day"),
        ("start" = String, Query, description = "RFC 3339 or `YYYY-MM-DD`", example = "2024-01-02"),
        ("end" = Option<String>, Query, description = "RFC 3339 or `YYYY-MM-DD`; default now", example = "2024-02-01"),
        ("adjustment" = Option<String>, Query, description = "`raw` (default), `split`, `dividend`, `all`"),
        ("limit" = Option<String>, Query, description = "Bars per page, 1 to 10000"),
        ("page_token" = Option<String>, Query, description = "`next_page_token` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page of bars", body = HistoricalBars, example = json!({
            "symbol": "AAPL", "timeframe": "1Day", "next_page_token": null,
            "bars": [{"t": "2024-01-02T05:00:00Z", "o": 187.15, "h": 188.44, "l": 183.89, "c": 185.64, "v": 82488700, "n": 1009074, "vw": 185.9}]
        })),
        MarketDataErrors,
    ),
)]
async fn bars(
    State(state): State<AppState>,
    _: CurrentSession,
    ApiQuery(raw): ApiQuery<RawBarsQuery>,
) -> Result<Response, ApiError> {
    let query = BarsQuery::parse(raw, state.now()).map_err(DataError::from)?;
    let deps = BarsDeps {
        pool: &state.pool,
        market_data: &state.actors.market_data,
        feed: &state.market_data_feed,
        max_bars: state.config.max_bars,
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
#[utoipa::path(
    get,
    path = "/api/compare-quotes",
    tag = "market-data",
    operation_id = "compare_quotes",
    security(("session" = [])),
    params(("symbol" = String, Query, description = "One symbol", example = "AAPL")),
    responses(
        (status = 200, description = "The latest quote and trade side by side", body = ComparedQuotes),
        (status = 429, description = "`rate_limited`: too many requests from this client; retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        MarketDataErrors,
    ),
)]
async fn compare(
    State(state): State<AppState>,
    _: CurrentSession,
    ApiQuery(params): Params,
) -> Result<Response, ApiError> {
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
    super::json::json_response(StatusCode::OK, body)
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
