//! For unit tests of the middleware: an [`AppState`] built from test settings without starting
//! anything (the pool connects lazily and is never used, no actor runs), and a one-shot driver
//! for a router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use tower::ServiceExt;

use super::AppState;
use crate::Settings;

/// The allowed origin in [`state`]'s settings.
pub const ORIGIN: &str = "http://localhost:3000";

/// Test settings (`APP_ENV=test`), then `overrides`.
pub fn state(overrides: &[(&str, &str)]) -> AppState {
    let base = [
        ("APP_ENV", "test"),
        ("DATABASE_URL", "postgres://nobody@127.0.0.1:9/unused"),
        ("DATABASE_SSL", "disable"),
        ("SECRET_KEY", "unit-test-only-key-0123456789-abcdefghijklm"),
        ("FRONTEND_ORIGIN", ORIGIN),
    ];
    let env: std::collections::HashMap<String, String> = base
        .iter()
        .chain(overrides)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::load(|k| env.get(k).cloned()).expect("valid test settings");
    let pool = crate::db::build_pool(
        settings.database_url().expect("a database url"),
        settings.database.ssl,
        1,
    )
    .expect("a lazy pool");
    let shared = crate::startup::web::Shared {
        settings: &settings,
        pool: &pool,
        actors: &raptor_actors::Actors::default(),
        clock: &(Arc::new(raptor_actors::clock::SystemClock) as _),
    };
    crate::startup::web::app_state(&shared, Default::default(), Default::default())
        .expect("valid test settings")
}

/// Sends `request` through `router` and returns the response.
pub async fn send(router: &Router, request: Request<Body>) -> Response<Body> {
    router.clone().oneshot(request).await.expect("infallible")
}

/// The `error.code` of a JSON error response, or `""` for any other body.
pub async fn error_code(response: Response<Body>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("body");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    (
        status,
        json["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}
