//! The API's OpenAPI 3.1 document (ADR 0006), served at `GET /api/openapi.json` and committed as
//! `docs/openapi.json`.
//!
//! Each route group registers its handlers with utoipa-axum's `routes!` in its own `routes()`,
//! which adds the route to the router and the handler's `#[utoipa::path]` to the document in
//! one step, so the two cannot drift apart. [`api_router`] gathers the groups; [`document`]
//! then adds what every operation shares because a middleware answers it, not the handler
//! (the Cloudflare guard and CSRF 403, the rate limits' 429, the session guard's 401 and 503,
//! the JSON body's 400/415/422, the body limit's 413, the panic catcher's 500), the session
//! cookie as a security scheme, and the API's own description and version.

use std::sync::LazyLock;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::Router;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorCode;
pub use super::error_schema::{error_response, ErrorBody, ErrorDetail};
use super::{account, auth, backtest, market_data, system, trading, AppState};
use crate::settings::AppEnv;

/// Where the document is served.
pub const PATH: &str = "/api/openapi.json";
/// Where the development-only reference page is served.
pub const DOCS_PATH: &str = "/dev/api";
/// The API's own version: the contract's, not the build's.
pub const API_VERSION: &str = "1.0";
/// The session cookie's security scheme.
pub const SESSION_SCHEME: &str = "session";

#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(ErrorBody, ErrorDetail, ErrorCode)),
    tags(
        (name = "system", description = "Liveness, readiness, operator diagnostics, this document"),
        (name = "auth", description = "Passkey accounts, email verification, sessions, recovery"),
        (name = "account", description = "GDPR access and erasure"),
        (name = "trading", description = "Paper trading through the operator's Alpaca paper account"),
        (name = "market-data", description = "Latest and historical market data"),
        (name = "backtest", description = "Backtests as durable jobs"),
    )
)]
struct ApiDoc;

/// Every API route with its documentation: the router's routes and the document's paths.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::routes())
        .merge(auth::routes())
        .merge(account::routes())
        .merge(trading::routes())
        .merge(market_data::routes())
        .merge(backtest::routes())
        .routes(routes!(openapi_json))
}

/// The complete document, as served and committed.
pub fn document() -> OpenApi {
    let (_, mut doc) = api_router().split_for_parts();
    doc.info = InfoBuilder::new()
        .title("Raptor API")
        .version(API_VERSION)
        .description(Some(DESCRIPTION))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "session",
            "The session cookie (`HttpOnly; Secure; SameSite=None`) set by a successful \
             `POST /api/auth/login/verify` or `/api/auth/recovery/verify`. A state-changing \
             request that carries it must also send an allowed `Origin` and, with a body, \
             `Content-Type: application/json` (else 403).",
        ))),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            add_shared_responses(path, method, operation);
        }
    }
    doc
}

/// The document as `docs/openapi.json` holds it: pretty JSON and a final newline.
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the document serialises");
    text.push('\n');
    text
}

static DOCUMENT: LazyLock<String> = LazyLock::new(document_json);

const DESCRIPTION: &str = "The HTTP API behind raxx.app. JSON in and out; the session is the \
`session` cookie (send requests with credentials). A state-changing request that carries the \
cookie must send an allowed `Origin` and, when it has a body, `Content-Type: application/json`, \
else 403. Every error is `{\"error\": {\"code\", \"message\", \"request_id\"}}` (422s add \
`error.fields`, naming each field's problem); `code` is the stable thing to branch on. 429 and \
503 answers carry `Retry-After` (seconds).";

/// `GET /api/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "system",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = super::schemas::openapi_document::OpenApiDocument)),
)]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT.as_str(),
    )
}

/// The reference page (Swagger UI, shipped inside the binary) in development and test only;
/// in production and staging the path does not exist. Its policy allows its own files, the one
/// `<style>` element Swagger UI injects (by hash), `data:` images and fonts, and requests to
/// this origin; nothing inline may run. `tests/browser/api-reference.mjs` loads the page in
/// Chromium and fails on any refusal, so an upgrade of the UI that needs more is caught.
pub fn docs_page(app_env: AppEnv) -> Router<AppState> {
    match app_env {
        AppEnv::Development | AppEnv::Test => {
            let config = utoipa_swagger_ui::Config::new([PATH])
                .validator_url("none")
                .try_it_out_enabled(true)
                .with_credentials(true);
            let page: Router<AppState> = utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH)
                .config(config)
                .into();
            page.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DOCS_PAGE_POLICY),
            ))
        }
        AppEnv::Production | AppEnv::Staging => Router::new(),
    }
}

/// The reference page's content security policy. The hash is that of the `<style>` element
/// Swagger UI 5.17.14 (utoipa-swagger-ui-vendored 0.1) adds to the page.
pub const DOCS_PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; img-src 'self' data:; font-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
}

/// The answers a middleware or an extractor gives on `path`, whatever the handler does; a
/// status the handler documents itself keeps the handler's description.
fn add_shared_responses(path: &str, method: HttpMethod, op: &mut Operation) {
    let guarded = op
        .security
        .iter()
        .flatten()
        .any(|requirement| requirement_names(requirement).contains(&SESSION_SCHEME.to_owned()));
    let has_body = op.request_body.is_some();
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: String, retry_after: bool| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(&description, retry_after));
    };
    // The body limit refuses a declared length over 64 KiB before any route runs.
    add(
        "413",
        "`payload_too_large`: the body exceeds 64 KiB".into(),
        false,
    );
    if super::is_health_path(path) {
        return;
    }
    let mut forbidden =
        vec!["`forbidden_origin`: the request did not come through Cloudflare (when enforced)"];
    if method != HttpMethod::Get {
        forbidden.push(
            "`csrf_origin` / `csrf_content_type`: a request carrying the session cookie \
             without an allowed `Origin`, or with a body that is not JSON",
        );
    }
    if guarded {
        forbidden.push("`account_inactive`: the session's account can no longer sign in");
    }
    add("403", forbidden.join("; "), false);
    add(
        "429",
        "`rate_limited`: too many requests from this client; retry after `Retry-After`".into(),
        true,
    );
    add(
        "500",
        "`internal_error`: a bug of ours; the log line with the same request id has the cause"
            .into(),
        false,
    );
    if guarded {
        add(
            "401",
            "`unauthenticated`: no valid session cookie".into(),
            false,
        );
        add(
            "503",
            "`service_unavailable`: a dependency (database, session store) is down; retry".into(),
            true,
        );
    }
    if has_body {
        add(
            "400",
            "`malformed_json`: the body is not valid JSON".into(),
            false,
        );
        add(
            "415",
            "`unsupported_media_type`: the body is not `application/json`".into(),
            false,
        );
        add(
            "422",
            "`invalid_request`: the body does not have the documented shape (the message \
             names the field)"
                .into(),
            false,
        );
    }
}

fn requirement_names(requirement: &utoipa::openapi::security::SecurityRequirement) -> Vec<String> {
    serde_json::to_value(requirement)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use strum::VariantArray;
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn every_error_code_is_listed_once() {
        let mut codes: Vec<&str> = ErrorCode::VARIANTS.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::VARIANTS.len(), "codes are distinct");
        assert!(codes.contains(&"rate_limited") && codes.contains(&"csrf_origin"));
    }

    #[test]
    fn the_error_schema_has_the_fields_an_error_response_carries() {
        let schema = serde_json::to_value(ErrorDetail::schema()).unwrap();
        let mut documented: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort_unstable();
        assert_eq!(documented, ["code", "fields", "message", "request_id"]);
        let required = schema["required"].as_array().unwrap();
        assert_eq!(required.len(), 3, "{required:?}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_apis_own_version() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], API_VERSION);
        assert!(doc["info"].get("license").is_none());
        assert!(doc["components"]["securitySchemes"][SESSION_SCHEME]["in"] == "cookie");
    }
}
