//! `GET /api/assets` and `GET /api/assets/{symbol}`: Alpaca's assets from Raptor's copy in
//! Postgres (`crate::trading::assets`), with Alpaca's field names. The list never calls Alpaca;
//! one symbol not in the copy is asked of Alpaca once a day, charged to the caller's share of
//! the trading lane.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use raptor_actors::broker::BrokerAsset;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{trading, BrokerErrors};
use crate::http::error::ErrorCode;
use crate::http::extract::CurrentSession;
use crate::http::openapi::ErrorBody;
use crate::http::query::ApiQuery;
use crate::http::{ApiError, AppState};
use crate::trading::assets::{self, AssetError, Filter, RawFilter};
use crate::trading::order::Symbol;

/// One of Alpaca's assets (Alpaca's `Asset` object).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "class": "us_equity", "exchange": "NASDAQ",
    "symbol": "AAPL", "name": "Apple Inc. Common Stock", "status": "active", "tradable": true,
    "marginable": true, "shortable": true, "easy_to_borrow": true, "fractionable": true,
    "attributes": ["fractional_eh_enabled"]
}))]
pub struct AssetBody {
    /// Alpaca's asset id.
    id: String,
    /// `us_equity`, `us_option` or `crypto`.
    class: String,
    /// The listing exchange (`NASDAQ`, `NYSE`, `ARCA`, `CRYPTO`, …).
    exchange: String,
    /// As Alpaca spells it (`BTC/USD` for the pair `BTCUSD`).
    symbol: String,
    name: String,
    /// `active` or `inactive`.
    status: String,
    /// Whether Alpaca takes orders for it (Raptor also needs `status: active`).
    tradable: bool,
    marginable: bool,
    shortable: bool,
    easy_to_borrow: bool,
    /// Whether a fractional `qty` or a `notional` order is accepted.
    fractionable: bool,
    /// Alpaca's extra flags (`ptp_no_exception`, `fractional_eh_enabled`, …).
    attributes: Vec<String>,
}

impl From<BrokerAsset> for AssetBody {
    fn from(a: BrokerAsset) -> Self {
        Self {
            id: a.id,
            class: a.class,
            exchange: a.exchange,
            symbol: a.symbol,
            name: a.name,
            status: a.status,
            tradable: a.tradable,
            marginable: a.marginable,
            shortable: a.shortable,
            easy_to_borrow: a.easy_to_borrow,
            fractionable: a.fractionable,
            attributes: a.attributes,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetParams {
    /// The beginning of a symbol or a part of the name, any case (at most 64 characters).
    #[param(example = "app")]
    search: Option<String>,
    /// `us_equity`, `us_option` or `crypto`.
    #[param(pattern = "^(us_equity|us_option|crypto)$", example = "us_equity")]
    asset_class: Option<String>,
    /// `active` or `inactive`.
    #[param(pattern = "^(active|inactive)$", example = "active")]
    status: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(pattern = "^[0-9]+$", example = "100")]
    limit: Option<String>,
}

impl From<AssetError> for ApiError {
    fn from(error: AssetError) -> Self {
        match error {
            AssetError::NotFound => no_such_asset(),
            AssetError::TooMany { retry_after } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many broker calls; retry shortly",
            )
            .with_retry_after(retry_after),
            AssetError::Broker(error) => error.into(),
            AssetError::Storage(error) => error.into(),
        }
    }
}

fn no_such_asset() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such asset")
}

/// `GET /api/assets`: assets from the daily copy (an exact symbol first, then by symbol).
#[utoipa::path(
    get,
    path = "/api/assets",
    tag = "trading",
    operation_id = "list_assets",
    security(("session" = [])),
    params(AssetParams),
    responses(
        (status = 200, description = "The assets the filter picks", body = [AssetBody]),
        (status = 422, description = "`invalid_query`: a parameter is not valid (`error.fields` names each)", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _: CurrentSession,
    ApiQuery(params): ApiQuery<AssetParams>,
) -> Result<Json<Vec<AssetBody>>, ApiError> {
    let filter = Filter::parse(RawFilter {
        search: params.search.as_deref(),
        asset_class: params.asset_class.as_deref(),
        status: params.status.as_deref(),
        limit: params.limit.as_deref(),
    })
    .map_err(|e| ApiError::invalid_input(ErrorCode::InvalidQuery, e))?;
    let found = assets::search(&trading(&state), &filter).await?;
    Ok(Json(found.into_iter().map(AssetBody::from).collect()))
}

/// `GET /api/assets/{symbol}`: one asset, from the copy or (once a day) from Alpaca.
#[utoipa::path(
    get,
    path = "/api/assets/{symbol}",
    tag = "trading",
    operation_id = "get_asset",
    security(("session" = [])),
    params(("symbol" = String, Path, description = "A symbol (`AAPL`, `BRK.B`, `BTCUSD`, `BTC/USD` URL-encoded)")),
    responses(
        (status = 200, description = "The asset", body = AssetBody),
        (status = 404, description = "`not_found`: the broker knows no such asset", body = ErrorBody),
        (status = 429, description = "`rate_limited`: your share of broker calls is spent; retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        BrokerErrors,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    CurrentSession(user): CurrentSession,
    Path(symbol): Path<String>,
) -> Result<Json<AssetBody>, ApiError> {
    let symbol = Symbol::parse(&symbol).map_err(|_| no_such_asset())?;
    let asset = assets::get_asset(&trading(&state), &symbol, Some(user.user_id)).await?;
    Ok(Json(asset.into()))
}
