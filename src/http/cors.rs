//! CORS: an exact-match allowlist of the SPA's origins (`FRONTEND_ORIGIN`), with credentials.
//! A request from an allowed origin gets the grant: its origin echoed, credentials allowed, and
//! (for a preflight) the methods, headers and max age, or (otherwise) the headers the page may
//! read. Any other request, from an unknown origin or from no browser at all, gets no grant at
//! all (never a wildcard or a reflection), so the browser keeps the response from the page.
//! Every response says it varies by `Origin`, so no cache hands one origin's answer to another.
//! The same allowlist decides the CSRF check (`csrf.rs`), through [`Cors::allows`].
//!
//! The header values are constants; a request costs a comparison of its `Origin` with the list
//! (tower-http's `Cors` builds a header map and joins its `Vary` list for every request, and is
//! cloned with the stack; it also sends `Access-Control-Allow-Credentials` to every caller).
//!
//! The edge applies the policy: it answers every `OPTIONS` request as a preflight before the
//! guard (a preflight carries no cookie and changes nothing), and adds the headers of a plain
//! request to every other response, error or not.

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::Response;

/// The request header every answer varies on: the grant depends on `Origin` alone (a
/// preflight's methods, headers and max age are the same whatever it asks for), so listing
/// `Access-Control-Request-*` too would only split caches and lengthen every response.
const VARY: &str = "origin";
const ALLOW_METHODS: &str = "GET,POST,PATCH,DELETE,OPTIONS";
/// `Idempotency-Key` for order placement, `X-Request-Id` for correlation.
const ALLOW_HEADERS: &str = "content-type,accept,idempotency-key,x-request-id";
/// Readable by the SPA: the request id of every answer, `Retry-After` of a 429.
const EXPOSE_HEADERS: &str = "x-request-id,retry-after";
/// How long (seconds) a browser may cache a preflight's answer.
const MAX_AGE: &str = "600";

/// The allowed origins.
pub struct Cors {
    origins: Box<[HeaderValue]>,
}

/// The allowed origin a request came from: the value its response echoes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedOrigin(HeaderValue);

impl Cors {
    /// The policy for `origins` (`FRONTEND_ORIGIN`); one that is not a valid header value can
    /// never match a request's `Origin`, and is left out.
    pub fn new(origins: &[String]) -> Self {
        Self {
            origins: origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect(),
        }
    }

    /// The allowed origin the request's (first) `Origin` header names, if it names one.
    pub fn allowed(&self, request: &HeaderMap) -> Option<AllowedOrigin> {
        self.find(request.get(header::ORIGIN)?.as_bytes())
            .map(|allowed| AllowedOrigin(allowed.clone()))
    }

    /// Whether `origin` is exactly one of the allowed origins (the CSRF check asks).
    pub fn allows(&self, origin: &str) -> bool {
        self.find(origin.as_bytes()).is_some()
    }

    fn find(&self, origin: &[u8]) -> Option<&HeaderValue> {
        self.origins
            .iter()
            .find(|allowed| allowed.as_bytes() == origin)
    }

    /// The answer to a preflight (any `OPTIONS` request): 200, empty.
    pub fn preflight(origin: Option<AllowedOrigin>) -> Response {
        let mut response = Response::default();
        let headers = response.headers_mut();
        if Self::grant(headers, origin) {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE),
            );
        }
        response
    }

    /// Adds the CORS headers of a plain (not preflight) request's response.
    pub fn decorate(response: &mut HeaderMap, origin: Option<AllowedOrigin>) {
        if Self::grant(response, origin) {
            response.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }

    /// `Vary`, and for an allowed origin its grant; whether it was granted.
    fn grant(headers: &mut HeaderMap, origin: Option<AllowedOrigin>) -> bool {
        // A handler's own `Vary` stays; ours is added beside it.
        headers.append(header::VARY, HeaderValue::from_static(VARY));
        let Some(AllowedOrigin(origin)) = origin else {
            return false;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "https://app.example";

    fn request(origins: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for origin in origins {
            headers.append(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn only_an_exact_listed_origin_is_allowed() {
        let cors = Cors::new(&["https://other.example".into(), APP.into()]);
        assert_eq!(
            cors.allowed(&request(&[APP])),
            Some(AllowedOrigin(HeaderValue::from_static(APP)))
        );
        for foreign in [
            "https://app.example.evil",
            "https://APP.example",
            "http://app.example",
            "https://app.example/",
            "null",
            "*",
        ] {
            assert_eq!(cors.allowed(&request(&[foreign])), None, "{foreign}");
        }
        assert_eq!(cors.allowed(&request(&[])), None);
        // Only the first Origin counts, as in tower-http.
        assert_eq!(cors.allowed(&request(&["https://evil.example", APP])), None);
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_credentials_and_a_foreign_one_is_not() {
        let cors = Cors::new(&[APP.into()]);
        let mut allowed = HeaderMap::new();
        Cors::decorate(&mut allowed, cors.allowed(&request(&[APP])));
        assert_eq!(allowed[header::ACCESS_CONTROL_ALLOW_ORIGIN], APP);
        assert_eq!(allowed[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(
            allowed[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            EXPOSE_HEADERS
        );
        assert_eq!(allowed[header::VARY], VARY);

        let mut foreign = HeaderMap::new();
        Cors::decorate(&mut foreign, None);
        assert_eq!(foreign.len(), 1, "no grant at all: {foreign:?}");
        assert_eq!(foreign[header::VARY], VARY);
    }

    #[test]
    fn a_handlers_vary_is_kept_and_ours_added() {
        let mut headers = HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        Cors::decorate(&mut headers, None);
        let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["accept-encoding", VARY]);
    }

    #[test]
    fn a_preflight_lists_methods_headers_and_max_age() {
        let cors = Cors::new(&[APP.into()]);
        let response = Cors::preflight(cors.allowed(&request(&[APP])));
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], APP);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_METHODS], ALLOW_METHODS);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS], ALLOW_HEADERS);
        assert_eq!(headers[header::ACCESS_CONTROL_MAX_AGE], MAX_AGE);
        assert!(!headers.contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS));
        let foreign = Cors::preflight(None);
        assert_eq!(foreign.status(), 200);
        assert_eq!(
            foreign.headers().len(),
            1,
            "no grant at all: {:?}",
            foreign.headers()
        );
    }
}
