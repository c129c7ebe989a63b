//! Passkeys in a real browser, and the development page that makes it possible.
//!
//! The software passkey in `passkey.rs` cannot hold resident keys, so usernameless (discoverable)
//! login is proved here: `tests/browser/discoverable-login.mjs` drives Debian's Chromium through
//! playwright-core, with a CDP virtual authenticator, against `/dev/passkeys` on a test instance.
//! Chromium and the node modules come from `scripts/install-browser.sh`; without them the test
//! fails and says so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::smtp::SmtpServer;

const INSTALL_HINT: &str = "run scripts/install-browser.sh (it installs Debian's chromium and \
                            the node modules in tests/browser)";

/// The whole browser run: launch, register, verify, sign in twice, sign out.
const BROWSER_DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_with_a_discoverable_passkey_and_no_email() {
    let tools = BrowserTools::require();
    let smtp = SmtpServer::start().await;
    let (app, origin) = spawn_on_localhost(&smtp).await;
    let bootstrap = crate::passkey::bootstrap_token(&app, None).await;
    let email = format!("browser-{}@example.com", uuid::Uuid::new_v4().simple());

    let mut node = tools.script("discoverable-login.mjs", &origin, &bootstrap, &email);
    let mut stdin = node.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(node.stdout.take().expect("piped stdout")).lines();
    let mut stderr = node.stderr.take().expect("piped stderr");
    let stderr_text = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    // Follow the script's transcript; answer its request for the emailed token.
    let deadline = tokio::time::Instant::now() + BROWSER_DEADLINE;
    let mut transcript = Vec::new();
    loop {
        let line = tokio::time::timeout_at(deadline, stdout.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the browser run took over {BROWSER_DEADLINE:?}; so far:\n{}",
                    transcript.join("\n")
                )
            })
            .expect("read the script's output");
        let Some(line) = line else { break };
        if let Some(recipient) = line.strip_prefix("NEED_EMAIL_TOKEN ") {
            assert_eq!(
                recipient, email,
                "the script registers the address it was given"
            );
            let token = smtp.verification_token(&email, 0).await;
            stdin
                .write_all(format!("{token}\n").as_bytes())
                .await
                .expect("hand the token to the script");
            stdin.flush().await.expect("flush the token");
        }
        transcript.push(line);
    }
    let status = tokio::time::timeout_at(deadline, node.wait())
        .await
        .expect("the script exits once its output ends")
        .expect("the script's exit status");
    let errors = stderr_text.await.unwrap_or_default();
    let transcript = transcript.join("\n");
    assert!(
        status.success(),
        "the browser run failed ({status}):\n{transcript}\n{errors}"
    );
    assert!(
        transcript.ends_with(&format!("OK {email}")),
        "the script finished its checks:\n{transcript}"
    );
    assert!(transcript.contains("sign in with a passkey: Signed in with a passkey (no email)."));

    // The server agrees: the usernameless logins are on the audit trail, for this account.
    let user_id: uuid::Uuid = app
        .db
        .client()
        .await
        .query_one("SELECT id FROM users WHERE email = $1", &[&email])
        .await
        .expect("the account exists")
        .get(0);
    let logins: i64 = app
        .db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM audit_log WHERE event = 'login.success' AND actor_user_id = $1",
            &[&user_id],
        )
        .await
        .expect("count logins")
        .get(0);
    assert_eq!(logins, 2, "the button and the autofill sign-ins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_page_is_served_in_test_under_its_own_strict_csp() {
    let app = spawn_app().await;
    let response = app.get("/dev/passkeys").await;
    assert_eq!(response.status(), 200);
    let h = response.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; "), "{csp}");
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"autocomplete="username webauthn""#));

    // Every other response keeps the global policy.
    let health = app.get("/health").await;
    assert_eq!(
        health.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_page_is_not_found_in_production() {
    let app = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("PORT", "0"),
    ])
    .await;
    let response = app.get("/dev/passkeys").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(crate::helpers::error_code(response).await, "not_found");
}

/// What the browser run needs on this machine.
pub(crate) struct BrowserTools {
    pub(crate) chromium: PathBuf,
    pub(crate) node: PathBuf,
}

impl BrowserTools {
    /// The tools, or a failed test that says how to install them.
    /// Starts `script` (in tests/browser) against Raptor at `origin`, stdin and stdout piped
    /// for its transcript.
    pub(crate) fn script(
        &self,
        script: &str,
        origin: &str,
        bootstrap: &str,
        email: &str,
    ) -> tokio::process::Child {
        self.script_with(script, origin, bootstrap, email, &[])
    }

    /// [`Self::script`] with more environment for the script.
    pub(crate) fn script_with(
        &self,
        script: &str,
        origin: &str,
        bootstrap: &str,
        email: &str,
        extra: &[(&str, &str)],
    ) -> tokio::process::Child {
        Command::new(&self.node)
            .envs(extra.iter().copied())
            .arg(script)
            .current_dir(browser_dir())
            .env("RAPTOR_URL", origin)
            .env("BOOTSTRAP_TOKEN", bootstrap)
            .env("EMAIL", email)
            .env("CHROMIUM", &self.chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node ({e}): {INSTALL_HINT}"))
    }

    pub(crate) fn require() -> Self {
        let chromium =
            PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
        assert!(
            chromium.is_file(),
            "{} is missing: {INSTALL_HINT}",
            chromium.display()
        );
        let modules = browser_dir().join("node_modules/playwright-core");
        assert!(
            modules.is_dir(),
            "{} is missing: {INSTALL_HINT}",
            modules.display()
        );
        let node = PathBuf::from("node");
        let works = std::process::Command::new(&node)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(works, "node (>= 20) is not on PATH: {INSTALL_HINT}");
        Self { chromium, node }
    }
}

pub(crate) fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The app with registration on, mail to `smtp`, and `http://localhost:<port>` as both its
/// WebAuthn origin and its one allowed frontend origin, so the page it serves can use it. The
/// origin must name the port before the app starts, so a free port is picked first; should
/// another process take it in between, the start fails and another port is tried.
pub(crate) async fn spawn_on_localhost(smtp: &SmtpServer) -> (TestApp, String) {
    spawn_on_localhost_with(smtp, &[]).await
}

/// [`spawn_on_localhost`] with more settings (a market-data stand-in, the simulated broker).
pub(crate) async fn spawn_on_localhost_with(
    smtp: &SmtpServer,
    extra: &[(&str, &str)],
) -> (TestApp, String) {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let origin = format!("http://localhost:{port}");
        let overrides: Vec<(String, String)> = [
            ("FLAG_WEBAUTHN_REGISTRATION", "true".to_owned()),
            ("SMTP_URL", smtp.url()),
            ("PORT", port.to_string()),
            ("WEBAUTHN_ORIGIN", origin.clone()),
            ("FRONTEND_ORIGIN", origin.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .collect();
        // spawn_app_with panics when the app cannot start; a task contains that panic.
        let started = tokio::spawn(async move {
            let overrides: Vec<(&str, &str)> = overrides
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            spawn_app_with(&overrides).await
        })
        .await;
        if let Ok(app) = started {
            return (app, origin);
        }
    }
    panic!("the app could not listen on a free port in {ATTEMPTS} attempts");
}
