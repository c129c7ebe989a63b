//! Who the rate limit counts: `CF-Connecting-IP` is a client's own word unless Cloudflare is
//! required (`FLAG_ENFORCE_CF_ORIGIN`); only then does it name the client.

use crate::helpers::{spawn_app_with, TestApp};

async fn status_via(app: &TestApp, cf: &str, xff: Option<&str>) -> u16 {
    let mut request = app
        .client
        .get(app.url("/api/system/status"))
        .header("cf-connecting-ip", cf);
    if let Some(xff) = xff {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cloudflare_flag_off_a_spoofed_cf_connecting_ip_shares_the_peers_bucket() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "3")]).await;
    // Each request names a different "client"; all come from the same peer.
    for i in 1..=3 {
        assert_eq!(
            status_via(&app, &format!("198.51.100.{i}"), None).await,
            200
        );
    }
    assert_eq!(
        status_via(&app, "198.51.100.99", None).await,
        429,
        "a fresh CF-Connecting-IP is no fresh allowance"
    );
    assert_eq!(app.get("/api/system/status").await.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cloudflare_flag_on_cf_connecting_ip_names_the_client_over_forwarded_for() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_PER_MINUTE", "3"),
        ("FLAG_ENFORCE_CF_ORIGIN", "true"),
        ("TRUSTED_PROXY_HOPS", "1"),
    ])
    .await;
    // One Cloudflare client behind ever-changing forwarded-for entries: one bucket.
    for i in 1..=3 {
        let xff = format!("10.0.0.{i}, 203.0.113.{i}");
        assert_eq!(status_via(&app, "198.51.100.4", Some(&xff)).await, 200);
    }
    assert_eq!(
        status_via(&app, "198.51.100.4", Some("10.9.9.9, 203.0.113.77")).await,
        429
    );
    // Another Cloudflare client, same forwarded-for entry as before: its own bucket.
    assert_eq!(
        status_via(&app, "198.51.100.5", Some("10.0.0.1, 203.0.113.1")).await,
        200
    );
    // IPv6 clients count by /64 whichever address inside it Cloudflare names.
    for host in 1..=3 {
        let cf = format!("2001:db8:7:8::{host}");
        assert_eq!(status_via(&app, &cf, None).await, 200, "{cf}");
    }
    assert_eq!(status_via(&app, "2001:db8:7:8:ffff::1", None).await, 429);
    assert_eq!(status_via(&app, "2001:db8:7:9::1", None).await, 200);
    // An unreadable CF-Connecting-IP is no Cloudflare request at all.
    assert_eq!(status_via(&app, "not-an-address", None).await, 403);
}
