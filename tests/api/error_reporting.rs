//! Error reporting (`SENTRY_DSN`): a handler panic and an unexpected 500 reach Sentry (a
//! stand-in on loopback) tagged with the request id and the route template, and nothing
//! personal or secret sent with those requests reaches it: not the session cookie, the
//! `Authorization` or `APCA-*` headers, the email, the query token, the client address, or the
//! body. The fault routes (src/http/fault.rs) even write those into the failure's text.

use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use reqwest::Method;

use crate::helpers::{eventually, spawn_app_with};
use crate::sentry_stub::SentryStub;

const ROUTE: &str = "/api/test/faults/{kind}";
const CLIENT_IP: &str = "203.0.113.77";

fn random(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

#[tokio::test]
async fn panics_and_500s_are_reported_with_request_id_and_route_and_nothing_personal() {
    let sentry = SentryStub::start().await;
    let dsn = sentry.dsn();
    let app = spawn_app_with(&[("SENTRY_DSN", &dsn), ("TRUSTED_PROXY_HOPS", "1")]).await;
    let email = format!("{}@example.com", random(12).to_lowercase());
    let user = app.sign_in(&email, false).await;
    let session = user
        .cookie
        .split_once('=')
        .expect("name=value")
        .1
        .to_owned();
    let query_token = random(32);
    let bearer = random(40);
    let key_id = format!("PK{}", random(18).to_uppercase());
    let secret = random(40);
    let note = format!("a private note {}", random(12));
    let body = serde_json::json!({"email": email, "note": note}).to_string();

    let mut reported = Vec::new();
    for kind in ["panic", "internal"] {
        let response = app
            .authed(
                Method::POST,
                &format!("/api/test/faults/{kind}?token={query_token}"),
                &user,
            )
            .header("authorization", format!("Bearer {bearer}"))
            .header("apca-api-key-id", &key_id)
            .header("apca-api-secret-key", &secret)
            .header("x-forwarded-for", CLIENT_IP)
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 500, "{kind}");
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        reported.push((kind, request_id));
    }

    let events = eventually(Duration::from_secs(10), "both failures reported", || {
        let events = sentry.events();
        let all_in = reported.iter().all(|(_, id)| {
            events
                .iter()
                .any(|e| e["tags"]["request_id"] == id.as_str())
        });
        async move { all_in.then_some(events) }
    })
    .await;
    for (kind, request_id) in &reported {
        let event = events
            .iter()
            .find(|e| e["tags"]["request_id"] == request_id.as_str())
            .unwrap();
        assert_eq!(event["tags"]["route"], ROUTE, "{kind}: {event}");
        assert_eq!(event["transaction"], ROUTE, "{kind}: {event}");
        let text = if *kind == "panic" {
            assert_eq!(event["exception"]["values"][0]["type"], "panic", "{event}");
            &event["exception"]["values"][0]["value"]
        } else {
            // `error` is Sentry's default level, which the SDK leaves out.
            assert!(
                matches!(event["level"].as_str(), None | Some("error")),
                "{event}"
            );
            assert_eq!(event["tags"]["status"], "500", "{event}");
            &event["message"]
        };
        let text = text.as_str().expect("the failure's text");
        assert!(
            text.starts_with("fault injected for [email] from [ip]"),
            "{text}"
        );
    }

    let received = sentry.received();
    assert!(received.iter().all(|r| r.path == "/api/42/envelope/"));
    let everything: String = received
        .iter()
        .map(|r| format!("{}\n{}\n{}\n", r.path, r.headers, r.body))
        .collect();
    for (what, value) in [
        ("session cookie", session.as_str()),
        ("authorization header", bearer.as_str()),
        ("APCA key id", key_id.as_str()),
        ("APCA secret", secret.as_str()),
        ("email", email.as_str()),
        ("query token", query_token.as_str()),
        ("client IP", CLIENT_IP),
        ("body", body.as_str()),
        ("body note", note.as_str()),
        ("raw path", "/api/test/faults/panic"),
    ] {
        assert!(
            !everything.contains(value),
            "the {what} reached Sentry:\n{everything}"
        );
    }
}
