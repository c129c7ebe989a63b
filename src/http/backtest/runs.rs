//! `POST /api/backtest` queues a run and answers `201` with it when it ends within the wait,
//! else `202` `{id, status, progress}` (an equal earlier run: `200` or `202` with it);
//! `GET /api/backtest/{id}` one of the caller's runs; `GET /api/backtest` a page of summaries;
//! `DELETE /api/backtest/{id}` cancels a run or a sweep; `GET /api/backtest/{id}/equity.svg`
//! draws a succeeded run.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::Value;

use super::schemas::{BacktestBody, BacktestList, BacktestPending, BacktestRun, ListQuery};
use super::{job_id, submitted, Finished};
use crate::audit::AuditEvent;
use crate::audit::Origin;
use crate::backtest::repo::Kind;
use crate::backtest::{chart, jobs, runs};
use crate::http::error_schema::ErrorBody;
use crate::http::extract::CurrentSession;
use crate::http::query::ApiQuery;
use crate::http::{ApiError, ApiJson, AppState};

#[utoipa::path(
    post,
    path = "/api/backtest",
    tag = "backtest",
    operation_id = "submit_backtest",
    security(("session" = [])),
    request_body = BacktestBody,
    responses(
        (status = 200, description = "An equal run of yours that succeeded in the last 10 minutes", body = BacktestRun),
        (status = 201, description = "Finished within the wait", body = BacktestRun),
        (status = 202, description = "Queued or running (or an equal run of yours still is); poll `GET /api/backtest/{id}`", body = BacktestPending),
        (status = 422, description = "`invalid_request`: `error.fields` names each field's problem", body = ErrorBody),
        (status = 429, description = "`rate_limited`: at most 20 jobs queued and 50 a day per user (or the per-client limit); retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub(super) async fn submit(
    State(state): State<AppState>,
    Extension(finished): Extension<Finished>,
    caller: Origin,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let audit = caller.entry(AuditEvent::BacktestRun);
    let deps = finished.deps(&state)?;
    let done = runs::submit_run(deps, session.user_id, audit, &body).await?;
    Ok(submitted(done))
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
pub(super) async fn one(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    Ok(Json(
        jobs::get(&state.pool, session.user_id, Kind::Run, id).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/backtest/{id}",
    tag = "backtest",
    operation_id = "cancel_backtest",
    security(("session" = [])),
    params(("id" = String, Path, description = "The `id` of a run or a sweep")),
    responses(
        (status = 200, description = "Canceled: a queued job at once, a running one within a second", body = BacktestRun),
        (status = 404, description = "`not_found`: no such run or sweep of yours", body = ErrorBody),
        (status = 409, description = "`already_finished`: it has already ended", body = ErrorBody),
    ),
)]
pub(super) async fn cancel(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    let now = state.now();
    Ok(Json(
        jobs::cancel(&state.pool, session.user_id, id, now).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/backtest",
    tag = "backtest",
    operation_id = "list_backtests",
    security(("session" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The caller's runs, newest first, as summaries (no trades, no curve)", body = BacktestList),
        (status = 422, description = "`invalid_request`: a bad `limit` or `cursor`", body = ErrorBody),
    ),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let cursor = query.cursor.as_deref();
    let page = jobs::list(&state.pool, session.user_id, Kind::Run, cursor, query.limit).await?;
    Ok(Json(page))
}

#[utoipa::path(
    get,
    path = "/api/backtest/{id}/equity.svg",
    tag = "backtest",
    operation_id = "backtest_equity_svg",
    security(("session" = [])),
    params(("id" = String, Path, description = "The run's `id`")),
    responses(
        (status = 200, description = "The equity curve, buy-and-hold beside it, drawdowns shaded", content_type = "image/svg+xml", body = String),
        (status = 404, description = "`not_found`: no such run of yours", body = ErrorBody),
        (status = 409, description = "`not_finished`: the run has not succeeded", body = ErrorBody),
    ),
)]
pub(super) async fn equity_svg(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let svg = chart::equity_svg(&state.pool, session.user_id, id).await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}
