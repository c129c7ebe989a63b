//! Step-up (issue 24, item 2): adding or removing a passkey, ending every other session and
//! erasing the account need a passkey assertion within `STEP_UP_WINDOW_SECS`; an older session
//! gets 401 `reauth_required` and changes nothing, and `reauth/options` + `reauth/verify`
//! (bound to the signed-in account, single use) refresh it. Chromium's authenticator does the
//! same in `step_up_browser.rs`.

use reqwest::Method;
use serde_json::{json, Value};
use webauthn_rs_proto::RequestChallengeResponse;

use crate::helpers::{error_code, spawn_app_with, TestApp, ORIGIN};
use crate::passkey::{self, Authenticator};
use crate::smtp::SmtpServer;

const EMAIL: &str = "ada@example.com";
const WINDOW: i64 = 300;

async fn spawn(smtp: &SmtpServer) -> TestApp {
    spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &smtp.url()),
    ])
    .await
}

fn call(app: &TestApp, method: Method, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("cookie", cookie)
        .header("origin", ORIGIN)
}

/// A verified account with a signed-in session: the passkey and the cookie.
async fn signed_in(app: &TestApp, smtp: &SmtpServer, email: &str) -> (Authenticator, String) {
    let mut key = passkey::verified_user(app, smtp, email).await;
    let response = passkey::login(app, &mut key, email).await;
    assert_eq!(response.status(), 200);
    (key, passkey::session_cookie(&response))
}

/// `reauth/options` on `cookie`'s session: the ceremony id and the challenge.
async fn reauth_options(app: &TestApp, cookie: &str) -> (String, RequestChallengeResponse) {
    let response = call(app, Method::POST, "/api/auth/reauth/options", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(!body["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .is_empty());
    let challenge = serde_json::from_value(json!({"publicKey": body["publicKey"]})).unwrap();
    (body["ceremony_id"].as_str().unwrap().to_owned(), challenge)
}

async fn reauth_verify(app: &TestApp, cookie: &str, body: &Value) -> reqwest::Response {
    call(app, Method::POST, "/api/auth/reauth/verify", cookie)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The status and error code (empty on success) of each dangerous route on `cookie`'s session.
/// The first three change nothing even past the guard (the ceremony and the passkey are not
/// the caller's); with `all`, ending the other sessions and erasing the account follow.
async fn dangerous(app: &TestApp, cookie: &str, all: bool) -> Vec<(u16, String)> {
    let other = uuid::Uuid::new_v4();
    let mut answers = Vec::new();
    for (method, path) in [
        (Method::POST, "/api/auth/passkeys/options".to_owned()),
        (Method::POST, "/api/auth/passkeys/verify".to_owned()),
        (Method::DELETE, format!("/api/auth/passkeys/{other}")),
        (Method::DELETE, "/api/auth/sessions".to_owned()),
        (Method::DELETE, "/api/account".to_owned()),
    ]
    .into_iter()
    .take(if all { 5 } else { 3 })
    {
        let mut request = call(app, method, &path, cookie);
        if path.ends_with("/verify") {
            request = request.json(&json!({"ceremony_id": other, "credential": {}}));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let code = if status < 300 {
            String::new()
        } else {
            error_code(response).await
        };
        answers.push((status, code));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangerous_changes_need_a_recent_assertion_and_reauth_refreshes_it() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let (mut key, cookie) = signed_in(&app, &smtp, EMAIL).await;
    let other = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);

    // Signing in counts: right after it, ending the other sessions works.
    app.clock.advance(chrono::Duration::seconds(WINDOW - 5));
    let ended = call(&app, Method::DELETE, "/api/auth/sessions", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200);
    let other_status = call(&app, Method::GET, "/api/auth/session", &other)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(other_status, 401);

    // Past the window every dangerous route answers reauth_required and changes nothing.
    app.clock.advance(chrono::Duration::seconds(10));
    let before = app.db.count("SELECT count(*) FROM audit_log").await;
    for (status, code) in dangerous(&app, &cookie, true).await {
        assert_eq!((status, code.as_str()), (401, "reauth_required"));
    }
    assert_eq!(app.db.count("SELECT count(*) FROM audit_log").await, before);
    assert_eq!(app.db.count("SELECT count(*) FROM ceremonies").await, 0);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL")
            .await,
        0
    );
    // Reading and renaming stay open.
    let list = call(&app, Method::GET, "/api/auth/passkeys", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);

    // A step-up refreshes the session: the dangerous routes pass the guard again.
    let (ceremony_id, challenge) = reauth_options(&app, &cookie).await;
    let assertion = passkey::assert(&mut key, challenge, passkey::origin());
    let body = json!({"ceremony_id": ceremony_id, "credential": assertion});
    let response = reauth_verify(&app, &cookie, &body).await;
    assert_eq!(response.status(), 200);
    let stepped: Value = response.json().await.unwrap();
    let at: chrono::DateTime<chrono::Utc> =
        stepped["asserted_at"].as_str().unwrap().parse().unwrap();
    let until: chrono::DateTime<chrono::Utc> = stepped["step_up_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(until - at, chrono::Duration::seconds(WINDOW));
    let answers = dangerous(&app, &cookie, false).await;
    assert_eq!(answers[0], (200, String::new()), "{answers:?}");
    assert_eq!(answers[2], (404, "not_found".to_owned()), "{answers:?}");
    assert_eq!(
        answers[1],
        (422, "invalid_request".to_owned()),
        "{answers:?}"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event = 'session.reauth'")
            .await,
        1
    );

    // The ceremony is single use.
    let replayed = reauth_verify(&app, &cookie, &body).await;
    assert_eq!(replayed.status(), 400);
    assert_eq!(error_code(replayed).await, "invalid_ceremony");

    // And the step-up lasts the window only.
    app.clock.advance(chrono::Duration::seconds(WINDOW + 1));
    for (status, code) in dangerous(&app, &cookie, false).await {
        assert_eq!((status, code.as_str()), (401, "reauth_required"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reauth_ceremony_is_bound_to_the_signed_in_account_and_its_own_passkeys() {
    let smtp = SmtpServer::start().await;
    let app = spawn(&smtp).await;
    let (_, ada) = signed_in(&app, &smtp, EMAIL).await;
    let (mut bob_key, bob) = signed_in(&app, &smtp, "bob@example.com").await;
    app.clock.advance(chrono::Duration::seconds(WINDOW + 1));

    // Bob's passkey answering Ada's challenge, on Ada's session: not her passkey.
    let (ceremony_id, challenge) = reauth_options(&app, &ada).await;
    let mut challenge = serde_json::to_value(challenge).unwrap();
    challenge["publicKey"]["allowCredentials"] =
        json!(passkey::credentials_of(&app, "bob@example.com")
            .await
            .iter()
            .map(|id| json!({"type": "public-key", "id": id}))
            .collect::<Vec<_>>());
    let assertion = passkey::assert(
        &mut bob_key,
        serde_json::from_value(challenge).unwrap(),
        passkey::origin(),
    );
    let refused = reauth_verify(
        &app,
        &ada,
        &json!({"ceremony_id": ceremony_id, "credential": assertion}),
    )
    .await;
    assert_eq!(refused.status(), 401);
    assert_eq!(error_code(refused).await, "login_failed");

    // Ada's ceremony finished on Bob's session, and a login ceremony used as a step-up.
    let (ceremony_id, challenge) = reauth_options(&app, &ada).await;
    let mut challenge = serde_json::to_value(challenge).unwrap();
    challenge["publicKey"]["allowCredentials"] =
        json!(passkey::credentials_of(&app, "bob@example.com")
            .await
            .iter()
            .map(|id| json!({"type": "public-key", "id": id}))
            .collect::<Vec<_>>());
    let assertion = passkey::assert(
        &mut bob_key,
        serde_json::from_value(challenge).unwrap(),
        passkey::origin(),
    );
    let foreign = reauth_verify(
        &app,
        &bob,
        &json!({"ceremony_id": ceremony_id, "credential": assertion}),
    )
    .await;
    assert_eq!(foreign.status(), 400);
    assert_eq!(error_code(foreign).await, "invalid_ceremony");
    let (login_ceremony, challenge) = passkey::login_options(&app, Some("bob@example.com")).await;
    let assertion = passkey::assert(&mut bob_key, challenge, passkey::origin());
    let body = json!({"ceremony_id": login_ceremony, "credential": assertion});
    let wrong_kind = reauth_verify(&app, &bob, &body).await;
    assert_eq!(wrong_kind.status(), 400);
    assert_eq!(error_code(wrong_kind).await, "invalid_ceremony");

    // None of it counted as a step-up; no session, or no allowed origin, gets nothing.
    for cookie in [&ada, &bob] {
        let (status, code) = dangerous(&app, cookie, true).await.remove(3);
        assert_eq!((status, code.as_str()), (401, "reauth_required"));
    }
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event = 'session.reauth'")
            .await,
        0
    );
    let anonymous = passkey::post(&app, "/api/auth/reauth/options", json!({})).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(error_code(anonymous).await, "unauthenticated");
    let cross_site = app
        .client
        .post(app.url("/api/auth/reauth/options"))
        .header("cookie", &ada)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let malformed = reauth_verify(&app, &ada, &json!({"ceremony_id": "nope"})).await;
    assert_eq!(malformed.status(), 422);
}
