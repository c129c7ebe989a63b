//! Connection limits (hardening): slow-header clients and idle keep-alive connections are
//! closed, and the connection cap makes extra clients wait instead of exhausting the process.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with;

/// Reads until the server closes the connection; `Some(bytes read)` if it did within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_connection_whose_headers_never_finish_is_closed() {
    let app = spawn_app_with(&[("HTTP_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "a half-sent request is dropped"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(5))
            .await
            .is_some(),
        "a connection that never sends is dropped"
    );
    // Well-behaved clients are unaffected.
    assert_eq!(app.get("/health").await.status(), 200);
}

/// Sends one whole request on `stream` and reads its answer, leaving the connection open.
async fn one_request(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).ends_with(r#"{"status":"ok"}"#) {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "closed before answering");
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn a_late_head_after_a_keep_alive_request_is_dropped_but_a_quiet_connection_stays() {
    let app = spawn_app_with(&[
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "1"),
        ("HTTP_IDLE_TIMEOUT_SECS", "30"),
    ])
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let mut quiet = TcpStream::connect(&addr).await.unwrap();
    one_request(&mut slow).await;
    one_request(&mut quiet).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "the second request's head is held to the deadline too"
    );
    // Waiting between requests is not a late head: only the idle timeout closes it.
    assert!(
        closed_within(&mut quiet, Duration::from_secs(3))
            .await
            .is_none(),
        "a quiet keep-alive connection stays open"
    );
    one_request(&mut quiet).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_a_response() {
    let app = spawn_app_with(&[
        ("HTTP_IDLE_TIMEOUT_SECS", "1"),
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "30"),
    ])
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut client = TcpStream::connect(&addr).await.unwrap();
    client
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let seen = closed_within(&mut client, Duration::from_secs(8))
        .await
        .expect("closed once idle");
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "the request was answered first: {text}"
    );
}

#[tokio::test]
async fn beyond_the_cap_new_connections_wait_for_a_free_place() {
    let app = spawn_app_with(&[
        ("HTTP_MAX_CONNECTIONS", "2"),
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "30"),
    ])
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let first = TcpStream::connect(&addr).await.unwrap();
    let second = TcpStream::connect(&addr).await.unwrap();
    // The third is accepted by the kernel but not served while two are open.
    let mut third = TcpStream::connect(&addr).await.unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut third, Duration::from_millis(500))
            .await
            .is_none(),
        "not served while the cap is reached"
    );
    drop(first);
    drop(second);
    let seen = closed_within(&mut third, Duration::from_secs(5))
        .await
        .expect("served once a place is free");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
}
