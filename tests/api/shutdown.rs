//! SIGTERM against the real binary: stop accepting, finish what is in flight, exit 0.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::helpers::{eventually, TestDb, TEST_SECRET_KEY};

async fn start_server(db: &TestDb) -> (Child, String) {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let migrate = Command::new(env!("CARGO_BIN_EXE_raptor"))
        .arg("migrate")
        .envs(env(db, port))
        .status()
        .await
        .unwrap();
    assert!(migrate.success());
    let child = Command::new(env!("CARGO_BIN_EXE_raptor"))
        .arg("serve")
        .envs(env(db, port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    eventually(
        Duration::from_secs(20),
        "server answers /health",
        || async {
            client
                .get(format!("{base}/health"))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
                .map(|_| ())
        },
    )
    .await;
    (child, base)
}

fn env(db: &TestDb, port: u16) -> Vec<(String, String)> {
    [
        ("APP_ENV", "test".to_owned()),
        ("DATABASE_URL", db.url.clone()),
        ("SECRET_KEY", TEST_SECRET_KEY.to_owned()),
        ("PORT", port.to_string()),
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
