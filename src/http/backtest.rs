//! Backtest routes (SPEC §6), behind a session: `POST /api/backtest` queues a run and answers
//! `201` with it when it finishes within the wait, else `202` `{id, status, progress}`;
//! `GET /api/backtest/{id}` returns one of the caller's runs; `GET /api/backtest` lists them,
//! newest first, without equity curves. No backtest computes here: workers do.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use raptor_actors::backtests::FinishedRuns;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::ErrorCode;
use super::extract::{Caller, CurrentSession};
use super::openapi::ErrorBody;
use super::{ApiError, ApiJson, AppState};
use crate::audit::AuditEvent;
use crate::backtest::runs::{self, Limits, SubmitDeps, Submitted};
use crate::backtest::BacktestError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, submit))
        .routes(routes!(one))
        .layer(Extension(Finished::default()))
}

/// The body of `POST /api/backtest` (docs/backtests.md). Decimals are strings (numbers
/// accepted); anything wrong is one 422 naming every field.
#[derive(ToSchema)]
#[schema(example = json!({
    "symbol": "AAPL", "timeframe": "1Day",
    "start": "2015-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z",
    "strategy": {"name": "sma_crossover", "params": {"fast": 10, "slow": 30}},
    "initial_cash": "100000", "commission": "0.001", "slippage_bps": "0", "position_size_pct": "95"
}))]
#[allow(dead_code)] // Documents what `BacktestRequest::parse` reads from the JSON body.
pub struct BacktestBody {
    symbol: String,
    /// Alpaca's: `1Min` … `1Month`.
    timeframe: String,
    /// RFC 3339 or `YYYY-MM-DD`; before `end`.
    start: String,
    end: String,
    strategy: StrategyBody,
    /// Default `100000`; more than 0.
    #[schema(value_type = Option<String>)]
    initial_cash: Option<String>,
    /// A fraction of each fill, 0 to 0.1; default 0.
    #[schema(value_type = Option<String>)]
    commission: Option<String>,
    /// 0 to 1000; default 0.
    #[schema(value_type = Option<String>)]
    slippage_bps: Option<String>,
    /// More than 0, at most 100; default 95.
    #[schema(value_type = Option<String>)]
    position_size_pct: Option<String>,
}

/// `sma_crossover {fast, slow}`, `rsi_reversion {period, lower, upper}` or `buy_and_hold {}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StrategyBody {
    /// `sma_crossover`, `rsi_reversion` or `buy_and_hold`.
    name: String,
    /// The strategy's parameters (docs/backtests.md); `{}` or absent for `buy_and_hold`.
    #[schema(value_type = Option<Object>, nullable = false)]
    params: Option<Value>,
}

/// A run (built by `crate::backtest::runs`): once succeeded it also has `bars`, `metrics`,
/// `trades`, `open_position` and `equity_curve` (docs/backtests.md); once failed, `reason`.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the JSON `runs::get_run` builds.
pub struct BacktestRun {
    id: Uuid,
    /// `queued`, `running`, `succeeded` or `failed`.
    #[schema(pattern = "^(queued|running|succeeded|failed)$")]
    status: String,
    /// 0 to 1.
    progress: f64,
    /// The request as parsed, defaults filled in.
    #[schema(value_type = Object)]
    request: Value,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(nullable = false)]
    reason: Option<String>,
    #[schema(value_type = Option<Object>, nullable = false)]
    metrics: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    trades: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    equity_curve: Option<Value>,
}

/// A run still queued or running when the submission stopped waiting.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BacktestPending {
    id: Uuid,
    #[schema(pattern = "^(queued|running)$")]
    status: String,
    progress: f64,
}

/// `{"runs": [...]}`: the newest 100 runs, newest first, without `equity_curve`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BacktestList {
    runs: Vec<BacktestRun>,
}

/// This process's feed of finished runs, listening from the first submission on.
#[derive(Clone, Default)]
struct Finished(Arc<OnceLock<Option<FinishedRuns>>>);

impl Finished {
    fn get(&self, state: &AppState) -> Result<&FinishedRuns, ApiError> {
        self.0
            .get_or_init(|| {
                let url = state.settings.database_url()?;
                let config = crate::db::connection_config(url, state.settings.database.ssl).ok()?;
                Some(FinishedRuns::listen(config))
            })
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("the database is unavailable"))
    }
}

#[utoipa::path(
    post,
    path = "/api/backtest",
    tag = "backtest",
    operation_id = "submit_backtest",
    security(("session" = [])),
    request_body = BacktestBody,
    responses(
        (status = 201, description = "Finished within the wait", body = BacktestRun),
        (status = 202, description = "Queued or running; poll `GET /api/backtest/{id}`", body = BacktestPending),
        (status = 422, description = "`invalid_request`: `error.fields` names each field's problem", body = ErrorBody),
        (status = 429, description = "`rate_limited`: at most 2 runs at once and 50 a day per user (or the per-client limit); retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
async fn submit(
    State(state): State<AppState>,
    Extension(finished): Extension<Finished>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let deps = SubmitDeps {
        pool: &state.pool,
        audit: &state.actors.audit,
        finished: finished.get(&state)?,
        limits: Limits::default(),
        now: state.now(),
    };
    let audit = caller.audit(AuditEvent::BacktestRun);
    Ok(
        match runs::submit_run(deps, session.user_id, audit, &body).await? {
            Submitted::Finished(run) => (StatusCode::CREATED, Json(run)).into_response(),
            Submitted::Pending(run) => (StatusCode::ACCEPTED, Json(run)).into_response(),
        },
    )
}

#[utoipa::path(
    get,
    path = "/api/backtest/{id}",
    tag = "backtest",
    operation_id = "get_backtest",
    security(("session" = [])),
    params(("id" = String, Path, description = "The run's `id`")),
    responses(
        (status = 200, description = "The run", body = BacktestRun),
        (status = 404, description = "`not_found`: no such run of yours", body = ErrorBody),
    ),
)]
async fn one(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(Json(runs::get_run(&state.pool, session.user_id, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/backtest",
    tag = "backtest",
    operation_id = "list_backtests",
    security(("session" = [])),
    responses((status = 200, description = "The caller's runs", body = BacktestList)),
)]
async fn list(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(runs::list_runs(&state.pool, session.user_id).await?))
}

impl From<BacktestError> for ApiError {
    fn from(error: BacktestError) -> Self {
        match error {
            BacktestError::Invalid(invalid) => {
                ApiError::invalid_input(ErrorCode::InvalidRequest, invalid)
            }
            BacktestError::TooMany { why, retry_after } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, why)
                    .with_retry_after(retry_after)
            }
            BacktestError::NotFound => ApiError::not_found(),
            BacktestError::Audit(e) => e.into(),
            BacktestError::Storage(e) => e.into(),
        }
    }
}
