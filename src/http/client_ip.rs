//! Who is calling: the client IP used for rate limits and stored (as a prefix) with sessions.
//!
//! Behind Heroku's router the right-most `X-Forwarded-For` entry is the one the router added;
//! entries to its left are whatever the client sent and are never trusted. With
//! `TRUSTED_PROXY_HOPS = n` the n-th entry from the right is the client. With
//! `FLAG_ENFORCE_CF_ORIGIN` every request must come through Cloudflare, whose
//! `CF-Connecting-IP` then names the client; health checks are exempt. "Through Cloudflare" is
//! checked on the connecting hop, which nobody can forge: the entry the trusted proxy (Heroku's
//! router) appended to `X-Forwarded-For`, or the peer when no proxy is trusted, must lie in
//! Cloudflare's published ranges (`config/cloudflare-ips.txt`, `CLOUDFLARE_IP_RANGES`).
//! A request straight to the Heroku URL with a made-up `CF-Connecting-IP` gets 403.

use crate::http::error::ErrorCode;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, StatusCode};

use super::{is_health_path, ApiError, AppState};
use crate::telemetry::request;

static CF_CONNECTING_IP: HeaderName = HeaderName::from_static("cf-connecting-ip");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The resolved client address of a request, as an extractor. The guard resolved (and let
/// through) the same address; it is derived again here rather than carried, since most routes
/// never ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        resolve(state, &parts.headers, &parts.extensions, parts.uri.path()).map(ClientIp)
    }
}

/// The client of a request to `path`: the trusted forwarded address, else the peer of its
/// connection ([`peer`]). Refused (403) when the Cloudflare guard is on and the
/// request did not come through Cloudflare.
pub fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    path: &str,
) -> Result<IpAddr, ApiError> {
    let proxies = &state.config.proxies;
    // Each header is read only when a setting trusts it (most requests carry neither).
    if proxies.enforce_cloudflare {
        let hop = forwarded_or_peer(state, headers, extensions);
        let from_cloudflare = proxies.cloudflare_ranges.contains(hop);
        return match cf_connecting_ip(headers) {
            Some(ip) if from_cloudflare => Ok(ip),
            _ if is_health_path(path) => Ok(hop),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::ForbiddenOrigin,
                "requests must come through the edge",
            )),
        };
    }
    Ok(forwarded_or_peer(state, headers, extensions))
}

/// The trusted `X-Forwarded-For` entry, else the connection's peer.
fn forwarded_or_peer(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> IpAddr {
    from_forwarded_for(headers, state.config.proxies.hops).unwrap_or_else(|| peer(extensions))
}

/// The address the connection came from: the acceptor's, through the request being handled
/// (`telemetry::request`); for a request handed over by another server (tests drive the
/// router directly), axum's `ConnectInfo`; else loopback.
fn peer(extensions: &Extensions) -> IpAddr {
    request::current_peer()
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

fn cf_connecting_ip(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get(&CF_CONNECTING_IP)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The entry `hops` from the right across all `X-Forwarded-For` headers, or `None` when there
/// is no trusted proxy or it did not add an entry we can read.
pub fn from_forwarded_for(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    let skip = hops.checked_sub(1)?;
    headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .rev()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.rsplit(','))
        .nth(skip)?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    #[test]
    fn right_most_entry_wins_over_client_supplied_ones() {
        let h = headers(&["6.6.6.6, 7.7.7.7", "203.0.113.9"]);
        assert_eq!(
            from_forwarded_for(&h, 1),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(from_forwarded_for(&h, 2), Some("7.7.7.7".parse().unwrap()));
    }

    #[test]
    fn no_trusted_hop_or_too_few_entries_means_the_peer_address() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(from_forwarded_for(&h, 0), None);
        assert_eq!(from_forwarded_for(&h, 2), None);
        assert_eq!(from_forwarded_for(&headers(&["not-an-ip"]), 1), None);
    }
}

/// The middleware end to end: which address a request is counted as, and the Cloudflare guard.
#[cfg(test)]
mod mutation_tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use axum::Router;

    use super::*;
    use crate::http::test_support::{error_code, send, state};

    const PEER: &str = "192.0.2.10:40000";

    fn router(overrides: &[(&str, &str)]) -> Router {
        let echo = |ClientIp(ip): ClientIp| async move { ip.to_string() };
        let state = state(overrides);
        Router::new()
            .route("/api/x", get(echo))
            .route("/health", get(echo))
            .layer(crate::http::guard::GuardLayer {
                state: state.clone(),
            })
            .with_state(state)
    }

    /// The client address the route saw, or the error status and code.
    async fn seen(
        router: &Router,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<String, (u16, String)> {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(PEER.parse::<SocketAddr>().unwrap()));
        let response = send(router, request).await;
        if response.status().is_success() {
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            Ok(String::from_utf8(body.to_vec()).unwrap())
        } else {
            Err(error_code(response).await)
        }
    }

    #[tokio::test]
    async fn the_stack_made_for_a_connection_resolves_its_peer() {
        let echo = |ClientIp(ip): ClientIp| async move { ip.to_string() };
        let state = state(&[]);
        let router = Router::new()
            .route("/api/x", get(echo))
            .with_state(state.clone());
        let app = crate::http::app(state, router).for_peer(PEER.parse().unwrap());
        let request = Request::get("/api/x").body(Body::empty()).unwrap();
        let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(
            body, "192.0.2.10",
            "no ConnectInfo: the peer the acceptor named"
        );
    }

    #[tokio::test]
    async fn without_the_flag_the_peer_or_the_trusted_hop_is_the_client() {
        let direct = router(&[]);
        assert_eq!(seen(&direct, "/api/x", &[]).await, Ok("192.0.2.10".into()));
        assert_eq!(
            seen(&direct, "/api/x", &[("cf-connecting-ip", "198.51.100.7")]).await,
            Ok("192.0.2.10".into()),
            "CF-Connecting-IP is the client's own word"
        );
        let proxied = router(&[("TRUSTED_PROXY_HOPS", "1")]);
        assert_eq!(
            seen(
                &proxied,
                "/api/x",
                &[
                    ("x-forwarded-for", "6.6.6.6, 203.0.113.5"),
                    ("cf-connecting-ip", "198.51.100.7")
                ]
            )
            .await,
            Ok("203.0.113.5".into())
        );
    }

    #[tokio::test]
    async fn with_the_flag_cloudflare_names_the_client_and_is_required_but_for_health() {
        let edge = router(&[
            ("FLAG_ENFORCE_CF_ORIGIN", "true"),
            ("TRUSTED_PROXY_HOPS", "1"),
        ]);
        // The router saw a Cloudflare address connect (173.245.48.5): Cloudflare names the client.
        assert_eq!(
            seen(
                &edge,
                "/api/x",
                &[
                    ("cf-connecting-ip", " 198.51.100.7 "),
                    ("x-forwarded-for", "6.6.6.6, 173.245.48.5")
                ]
            )
            .await,
            Ok("198.51.100.7".into())
        );
        // Straight to the router, with a made-up header (or a made-up Cloudflare entry to the
        // left of the router's): refused.
        for forged in ["203.0.113.5", "173.245.48.5, 203.0.113.5"] {
            assert_eq!(
                seen(
                    &edge,
                    "/api/x",
                    &[
                        ("cf-connecting-ip", "198.51.100.7"),
                        ("x-forwarded-for", forged)
                    ]
                )
                .await,
                Err((403, "forbidden_origin".into())),
                "{forged}"
            );
        }
        assert_eq!(
            seen(&edge, "/api/x", &[("x-forwarded-for", "203.0.113.5")]).await,
            Err((403, "forbidden_origin".into()))
        );
        assert_eq!(
            seen(
                &edge,
                "/api/x",
                &[
                    ("cf-connecting-ip", "not-an-ip"),
                    ("x-forwarded-for", "173.245.48.5")
                ]
            )
            .await,
            Err((403, "forbidden_origin".into()))
        );
        assert_eq!(
            seen(&edge, "/health", &[("x-forwarded-for", "203.0.113.5")]).await,
            Ok("203.0.113.5".into()),
            "health checks need no Cloudflare"
        );
    }

    #[tokio::test]
    async fn with_no_trusted_proxy_the_peer_must_be_cloudflare_or_in_the_override() {
        let direct = [("FLAG_ENFORCE_CF_ORIGIN", "true")];
        let cf = [("cf-connecting-ip", "198.51.100.7")];
        assert_eq!(
            seen(&router(&direct), "/api/x", &cf).await,
            Err((403, "forbidden_origin".into())),
            "the peer 192.0.2.10 is not Cloudflare"
        );
        let overridden = router(&[
            ("FLAG_ENFORCE_CF_ORIGIN", "true"),
            ("CLOUDFLARE_IP_RANGES", "203.0.113.0/24, 192.0.2.0/28"),
        ]);
        assert_eq!(
            seen(&overridden, "/api/x", &cf).await,
            Ok("198.51.100.7".into())
        );
        assert_eq!(
            seen(&overridden, "/health", &[]).await,
            Ok("192.0.2.10".into())
        );
    }

    #[test]
    fn one_trusted_hop_takes_the_last_entry_of_the_last_header() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.1.1.1".parse().unwrap());
        h.append("x-forwarded-for", "2.2.2.2 , 3.3.3.3".parse().unwrap());
        assert_eq!(from_forwarded_for(&h, 1), Some("3.3.3.3".parse().unwrap()));
        assert_eq!(from_forwarded_for(&h, 3), Some("1.1.1.1".parse().unwrap()));
        assert_eq!(from_forwarded_for(&HeaderMap::new(), 1), None);
    }
}
