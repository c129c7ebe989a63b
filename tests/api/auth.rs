//! Passkey accounts end to end: registration with a bootstrap token, email verification through
//! a real SMTP server, login, the session cookie, logout — and the attacks on each step.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{error_code, eventually, spawn_app_with, TestApp, ORIGIN};
use crate::passkey::{self, authenticator};
use crate::smtp::SmtpServer;

const EMAIL: &str = "ada@example.com";

async fn spawn_auth_app(smtp: &SmtpServer) -> TestApp {
    spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &smtp.url()),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_registers_verifies_signs_in_and_signs_out() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = authenticator();

    let registered = passkey::register(&app, &mut key, "Ada@Example.com").await;
    assert_eq!(registered.status(), 201);
    let body: serde_json::Value = registered.json().await.unwrap();
    assert_eq!(body["needs_email_verification"], true);
    assert!(body["user_id"].is_string() && body["credential_id"].is_string());

    // Before the email is verified the account cannot sign in.
    let refused = passkey::login(&app, &mut key, EMAIL).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(error_code(refused).await, "email_not_verified");

    let token = smtp.verification_token(EMAIL, 0).await;
    let verified = passkey::post(&app, "/api/auth/email/verify", json!({"token": token})).await;
    assert_eq!(verified.status(), 200);
    let reused = passkey::post(&app, "/api/auth/email/verify", json!({"token": token})).await;
    assert_eq!(reused.status(), 400, "verification tokens are single use");

    let signed_in = passkey::login(&app, &mut key, EMAIL).await;
    assert_eq!(signed_in.status(), 200);
    let set_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=None", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert!(
        !set_cookie.contains("Domain="),
        "host-only without SESSION_COOKIE_DOMAIN"
    );
    let cookie = passkey::session_cookie(&signed_in);
    let login_body: serde_json::Value = signed_in.json().await.unwrap();
    assert_eq!(login_body["email"], EMAIL);

    let session = app
        .client
        .get(app.url("/api/auth/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    let session: serde_json::Value = session.json().await.unwrap();
    assert_eq!(session["user_id"], login_body["user_id"]);
    assert_eq!(session["email"], EMAIL);
    assert!(session["expires_at"].is_string());

    let logout = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert!(logout.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = app
        .client
        .get(app.url("/api/auth/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);

    // The database never holds the token, and the audit trail has the story without secrets.
    let client = app.db.client().await;
    let raw = cookie.trim_start_matches("session=");
    let leaked: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT token_hash AS t FROM sessions UNION ALL SELECT details FROM audit_log \
             UNION ALL SELECT coalesce(subject, '') FROM audit_log UNION ALL SELECT token_hash FROM email_verifications) x \
             WHERE t LIKE '%' || $1 || '%' OR t LIKE '%' || $2 || '%'",
            &[&raw, &token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
    let events: Vec<String> = client
        .query("SELECT event FROM audit_log ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for event in [
        "bootstrap_token.use",
        "register",
        "login.failure",
        "email.verify",
        "book.open",
        "login.success",
        "logout",
    ] {
        assert!(
            events.iter().any(|e| e == event),
            "{event} audited: {events:?}"
        );
    }
    let prefixes: i64 = app.db.count("SELECT count(*) FROM audit_log WHERE ip_prefix IS NOT NULL AND ip_prefix <> '127.0.0.0/24'").await;
    assert_eq!(prefixes, 0, "only IP prefixes are stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discoverable_login_options_carry_no_credentials_and_conditional_mediation() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    for body in [json!({}), json!({"email": "nobody@example.com"})] {
        let response = passkey::post(&app, "/api/auth/login/options", body).await;
        let options: serde_json::Value = response.json().await.unwrap();
        assert!(options["ceremony_id"].is_string());
        assert!(options["publicKey"]["challenge"].is_string());
        assert!(options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()));
        assert_eq!(options["mediation"], "conditional");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_asks_for_a_discoverable_credential_and_lists_no_pending_one() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = authenticator();
    assert_eq!(passkey::register(&app, &mut key, EMAIL).await.status(), 201);
    let token = passkey::bootstrap_token(&app, None).await;
    let response = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": EMAIL, "bootstrap_token": token}),
    )
    .await;
    let options: serde_json::Value = response.json().await.unwrap();
    let public_key = &options["publicKey"];
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    // The address's pending passkey is not named: that would tell an invitation holder that
    // a sign-up is waiting (issue 24, item 1).
    assert_eq!(public_key["excludeCredentials"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_or_expired_ceremony_is_refused_and_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = authenticator();
    let token = passkey::bootstrap_token(&app, None).await;
    let (ceremony_id, challenge) = passkey::register_options(&app, EMAIL, &token).await;
    let credential = passkey::create(&mut key, challenge);
    let body = json!({"ceremony_id": ceremony_id, "credential": credential});
    assert_eq!(
        passkey::post(&app, "/api/auth/register/verify", body.clone())
            .await
            .status(),
        201
    );
    let replay = passkey::post(&app, "/api/auth/register/verify", body).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(replay).await, "invalid_ceremony");
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM webauthn_credentials")
            .await,
        1
    );

    // Login ceremonies are single use too, and expire after five minutes.
    let token = smtp.verification_token(EMAIL, 0).await;
    passkey::post(&app, "/api/auth/email/verify", json!({"token": token})).await;
    let (ceremony_id, challenge) = passkey::login_options(&app, Some(EMAIL)).await;
    let assertion = passkey::assert(&mut key, challenge, passkey::origin());
    assert_eq!(
        passkey::login_verify(&app, &ceremony_id, &assertion)
            .await
            .status(),
        200
    );
    assert_eq!(
        passkey::login_verify(&app, &ceremony_id, &assertion)
            .await
            .status(),
        400
    );

    let (ceremony_id, challenge) = passkey::login_options(&app, Some(EMAIL)).await;
    let assertion = passkey::assert(&mut key, challenge, passkey::origin());
    app.clock.advance(chrono::Duration::minutes(6));
    let expired = passkey::login_verify(&app, &ceremony_id, &assertion).await;
    assert_eq!(expired.status(), 400);
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_origin_in_client_data_is_refused() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let (ceremony_id, challenge) = passkey::login_options(&app, Some(EMAIL)).await;
    // A phishing page relays the challenge: clientData names the page's origin, not ours.
    let mut assertion = passkey::assert(&mut key, challenge, passkey::origin());
    let mut client_data: serde_json::Value =
        serde_json::from_slice(assertion.response.client_data_json.as_ref()).unwrap();
    client_data["origin"] = json!("https://attacker.example");
    assertion.response.client_data_json = serde_json::to_vec(&client_data).unwrap();
    let response = passkey::login_verify(&app, &ceremony_id, &assertion).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "login_failed");
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_credential_cannot_answer_a_login_ceremony() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let _ada = passkey::verified_user(&app, &smtp, EMAIL).await;
    let mut mallory = passkey::verified_user(&app, &smtp, "mallory@example.com").await;

    // Ada's challenge, answered by Mallory's passkey (whose id Mallory puts in the allow list).
    let (ada_ceremony, mut challenge) = passkey::login_options(&app, Some(EMAIL)).await;
    let (_, mallory_challenge) = passkey::login_options(&app, Some("mallory@example.com")).await;
    challenge.public_key.allow_credentials = mallory_challenge.public_key.allow_credentials;
    let assertion = passkey::assert(&mut mallory, challenge, passkey::origin());
    let response = passkey::login_verify(&app, &ada_ceremony, &assertion).await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_regression_is_refused_and_audited() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    assert_eq!(passkey::login(&app, &mut key, EMAIL).await.status(), 200);
    // The stored counter jumps ahead, as if a clone of the authenticator had been used.
    app.db
        .client()
        .await
        .execute("UPDATE webauthn_credentials SET passkey = jsonb_set(passkey, '{cred,counter}', '1000')", &[])
        .await
        .unwrap();
    let response = passkey::login(&app, &mut key, EMAIL).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event = 'login.counter_regression'")
            .await,
        1
    );
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_cookies_are_refused() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let cookie = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let get = |cookie: String| {
        app.client
            .get(app.url("/api/auth/session"))
            .header("cookie", cookie)
            .send()
    };

    for forged in [
        "session=",
        "session=AAAA",
        "session=aGVsbG8td29ybGQtdGhpcy1pcy1ub3QtYS1zZXNzaW9uLXQ",
    ] {
        let response = get(forged.to_owned()).await.unwrap();
        assert_eq!(response.status(), 401, "{forged}");
        assert_eq!(error_code(response).await, "unauthenticated");
    }
    assert_eq!(get(cookie.clone()).await.unwrap().status(), 200);

    // Rolling idle expiry: used every 11 hours it lives on; idle 12 hours it dies.
    app.clock.advance(chrono::Duration::hours(11));
    assert_eq!(get(cookie.clone()).await.unwrap().status(), 200);
    app.clock.advance(chrono::Duration::hours(11));
    assert_eq!(get(cookie.clone()).await.unwrap().status(), 200);
    app.clock.advance(chrono::Duration::hours(13));
    assert_eq!(get(cookie.clone()).await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_absolute_cap_ends_a_session_that_is_used_constantly() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let cookie = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let get = || {
        app.client
            .get(app.url("/api/auth/session"))
            .header("cookie", &cookie)
            .send()
    };
    for _ in 0..16 {
        app.clock.advance(chrono::Duration::hours(10));
        assert_eq!(get().await.unwrap().status(), 200);
    }
    app.clock.advance(chrono::Duration::hours(10));
    assert_eq!(
        get().await.unwrap().status(),
        401,
        "7 days after sign-in the session ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_session_on_every_instance_within_a_second() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let peer = app
        .spawn_peer(&[("FLAG_WEBAUTHN_REGISTRATION", "true")])
        .await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let cookie = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let on_peer = || {
        peer.client
            .get(peer.url("/api/auth/session"))
            .header("cookie", &cookie)
            .send()
    };
    // The peer validates (and caches) the session first.
    assert_eq!(on_peer().await.unwrap().status(), 200);

    let logout = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    eventually(
        Duration::from_secs(1),
        "the peer refuses the old cookie",
        || async { (on_peer().await.unwrap().status() == 401).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_from_a_disallowed_origin_or_with_a_text_body_is_refused_and_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let cookie = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let attacker = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", "https://attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(attacker.status(), 403);
    let text = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .header("content-type", "text/plain")
        .body("logout")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 403);
    let still = app
        .client
        .get(app.url("/api/auth/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_404_when_the_flag_is_off() {
    let app = crate::helpers::spawn_app().await;
    let token = passkey::bootstrap_token(&app, None).await;
    let response = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": EMAIL, "bootstrap_token": token}),
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_tokens_are_single_use_and_bound_to_their_address() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let token = passkey::bootstrap_token(&app, None).await;
    let mut first = authenticator();
    let (ceremony_id, challenge) = passkey::register_options(&app, EMAIL, &token).await;
    let credential = passkey::create(&mut first, challenge);
    let ok = passkey::post(
        &app,
        "/api/auth/register/verify",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await;
    assert_eq!(ok.status(), 201);

    let reused = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": "bob@example.com", "bootstrap_token": token}),
    )
    .await;
    assert_eq!(reused.status(), 403);
    assert_eq!(error_code(reused).await, "invalid_bootstrap_token");

    let bound = passkey::bootstrap_token(&app, Some("carol@example.com")).await;
    let wrong = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": "bob@example.com", "bootstrap_token": bound}),
    )
    .await;
    assert_eq!(wrong.status(), 403);
    let missing = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": EMAIL, "bootstrap_token": "x"}),
    )
    .await;
    assert_eq!(missing.status(), 403);
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_mistyped_bodies_get_clear_4xx() {
    let app = spawn_app_with(&[("FLAG_WEBAUTHN_REGISTRATION", "true")]).await;
    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/auth/register/options"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = send("{\"email\": ", "application/json").await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(error_code(malformed).await, "malformed_json");
    let mistyped = send(
        "{\"email\": 42, \"bootstrap_token\": []}",
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(mistyped.status(), 422);
    assert_eq!(error_code(mistyped).await, "invalid_request");
    let missing = send("{}", "application/json").await.unwrap();
    assert_eq!(missing.status(), 422);
    let not_json = send("email=a", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    let bad_email = passkey::post(
        &app,
        "/api/auth/register/options",
        json!({"email": "no-at-sign", "bootstrap_token": "x"}),
    )
    .await;
    assert_eq!(bad_email.status(), 422);
    let bad_ceremony = passkey::post(
        &app,
        "/api/auth/login/verify",
        json!({"ceremony_id": "not-a-uuid", "credential": {}}),
    )
    .await;
    assert_eq!(bad_ceremony.status(), 422);
    assert_eq!(app.db.count("SELECT count(*) FROM ceremonies").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_always_answers_202_and_is_rate_limited() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = authenticator();
    assert_eq!(passkey::register(&app, &mut key, EMAIL).await.status(), 201);
    for email in ["nobody@example.com", EMAIL, "not an email"] {
        let response = passkey::post(&app, "/api/auth/email/resend", json!({"email": email})).await;
        assert_eq!(response.status(), 202, "{email}");
    }
    // A second verification email arrives, and the newest link works.
    let second = smtp.verification_token(EMAIL, 1).await;
    assert_eq!(
        passkey::post(&app, "/api/auth/email/verify", json!({"token": second}))
            .await
            .status(),
        200
    );

    // Per address: at most 3 emails an hour whatever is asked; per IP: 10 calls an hour.
    for _ in 0..7 {
        passkey::post(
            &app,
            "/api/auth/email/resend",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    }
    let limited = passkey::post(&app, "/api/auth/email/resend", json!({"email": EMAIL})).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert!(app.db.count("SELECT count(*) FROM email_outbox").await <= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_links_expire_after_a_day() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut key = authenticator();
    assert_eq!(passkey::register(&app, &mut key, EMAIL).await.status(), 201);
    let token = smtp.verification_token(EMAIL, 0).await;
    app.clock.advance(chrono::Duration::hours(25));
    let response = passkey::post(&app, "/api/auth/email/verify", json!({"token": token})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_token");
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_cli_prints_a_token_once_and_audits_its_creation() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"))
        .args(["bootstrap-token", "create", "--email", EMAIL, "--ttl", "2h"])
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &app.db.url)
        .env("SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.len(), 43);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event = 'bootstrap_token.create'")
            .await,
        1
    );
    let stored: String = app
        .db
        .client()
        .await
        .query_one("SELECT token_hash FROM bootstrap_tokens", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(stored, token);

    let mut key = authenticator();
    let (ceremony_id, challenge) = passkey::register_options(&app, EMAIL, &token).await;
    let credential = passkey::create(&mut key, challenge);
    let ok = passkey::post(
        &app,
        "/api/auth/register/verify",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_carries_the_configured_domain() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &smtp.url()),
        ("SESSION_COOKIE_DOMAIN", ".raxx.test"),
    ])
    .await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let response = passkey::login(&app, &mut key, EMAIL).await;
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("; Domain=.raxx.test"), "{set_cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_that_cannot_be_delivered_is_retried_with_backoff() {
    // Nothing listens on this port yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(&[("FLAG_WEBAUTHN_REGISTRATION", "true"), ("SMTP_URL", &url)]).await;
    let mut key = authenticator();
    assert_eq!(passkey::register(&app, &mut key, EMAIL).await.status(), 201);
    eventually(
        Duration::from_secs(10),
        "a failed attempt is recorded",
        || async {
            let row = app
                .db
                .client()
                .await
                .query_one(
                    "SELECT attempts, sent_at IS NULL, next_attempt_at > now() FROM email_outbox",
                    &[],
                )
                .await
                .unwrap();
            (row.get::<_, i32>(0) >= 1 && row.get::<_, bool>(1) && row.get::<_, bool>(2))
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM email_verifications")
            .await,
        0,
        "an undelivered token is not kept"
    );

    // The server comes up; once the backoff has passed the message goes out.
    let smtp = SmtpServer::start_on(port).await;
    app.clock.advance(chrono::Duration::minutes(5));
    let mailer = app.app().actors().mailer.slot().clone();
    mailer
        .ask(
            raptor_actors::mailer::MailerMsg::Flush,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let token = smtp.verification_token(EMAIL, 0).await;
    assert_eq!(
        passkey::post(&app, "/api/auth/email/verify", json!({"token": token}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM email_outbox WHERE sent_at IS NOT NULL")
            .await,
        1
    );
}

/// The shape of a JSON value: its keys and value types, recursively, not its values.
pub(crate) fn shape(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        serde_json::Value::Array(items) => json!(items.iter().map(shape).collect::<Vec<_>>()),
        serde_json::Value::String(_) => json!("string"),
        serde_json::Value::Number(_) => json!("number"),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_options_do_not_tell_whether_an_address_has_an_account() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    passkey::verified_user(&app, &smtp, EMAIL).await;
    let options = |email: &'static str| {
        let app = &app;
        async move {
            let response =
                passkey::post(app, "/api/auth/login/options", json!({"email": email})).await;
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let known = options(EMAIL).await;
    let unknown = options("nobody@example.com").await;
    assert_eq!(shape(&known), shape(&unknown), "{known} vs {unknown}");
    for body in [&known, &unknown] {
        assert!(body["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()));
        assert_eq!(body["mediation"], "conditional");
    }
    // The known address's passkey still signs in with those options.
    let mut key = passkey::verified_user(&app, &smtp, "second@example.com").await;
    assert_eq!(
        passkey::login(&app, &mut key, "second@example.com")
            .await
            .status(),
        200
    );
}

/// A login ceremony started for `email` (unknown, or another account's) answered with `key`'s
/// own passkey `credential_id`, as someone probing for accounts would.
async fn login_as(
    app: &TestApp,
    email: &str,
    key: &mut passkey::Authenticator,
    credential_id: &str,
) -> reqwest::Response {
    let options = passkey::post(app, "/api/auth/login/options", json!({"email": email})).await;
    assert_eq!(options.status(), 200);
    let body: serde_json::Value = options.json().await.unwrap();
    let mut public_key = body["publicKey"].clone();
    public_key["allowCredentials"] = json!([{"type": "public-key", "id": credential_id}]);
    let challenge = serde_json::from_value(json!({"publicKey": public_key})).unwrap();
    let assertion = passkey::assert(key, challenge, passkey::origin());
    passkey::login_verify(app, body["ceremony_id"].as_str().unwrap(), &assertion).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_bound_login_accepts_only_that_addresss_passkeys_known_or_not() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let mut mine = passkey::verified_user(&app, &smtp, EMAIL).await;
    passkey::verified_user(&app, &smtp, "other@example.com").await;
    let my_credential = passkey::credentials_of(&app, EMAIL).await.remove(0);

    // My own passkey answering a ceremony bound to an unknown or another address: refused the
    // same way, so the answer tells nothing about which addresses have accounts.
    for email in ["nobody@example.com", "other@example.com", "not an email"] {
        let refused = login_as(&app, email, &mut mine, &my_credential).await;
        assert_eq!(refused.status(), 401, "{email}");
        assert_eq!(error_code(refused).await, "login_failed");
    }
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 0);
    // Bound to my address, it signs in.
    assert_eq!(
        login_as(&app, EMAIL, &mut mine, &my_credential)
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_cli_binds_to_an_email_unless_told_unbound_and_warns() {
    let smtp = SmtpServer::start().await;
    let app = spawn_auth_app(&smtp).await;
    let cli = |args: &'static [&'static str]| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"))
            .args(args)
            .env("APP_ENV", "test")
            .env("DATABASE_URL", &app.db.url)
            .env("SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
            .output()
    };
    // Neither --email nor --unbound, or both: refused, nothing stored or audited.
    for args in [
        &["bootstrap-token", "create"][..],
        &["bootstrap-token", "create", "--unbound", "--email", EMAIL][..],
    ] {
        let output = cli(args).await.unwrap();
        assert!(!output.status.success(), "{args:?}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(
        app.db.count("SELECT count(*) FROM bootstrap_tokens").await,
        0
    );
    assert_eq!(app.db.count("SELECT count(*) FROM audit_log").await, 0);

    let output = cli(&["bootstrap-token", "create", "--unbound"])
        .await
        .unwrap();
    assert!(output.status.success());
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(warning.contains("not bound to an address"), "{warning}");
    assert!(warning.contains("--email"), "{warning}");
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM bootstrap_tokens WHERE email IS NULL")
            .await,
        1
    );
}
