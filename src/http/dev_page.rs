//! `GET /dev/passkeys`: a development-only page to register and sign in with a passkey in a
//! browser (SPEC §7), with no frontend running.
//!
//! The route exists only when `APP_ENV` is `development` or `test`; elsewhere it is never
//! registered, so the path answers the usual JSON 404. The page is one embedded HTML file with
//! one inline `<style>` and one inline `<script>`. Its content security policy allows exactly
//! those two blocks by their SHA-256 hashes, computed from the embedded file itself so the
//! policy cannot drift from the page, and lets the script talk only to this origin. The global
//! security headers leave this policy in place (they add theirs only where none is set).

use std::sync::LazyLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::settings::AppEnv;

/// Where the page is served.
pub const PATH: &str = "/dev/passkeys";

const PAGE: &str = include_str!("dev_page.html");

static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| policy_header(PAGE));

/// The page's route in development and test; nothing in production and staging.
pub fn routes(app_env: AppEnv) -> Router<AppState> {
    dev_only(app_env, PATH, || serve(PAGE, &POLICY))
}

/// `path` answered by `page` in development and test; nothing in production and staging (the
/// path is then the usual JSON 404).
pub(crate) fn dev_only(
    app_env: AppEnv,
    path: &'static str,
    page: fn() -> Response,
) -> Router<AppState> {
    match app_env {
        AppEnv::Development | AppEnv::Test => {
            Router::new().route(path, get(move || async move { page() }))
        }
        AppEnv::Production | AppEnv::Staging => Router::new(),
    }
}

/// An embedded page under its own policy, never cached.
pub(crate) fn serve(html: &'static str, policy: &HeaderValue) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, policy.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html,
    )
        .into_response()
}

/// [`policy`] as a header value.
pub(crate) fn policy_header(html: &str) -> HeaderValue {
    HeaderValue::from_str(&policy(html)).expect("a policy of ASCII keywords and base64 hashes")
}

/// The policy for `html`: its inline style and script by hash, requests to this origin only.
pub(crate) fn policy(html: &str) -> String {
    let script = sha256_source(inline_block(html, "script"));
    let style = sha256_source(inline_block(html, "style"));
    format!(
        "default-src 'none'; script-src {script}; style-src {style}; connect-src 'self'; \
         img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The text between `<tag>` and `</tag>`; the page has exactly one of each, without attributes.
pub(crate) fn inline_block<'a>(html: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = html.find(&open).expect("the page has the inline block") + open.len();
    let end = start
        + html[start..]
            .find(&close)
            .expect("the inline block is closed");
    &html[start..end]
}

/// A CSP hash source: `'sha256-<base64 of the digest>'`.
pub(crate) fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_exactly_one_inline_script_and_style_and_no_inline_handlers() {
        for tag in ["<script", "<style"] {
            assert_eq!(PAGE.matches(tag).count(), 1, "{tag}");
        }
        assert!(PAGE.contains("<script>") && PAGE.contains("<style>"));
        // A hash covers only the blocks; event-handler attributes would be refused.
        let lower = PAGE.to_ascii_lowercase();
        for handler in [
            " onclick=",
            " onload=",
            " onsubmit=",
            " oninput=",
            "javascript:",
        ] {
            assert!(!lower.contains(handler), "{handler}");
        }
    }

    #[test]
    fn the_policy_allows_the_blocks_by_hash_and_nothing_else() {
        let policy = policy(PAGE);
        let script = sha256_source(inline_block(PAGE, "script"));
        assert!(
            policy.contains(&format!("script-src {script};")),
            "{policy}"
        );
        assert!(policy.starts_with("default-src 'none';"));
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(HeaderValue::from_str(&policy).is_ok());
    }

    #[test]
    fn a_hash_source_is_standard_base64_of_sha256() {
        // printf 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            sha256_source("alert(1)"),
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
    }
}
