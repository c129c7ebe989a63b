//! `POST /api/backtest/sweeps` queues a parameter sweep (answered like a run: `201`, `202`, or
//! an equal earlier sweep); `GET /api/backtest/sweeps/{id}` one of the caller's sweeps with its
//! ranked combinations; `GET /api/backtest/sweeps` a page of summaries. A sweep is canceled
//! with `DELETE /api/backtest/{id}`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};
use serde_json::Value;

use super::schemas::{BacktestPending, ListQuery, Sweep, SweepBody, SweepList};
use super::{job_id, submitted, Finished};
use crate::audit::AuditEvent;
use crate::audit::Origin;
use crate::backtest::repo::Kind;
use crate::backtest::{jobs, runs};
use crate::http::error_schema::ErrorBody;
use crate::http::extract::CurrentSession;
use crate::http::query::ApiQuery;
use crate::http::{ApiError, ApiJson, AppState};

#[utoipa::path(
    post,
    path = "/api/backtest/sweeps",
    tag = "backtest",
    operation_id = "submit_sweep",
    security(("session" = [])),
    request_body = SweepBody,
    responses(
        (status = 200, description = "An equal sweep of yours that succeeded in the last 10 minutes", body = Sweep),
        (status = 201, description = "Finished within the wait", body = Sweep),
        (status = 202, description = "Queued or running; poll `GET /api/backtest/sweeps/{id}`", body = BacktestPending),
        (status = 422, description = "`invalid_request`: `error.fields` names each field's problem (`base.…`, `grid.…`, `rank_by`)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: at most 20 jobs queued and 50 a day per user; retry after `Retry-After`", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
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
    let done = runs::submit_sweep(deps, session.user_id, audit, &body).await?;
    Ok(submitted(done))
}

#[utoipa::path(
    get,
    path = "/api/backtest/sweeps/{id}",
    tag = "backtest",
    operation_id = "get_sweep",
    security(("session" = [])),
    params(("id" = String, Path, description = "The sweep's `id`")),
    responses(
        (status = 200, description = "The sweep, its combinations ranked best first", body = Sweep),
        (status = 404, description = "`not_found`: no such sweep of yours", body = ErrorBody),
    ),
)]
pub(super) async fn one(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    Ok(Json(
        jobs::get(&state.pool, session.user_id, Kind::Sweep, id).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/backtest/sweeps",
    tag = "backtest",
    operation_id = "list_sweeps",
    security(("session" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The caller's sweeps, newest first, as summaries (no combinations)", body = SweepList),
        (status = 422, description = "`invalid_request`: a bad `limit` or `cursor`", body = ErrorBody),
    ),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let cursor = query.cursor.as_deref();
    let page = jobs::list(
        &state.pool,
        session.user_id,
        Kind::Sweep,
        cursor,
        query.limit,
    )
    .await?;
    Ok(Json(page))
}
