//! The TypeScript client example (`clients/typescript`, docs/clients.md) run against a live
//! raptor: types generated from the committed document, calls through openapi-fetch, the passkey
//! through Chromium's virtual authenticator. scripts/check-ts-client.sh installs its modules,
//! generates the types and type-checks it first; here it is compiled and run once, every main
//! flow of the SPA (sign-up, sign-in, session, book, orders, the stream, market data, a
//! backtest), with the simulated broker and the Alpaca data stand-in.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::alpaca_data_stub::AlpacaDataStub;
use crate::browser::{spawn_on_localhost_with, BrowserTools};
use crate::smtp::SmtpServer;

/// The whole run: launch, register, verify, sign in, trade, stream, data, backtest.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

const SETUP_HINT: &str = "run scripts/check-ts-client.sh (it installs the example's node \
                          modules and generates its types from docs/openapi.json)";

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/typescript")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_client_example_runs_the_spas_main_flows_against_a_live_raptor() {
    let tools = BrowserTools::require();
    let dir = client_dir();
    for needed in [
        "node_modules/openapi-fetch",
        "node_modules/typescript",
        "src/generated/raptor.d.ts",
    ] {
        assert!(
            dir.join(needed).exists(),
            "{needed} is missing: {SETUP_HINT}"
        );
    }
    let compiled = std::process::Command::new(&tools.node)
        .args([
            "node_modules/typescript/bin/tsc",
            "-p",
            ".",
            "--noEmit",
            "false",
        ])
        .args(["--outDir", "dist"])
        .current_dir(&dir)
        .output()
        .expect("run tsc");
    assert!(
        compiled.status.success(),
        "the example does not compile:\n{}",
        String::from_utf8_lossy(&compiled.stdout)
    );

    let smtp = SmtpServer::start().await;
    let data = AlpacaDataStub::start().await;
    let mut overrides = data.overrides();
    overrides.push(("ALPACA_AUTH_MODE", "simulated"));
    let (app, origin) = spawn_on_localhost_with(&smtp, &overrides).await;
    let _worker = crate::backtest::worker(&app, &data).await;
    let bootstrap = crate::passkey::bootstrap_token(&app, None).await;
    let email = format!("ts-client-{}@example.com", uuid::Uuid::new_v4().simple());

    let node = Command::new(&tools.node)
        .arg("dist/main.js")
        .current_dir(&dir)
        .env("RAPTOR_URL", &origin)
        .env("BOOTSTRAP_TOKEN", &bootstrap)
        .env("EMAIL", &email)
        .env("CHROMIUM", &tools.chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let transcript = follow(node, &smtp, &email, RUN_DEADLINE).await;
    for expected in [
        "step: signed in as",
        "step: book: cash 100000.00",
        "step: canceled ",
        "step: latest AAPL mid",
        "step: backtest: final equity",
    ] {
        assert!(
            transcript.contains(expected),
            "{expected:?} is missing:\n{transcript}"
        );
    }
    assert!(transcript.ends_with(&format!("OK {email}")), "{transcript}");
}

/// Follows a browser script's transcript to its end, answering `NEED_EMAIL_TOKEN <email>` with
/// the token from `smtp`; fails unless the script exits 0. Returns the transcript.
pub(crate) async fn follow(
    mut child: Child,
    smtp: &SmtpServer,
    email: &str,
    within: Duration,
) -> String {
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let deadline = tokio::time::Instant::now() + within;
    let mut transcript = Vec::new();
    loop {
        let next = tokio::time::timeout_at(deadline, stdout.next_line()).await;
        let Ok(line) = next else {
            panic!(
                "the run took over {within:?}; so far:\n{}",
                transcript.join("\n")
            );
        };
        let Some(line) = line.expect("read the script's output") else {
            break;
        };
        if line.strip_prefix("NEED_EMAIL_TOKEN ") == Some(email) {
            let token = smtp.verification_token(email, 0).await;
            stdin
                .write_all(format!("{token}\n").as_bytes())
                .await
                .expect("hand the token to the script");
            stdin.flush().await.expect("flush the token");
        }
        transcript.push(line);
    }
    let status = tokio::time::timeout_at(deadline, child.wait())
        .await
        .expect("the script exits once its output ends")
        .expect("the script's exit status");
    let transcript = transcript.join("\n");
    let errors = errors.await.unwrap_or_default();
    assert!(
        status.success(),
        "the run failed ({status}):\n{transcript}\n{errors}"
    );
    transcript
}
