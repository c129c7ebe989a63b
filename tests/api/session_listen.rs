//! A session store whose LISTEN connection is cut while a session is revoked: the notification
//! is lost, but the listener reconnects, drops its cache (it may have missed anything) and the
//! revoked cookie is refused on every instance.

use std::time::Duration;

use crate::helpers::{eventually, spawn_app, TestApp};

/// Backend pids of this database's connections that LISTEN for session revocations.
async fn session_listeners(app: &TestApp) -> Vec<i32> {
    app.db
        .client()
        .await
        .query(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND query = 'LISTEN raptor_sessions'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_while_the_listener_is_cut_reaches_the_other_instance_after_it_reconnects() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(&[]).await;
    let user = app.sign_in("listen@example.com", false).await;
    let on_peer = || async {
        peer.client
            .get(peer.url("/api/auth/session"))
            .header("cookie", &user.cookie)
            .send()
            .await
            .unwrap()
            .status()
    };
    // The peer caches the session.
    assert_eq!(on_peer().await, 200);
    let before = eventually(Duration::from_secs(5), "both instances listen", || async {
        let pids = session_listeners(&app).await;
        (pids.len() == 2).then_some(pids)
    })
    .await;

    // Cut every listener, and revoke while they are down.
    let admin = app.db.client().await;
    for pid in &before {
        admin
            .execute("SELECT pg_terminate_backend($1)", &[pid])
            .await
            .unwrap();
    }
    let logout = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &user.cookie)
        .header("origin", crate::helpers::ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);

    eventually(
        Duration::from_secs(10),
        "both listeners reconnected",
        || async {
            let now = session_listeners(&app).await;
            (now.len() == 2 && now.iter().all(|pid| !before.contains(pid))).then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(5),
        "the peer refuses the revoked cookie",
        || async { (on_peer().await == 401).then_some(()) },
    )
    .await;
}
