//! System routes: liveness, a minimal status, the empty root, and operator diagnostics.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error_schema::ErrorBody;
use super::extract::OperatorSession;
use super::json::json_response;
use super::schemas::diagnostic::Diagnostic;
use super::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(root))
        .routes(routes!(health))
        .routes(routes!(system_health))
        .routes(routes!(status))
        .routes(routes!(diagnostic))
}

/// `{"status": "ok"}` (liveness, readiness) or `{"status": "degraded"}` (readiness).
#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    #[schema(pattern = "^(ok|degraded)$", example = "ok")]
    status: &'static str,
}

/// Liveness: answers without touching the database or any actor.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    operation_id = "health",
    responses((status = 200, description = "The process is alive", body = StatusBody)),
)]
pub async fn health() -> Response {
    liveness()
}

/// The same liveness answer under `/api`.
#[utoipa::path(
    get,
    path = "/api/system/health",
    tag = "system",
    operation_id = "system_health",
    responses((status = 200, description = "The process is alive", body = StatusBody)),
)]
pub async fn system_health() -> Response {
    liveness()
}

/// The constant bodies of the probes (a [`StatusBody`], written once, never serialized per
/// request).
const OK: &str = r#"{"status":"ok"}"#;
const DEGRADED: &str = r#"{"status":"degraded"}"#;

/// `ok` when the database answered the last background probe (a second ago at most) and every
/// actor is up, else 503 `degraded`. Answered from memory. Says nothing else: no version, no
/// environment, no names.
#[utoipa::path(
    get,
    path = "/api/system/status",
    tag = "system",
    operation_id = "system_status",
    responses(
        (status = 200, description = "Ready: `{\"status\": \"ok\"}`", body = StatusBody),
        (status = 503, description = "Not ready: `{\"status\": \"degraded\"}`", body = StatusBody),
    ),
)]
pub async fn status(State(state): State<AppState>) -> Response {
    readiness(&state)
}

/// The liveness answer (`GET /health`, `GET /api/system/health`).
pub fn liveness() -> Response {
    json_response(StatusCode::OK, OK)
}

/// The readiness answer (`GET /api/system/status`).
pub fn readiness(state: &AppState) -> Response {
    if state.actors.all_up() && state.readiness.database_up() {
        json_response(StatusCode::OK, OK)
    } else {
        json_response(StatusCode::SERVICE_UNAVAILABLE, DEGRADED)
    }
}

/// `GET /`: an empty 200, so a probe learns nothing about what runs here.
#[utoipa::path(
    get,
    path = "/",
    tag = "system",
    operation_id = "root",
    responses((status = 200, description = "Empty")),
)]
pub async fn root() -> StatusCode {
    StatusCode::OK
}

/// `GET /api/system/diagnostic` (operators only): what an operator needs at 3 a.m. Names of
/// missing configuration, never values.
#[utoipa::path(
    get,
    path = "/api/system/diagnostic",
    tag = "system",
    operation_id = "system_diagnostic",
    security(("session" = [])),
    responses(
        (status = 200, description = "`version`, `environment`, `uptime_seconds`, `actors` (name → `running`/`down`), `database` (reachability and pool), `missing_config` (names only), `kill_switch` (`null` while the broker is down), `paper_account` (the shared Alpaca account and its positions as Alpaca sends them; `null` when Alpaca cannot be asked)", body = Diagnostic),
        (status = 403, description = "`operator_only`: the caller is not an operator (or a shared 403, see the other operations)", body = ErrorBody),
    ),
)]
pub async fn diagnostic(State(state): State<AppState>, _: OperatorSession) -> impl IntoResponse {
    let pool = state.pool.status();
    let actors: serde_json::Map<String, serde_json::Value> = state
        .actors
        .states()
        .into_iter()
        .map(|(name, up)| (name.to_owned(), json!(if up { "running" } else { "down" })))
        .collect();
    let (kill_switch, paper_account) = tokio::join!(
        super::trading::diagnostic(&state),
        super::trading::shared_account(&state)
    );
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "environment": state.config.app_env.as_str(),
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "actors": actors,
        "database": {
            "reachable": crate::db::ping(&state.pool, Duration::from_secs(2)).await,
            "pool_size": pool.size,
            "pool_available": pool.available,
            "pool_max": pool.max_size,
            "waiting": pool.waiting,
        },
        "missing_config": state.config.missing_config,
        "kill_switch": kill_switch,
        "paper_account": paper_account,
    }))
}
