//! Static files, served only from the configured `STATIC_DIR` and only with a known extension.
//! Dotfiles, traversal attempts and anything else answer 404.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::{ApiError, AppState};

const ALLOWED_EXTENSIONS: &[&str] = &[
    "html", "css", "js", "mjs", "map", "json", "txt", "svg", "png", "jpg", "jpeg", "gif", "webp",
    "ico", "woff", "woff2",
];

/// Router fallback: a static file when one may be served, else a JSON 404.
pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let Some(dir) = &state.config.static_dir else {
        return ApiError::not_found().into_response();
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) || !servable(request.uri().path()) {
        return ApiError::not_found().into_response();
    }
    match ServeDir::new(dir).oneshot(request).await {
        Ok(response) if response.status().is_success() => response.into_response(),
        _ => ApiError::not_found().into_response(),
    }
}

/// Whether a request path names a file we are willing to serve.
fn servable(raw_path: &str) -> bool {
    if raw_path.starts_with("/api/") || raw_path.contains('\\') {
        return false;
    }
    let Ok(path) = percent_decode(raw_path) else {
        return false;
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || s.starts_with('.') || s.contains('\0') || s.contains('\\'))
    {
        return false;
    }
    let Some(name) = segments.last() else {
        return false;
    };
    match name.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty() && ALLOWED_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        }
        None => false,
    }
}

fn percent_decode(raw: &str) -> Result<String, ()> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(())?;
            let hex = std::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::servable;

    #[test]
    fn only_plain_files_with_known_extensions_are_servable() {
        assert!(servable("/app.js"));
        assert!(servable("/assets/logo.svg"));
        for bad in [
            "/.env",
            "/.git/config",
            "/../etc/passwd",
            "/%2e%2e/secret.txt",
            "/a/..%2fb.js",
            "/x/%2e%2e%2f%2e%2e%2fetc/passwd",
            "/run.sh",
            "/noext",
            "/api/x.json",
            "/a//b.js",
            "/.hidden.js",
            "/%zz.js",
        ] {
            assert!(!servable(bad), "{bad} must not be servable");
        }
    }
}
