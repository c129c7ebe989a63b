use std::time::{Duration, Instant};

use raptor_actors::audit::{AuditEntry, AuditMsg};
use raptor_actors::session::SessionMsg;

use crate::helpers::{error_code, eventually, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicked_child_answers_503_while_down_then_serves_again() {
    // A long first backoff makes the down window wide enough to observe.
    let app = spawn_app_with(&[("SUPERVISOR_BACKOFF_MS", "1500")]).await;
    let ask = || async {
        let started = Instant::now();
        let response = app
            .client
            .get(app.url("/api/auth/session"))
            .header("cookie", "session=some-token")
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .expect("answered, not hung");
        assert!(started.elapsed() < Duration::from_secs(3));
        response
    };
    assert_eq!(ask().await.status(), 401);

    app.app()
        .actors()
        .sessions
        .slot()
        .get()
        .unwrap()
        .send_message(SessionMsg::Fault)
        .unwrap();

    let down = eventually(
        Duration::from_secs(5),
        "503 while the session store is down",
        || async {
            let response = ask().await;
            (response.status() == 503).then_some(response)
        },
    )
    .await;
    assert!(down.headers().contains_key("retry-after"));
    assert_eq!(error_code(down).await, "service_unavailable");
    let status = || async {
        let response = app
            .client
            .get(app.url("/api/system/status"))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(
        status().await,
        (503, r#"{"status":"degraded"}"#.to_owned()),
        "readiness follows the actor going down"
    );

    eventually(
        Duration::from_secs(10),
        "the restarted session store serves again",
        || async { (ask().await.status() == 401).then_some(()) },
    )
    .await;
    assert_eq!(
        status().await,
        (200, r#"{"status":"ok"}"#.to_owned()),
        "and its coming back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_audit_writer_commits_again() {
    let app = spawn_app_with(&[("SUPERVISOR_BACKOFF_MS", "50")]).await;
    let audit = app.app().actors().audit.slot().clone();
    audit.get().unwrap().send_message(AuditMsg::Fault).unwrap();
    let seq = eventually(Duration::from_secs(5), "audit writer back", || async {
        audit
            .ask(
                |reply| AuditMsg::Append(AuditEntry::new("test.after_restart"), reply),
                Duration::from_secs(1),
            )
            .await
            .ok()
            .and_then(Result::ok)
    })
    .await;
    assert_eq!(seq, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_caused_by_requests_never_exhaust_a_restart_cap_that_stops_the_process() {
    use raptor_actors::market_data::MarketDataMsg;
    let app = spawn_app_with(&[
        ("SUPERVISOR_BACKOFF_MS", "20"),
        ("SUPERVISOR_MAX_RESTARTS", "2"),
    ])
    .await;
    let slot = app.app().actors().market_data.slot().clone();
    for round in 0..5 {
        let actor = eventually(Duration::from_secs(5), "the actor is back", || async {
            slot.get().ok()
        })
        .await;
        actor.send_message(MarketDataMsg::Fault).unwrap();
        eventually(Duration::from_secs(5), "the panic took it down", || async {
            (slot.get().map(|a| a.get_id()) != Ok(actor.get_id())).then_some(())
        })
        .await;
        assert_eq!(app.get("/health").await.status(), 200, "round {round}");
    }
    eventually(
        Duration::from_secs(5),
        "restarted after five panics",
        || async { slot.get().ok() },
    )
    .await;
    assert_eq!(app.get("/health").await.status(), 200);
}
