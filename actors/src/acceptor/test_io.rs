//! What the acceptor's tests share: reading a raw connection until some bytes arrive.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Reads from `client` into `seen` until it holds `end`; panics after 10 s or if the connection
/// closes first. Only the new bytes (and the end's length before them) are searched each time.
pub(super) async fn read_until(client: &mut TcpStream, seen: &mut Vec<u8>, end: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 64 * 1024];
    let mut from = 0;
    while !seen[from..].windows(end.len()).any(|w| w == end) {
        from = seen.len().saturating_sub(end.len());
        let n = tokio::time::timeout_at(deadline, client.read(&mut buf))
            .await
            .expect("in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before {:?}: {}",
            String::from_utf8_lossy(end),
            String::from_utf8_lossy(seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
}
