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
