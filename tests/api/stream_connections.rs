//! Order streams served without hyper (ADR 0009, issue 25): a connection whose first request
//! opens `/api/trading/stream`, and a kept-alive connection whose next request does (as Heroku's
//! router reuses its connections), are answered with the stream through the whole middleware
//! stack and then closed; a stream's request with a body or a broken head is refused and
//! changes nothing.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::alpaca_stream_stub::{update, AlpacaStreamStub};
use crate::helpers::{spawn_app_with, SignedIn, TestApp};
use crate::trading_stream::{listening, order, placed, STREAM, WAIT};

/// Reads from `stream` until what was read contains `end`, within [`WAIT`].
async fn read_until(stream: &mut TcpStream, seen: &mut Vec<u8>, end: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(seen).contains(end) {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{end:?} in time: {}", String::from_utf8_lossy(seen)))
            .unwrap();
        assert!(
            n > 0,
            "closed before {end:?}: {}",
            String::from_utf8_lossy(seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Sends `request` on a new connection and reads the answer until the server closes, within
/// [`WAIT`] (a write cut short by an early answer is fine).
async fn answer(app: &TestApp, request: &str) -> String {
    let mut connection = TcpStream::connect(address(app)).await.unwrap();
    connection
        .write_all(request.as_bytes())
        .await
        .unwrap_or_default();
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, connection.read_to_end(&mut seen))
        .await
        .expect("closed in time")
        .unwrap();
    String::from_utf8_lossy(&seen).into_owned()
}

fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

fn stream_request(user: &SignedIn) -> String {
    format!(
        "GET {STREAM} HTTP/1.1\r\nHost: raxx.test\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        user.cookie
    )
}

/// The stream's response head on `connection`, checked, and the bytes read past it.
async fn stream_opens(connection: &mut TcpStream, seen: &mut Vec<u8>) {
    read_until(connection, seen, "\r\n\r\n").await;
    let head = String::from_utf8_lossy(seen).to_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    assert!(head.contains("connection: close\r\n"), "{head}");
    assert!(
        head.contains("x-request-id: "),
        "the middleware stack ran: {head}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_opens_on_a_new_connection_and_on_a_kept_alive_one() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    placed(&app, &alice, "alice-1").await;
    placed(&app, &alice, "alice-2").await;

    let mut fresh = TcpStream::connect(address(&app)).await.unwrap();
    fresh
        .write_all(stream_request(&alice).as_bytes())
        .await
        .unwrap();
    let mut fresh_seen = Vec::new();
    stream_opens(&mut fresh, &mut fresh_seen).await;

    // A kept-alive connection: a request served by hyper, then the stream on the same socket.
    let mut reused = TcpStream::connect(address(&app)).await.unwrap();
    let health = "GET /health HTTP/1.1\r\nHost: raxx.test\r\n\r\n";
    reused.write_all(health.as_bytes()).await.unwrap();
    let mut reused_seen = Vec::new();
    read_until(&mut reused, &mut reused_seen, r#"{"status":"ok"}"#).await;
    let answer = String::from_utf8_lossy(&reused_seen).to_lowercase();
    assert!(
        !answer.contains("connection: close"),
        "kept alive: {answer}"
    );
    reused_seen.clear();
    reused
        .write_all(stream_request(&alice).as_bytes())
        .await
        .unwrap();
    stream_opens(&mut reused, &mut reused_seen).await;

    listening(&stub, 1).await;
    let fill = update("fill", &order("alice-1", "filled"));
    stub.send_update(&fill, true);
    for (connection, seen) in [
        (&mut fresh, &mut fresh_seen),
        (&mut reused, &mut reused_seen),
    ] {
        read_until(connection, seen, "event: fill").await;
        read_until(connection, seen, "\"alice-1\"").await;
    }

    // A client that leaves ends its stream: the one left still gets events, and the upstream is
    // released once both are gone.
    drop(fresh);
    let fill = update("fill", &order("alice-2", "filled"));
    stub.send_update(&fill, false);
    read_until(&mut reused, &mut reused_seen, "\"alice-2\"").await;
    drop(reused);
    listening(&stub, 0).await;
}

#[tokio::test]
async fn a_stream_request_with_a_body_or_a_broken_head_is_refused() {
    let stub = AlpacaStreamStub::start().await;
    let app = spawn_app_with(&stub.overrides()).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let request = stream_request(&alice);
    let with_body = request.replace("\r\n\r\n", "\r\nContent-Length: 2\r\n\r\n{}");
    let chunked = request.replace(
        "\r\n\r\n",
        "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    let two_lengths = request.replace(
        "\r\n\r\n",
        "\r\nContent-Length: 0\r\nContent-Length: 2\r\n\r\n{}",
    );
    let broken = request.replace("Host: raxx.test", "Host raxx.test");
    for bad in [with_body, chunked, two_lengths, broken] {
        let refused = answer(&app, &bad).await;
        assert!(
            refused.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{bad:?}: {refused}"
        );
        assert!(refused.contains("connection: close\r\n"), "{refused}");
    }
    let huge = request.replace(
        "\r\n\r\n",
        &format!("\r\nX-Pad: {}\r\n\r\n", "p".repeat(40 * 1024)),
    );
    let refused = answer(&app, &huge).await;
    assert!(refused.starts_with("HTTP/1.1 431 "), "{refused}");

    // A forged cookie gets the API's own 401, through the same middleware as any request.
    let forged = request.replace(&alice.cookie, "raptor_session=forged");
    let refused = answer(&app, &forged).await;
    assert!(
        refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{refused}"
    );
    assert!(
        refused.contains("\"code\":\"unauthenticated\""),
        "{refused}"
    );
    assert!(refused.contains("connection: close\r\n"), "{refused}");

    // None of it touched the account: alice still streams.
    let mut connection = TcpStream::connect(address(&app)).await.unwrap();
    connection.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    stream_opens(&mut connection, &mut seen).await;
}
