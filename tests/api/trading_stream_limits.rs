//! Order streams hold per user and per session (issue 25): at most `TRADING_STREAMS_PER_USER`
//! open streams per user on a dyno (the oldest ends with `event: superseded`), and a stream ends
//! within 2 s of its session ending, on whichever instance the session was revoked, also when
//! the revocation's notification was lost.

use std::time::Duration;

use serde_json::Value;

use crate::alpaca_stream_stub::{update, AlpacaStreamStub};
use crate::helpers::{eventually, spawn_app_with, SignedIn, TestApp, ORIGIN};
use crate::trading_stream::{listening, order, placed, SseClient, WAIT};

/// How soon a stream must end after its session does.
const SESSION_END: Duration = Duration::from_secs(2);

/// Waits for `stream` to end (no further event) within [`SESSION_END`].
async fn ends_within_two_seconds(stream: &mut SseClient) {
    let next = tokio::time::timeout(SESSION_END, stream.next()).await;
    assert!(
        matches!(next, Ok(None)),
        "the stream ended within 2 s: {:?}",
        next.map(|e| e.map(|e| e.event))
    );
}

async fn logout(app: &TestApp, user: &SignedIn) {
    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &user.cookie)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_past_the_cap_loses_their_oldest_stream_with_a_replaced_notice() {
    let stub = AlpacaStreamStub::start().await;
    let mut overrides = stub.overrides();
    overrides.push(("TRADING_STREAMS_PER_USER", "2"));
    let app = spawn_app_with(&overrides).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    placed(&app, &alice, "alice-1").await;
    placed(&app, &bob, "bob-1").await;
    let mut first = SseClient::open(&app, &alice, None).await;
    let mut second = SseClient::open(&app, &alice, None).await;
    let mut bobs = SseClient::open(&app, &bob, None).await;
    let mut third = SseClient::open(&app, &alice, None).await;

    let notice = first.next().await.unwrap();
    assert_eq!(notice.event, "superseded");
    let data: Value = serde_json::from_str(&notice.data).unwrap();
    assert_eq!(data["code"], "too_many_streams");
    assert!(data["message"].is_string());
    assert!(first.next().await.is_none(), "the oldest stream ends");

    // The two newest stay open and get Alice's events; Bob's stream is not Alice's to lose.
    listening(&stub, 1).await;
    let event = update("fill", &order("alice-1", "filled"));
    stub.send_update(&event, false);
    assert_eq!(second.next().await.unwrap().data, event);
    assert_eq!(third.next().await.unwrap().data, event);
    let bobs_event = update("new", &order("bob-1", "new"));
    stub.send_update(&bobs_event, false);
    assert_eq!(bobs.next().await.unwrap().data, bobs_event);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_ends_the_sessions_streams_on_every_instance() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let peer = app.spawn_peer(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let other_session = app.session_for(alice.user_id, &alice.email).await;
    let mut here = SseClient::open(&app, &alice, None).await;
    let mut there = SseClient::open(&peer, &alice, None).await;
    let mut kept = SseClient::open(&app, &other_session, None).await;

    logout(&app, &alice).await;
    ends_within_two_seconds(&mut here).await;
    ends_within_two_seconds(&mut there).await;

    // The user's other session keeps its stream.
    placed(&app, &alice, "alice-1").await;
    listening(&stub, 1).await;
    let event = update("new", &order("alice-1", "new"));
    stub.send_update(&event, false);
    assert_eq!(kept.next().await.unwrap().data, event);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_revocation_ends_the_stream() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let mut stream = SseClient::open(&app, &alice, None).await;
    // What `raptor dsr erase` and the other operator commands do: revoke from another process,
    // announced by notification.
    let pool = raptor::db::build_pool(
        &app.db.url,
        crate::helpers::test_settings(&app.db.url, &[]).database.ssl,
        1,
    )
    .unwrap();
    let revoked =
        raptor_actors::session::revoke(&pool, alice.user_id, None, None, chrono::Utc::now())
            .await
            .unwrap();
    assert_eq!(revoked.len(), 1);
    ends_within_two_seconds(&mut stream).await;
}

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
async fn a_revocation_whose_notification_was_lost_ends_the_stream_after_the_listener_returns() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    let mut alices = SseClient::open(&app, &alice, None).await;
    let mut bobs = SseClient::open(&app, &bob, None).await;
    let before = eventually(WAIT, "the store listens", || async {
        let pids = session_listeners(&app).await;
        (pids.len() == 1).then_some(pids)
    })
    .await;
    // Cut the listener, and revoke Alice's session without any notification.
    let admin = app.db.client().await;
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&before[0]])
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE sessions SET revoked_at = now() WHERE user_id = $1",
            &[&alice.user_id],
        )
        .await
        .unwrap();
    eventually(WAIT, "the listener reconnected", || async {
        let now = session_listeners(&app).await;
        (now.len() == 1 && now[0] != before[0]).then_some(())
    })
    .await;
    ends_within_two_seconds(&mut alices).await;
    // Bob's session is live: his stream goes on.
    placed(&app, &bob, "bob-1").await;
    listening(&stub, 1).await;
    let event = update("new", &order("bob-1", "new"));
    stub.send_update(&event, false);
    assert_eq!(bobs.next().await.unwrap().data, event);
}
