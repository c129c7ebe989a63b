//! The client side of the passkey ceremonies, played by webauthn-authenticator-rs's software
//! passkey, against the real routes.

use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

use crate::helpers::{TestApp, ORIGIN};
use crate::smtp::SmtpServer;

pub type Authenticator = SoftPasskey;

pub fn authenticator() -> Authenticator {
    // `true`: claim user verification, which Raptor requires.
    SoftPasskey::new(true)
}

pub fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// A bootstrap token straight from the library (the CLI has its own test).
pub async fn bootstrap_token(app: &TestApp, email: Option<&str>) -> String {
    use secrecy::ExposeSecret;
    let pool =
        raptor::db::build_pool(&app.db.url, raptor::settings::DatabaseSsl::Disable, 1).unwrap();
    let client = pool.get().await.unwrap();
    let email = email.map(|e| raptor::auth::Email::parse(e).unwrap());
    let hasher = raptor::Settings::load(|k| match k {
        "APP_ENV" => Some("test".into()),
        "SECRET_KEY" => Some(crate::helpers::TEST_SECRET_KEY.into()),
        "DATABASE_URL" => Some(app.db.url.clone()),
        _ => None,
    })
    .unwrap()
    .token_hasher();
    let created = raptor::auth::bootstrap::create(
        &client,
        &hasher,
        email.as_ref(),
        chrono::Duration::days(1),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    created.token.expose_secret().to_owned()
}

pub async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("origin", ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// `register/options` → the ceremony id and the challenge.
pub async fn register_options(
    app: &TestApp,
    email: &str,
    token: &str,
) -> (String, CreationChallengeResponse) {
    let response = post(
        app,
        "/api/auth/register/options",
        json!({"email": email, "bootstrap_token": token}),
    )
    .await;
    assert_eq!(response.status(), 200, "register/options");
    let body: Value = response.json().await.unwrap();
    let challenge = serde_json::from_value(json!({"publicKey": body["publicKey"]})).unwrap();
    (body["ceremony_id"].as_str().unwrap().to_owned(), challenge)
}

/// The credential ids registered for `email` (pending ones included), as the browser's
/// authenticator would know them.
pub async fn credentials_of(app: &TestApp, email: &str) -> Vec<String> {
    app.db
        .client()
        .await
        .query(
            "SELECT c.credential_id FROM webauthn_credentials c JOIN users u ON u.id = c.user_id \
             WHERE u.email = $1",
            &[&email],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub fn create(
    authenticator: &mut Authenticator,
    challenge: CreationChallengeResponse,
) -> RegisterPublicKeyCredential {
    authenticator
        .do_registration(origin(), challenge)
        .expect("the software passkey registers")
}

/// A complete registration; returns the verify response.
pub async fn register(
    app: &TestApp,
    authenticator: &mut Authenticator,
    email: &str,
) -> reqwest::Response {
    let token = bootstrap_token(app, None).await;
    let (ceremony_id, challenge) = register_options(app, email, &token).await;
    let credential = create(authenticator, challenge);
    post(
        app,
        "/api/auth/register/verify",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
}

/// `login/options` → the ceremony id and the challenge.
pub async fn login_options(
    app: &TestApp,
    email: Option<&str>,
) -> (String, RequestChallengeResponse) {
    let body = email.map_or(json!({}), |e| json!({"email": e}));
    let response = post(app, "/api/auth/login/options", body).await;
    assert_eq!(response.status(), 200, "login/options");
    let body: Value = response.json().await.unwrap();
    let mut public_key = body["publicKey"].clone();
    if let Some(email) = email {
        // The options never list credentials (no enumeration); a browser finds its resident
        // passkey by itself, the software passkey needs to be told which one it holds.
        public_key["allowCredentials"] = json!(credentials_of(app, email)
            .await
            .iter()
            .map(|id| json!({"type": "public-key", "id": id}))
            .collect::<Vec<_>>());
    }
    let challenge = serde_json::from_value(json!({"publicKey": public_key})).unwrap();
    (body["ceremony_id"].as_str().unwrap().to_owned(), challenge)
}

pub fn assert(
    authenticator: &mut Authenticator,
    challenge: RequestChallengeResponse,
    origin: Url,
) -> PublicKeyCredential {
    authenticator
        .do_authentication(origin, challenge)
        .expect("the software passkey signs")
}

pub async fn login_verify(
    app: &TestApp,
    ceremony_id: &str,
    credential: &PublicKeyCredential,
) -> reqwest::Response {
    post(
        app,
        "/api/auth/login/verify",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
}

/// A complete login with `email`; returns the verify response.
pub async fn login(
    app: &TestApp,
    authenticator: &mut Authenticator,
    email: &str,
) -> reqwest::Response {
    let (ceremony_id, challenge) = login_options(app, Some(email)).await;
    let credential = assert(authenticator, challenge, origin());
    login_verify(app, &ceremony_id, &credential).await
}

/// Registers `email` with a fresh software passkey, verifies the address with the emailed
/// token, and returns the authenticator holding the passkey.
pub async fn verified_user(app: &TestApp, smtp: &SmtpServer, email: &str) -> Authenticator {
    let mut key = authenticator();
    assert_eq!(register(app, &mut key, email).await.status(), 201);
    let token = smtp.verification_token(email, 0).await;
    let response = post(app, "/api/auth/email/verify", json!({"token": token})).await;
    assert_eq!(response.status(), 200);
    key
}

/// The `session=…` pair from a response's `Set-Cookie`.
pub fn session_cookie(response: &reqwest::Response) -> String {
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}
