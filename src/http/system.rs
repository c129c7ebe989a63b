//! System routes: liveness, a minimal status, and the empty root.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::extract::OperatorSession;
use super::AppState;

/// Liveness: answers without touching the database or any actor.
pub async fn health() -> impl IntoResponse {
    (JSON, OK)
}

/// The content type of the constant bodies below (written once, never serialized per request).
const JSON: [(header::HeaderName, &str); 1] = [(header::CONTENT_TYPE, "application/json")];
const OK: &str = r#"{"status":"ok"}"#;
const DEGRADED: &str = r#"{"status":"degraded"}"#;

/// `ok` when the database answered the last background probe (a second ago at most) and every
/// actor is up, else 503 `degraded`. Answered from memory. Says nothing else: no version, no
/// environment, no names.
pub async fn status(State(state): State<AppState>) -> impl IntoResponse {
    let actors_up = state.actors.all_up();
    let database_up = state.readiness.database_up();
    if actors_up && database_up {
        (StatusCode::OK, JSON, OK)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, JSON, DEGRADED)
    }
}

/// `GET /`: an empty 200, so a probe learns nothing about what runs here.
pub async fn root() -> StatusCode {
    StatusCode::OK
}

/// `GET /api/system/diagnostic` (operators only): what an operator needs at 3 a.m. Names of
/// missing configuration, never values.
pub async fn diagnostic(State(state): State<AppState>, _: OperatorSession) -> impl IntoResponse {
    let pool = state.pool.status();
    let actors: serde_json::Map<String, serde_json::Value> = state
        .actors
        .states()
        .into_iter()
        .map(|(name, up)| (name.to_owned(), json!(if up { "running" } else { "down" })))
        .collect();
    let kill_switch = super::trading::diagnostic(&state).await;
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "environment": state.settings.app_env.as_str(),
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "actors": actors,
        "database": {
            "reachable": crate::db::ping(&state.pool, Duration::from_secs(2)).await,
            "pool_size": pool.size,
            "pool_available": pool.available,
            "pool_max": pool.max_size,
            "waiting": pool.waiting,
        },
        "missing_config": state.settings.missing_optional(),
        "kill_switch": kill_switch,
    }))
}
