//! What one process allows its clients: how long a request's headers may take to arrive, how
//! long a keep-alive connection may sit idle, how many connections may be open at once, and how
//! much an HTTP/2 client may ask of one connection.

use std::time::Duration;

/// Connection limits of the acceptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive in full within this (slow-header clients are dropped).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed. Above Heroku's router
    /// keep-alive (90 s), so the router never reuses a connection we are closing.
    pub idle_timeout: Duration,
    /// Open connections per process; beyond, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// HTTP/2 streams one connection may have open at once.
    pub h2_max_concurrent_streams: u32,
    /// Largest header list accepted (HTTP/1 read buffer and HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`).
    pub max_header_bytes: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 4096,
            h2_max_concurrent_streams: 100,
            max_header_bytes: 32 * 1024,
        }
    }
}
