//! Fault injection for the integration tests: `POST /api/test/faults/{kind}` fails the way a
//! careless handler would, so a test can see what a panic (`kind = panic`) or an unexpected 500
//! (`kind = internal`) leaves behind (tests/api/error_reporting.rs).
//!
//! The failure's text deliberately carries what such a handler might: the email from the body,
//! the client address, a URL with the query token, and the `Cookie`, `Authorization` and
//! `APCA-*` headers. Built only with the `testing` feature (release builds do not contain it) and
//! mounted only when `APP_ENV=test`.

use axum::Router;

use super::AppState;
use crate::settings::AppEnv;

/// The fault routes under `APP_ENV=test` in a `testing` build; nothing otherwise.
pub fn routes(app_env: AppEnv) -> Router<AppState> {
    #[cfg(feature = "testing")]
    if app_env == AppEnv::Test {
        return Router::new().route(
            "/api/test/faults/{kind}",
            axum::routing::post(inject::fault),
        );
    }
    let _ = app_env;
    Router::new()
}

#[cfg(feature = "testing")]
mod inject {
    use std::collections::HashMap;

    use axum::extract::{Path, Query};
    use axum::http::{HeaderMap, StatusCode};

    use crate::http::client_ip::ClientIp;
    use crate::http::{ApiError, ApiJson};

    pub async fn fault(
        Path(kind): Path<String>,
        Query(query): Query<HashMap<String, String>>,
        ClientIp(ip): ClientIp,
        headers: HeaderMap,
        ApiJson(body): ApiJson<serde_json::Value>,
    ) -> Result<StatusCode, ApiError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let detail = format!(
            "fault injected for {email} from {ip} calling https://broker.invalid/v2/orders?token={token}\n\
             cookie: {cookie}\nauthorization: {authorization}\napca-api-key-id: {key_id}\napca-api-secret-key: {secret}",
            email = body["email"].as_str().unwrap_or_default(),
            token = query.get("token").map_or("", String::as_str),
            cookie = header("cookie"),
            authorization = header("authorization"),
            key_id = header("apca-api-key-id"),
            secret = header("apca-api-secret-key"),
        );
        match kind.as_str() {
            "panic" => panic!("{detail}"),
            "internal" => Err(ApiError::internal(detail)),
            _ => Err(ApiError::not_found()),
        }
    }
}
