//! Issue 24 in a real browser (`tests/browser/account-safety.mjs`, Chromium's virtual
//! authenticators): the sign-up takeover replayed and refused (item 1), and the step-up of
//! dangerous changes (item 2). Needs what `scripts/install-browser.sh` installs.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::browser::{spawn_on_localhost, BrowserTools};
use crate::helpers::TestApp;
use crate::smtp::SmtpServer;

const DEADLINE: Duration = Duration::from_secs(180);

/// Runs the script's `scenario` against `app`, answering its requests, and returns its
/// transcript once it succeeded. `links_before` verification emails precede the first one the
/// script asks for.
async fn run(
    app: &TestApp,
    smtp: &SmtpServer,
    origin: &str,
    scenario: &str,
    extra: &[(&str, &str)],
    links_before: usize,
) -> String {
    let tools = BrowserTools::require();
    let bootstrap = crate::passkey::bootstrap_token(app, Some(EMAIL)).await;
    let mut env = vec![("SCENARIO", scenario)];
    env.extend_from_slice(extra);
    let mut node = tools.script_with("account-safety.mjs", origin, &bootstrap, EMAIL, &env);
    let mut stdin = node.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(node.stdout.take().expect("piped stdout")).lines();
    let mut stderr = node.stderr.take().expect("piped stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let (mut transcript, mut links) = (Vec::new(), links_before);
    loop {
        let line = tokio::time::timeout_at(deadline, stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("over {DEADLINE:?}:\n{}", transcript.join("\n")))
            .expect("read the script's output");
        let Some(line) = line else { break };
        let answer = if line.starts_with("NEED_EMAIL_TOKEN ") {
            links += 1;
            Some(smtp.verification_token(EMAIL, links - 1).await)
        } else if line == "NEED_STALE_SESSION" {
            app.clock.advance(chrono::Duration::seconds(301));
            Some("ok".to_owned())
        } else {
            None
        };
        if let Some(answer) = answer {
            stdin
                .write_all(format!("{answer}\n").as_bytes())
                .await
                .unwrap();
            stdin.flush().await.unwrap();
        }
        transcript.push(line);
    }
    let status = tokio::time::timeout_at(deadline, node.wait())
        .await
        .expect("the script exits")
        .expect("its exit status");
    let transcript = transcript.join("\n");
    let errors = errors.await.unwrap_or_default();
    assert!(
        status.success(),
        "failed ({status}):\n{transcript}\n{errors}"
    );
    assert!(transcript.ends_with(&format!("OK {EMAIL}")), "{transcript}");
    transcript
}

const EMAIL: &str = "owner@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_replays_the_sign_up_takeover_and_the_owner_keeps_the_account() {
    let smtp = SmtpServer::start().await;
    let (app, origin) = spawn_on_localhost(&smtp).await;
    let attacker = crate::passkey::bootstrap_token(&app, None).await;
    // The owner's first link is mailed before the script asks for the resent one.
    run(
        &app,
        &smtp,
        &origin,
        "takeover",
        &[("ATTACKER_TOKEN", &attacker)],
        1,
    )
    .await;

    // One passkey: the owner's; the attacker's invitation unused; one `register` row.
    let db = &app.db;
    assert_eq!(
        db.count("SELECT count(*) FROM webauthn_credentials WHERE NOT pending")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT count(*) FROM webauthn_credentials").await,
        1
    );
    assert_eq!(
        db.count("SELECT count(*) FROM bootstrap_tokens WHERE used_at IS NULL")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log WHERE event = 'register'")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log WHERE event = 'login.success'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_steps_up_with_its_passkey_before_dangerous_changes() {
    let smtp = SmtpServer::start().await;
    let (app, origin) = spawn_on_localhost(&smtp).await;
    run(&app, &smtp, &origin, "step-up", &[], 0).await;
    let db = &app.db;
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log WHERE event = 'session.reauth'")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL")
            .await,
        1
    );
}
