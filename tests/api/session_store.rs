//! The session store under load: a cached session is answered without waiting for anybody's
//! database round trip.

use std::time::Duration;

use crate::helpers::{eventually, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_session_is_answered_while_another_validation_waits_for_the_database() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(&[]).await;
    let cached = app.sign_in("ada@example.com", false).await;
    let uncached = app
        .session_for(user_id(&app, "ada@example.com").await, "ada@example.com")
        .await;
    let get = |cookie: String| {
        let request = peer
            .client
            .get(peer.url("/api/auth/session"))
            .header("cookie", cookie)
            .timeout(Duration::from_secs(10))
            .send();
        async move { request.await.unwrap().status() }
    };
    // The peer has seen (and cached) one session only.
    assert_eq!(get(cached.cookie.clone()).await, 200);

    // Sessions are locked: any database read of them waits.
    let mut blocker = app.db.client().await;
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiting = tokio::spawn(get(uncached.cookie.clone()));
    eventually(
        Duration::from_secs(5),
        "the miss waits for the lock",
        || async {
            let blocked = app
                .db
                .count(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND datname = current_database()",
                )
                .await;
            (blocked > 0).then_some(())
        },
    )
    .await;
    assert!(!waiting.is_finished());

    let started = std::time::Instant::now();
    assert_eq!(get(cached.cookie.clone()).await, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the hit did not queue"
    );

    tx.rollback().await.unwrap();
    assert_eq!(waiting.await.unwrap(), 200);
}

async fn user_id(app: &crate::helpers::TestApp, email: &str) -> uuid::Uuid {
    app.db
        .client()
        .await
        .query_one("SELECT id FROM users WHERE email = $1", &[&email])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cookie_is_refused_without_asking_the_database() {
    let app = spawn_app().await;
    let real = app.sign_in("ada@example.com", false).await;
    let value = real.cookie.trim_start_matches("session=").to_owned();
    assert_eq!(value.len(), 64, "256 random bits and a 128-bit tag");
    // Right shape, wrong tag: the last character of the tag changed.
    let mut tampered = value.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let forged = format!("{}AAAAAAAAAAAAAAAAAAAAA", &value[..43]);

    // With the sessions table locked, any lookup would hang: forgeries are answered anyway.
    let mut blocker = app.db.client().await;
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for cookie in [tampered, forged] {
        let response = app
            .client
            .get(app.url("/api/auth/session"))
            .header("cookie", format!("session={cookie}"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .expect("answered without waiting for the lock");
        assert_eq!(response.status(), 401);
    }
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_audit_trail_a_logout_changes_nothing() {
    // A long backoff keeps the audit writer down for the whole test.
    let app = crate::helpers::spawn_app_with(&[("SUPERVISOR_BACKOFF_MS", "60000")]).await;
    let ada = app.sign_in("ada@example.com", false).await;
    let other = app
        .session_for(user_id(&app, "ada@example.com").await, "ada@example.com")
        .await;
    let audit = app.app().actors().audit.slot().clone();
    audit
        .get()
        .unwrap()
        .send_message(raptor_actors::audit::AuditMsg::Fault)
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "the audit writer is down",
        || async { (!audit.is_up()).then_some(()) },
    )
    .await;

    let logout = app
        .authed(reqwest::Method::POST, "/api/auth/logout", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 503);
    let others = app
        .authed(reqwest::Method::DELETE, "/api/auth/sessions", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(others.status(), 503);
    for session in [&ada, &other] {
        let still = app
            .authed(reqwest::Method::GET, "/api/auth/session", session)
            .send()
            .await
            .unwrap();
        assert_eq!(still.status(), 200, "no revocation without its audit row");
    }
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL")
            .await,
        0
    );
}
