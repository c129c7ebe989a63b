//! `GET /dev/console`: the development console (development and test only), beside the passkey
//! page: sign in with a passkey, see the book, place and cancel orders, watch the live order
//! stream, run a backtest and see its chart. Plain HTML and JavaScript; its script builds its
//! client from the served OpenAPI document, calling each operation by its id, so the console
//! exercises the same contract the SPA's generated client does.
//!
//! Like the passkey page it is one embedded file with one inline `<style>` and one `<script>`,
//! allowed by their hashes, talking only to this origin; elsewhere the path is a JSON 404.

use std::sync::LazyLock;

use axum::http::HeaderValue;
use axum::Router;

use super::dev_page::{dev_only, policy_header, serve};
use super::AppState;
use crate::settings::AppEnv;

/// Where the console is served.
pub const PATH: &str = "/dev/console";

const PAGE: &str = include_str!("dev_console.html");

static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| policy_header(PAGE));

/// The console's route in development and test; nothing in production and staging.
pub fn routes(app_env: AppEnv) -> Router<AppState> {
    dev_only(app_env, PATH, || serve(PAGE, &POLICY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::dev_page::policy;

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
