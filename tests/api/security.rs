use crate::helpers::{error_code, raw_request, spawn_app, spawn_app_with, ORIGIN};

const ATTACKER: &str = "https://attacker.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/health", "/api/system/status", "/api/nope", "/"] {
        let response = app.get(path).await;
        let h = response.headers();
        assert_eq!(
            h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS outside production"
        );
        assert_eq!(
            h.get("cache-control").is_some_and(|v| v == "no-store"),
            path.starts_with("/api/"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_adds_hsts() {
    let app = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("PORT", "0"),
    ])
    .await;
    let response = app.get("/health").await;
    assert!(response.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .starts_with("max-age="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_the_configured_origin_with_credentials() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/auth/session"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight(ORIGIN).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );

    let refused = preflight(ATTACKER).await.unwrap();
    for grant in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
    ] {
        assert!(refused.headers().get(grant).is_none(), "{grant}");
    }
    assert!(refused.headers()["vary"]
        .to_str()
        .unwrap()
        .contains("origin"));

    let simple = app
        .client
        .get(app.url("/health"))
        .header("origin", ATTACKER)
        .send()
        .await
        .unwrap();
    for grant in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-expose-headers",
    ] {
        assert!(simple.headers().get(grant).is_none(), "{grant}");
    }
    let granted = app
        .client
        .get(app.url("/health"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(granted.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        granted.headers()["access-control-expose-headers"],
        "x-request-id,retry-after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_bearing_write_needs_an_allowed_origin_and_json() {
    let app = spawn_app().await;
    let post = |origin: Option<&'static str>, content_type: &'static str| {
        let mut request = app
            .client
            .post(app.url("/api/auth/logout"))
            .header("cookie", "session=whatever")
            .header("content-type", content_type)
            .body("{}");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let response = post(Some(ATTACKER), "application/json").await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "csrf_origin");

    let response = post(None, "application/json").await.unwrap();
    assert_eq!(response.status(), 403);

    let response = post(Some(ORIGIN), "text/plain").await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "csrf_content_type");

    // Two content types make the type ambiguous.
    let mut ambiguous = reqwest::header::HeaderMap::new();
    ambiguous.append("content-type", "application/json".parse().unwrap());
    ambiguous.append(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", "session=whatever")
        .header("origin", ORIGIN)
        .headers(ambiguous)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "csrf_content_type");

    // With an allowed origin and JSON the request reaches routing.
    let response = post(Some(ORIGIN), "application/json; charset=utf-8")
        .await
        .unwrap();
    assert_ne!(response.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_json() {
    let app = spawn_app().await;
    let body = format!("{{\"pad\":\"{}\"}}", "a".repeat(70 * 1024));
    let response = app
        .client
        .post(app.url("/api/auth/login/options"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_past_the_limit_gets_413_and_a_small_one_passes() {
    let app = spawn_app().await;
    // Chunks of 4 KiB, no declared length: the limit holds while the body is read.
    let chunked = |bytes: usize| {
        let body = format!("{{\"pad\":\"{}\"}}", "a".repeat(bytes));
        let mut raw = String::from(
            "POST /api/auth/login/options HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n",
        );
        for chunk in body.as_bytes().chunks(4096) {
            raw.push_str(&format!("{:x}\r\n", chunk.len()));
            raw.push_str(std::str::from_utf8(chunk).unwrap());
            raw.push_str("\r\n");
        }
        raw.push_str("0\r\n\r\n");
        raw
    };
    let (status, text) = raw_request(&app.base, &chunked(70 * 1024)).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    let (status, text) = raw_request(&app.base, &chunked(8 * 1024)).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_gets_415() {
    let app = spawn_app().await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = app
            .client
            .post(app.url("/api/auth/login/options"))
            .header("content-type", content_type)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        assert_eq!(error_code(response).await, "unsupported_media_type");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_rate_limit_answers_429_with_retry_after_and_spares_health() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/system/status").await.status(), 200);
    }
    let limited = app.get("/api/system/status").await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(error_code(limited).await, "rate_limited");
    for _ in 0..10 {
        assert_eq!(app.get("/health").await.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_can_be_switched_off() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_PER_MINUTE", "2"),
        ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
    ])
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/system/status").await.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forwarded_for_entries_do_not_escape_the_rate_limit() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "3"), ("TRUSTED_PROXY_HOPS", "1")]).await;
    let send = |xff: String| {
        app.client
            .get(app.url("/api/system/status"))
            .header("x-forwarded-for", xff)
            .send()
    };
    // The client forges a different left-hand entry each time; the router's entry is the same.
    for i in 0..3 {
        assert_eq!(
            send(format!("10.0.0.{i}, 203.0.113.7"))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        send("10.9.9.9, 203.0.113.7".into()).await.unwrap().status(),
        429
    );
    // A different client (different right-most entry) has its own allowance.
    assert_eq!(
        send("203.0.113.7, 198.51.100.2".into())
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_cf_origin_refuses_requests_that_bypass_cloudflare() {
    // No proxy trusted: the peer (loopback here) is the hop that must be Cloudflare's.
    let app = spawn_app_with(&[("FLAG_ENFORCE_CF_ORIGIN", "true")]).await;
    let response = app.get("/api/system/status").await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "forbidden_origin");
    let forged = app
        .client
        .get(app.url("/api/system/status"))
        .header("cf-connecting-ip", "198.51.100.4")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "loopback is not Cloudflare");
    assert_eq!(app.get("/health").await.status(), 200);

    // The same, with loopback declared a Cloudflare range.
    let app = spawn_app_with(&[
        ("FLAG_ENFORCE_CF_ORIGIN", "true"),
        ("CLOUDFLARE_IP_RANGES", "127.0.0.0/8,::1/128"),
    ])
    .await;
    let response = app.get("/api/system/status").await;
    assert_eq!(response.status(), 403, "no CF-Connecting-IP");
    let via_cf = app
        .client
        .get(app.url("/api/system/status"))
        .header("cf-connecting-ip", "198.51.100.4")
        .send()
        .await
        .unwrap();
    assert_eq!(via_cf.status(), 200);
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_with_two_origin_headers_is_refused_even_if_one_is_allowed() {
    let app = spawn_app().await;
    for pair in [[ORIGIN, ATTACKER], [ATTACKER, ORIGIN], [ORIGIN, ORIGIN]] {
        let mut origins = reqwest::header::HeaderMap::new();
        for origin in pair {
            origins.append("origin", origin.parse().unwrap());
        }
        let response = app
            .client
            .post(app.url("/api/auth/logout"))
            .header("cookie", "session=whatever")
            .header("content-type", "application/json")
            .headers(origins)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{pair:?}");
        assert_eq!(error_code(response).await, "csrf_origin");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_request_id_is_never_stored_as_the_audit_rows_request_id() {
    let app = spawn_app().await;
    let user = app.sign_in("someone@example.com", false).await;
    let response = app
        .authed(reqwest::Method::POST, "/api/auth/logout", &user)
        .header("x-request-id", "client-chosen-id-123")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let own = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let stored: Vec<Option<String>> = app
        .db
        .client()
        .await
        .query(
            "SELECT request_id FROM audit_log WHERE event = 'logout'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, vec![Some(own)]);
}
