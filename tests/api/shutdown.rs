//! SIGTERM against the real binary: stop accepting, finish what is in flight, exit 0.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::helpers::{eventually, TestDb, TEST_SECRET_KEY};
use crate::serve_process::ServeProcess;

async fn start_server(db: &TestDb) -> (Child, String) {
    let migrate = Command::new(env!("CARGO_BIN_EXE_raptor"))
        .arg("migrate")
        .envs(env(db))
        .status()
        .await
        .unwrap();
    assert!(migrate.success());
    let server = ServeProcess::start(&env(db)).await;
    let client = reqwest::Client::new();
    eventually(
        Duration::from_secs(20),
        "server answers /health",
        || async {
            client
                .get(format!("{}/health", server.base))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
                .map(|_| ())
        },
    )
    .await;
    (server.child, server.base)
}

fn env(db: &TestDb) -> Vec<(String, String)> {
    [
        ("APP_ENV", "test".to_owned()),
        ("DATABASE_URL", db.url.clone()),
        ("SECRET_KEY", TEST_SECRET_KEY.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn exits_zero_within(child: &mut Child, bound: Duration) {
    let status = tokio::time::timeout(bound, child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_the_server_with_exit_code_zero() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let db = TestDb::create().await;
        let (mut child, base) = start_server(&db).await;
        kill(Pid::from_raw(child.id().unwrap() as i32), signal).unwrap();
        exits_zero_within(&mut child, Duration::from_secs(10)).await;
        assert!(
            reqwest::get(format!("{base}/health")).await.is_err(),
            "no longer accepting"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    use raptor::auth::letters::VERIFY_PURPOSE;
    use raptor_actors::token::TokenHasher;
    use secrecy::{ExposeSecret, SecretBox};

    let db = TestDb::create().await;
    let (mut child, base) = start_server(&db).await;

    // A pending email verification whose row the test locks: the request will wait on it.
    let token = raptor_actors::token::mint();
    let key = std::sync::Arc::new(SecretBox::from(TEST_SECRET_KEY.as_bytes().to_vec()));
    let digest = TokenHasher::new(key, None).digest(VERIFY_PURPOSE, token.expose_secret());
    let mut locker = db.client().await;
    let user_id = uuid::Uuid::new_v4();
    locker
        .execute(
            "INSERT INTO users (id, email, created_at) VALUES ($1, 'slow@example.com', now())",
            &[&user_id],
        )
        .await
        .unwrap();
    locker
        .execute(
            "INSERT INTO email_verifications (id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, now(), now() + interval '1 day')",
            &[&uuid::Uuid::new_v4(), &user_id, &digest],
        )
        .await
        .unwrap();
    let lock = locker.transaction().await.unwrap();
    lock.execute("SELECT 1 FROM email_verifications FOR UPDATE", &[])
        .await
        .unwrap();

    let client = reqwest::Client::new();
    let in_flight = tokio::spawn({
        let url = format!("{base}/api/auth/email/verify");
        let body = serde_json::json!({ "token": token.expose_secret() });
        async move { client.post(url).json(&body).send().await }
    });
    let observer = db.client().await;
    eventually(Duration::from_secs(10), "the request waits on the locked row", || async {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'raptor' AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        (waiting > 0).then_some(())
    })
    .await;

    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    // Draining: no new connections, but the process waits for the request in flight.
    let addr = base.trim_start_matches("http://").to_owned();
    eventually(
        Duration::from_secs(10),
        "new connections are refused",
        || async {
            let attempt = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(&addr),
            )
            .await;
            matches!(attempt, Ok(Err(_))).then_some(())
        },
    )
    .await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running while a request is in flight"
    );

    lock.commit().await.unwrap();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    exits_zero_within(&mut child, Duration::from_secs(10)).await;
    let verified: bool = observer
        .query_one(
            "SELECT email_verified_at IS NOT NULL FROM users WHERE id = $1",
            &[&user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(verified, "the in-flight request's change was committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_inside_herokus_30_s_when_a_request_never_finishes() {
    use crate::alpaca_stub::{AlpacaStub, Behaviour};
    // The in-process app migrates and signs in; the server under test is a child process.
    let stub = AlpacaStub::start().await;
    stub.behave(Behaviour::Hang);
    let home = crate::helpers::spawn_app().await;
    let user = home.sign_in("hanging@example.com", false).await;
    let mut env = env(&home.db);
    env.extend(
        stub.overrides()
            .into_iter()
            .chain([("ALPACA_REQUEST_TIMEOUT_SECS", "300")])
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let server = ServeProcess::start(&env).await;
    let mut child = server.child;
    let hanging = tokio::spawn({
        let url = format!("{}/api/trading/readiness", server.base);
        let cookie = user.cookie.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
        }
    });
    eventually(
        Duration::from_secs(10),
        "the request reached Alpaca",
        || async { (!stub.seen().is_empty()).then_some(()) },
    )
    .await;
    let signalled = tokio::time::Instant::now();
    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    exits_zero_within(&mut child, Duration::from_secs(30)).await;
    let took = signalled.elapsed();
    // The drain's bound (SHUTDOWN_GRACE_SECS, 19 by default) and what follows it.
    assert!(took < Duration::from_secs(28), "{took:?}");
    assert!(
        took >= Duration::from_secs(19),
        "the request got its grace: {took:?}"
    );
    eprintln!("shutdown with a request that never finishes took {took:?}");
    let _ = hanging.await;
}
