//! Backtest routes (SPEC §6), behind a session: `POST /api/backtest` queues a run and answers
//! `201` with it when it finishes within the wait, else `202` `{id, status, progress}`;
//! `GET /api/backtest/{id}` returns one of the caller's runs; `GET /api/backtest` lists them,
//! newest first, without equity curves. No backtest computes here: workers do.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use raptor_actors::backtests::FinishedRuns;
use serde_json::Value;
use uuid::Uuid;

use super::error::ErrorCode;
use super::extract::{Caller, CurrentSession};
use super::{ApiError, ApiJson, AppState};
use crate::audit::AuditEvent;
use crate::backtest::runs::{self, Limits, SubmitDeps, Submitted};
use crate::backtest::BacktestError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/backtest", get(list).post(submit))
        .route("/api/backtest/{id}", get(one))
        .layer(Extension(Finished::default()))
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

async fn one(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(Json(runs::get_run(&state.pool, session.user_id, id).await?))
}

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
