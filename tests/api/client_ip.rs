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
    // One Cloudflare client reaching the router from ever-changing Cloudflare edges (the
    // router's entry is the right-most one): one bucket.
    for i in 1..=3 {
        let xff = format!("10.0.0.{i}, 173.245.48.{i}");
        assert_eq!(status_via(&app, "198.51.100.4", Some(&xff)).await, 200);
    }
    assert_eq!(
        status_via(&app, "198.51.100.4", Some("10.9.9.9, 2606:4700::77")).await,
        429
    );
    // Another Cloudflare client, same forwarded-for entry as before: its own bucket.
    assert_eq!(
        status_via(&app, "198.51.100.5", Some("10.0.0.1, 173.245.48.1")).await,
        200
    );
    // IPv6 clients count by /64 whichever address inside it Cloudflare names.
    let edge = Some("104.16.0.1");
    for host in 1..=3 {
        let cf = format!("2001:db8:7:8::{host}");
        assert_eq!(status_via(&app, &cf, edge).await, 200, "{cf}");
    }
    assert_eq!(status_via(&app, "2001:db8:7:8:ffff::1", edge).await, 429);
    assert_eq!(status_via(&app, "2001:db8:7:9::1", edge).await, 200);
    // An unreadable CF-Connecting-IP is no Cloudflare request at all.
    assert_eq!(status_via(&app, "not-an-address", edge).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_cf_connecting_ip_from_outside_cloudflare_is_refused_and_chooses_no_bucket() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_PER_MINUTE", "3"),
        ("FLAG_ENFORCE_CF_ORIGIN", "true"),
        ("TRUSTED_PROXY_HOPS", "1"),
    ])
    .await;
    // Straight to the Heroku URL: the router's entry is the attacker's own address, whatever
    // they put to its left or in CF-Connecting-IP.
    for (i, xff) in ["203.0.113.9", "173.245.48.1, 203.0.113.9", "2001:db8::9"]
        .into_iter()
        .enumerate()
    {
        let cf = format!("198.51.100.{i}");
        assert_eq!(status_via(&app, &cf, Some(xff)).await, 403, "{xff}");
    }
    // Without any forwarded-for entry there is no hop to trust either.
    assert_eq!(status_via(&app, "198.51.100.50", None).await, 403);
    // Health needs no Cloudflare.
    let health = app
        .client
        .get(app.url("/health"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
