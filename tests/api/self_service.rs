//! A signed-in person manages their own sessions and passkeys, and only their own.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app_with, TestApp, ORIGIN};
use crate::passkey::{self, authenticator};
use crate::smtp::SmtpServer;

const EMAIL: &str = "ada@example.com";

async fn app_with_mail(smtp: &SmtpServer) -> TestApp {
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

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_lists_and_ends_their_own_sessions_only() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp).await;
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let laptop = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let phone = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let tablet = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);

    let listed = json_of(
        call(&app, Method::GET, "/api/auth/sessions", &laptop)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions.iter().all(|s| s["ip_prefix"] == "127.0.0.0/24"));

    // End another of the sessions from the laptop.
    let target = sessions.iter().find(|s| s["current"] == false).unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/sessions/{target}"),
        &laptop,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ended.status(), 204);
    let again = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/sessions/{target}"),
        &laptop,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(again.status(), 404);

    // Someone else cannot end Ada's sessions.
    let mut other = passkey::verified_user(&app, &smtp, "bob@example.com").await;
    let bob = passkey::session_cookie(&passkey::login(&app, &mut other, "bob@example.com").await);
    let laptop_id = json_of(
        call(&app, Method::GET, "/api/auth/sessions", &laptop)
            .send()
            .await
            .unwrap(),
    )
    .await["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/sessions/{laptop_id}"),
        &bob,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), 404);
    assert_eq!(
        call(&app, Method::GET, "/api/auth/session", &laptop)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // "Sign out everywhere else" keeps only the current session.
    let others = json_of(
        call(&app, Method::DELETE, "/api/auth/sessions", &laptop)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(others["revoked"], 1);
    let statuses =
        [&laptop, &phone, &tablet].map(|c| call(&app, Method::GET, "/api/auth/session", c).send());
    let mut codes = Vec::new();
    for s in statuses {
        codes.push(s.await.unwrap().status().as_u16());
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM audit_log WHERE event LIKE 'session.revoke%'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_adds_renames_and_removes_passkeys_but_never_the_last() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp).await;
    let mut first = passkey::verified_user(&app, &smtp, EMAIL).await;
    let cookie = passkey::session_cookie(&passkey::login(&app, &mut first, EMAIL).await);

    // Add a second passkey through a ceremony of the signed-in account.
    let options = json_of(
        call(&app, Method::POST, "/api/auth/passkeys/options", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        options["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let challenge = serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    let mut second = authenticator();
    let credential = passkey::create(&mut second, challenge);
    let body =
        json!({"ceremony_id": options["ceremony_id"], "credential": credential, "name": "Phone"});
    let added = call(&app, Method::POST, "/api/auth/passkeys/verify", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let replay = call(&app, Method::POST, "/api/auth/passkeys/verify", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400, "the ceremony is single use");
    assert_eq!(
        passkey::login(&app, &mut second, EMAIL).await.status(),
        200,
        "the new passkey signs in"
    );

    let listed = json_of(
        call(&app, Method::GET, "/api/auth/passkeys", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let keys = listed["passkeys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .all(|k| k.get("passkey").is_none() && k.get("public_key").is_none()));
    let first_id = keys[0]["id"].as_str().unwrap().to_owned();
    let second_id = keys[1]["id"].as_str().unwrap().to_owned();

    let renamed = call(
        &app,
        Method::PATCH,
        &format!("/api/auth/passkeys/{second_id}"),
        &cookie,
    )
    .json(&json!({"name": "  Work laptop "}))
    .send()
    .await
    .unwrap();
    assert_eq!(json_of(renamed).await["name"], "Work laptop");
    let bad_name = call(
        &app,
        Method::PATCH,
        &format!("/api/auth/passkeys/{second_id}"),
        &cookie,
    )
    .json(&json!({"name": ""}))
    .send()
    .await
    .unwrap();
    assert_eq!(bad_name.status(), 422);

    // Another account cannot touch them.
    let mut bob_key = passkey::verified_user(&app, &smtp, "bob@example.com").await;
    let bob = passkey::session_cookie(&passkey::login(&app, &mut bob_key, "bob@example.com").await);
    let foreign = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/passkeys/{first_id}"),
        &bob,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(foreign.status(), 404);

    let removed = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/passkeys/{first_id}"),
        &cookie,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(removed.status(), 204);
    let last = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/passkeys/{second_id}"),
        &cookie,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(last.status(), 409);
    assert_eq!(error_code(last).await, "last_passkey");
    let ada_keys = app
        .db
        .count("SELECT count(*) FROM webauthn_credentials c JOIN users u ON u.id = c.user_id WHERE u.email = 'ada@example.com'")
        .await;
    assert_eq!(ada_keys, 1);
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM audit_log WHERE event IN ('passkey.add', 'passkey.remove')"
            )
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_service_needs_a_session_and_an_allowed_origin() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp).await;
    for (method, path) in [
        (Method::GET, "/api/auth/sessions"),
        (Method::GET, "/api/auth/passkeys"),
        (Method::DELETE, "/api/auth/sessions"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .header("origin", ORIGIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let mut key = passkey::verified_user(&app, &smtp, EMAIL).await;
    let cookie = passkey::session_cookie(&passkey::login(&app, &mut key, EMAIL).await);
    let forged = app
        .client
        .delete(app.url("/api/auth/sessions"))
        .header("cookie", &cookie)
        .header("origin", "https://attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        call(&app, Method::GET, "/api/auth/session", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
