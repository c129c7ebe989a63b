//! `SECRET_KEY` rotation end to end: a session and an email token issued under key A still work
//! after a restart with `SECRET_KEY=B, SECRET_KEY_PREVIOUS=A`, and fail once A is dropped.

use serde_json::json;

use crate::helpers::{spawn_app_with, TestApp};
use crate::passkey::{self, authenticator};
use crate::smtp::SmtpServer;

/// Key A is the tests' usual key, which the bootstrap-token helper signs invitations with.
const KEY_A: &str = crate::helpers::TEST_SECRET_KEY;
const KEY_B: &str = "rotation-test-key-B-0123456789-abcdefghijkl"; // secret-scan: allow (test-only key)

async fn session_status(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/api/auth/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_email_tokens_survive_a_key_rotation_until_the_old_key_is_dropped() {
    let smtp = SmtpServer::start().await;
    let smtp_url = smtp.url();
    let auth = [
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", smtp_url.as_str()),
    ];
    let mut under_a = auth.to_vec();
    under_a.push(("SECRET_KEY", KEY_A));
    let a = spawn_app_with(&under_a).await;
    let user = a.sign_in("kept@example.com", false).await;
    assert_eq!(session_status(&a, &user.cookie).await, 200);
    for email in ["first@example.com", "second@example.com"] {
        assert_eq!(
            passkey::register(&a, &mut authenticator(), email)
                .await
                .status(),
            201
        );
    }
    let first = smtp.verification_token("first@example.com", 0).await;
    let second = smtp.verification_token("second@example.com", 0).await;

    // Rotated: B signs, A still verifies.
    let mut rotated = auth.to_vec();
    rotated.extend([("SECRET_KEY", KEY_B), ("SECRET_KEY_PREVIOUS", KEY_A)]);
    let b = a.spawn_peer(&rotated).await;
    assert_eq!(
        session_status(&b, &user.cookie).await,
        200,
        "a session from key A"
    );
    let verified = passkey::post(&b, "/api/auth/email/verify", json!({"token": first})).await;
    assert_eq!(verified.status(), 200, "an email token from key A");

    // A dropped: what it signed no longer works.
    let mut only_b = auth.to_vec();
    only_b.push(("SECRET_KEY", KEY_B));
    let c = a.spawn_peer(&only_b).await;
    assert_eq!(session_status(&c, &user.cookie).await, 401, "key A is gone");
    let refused = passkey::post(&c, "/api/auth/email/verify", json!({"token": second})).await;
    assert_eq!(refused.status(), 400);
    // And a session issued under B works on B's instance.
    let fresh = c.sign_in("fresh@example.com", false).await;
    assert_eq!(session_status(&c, &fresh.cookie).await, 200);
}
