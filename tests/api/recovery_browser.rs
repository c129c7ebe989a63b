//! Recovery in a real browser (issue 12, item 5): `tests/browser/recovery.mjs` registers a
//! passkey in Chromium's virtual authenticator, removes that authenticator, recovers the account
//! by email with a new one, and signs in with the recovered passkey. Needs what
//! `scripts/install-browser.sh` installs, like the other browser test.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::browser::{spawn_on_localhost, BrowserTools};
use crate::helpers::eventually;
use crate::smtp::SmtpServer;

const DEADLINE: Duration = Duration::from_secs(180);

/// The recovery token in the newest recovery mail to `email`.
async fn recovery_token(smtp: &SmtpServer, email: &str) -> String {
    eventually(
        Duration::from_secs(15),
        "recovery email arrives",
        || async {
            smtp.messages()
                .iter()
                .filter(|m| m.contains(&format!("To: {email}")))
                .map(|m| {
                    m.replace("=\r\n", "")
                        .replace("=\n", "")
                        .replace("=3D", "=")
                })
                .find_map(|m| {
                    let start = m.find("/recover?token=")? + "/recover?token=".len();
                    Some(
                        m[start..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                            .collect::<String>(),
                    )
                })
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_recovers_a_lost_passkey_and_signs_in_with_the_new_one() {
    let tools = BrowserTools::require();
    let smtp = SmtpServer::start().await;
    let (app, origin) = spawn_on_localhost(&smtp).await;
    let bootstrap = crate::passkey::bootstrap_token(&app, None).await;
    let email = format!("recover-{}@example.com", uuid::Uuid::new_v4().simple());

    let mut node = tools.script("recovery.mjs", &origin, &bootstrap, &email);
    let mut stdin = node.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(node.stdout.take().expect("piped stdout")).lines();
    let mut stderr = node.stderr.take().expect("piped stderr");
    let stderr_text = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut transcript = Vec::new();
    loop {
        let line = tokio::time::timeout_at(deadline, stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("over {DEADLINE:?}:\n{}", transcript.join("\n")))
            .expect("read the script's output");
        let Some(line) = line else { break };
        let token = if line.starts_with("NEED_EMAIL_TOKEN ") {
            Some(smtp.verification_token(&email, 0).await)
        } else if line.starts_with("NEED_RECOVERY_TOKEN ") {
            Some(recovery_token(&smtp, &email).await)
        } else {
            None
        };
        if let Some(token) = token {
            stdin
                .write_all(format!("{token}\n").as_bytes())
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
    let errors = stderr_text.await.unwrap_or_default();
    let transcript = transcript.join("\n");
    assert!(
        status.success(),
        "failed ({status}):\n{transcript}\n{errors}"
    );
    assert!(transcript.ends_with(&format!("OK {email}")), "{transcript}");
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event = 'recovery.completed'")
            .await,
        1
    );
}
