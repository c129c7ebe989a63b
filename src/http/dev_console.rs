//! `GET /dev/console`: the development console (development and test only), beside the passkey
//! page: sign in with a passkey, see the book, place and cancel orders, watch the live order
//! stream, run a backtest and see its chart. Plain HTML and JavaScript; its script builds its
//! client from the served OpenAPI document, calling each operation by its id, so the console
//! exercises the same contract the SPA's generated client does.
//!
//! Like the passkey page it is one embedded file with one inline `<style>` and one `<script>`,
//! allowed by their hashes, talking only to this origin; elsewhere the path is a JSON 404.

use std::sync::LazyLock;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::dev_page::{inline_block, sha256_source};
use super::AppState;
use crate::settings::AppEnv;

/// Where the console is served.
pub const PATH: &str = "/dev/console";

const PAGE: &str = include_str!("dev_console.html");

static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&policy(PAGE)).expect("a policy of ASCII keywords and base64 hashes")
});

/// The console's route in development and test; nothing in production and staging.
pub fn routes(app_env: AppEnv) -> Router<AppState> {
    match app_env {
        AppEnv::Development | AppEnv::Test => Router::new().route(PATH, get(page)),
        AppEnv::Production | AppEnv::Staging => Router::new(),
    }
}

async fn page() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, POLICY.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        PAGE,
    )
}

/// Its inline style and script by hash; requests (fetch, the event stream) to this origin only.
fn policy(html: &str) -> String {
    let script = sha256_source(inline_block(html, "script"));
    let style = sha256_source(inline_block(html, "style"));
    format!(
        "default-src 'none'; script-src {script}; style-src {style}; connect-src 'self'; \
         img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_has_one_inline_script_and_style_and_no_inline_handlers() {
        for tag in ["<script", "<style"] {
            assert_eq!(PAGE.matches(tag).count(), 1, "{tag}");
        }
        let lower = PAGE.to_ascii_lowercase();
        for handler in [" onclick=", " onload=", " onsubmit=", "javascript:"] {
            assert!(!lower.contains(handler), "{handler}");
        }
        let policy = policy(PAGE);
        assert!(policy.starts_with("default-src 'none';"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
    }
}
