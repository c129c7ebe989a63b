//! A connection whose first request opens an event stream (`GET` on one of the service's
//! [stream paths](super::HttpService::streams_at)) is served here rather than by hyper: its one
//! request's head is read and parsed with httparse (hyper's own parser), the service answers it
//! as it answers any request, and the response is written with `Connection: close`, a streamed
//! body chunk by chunk until it ends or the client leaves. An idle stream then holds its socket,
//! its task and its body's own state; on hyper it also held an 8 KB write buffer, a read buffer
//! of 8 to 16 KB and the response's header map, about 25 KB a stream (docs/capacity.md).
//!
//! The path is chosen from the request line alone, peeked rather than read: any other request,
//! or a first segment too short to tell, is served by hyper as before. A kept-alive HTTP/1
//! connection whose next request opens a stream comes here too, with the bytes hyper was kept
//! from (`connection::Handover`). The head must arrive
//! within the header-read timeout (else the connection is dropped, as hyper drops it) and fit in
//! `max_header_bytes` (else 431). A head httparse rejects is answered 400, and so is a request
//! that announces a body (`Content-Length` other than 0, or `Transfer-Encoding`): no body is read
//! here. Nothing after the first request is read; bytes the client sends while its response
//! streams are discarded, up to a bound past which the connection is closed.

use std::convert::Infallible;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri, Version};
use axum::response::Response;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::WriteHalf;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::ConnectionLimits;

/// The most bytes of a connection's start looked at to choose this path.
pub(super) const PEEK_BYTES: usize = 64;
/// The most header fields a request may carry (hyper's own bound).
const MAX_HEADERS: usize = 100;
/// The most bytes a client may send while its response streams (or once it is answered) before
/// it is disconnected.
const MAX_DISCARDED: usize = 64 * 1024;
/// How long a closing connection waits for the client to close its side.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a connection that starts with `peeked` opens a stream at one of `paths`:
/// `GET <path>` followed by the end of the target or its query.
pub(super) fn opens_stream(peeked: &[u8], paths: &[&str]) -> bool {
    let Some(target) = peeked.strip_prefix(b"GET ") else {
        return false;
    };
    paths.iter().any(|path| {
        target
            .strip_prefix(path.as_bytes())
            .is_some_and(|rest| matches!(rest.first(), Some(b' ' | b'?')))
    })
}

/// Serves the connection's one request, whose first bytes (`start`, possibly none) were read
/// already, then closes it.
pub(super) async fn serve<S>(
    service: S,
    mut stream: TcpStream,
    limits: ConnectionLimits,
    start: Vec<u8>,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    // hyper's own bound on the connections it serves.
    let max_bytes = limits.max_header_bytes.max(8192) as usize;
    let head = tokio::time::timeout(
        limits.header_read_timeout,
        read_head(&mut stream, start, max_bytes),
    );
    let request = match head.await {
        Err(_late) => {
            tracing::debug!("dropping a connection whose request head is late");
            return;
        }
        Ok(Err(Refusal::Closed)) => return,
        Ok(Err(refusal)) => {
            let response = refusal.response();
            if stream
                .write_all(&encode_head(&response, Framing::Length(0)))
                .await
                .is_ok()
            {
                close(stream).await;
            }
            return;
        }
        Ok(Ok(request)) => request,
    };
    let version = request.version();
    // Boxed: the service's future is held only until the response, not for the stream's life.
    let Ok(response) = Box::pin(service.oneshot(request)).await;
    if respond(&mut stream, response, version).await.is_ok() {
        close(stream).await;
    }
}

/// Closes after a complete answer: our side first, then whatever the client still sends is read
/// and dropped (for at most a second, at most [`MAX_DISCARDED`] bytes) before the socket goes,
/// so that unread bytes do not make the kernel reset the connection and lose the answer's end.
async fn close(mut stream: TcpStream) {
    if stream.shutdown().await.is_ok() {
        let _ = tokio::time::timeout(LINGER, discard(&mut stream)).await;
    }
}

/// Why a request is not served.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The client closed (or the read failed) before the head was complete: nothing to answer.
    Closed,
    /// The head is not HTTP/1 (400).
    Malformed,
    /// The request announces a body (400).
    Body,
    /// The head is larger than allowed (431).
    TooLarge,
}

impl Refusal {
    fn response(&self) -> Response {
        let status = match self {
            Refusal::TooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        response
    }
}

/// Reads until the head that `start` begins is complete, into a buffer freed once it is parsed.
async fn read_head(
    stream: &mut TcpStream,
    start: Vec<u8>,
    max_bytes: usize,
) -> Result<Request, Refusal> {
    let mut buffer = start;
    if head_may_end(&buffer, 0) {
        if let Some(request) = parse(&buffer)? {
            return Ok(request);
        }
    }
    buffer.reserve(1024);
    loop {
        if buffer.len() == buffer.capacity() {
            buffer.reserve(buffer.len().min(max_bytes));
        }
        let before = buffer.len();
        match stream.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return Err(Refusal::Closed),
            Ok(_) => {}
        }
        if head_may_end(&buffer, before) {
            if let Some(request) = parse(&buffer)? {
                return Ok(request);
            }
        }
        if buffer.len() >= max_bytes {
            return Err(Refusal::TooLarge);
        }
    }
}

/// Whether a byte from `from` on ends an empty line, which ends a head:
/// the head is parsed only then, so a client sending it byte by byte costs one parse, not one
/// per byte.
fn head_may_end(buffer: &[u8], from: usize) -> bool {
    (from.max(1)..buffer.len()).any(|i| {
        buffer[i] == b'\n' && (buffer[i - 1] == b'\n' || (i >= 2 && &buffer[i - 2..i] == b"\n\r"))
    })
}

/// The request whose head starts `bytes`, or `None` while the head is incomplete.
fn parse(bytes: &[u8]) -> Result<Option<Request>, Refusal> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut fields);
    match head.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooLarge),
        Err(_) => return Err(Refusal::Malformed),
    }
    let (Some(method), Some(target), Some(minor)) = (head.method, head.path, head.version) else {
        return Err(Refusal::Malformed);
    };
    if !target.starts_with('/') {
        return Err(Refusal::Malformed);
    }
    let mut request = Request::new(Body::empty());
    *request.method_mut() =
        Method::from_bytes(method.as_bytes()).map_err(|_| Refusal::Malformed)?;
    *request.uri_mut() = Uri::try_from(target).map_err(|_| Refusal::Malformed)?;
    *request.version_mut() = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let headers = request.headers_mut();
    headers.reserve(head.headers.len());
    for field in head.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| Refusal::Malformed)?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| Refusal::Malformed)?;
        headers.append(name, value);
    }
    if announces_body(headers)? {
        return Err(Refusal::Body);
    }
    Ok(Some(request))
}

/// Whether the head announces a body: `Transfer-Encoding`, or a `Content-Length` other than 0
/// (every one of them a number, and all the same).
fn announces_body(headers: &axum::http::HeaderMap) -> Result<bool, Refusal> {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Ok(true);
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter().map(|value| {
        value
            .to_str()
            .ok()
            .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or(Refusal::Malformed)
    });
    let Some(first) = lengths.next().transpose()? else {
        return Ok(false);
    };
    for length in lengths {
        if length? != first {
            return Err(Refusal::Malformed);
        }
    }
    Ok(first != 0)
}

/// How a response's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 clients).
    Chunked,
    /// Until the connection closes (HTTP/1.0 clients).
    UntilClose,
    /// No body at all (1xx, 204 and 304).
    None,
}

impl Framing {
    fn of(response: &Response, version: Version) -> Self {
        let status = response.status();
        if status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Framing::None;
        }
        match axum::body::HttpBody::size_hint(response.body()).exact() {
            Some(length) => Framing::Length(length),
            None if version == Version::HTTP_10 => Framing::UntilClose,
            None => Framing::Chunked,
        }
    }
}

/// Writes the response's head and then its body, until the body ends (`Ok`), the client
/// leaves, a write fails or the body fails (`Err`).
async fn respond(stream: &mut TcpStream, response: Response, version: Version) -> Result<(), Cut> {
    let framing = Framing::of(&response, version);
    let head = encode_head(&response, framing);
    let body = response.into_body();
    stream.write_all(&head).await.map_err(|_| Cut)?;
    drop(head);
    if framing == Framing::None {
        return Ok(());
    }
    let (mut reader, mut writer) = stream.split();
    let leaves = discard(&mut reader);
    tokio::pin!(leaves);
    let mut body = body;
    loop {
        let frame = tokio::select! {
            biased;
            () = &mut leaves => return Err(Cut),
            frame = body.frame() => frame,
        };
        let data = match frame {
            None if framing == Framing::Chunked => {
                return writer.write_all(b"0\r\n\r\n").await.map_err(|_| Cut);
            }
            None => return Ok(()),
            Some(Err(error)) => {
                // No last chunk: the client sees the body cut short.
                tracing::debug!(%error, "a streamed body failed");
                return Err(Cut);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if !data.is_empty() => data,
                _ => continue,
            },
        };
        write_data(&mut writer, &data, framing)
            .await
            .map_err(|_| Cut)?;
    }
}

/// The answer was cut short: the client left, a write failed or the body failed.
struct Cut;

/// Writes one piece of the body, as a chunk when the body is chunked.
async fn write_data(
    writer: &mut WriteHalf<'_>,
    data: &[u8],
    framing: Framing,
) -> std::io::Result<()> {
    if framing != Framing::Chunked {
        return writer.write_all(data).await;
    }
    let mut chunk = Vec::with_capacity(data.len() + 20);
    chunk.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    writer.write_all(&chunk).await
}

/// Reads what the client sends and drops it; resolves when the client closes its side, the
/// connection fails, or it sent more than [`MAX_DISCARDED`] bytes.
async fn discard(reader: &mut (impl AsyncRead + Unpin)) {
    let mut scrap = [0u8; 64];
    let mut discarded = 0;
    loop {
        match reader.read(&mut scrap).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                discarded += n;
                if discarded > MAX_DISCARDED {
                    return;
                }
            }
        }
    }
}

/// The status line and headers: the response's own headers, except those that frame the
/// message (set here from `framing`), plus `Date` when absent and `Connection: close`.
fn encode_head(response: &Response, framing: Framing) -> Vec<u8> {
    let status = response.status();
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    let framed_here = [
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        HeaderName::from_static("keep-alive"),
    ];
    for (name, value) in response.headers() {
        if framed_here.contains(name) {
            continue;
        }
        field(&mut head, name.as_str(), value.as_bytes());
    }
    if !response.headers().contains_key(header::DATE) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        field(&mut head, "date", date.as_bytes());
    }
    match framing {
        Framing::Length(length) => {
            field(&mut head, "content-length", length.to_string().as_bytes())
        }
        Framing::Chunked => field(&mut head, "transfer-encoding", b"chunked"),
        Framing::UntilClose | Framing::None => {}
    }
    field(&mut head, "connection", b"close");
    head.extend_from_slice(b"\r\n");
    head
}

fn field(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Bytes;
    use proptest::prelude::*;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::super::test_io::read_until;
    use super::*;

    const PATHS: &[&str] = &["/api/trading/stream"];

    #[test]
    fn only_a_get_of_a_stream_path_takes_this_path() {
        for start in [
            &b"GET /api/trading/stream HTTP/1.1\r\n"[..],
            b"GET /api/trading/stream?x=1 HTTP/1.1",
            b"GET /api/trading/stream ",
        ] {
            assert!(
                opens_stream(start, PATHS),
                "{}",
                String::from_utf8_lossy(start)
            );
        }
        for start in [
            &b"GET /api/trading/streams HTTP/1.1\r\n"[..],
            b"GET /api/trading/stream/x HTTP/1.1",
            b"POST /api/trading/stream HTTP/1.1",
            b"HEAD /api/trading/stream HTTP/1.1",
            b"GET http://raxx.app/api/trading/stream HTTP/1.1",
            b"GET /api/trading/stream",
            b"GET /api/tr",
            b"G",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            assert!(
                !opens_stream(start, PATHS),
                "{}",
                String::from_utf8_lossy(start)
            );
        }
        assert!(!opens_stream(b"GET /api/trading/stream HTTP/1.1", &[]));
        assert!(
            4 + PATHS[0].len() < PEEK_BYTES,
            "the peek sees past the path"
        );
    }

    #[test]
    fn a_complete_head_becomes_the_request() {
        let head = b"GET /api/trading/stream?a=b HTTP/1.1\r\nHost: raxx.app\r\nCookie: a=1\r\nCookie: b=2\r\nContent-Length: 0\r\n\r\n";
        let request = parse(head).unwrap().expect("complete");
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), "/api/trading/stream?a=b");
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!(request.headers()["host"], "raxx.app");
        let cookies: Vec<_> = request.headers().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        let old = parse(b"GET /api/trading/stream HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(old.version(), Version::HTTP_10);
    }

    #[test]
    fn a_head_may_end_only_where_an_empty_line_arrived() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let end = head.len();
        assert!(head_may_end(head, 0));
        assert!(head_may_end(head, end - 1), "the last byte completes it");
        assert!(!head_may_end(&head[..end - 1], 0), "no empty line yet");
        assert!(!head_may_end(head, end), "nothing new");
        assert!(head_may_end(b"GET / HTTP/1.1\n\n", 15), "bare newlines");
        assert!(!head_may_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0));
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        let head = b"GET /api/trading/stream HTTP/1.1\r\nHost: raxx.app\r\n\r\n";
        for end in 0..head.len() {
            assert_eq!(parse(&head[..end]).map(|r| r.is_some()), Ok(false), "{end}");
        }
    }

    #[test]
    fn bad_heads_and_bodies_are_refused() {
        let refused = |head: &[u8]| parse(head).map(|_| ()).unwrap_err();
        let get = |fields: &str| format!("GET /api/trading/stream HTTP/1.1\r\n{fields}\r\n");
        assert_eq!(
            refused(get("Content-Length: 5\r\n").as_bytes()),
            Refusal::Body
        );
        assert_eq!(
            refused(get("Transfer-Encoding: chunked\r\n").as_bytes()),
            Refusal::Body
        );
        for lengths in [
            "Content-Length: 0\r\nContent-Length: 1\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: +0\r\n",
            "Content-Length: \r\n",
            "Content-Length: 0x0\r\n",
        ] {
            assert_eq!(
                refused(get(lengths).as_bytes()),
                Refusal::Malformed,
                "{lengths}"
            );
        }
        for head in [
            &b"GET http://raxx.app/api/trading/stream HTTP/1.1\r\n\r\n"[..],
            b"GET * HTTP/1.1\r\n\r\n",
            b"GET /api/trading/stream HTTP/2.0\r\n\r\n",
            b"GET /api/trading/stream HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET /api/trading/stream HTTP/1.1\r\nX: \x01\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ] {
            assert_eq!(
                refused(head),
                Refusal::Malformed,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        let many = get(&"X: 1\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(refused(many.as_bytes()), Refusal::TooLarge);
    }

    #[test]
    fn the_head_frames_the_body_itself_and_closes() {
        let mut response = Response::new(Body::empty());
        let headers = response.headers_mut();
        headers.insert(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert("content-length", HeaderValue::from_static("99"));
        headers.insert("connection", HeaderValue::from_static("keep-alive"));
        let head = String::from_utf8(encode_head(&response, Framing::Chunked)).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.ends_with("\r\nconnection: close\r\n\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: text/event-stream\r\n"));
        assert!(head.contains("\r\ntransfer-encoding: chunked\r\n"));
        assert!(head.contains("\r\ndate: "));
        assert!(!head.contains("content-length"), "{head}");
        assert_eq!(head.matches("connection").count(), 1, "{head}");
        let head = String::from_utf8(encode_head(&response, Framing::Length(7))).unwrap();
        assert!(head.contains("\r\ncontent-length: 7\r\n"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
    }

    #[test]
    fn framing_follows_the_body_and_the_clients_version() {
        let streamed = || {
            let (_tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
            Response::new(Body::from_stream(tokio_stream_from(rx)))
        };
        assert_eq!(Framing::of(&streamed(), Version::HTTP_11), Framing::Chunked);
        assert_eq!(
            Framing::of(&streamed(), Version::HTTP_10),
            Framing::UntilClose
        );
        let sized = Response::new(Body::from("abc"));
        assert_eq!(Framing::of(&sized, Version::HTTP_11), Framing::Length(3));
        let mut empty = Response::new(Body::empty());
        *empty.status_mut() = StatusCode::NO_CONTENT;
        assert_eq!(Framing::of(&empty, Version::HTTP_11), Framing::None);
    }

    fn tokio_stream_from(
        mut rx: mpsc::Receiver<Result<Bytes, Infallible>>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }

    /// What the test's service shares with the test: its calls, and its body's channel.
    struct Streaming {
        calls: Arc<AtomicUsize>,
        body: std::sync::Mutex<Option<mpsc::Receiver<Result<Bytes, Infallible>>>>,
    }

    /// One connection served by a service whose response streams what the test sends on the
    /// returned channel.
    async fn served(
        limits: ConnectionLimits,
    ) -> (
        std::net::SocketAddr,
        mpsc::Sender<Result<Bytes, Infallible>>,
        Arc<AtomicUsize>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel(4);
        let streaming = Arc::new(Streaming {
            calls: Arc::new(AtomicUsize::new(0)),
            body: std::sync::Mutex::new(Some(rx)),
        });
        let calls = Arc::clone(&streaming.calls);
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let service = tower::service_fn(move |request: Request| {
                let streaming = Arc::clone(&streaming);
                async move {
                    streaming.calls.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(request.uri(), "/api/trading/stream");
                    let rx = streaming.body.lock().unwrap().take().unwrap();
                    let mut response = Response::new(Body::from_stream(tokio_stream_from(rx)));
                    response.headers_mut().insert(
                        "content-type",
                        HeaderValue::from_static("text/event-stream"),
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            serve(service, socket, limits, Vec::new()).await;
        });
        (address, tx, calls, task)
    }

    #[tokio::test]
    async fn a_stream_is_written_chunk_by_chunk_and_ends_with_the_last_chunk() {
        let (address, tx, calls, task) = served(ConnectionLimits::default()).await;
        let mut client = TcpStream::connect(address).await.unwrap();
        // The head in two pieces: it is read until complete.
        client
            .write_all(b"GET /api/trading/stream HTTP/1.1\r\nHo")
            .await
            .unwrap();
        client.write_all(b"st: raxx.app\r\n\r\n").await.unwrap();
        let mut seen = Vec::new();
        read_until(&mut client, &mut seen, b"\r\n\r\n").await;
        let head = String::from_utf8_lossy(&seen).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
        assert!(
            head.contains("content-type: text/event-stream\r\n"),
            "{head}"
        );
        tx.send(Ok(Bytes::from_static(b"data: one\n\n")))
            .await
            .unwrap();
        read_until(&mut client, &mut seen, b"B\r\ndata: one\n\n\r\n").await;
        tx.send(Ok(Bytes::new())).await.unwrap();
        tx.send(Ok(Bytes::from_static(b"data: two\n\n")))
            .await
            .unwrap();
        drop(tx);
        read_until(&mut client, &mut seen, b"B\r\ndata: two\n\n\r\n0\r\n\r\n").await;
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the connection closes after the stream");
        drop(client);
        task.await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// A client whose stream has opened (its head read), the stream's sender, and the task.
    async fn streaming() -> (
        TcpStream,
        mpsc::Sender<Result<Bytes, Infallible>>,
        tokio::task::JoinHandle<()>,
    ) {
        let (address, tx, _, task) = served(ConnectionLimits::default()).await;
        let mut client = TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"GET /api/trading/stream HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut client, &mut Vec::new(), b"\r\n\r\n").await;
        (client, tx, task)
    }

    #[tokio::test]
    async fn a_client_that_leaves_ends_its_stream() {
        let (client, tx, task) = streaming().await;
        drop(client);
        // The body (its receiver) is dropped: the sender sees it closed.
        tokio::time::timeout(Duration::from_secs(10), tx.closed())
            .await
            .expect("the stream ends when its client leaves");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_client_that_keeps_sending_is_disconnected() {
        let (mut client, tx, task) = streaming().await;
        client
            .write_all(&vec![b'x'; MAX_DISCARDED + 1])
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), tx.closed())
            .await
            .expect("disconnected past the bound");
        task.await.unwrap();
    }

    async fn answer_to(head: &[u8], limits: ConnectionLimits) -> (String, usize) {
        let (address, _tx, calls, task) = served(limits).await;
        let mut client = TcpStream::connect(address).await.unwrap();
        client.write_all(head).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut answer))
            .await
            .expect("answered and closed in time")
            .unwrap();
        drop(client);
        task.await.unwrap();
        (
            String::from_utf8_lossy(&answer).into_owned(),
            calls.load(Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn refused_requests_are_answered_without_calling_the_service() {
        let (answer, calls) = answer_to(
            b"GET /api/trading/stream HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            ConnectionLimits::default(),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("content-length: 0\r\nconnection: close\r\n\r\n"),
            "{answer}"
        );
        assert_eq!(calls, 0);

        let (answer, calls) = answer_to(
            b"GET /api/trading/stream HTTP/1.1\r\n\x00\r\n\r\n",
            ConnectionLimits::default(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert_eq!(calls, 0);

        let small = ConnectionLimits {
            max_header_bytes: 8192,
            ..ConnectionLimits::default()
        };
        let big = format!(
            "GET /api/trading/stream HTTP/1.1\r\nX: {}\r\n\r\n",
            "y".repeat(9000)
        );
        let (answer, calls) = answer_to(big.as_bytes(), small).await;
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn a_late_head_is_dropped_unanswered() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        };
        let (answer, calls) = answer_to(b"GET /api/trading/stream HTTP/1.1\r\nHost:", limits).await;
        assert_eq!(answer, "");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn a_client_closing_before_its_head_ends_is_not_answered() {
        let (address, _tx, calls, task) = served(ConnectionLimits::default()).await;
        let mut client = TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"GET /api/trading/stream HTTP/1.1\r\n")
            .await
            .unwrap();
        client.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        task.await.unwrap();
        assert!(answer.is_empty());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    proptest! {
        #[test]
        fn parsing_any_bytes_answers_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn a_head_split_anywhere_parses_the_same(value in "[ -~]{0,40}", split in 0usize..200) {
            let head = format!("GET /api/trading/stream HTTP/1.1\r\nX-A: {}\r\n\r\n", value.trim());
            let split = split.min(head.len() - 1);
            prop_assert_eq!(parse(&head.as_bytes()[..split]).map(|r| r.is_some()), Ok(false));
            let request = parse(head.as_bytes()).unwrap().unwrap();
            prop_assert_eq!(request.headers()["x-a"].as_bytes(), value.trim().as_bytes());
        }
    }
}
