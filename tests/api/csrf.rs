//! CSRF for cookie-bearing writes whose body comes without a `Content-Type`: a body of unknown
//! type is refused however it is framed (length or chunks); a request with no body at all
//! (`Content-Length: 0`) needs no type, so a plain logout still works.

use crate::helpers::{raw_request, spawn_app, ORIGIN};

fn logout(cookie: &str, framing: &str) -> String {
    format!(
        "POST /api/auth/logout HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\
         Origin: {ORIGIN}\r\nConnection: close\r\n{framing}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_bearing_body_without_a_content_type_is_refused_unless_it_is_empty() {
    let app = spawn_app().await;
    let user = app.sign_in("csrf@example.com", false).await;
    let session = || async {
        app.client
            .get(app.url("/api/auth/session"))
            .header("cookie", &user.cookie)
            .send()
            .await
            .unwrap()
            .status()
    };

    let plain = logout(&user.cookie, "Content-Length: 2\r\n\r\n{}");
    let (status, text) = raw_request(&app.base, &plain).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("csrf_content_type"), "{text}");

    let chunked = logout(
        &user.cookie,
        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    );
    let (status, text) = raw_request(&app.base, &chunked).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("csrf_content_type"), "{text}");
    assert_eq!(session().await, 200, "refused writes changed nothing");

    // No body: nothing for a form to smuggle, so no type is needed.
    let empty = logout(&user.cookie, "Content-Length: 0\r\n\r\n");
    let (status, text) = raw_request(&app.base, &empty).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(session().await, 401, "the empty-bodied logout took effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_body_still_needs_an_allowed_origin() {
    let app = spawn_app().await;
    let user = app.sign_in("csrf-origin@example.com", false).await;
    let raw = format!(
        "POST /api/auth/logout HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\n\
         Origin: https://attacker.example\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        user.cookie
    );
    let (status, text) = raw_request(&app.base, &raw).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("csrf_origin"), "{text}");
}
