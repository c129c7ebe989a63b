//! Backtest routes (SPEC §6, docs/backtests.md), behind a session. No backtest computes here:
//! workers do. Handlers parse, call one use case of `crate::backtest` and map its error in one
//! `From` impl below.
//!
//! - [`runs`]: `POST /api/backtest`, `GET /api/backtest[/{id}]`, `DELETE /api/backtest/{id}`
//!   (a run or a sweep), `GET /api/backtest/{id}/equity.svg`;
//! - [`sweeps`]: `POST /api/backtest/sweeps`, `GET /api/backtest/sweeps[/{id}]`;
//! - [`schemas`]: the bodies as the OpenAPI document shows them.

mod runs;
mod schemas;
mod sweeps;

use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use raptor_actors::backtests::FinishedRuns;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::ErrorCode;
use super::{ApiError, AppState};
use crate::backtest::runs::{Limits, SubmitDeps, Submitted};
use crate::backtest::BacktestError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(runs::list, runs::submit))
        .routes(routes!(runs::one, runs::cancel))
        .routes(routes!(runs::equity_svg))
        .routes(routes!(sweeps::list, sweeps::submit))
        .routes(routes!(sweeps::one))
        .layer(Extension(Finished::default()))
}

/// This process's feed of finished runs, listening from the first submission on.
#[derive(Clone, Default)]
struct Finished(Arc<OnceLock<Option<FinishedRuns>>>);

impl Finished {
    fn get(&self, state: &AppState) -> Result<&FinishedRuns, ApiError> {
        self.0
            .get_or_init(|| {
                let config = state.config.listen.clone()?;
                Some(FinishedRuns::listen(config))
            })
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("the database is unavailable"))
    }

    fn deps<'a>(&'a self, state: &'a AppState) -> Result<SubmitDeps<'a>, ApiError> {
        Ok(SubmitDeps {
            pool: &state.pool,
            audit: &state.actors.audit,
            finished: self.get(state)?,
            limits: Limits::default(),
            now: state.now(),
        })
    }
}

/// `201` a new job ended within the wait, `200` an equal earlier job that has ended, `202` one
/// still queued or running (new or not).
fn submitted(done: Submitted) -> Response {
    let status = match (done.finished, done.reused) {
        (true, false) => StatusCode::CREATED,
        (true, true) => StatusCode::OK,
        (false, _) => StatusCode::ACCEPTED,
    };
    (status, Json(done.job)).into_response()
}

/// A job id from the path; anything else names no job of the caller's.
fn job_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
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
            e @ BacktestError::AlreadyFinished(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyFinished,
                e.to_string(),
            ),
            e @ BacktestError::NotFinished(_) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::NotFinished, e.to_string())
            }
            BacktestError::Audit(e) => e.into(),
            BacktestError::Storage(e) => e.into(),
        }
    }
}
