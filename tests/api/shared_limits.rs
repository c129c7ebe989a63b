//! Limits that protect people and money hold across dynos: two instances on one database share
//! one counter per client.

use serde_json::json;

use crate::helpers::{error_code, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_limit_holds_across_two_dynos() {
    let a = spawn_app().await;
    let b = a.spawn_peer(&[]).await;
    let resend = |app: &crate::helpers::TestApp| {
        app.client
            .post(app.url("/api/auth/email/resend"))
            .json(&json!({ "email": "nobody@example.com" }))
            .send()
    };
    for _ in 0..6 {
        assert_eq!(resend(&a).await.unwrap().status(), 202);
    }
    for _ in 0..4 {
        assert_eq!(resend(&b).await.unwrap().status(), 202);
    }
    // Ten in this hour on two dynos: the eleventh is refused on either.
    let refused = resend(&b).await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait));
    assert_eq!(error_code(refused).await, "rate_limited");
    assert_eq!(resend(&a).await.unwrap().status(), 429);
    let stored: i64 =
        a.db.count("SELECT count(*) FROM shared_rate_limits WHERE client LIKE '127.%'")
            .await;
    assert_eq!(stored, 0, "clients are stored as an HMAC, not an address");
}

/// Moves both apps' clocks to just after the start of a minute, so a test of a per-minute
/// window never straddles two.
fn start_of_a_minute(apps: &[&crate::helpers::TestApp]) {
    let now = chrono::Utc::now().timestamp_subsec_millis() as u64
        + 1000 * (chrono::Utc::now().timestamp().rem_euclid(60) as u64);
    let to_next = chrono::Duration::milliseconds((60_000 - now + 500) as i64);
    for app in apps {
        app.clock.advance(to_next);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_alternating_between_two_dynos_gets_the_global_limit_not_twice_it() {
    let limit = [("RATE_LIMIT_PER_MINUTE", "10")];
    let a = crate::helpers::spawn_app_with(&limit).await;
    let b = a.spawn_peer(&limit).await;
    start_of_a_minute(&[&a, &b]);
    let mut admitted = 0;
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        let response = app.get("/api/system/status").await;
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => {
                assert!(response.headers().contains_key("retry-after"));
                assert_eq!(error_code(response).await, "rate_limited");
            }
            other => panic!("{other}"),
        }
    }
    // Each process alone would allow 10; together they allow 10 (leases of one at this size).
    assert_eq!(admitted, 10);
    assert_eq!(
        a.get("/health").await.status(),
        200,
        "health is never counted"
    );
    // Few round trips: one lease per request at this tiny limit, and none once refused.
    let leased: i64 =
        a.db.count(
            "SELECT coalesce(sum(hits), 0)::bigint FROM shared_rate_limits WHERE name = 'global'",
        )
        .await;
    assert!((10..=12).contains(&leased), "{leased}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_larger_limit_most_requests_are_admitted_from_memory() {
    let limit = [("RATE_LIMIT_PER_MINUTE", "100")];
    let a = crate::helpers::spawn_app_with(&limit).await;
    let b = a.spawn_peer(&limit).await;
    start_of_a_minute(&[&a, &b]);
    let mut admitted = 0;
    for i in 0..60 {
        let app = if i % 2 == 0 { &a } else { &b };
        if app.get("/api/system/status").await.status() == 200 {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 60);
    // Blocks of five: 60 requests over two processes took 12 leases (60 hits asked for).
    let leased: i64 =
        a.db.count(
            "SELECT coalesce(sum(hits), 0)::bigint FROM shared_rate_limits WHERE name = 'global'",
        )
        .await;
    assert_eq!(leased, 60);
}
