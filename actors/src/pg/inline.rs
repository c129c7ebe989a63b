//! Named prepared statements made safe for a transaction-mode pooler (PgBouncer 1.18).
//!
//! tokio-postgres runs `client.query("…", params)` as two exchanges: a `Parse` of a *named*
//! statement (`s17`) with its `Sync`, then a `Bind` of that name with another `Sync`. Behind
//! PgBouncer in transaction mode each `Sync` outside a transaction may hand the next exchange to
//! another server connection, where `s17` does not exist, and the names of two processes collide
//! on a shared server connection ("prepared statement \"s17\" already exists"). Most of Raptor's
//! queries are written that way, in every domain, so rather than rewrite each one this stream
//! adapter sits between tokio-postgres and the socket of a *pooled* connection and keeps the
//! server free of named statements:
//!
//! - a `Parse` of a named statement is remembered and sent as a `Parse` of the unnamed one;
//! - a `Describe` or `Bind` of a remembered name becomes one of the unnamed statement, preceded,
//!   unless the unnamed statement already holds it in the same exchange, by the remembered
//!   `Parse`; the extra `ParseComplete` that answers it is removed from the server's replies;
//! - a `Close` of a name forgets it.
//!
//! So every exchange carries its own statement: it works whichever server connection runs it,
//! inside or outside a transaction, and nothing outlives the exchange on the server. The cost is
//! that the server parses and plans each execution again, as for an unnamed statement.
//! Everything else (startup, authentication, simple queries, notices) passes through unchanged.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsStream};

/// `SSLRequest` and `GSSENCRequest` codes: the server answers them with one byte.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
/// Written-but-unsent bytes above which a writer waits for the socket.
const HIGH_WATER: usize = 64 * 1024;

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The next frontend message has no type byte (startup, or an encryption request).
    Untyped,
    /// An encryption request was sent; the server's next byte says yes (`S`) or no (`N`).
    AwaitingTlsAnswer,
    /// Typed messages both ways.
    Typed,
    /// Encryption was accepted below this adapter: bytes pass untouched from here on.
    Passthrough,
}

/// What the server will answer, in order, to the messages already sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// A `ParseComplete`; `injected` ones are dropped before tokio-postgres sees them.
    Parse { injected: bool },
    /// A `ReadyForQuery` (a `Sync` or a simple `Query`).
    Ready,
}

/// The protocol state, apart from the I/O.
#[derive(Debug, Default)]
struct Rewriter {
    phase: Option<Phase>,
    /// Remembered statements: name → the `Parse` body after the name.
    statements: HashMap<Vec<u8>, Vec<u8>>,
    /// The named statement the server's unnamed one holds in the current exchange.
    unnamed: Option<Vec<u8>>,
    pending: VecDeque<Pending>,
}

impl Rewriter {
    fn phase(&self) -> Phase {
        self.phase.unwrap_or(Phase::Untyped)
    }

    /// Moves the complete frontend messages of `input` to `output`, rewritten.
    fn frontend(&mut self, input: &mut Vec<u8>, output: &mut Vec<u8>) {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            let (size, untyped) = match self.phase() {
                Phase::Passthrough => (rest.len(), false),
                Phase::Untyped if rest.len() >= 4 => (be32(rest) as usize, true),
                Phase::Typed | Phase::AwaitingTlsAnswer if rest.len() >= 5 => {
                    (1 + be32(&rest[1..]) as usize, false)
                }
                _ => break,
            };
            if size == 0 || rest.len() < size {
                break;
            }
            let message = &rest[..size];
            if self.phase() == Phase::Passthrough {
                output.extend_from_slice(message);
            } else if untyped {
                self.untyped(message);
                output.extend_from_slice(message);
            } else {
                self.typed(message, output);
            }
            used += size;
        }
        input.drain(..used);
    }

    fn untyped(&mut self, message: &[u8]) {
        let code = message.get(4..8).map_or(0, be32);
        self.phase = Some(if code == SSL_REQUEST || code == GSSENC_REQUEST {
            Phase::AwaitingTlsAnswer
        } else {
            Phase::Typed
        });
    }

    fn typed(&mut self, message: &[u8], output: &mut Vec<u8>) {
        let body = &message[5..];
        match message[0] {
            b'P' => {
                let (name, rest) = split_cstr(body);
                if name.is_empty() {
                    self.unnamed = None;
                    output.extend_from_slice(message);
                } else {
                    self.statements.insert(name.to_vec(), rest.to_vec());
                    self.unnamed = Some(name.to_vec());
                    put(output, b'P', &[b"\0", rest]);
                }
                self.pending.push_back(Pending::Parse { injected: false });
            }
            b'B' => {
                let (portal, rest) = split_cstr(body);
                let (name, rest) = split_cstr(rest);
                if self.hold(name, output) {
                    put(output, b'B', &[portal, b"\0\0", rest]);
                } else {
                    output.extend_from_slice(message);
                }
            }
            b'D' if body.first() == Some(&b'S') => {
                let (name, _) = split_cstr(&body[1..]);
                if self.hold(name, output) {
                    put(output, b'D', &[b"S\0"]);
                } else {
                    output.extend_from_slice(message);
                }
            }
            b'C' if body.first() == Some(&b'S') => {
                let (name, _) = split_cstr(&body[1..]);
                self.statements.remove(name);
                if self.unnamed.as_deref() == Some(name) {
                    self.unnamed = None;
                }
                output.extend_from_slice(message);
            }
            b'S' | b'Q' => {
                self.unnamed = None;
                self.pending.push_back(Pending::Ready);
                output.extend_from_slice(message);
            }
            _ => output.extend_from_slice(message),
        }
    }

    /// Makes the unnamed statement hold the remembered `name` in this exchange (writing its
    /// `Parse` when it does not yet); `false` when `name` is unnamed or not remembered.
    fn hold(&mut self, name: &[u8], output: &mut Vec<u8>) -> bool {
        if name.is_empty() {
            return false;
        }
        let Some(parse) = self.statements.get(name) else {
            return false;
        };
        if self.unnamed.as_deref() != Some(name) {
            put(output, b'P', &[b"\0", parse]);
            self.pending.push_back(Pending::Parse { injected: true });
            self.unnamed = Some(name.to_vec());
        }
        true
    }

    /// Moves the complete backend messages of `input` to `output`, less injected answers.
    fn backend(&mut self, input: &mut Vec<u8>, output: &mut Vec<u8>) {
        let mut used = 0;
        if self.phase() == Phase::AwaitingTlsAnswer {
            let Some(&answer) = input.first() else { return };
            self.phase = Some(if answer == b'S' {
                Phase::Passthrough
            } else {
                Phase::Untyped
            });
            output.push(answer);
            used = 1;
        }
        loop {
            let rest = &input[used..];
            if self.phase() == Phase::Passthrough {
                output.extend_from_slice(rest);
                used = input.len();
                break;
            }
            if rest.len() < 5 {
                break;
            }
            let size = 1 + be32(&rest[1..]) as usize;
            if rest.len() < size {
                break;
            }
            if self.keep(rest[0]) {
                output.extend_from_slice(&rest[..size]);
            }
            used += size;
        }
        input.drain(..used);
    }

    /// Whether a backend message of type `kind` goes on to tokio-postgres.
    fn keep(&mut self, kind: u8) -> bool {
        match kind {
            b'1' => match self.pending.front() {
                Some(Pending::Parse { injected }) => {
                    let injected = *injected;
                    self.pending.pop_front();
                    !injected
                }
                _ => true,
            },
            // An error skips the rest of its exchange: forget the answers it will not send.
            b'Z' => {
                while let Some(next) = self.pending.pop_front() {
                    if next == Pending::Ready {
                        break;
                    }
                }
                true
            }
            _ => true,
        }
    }
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The NUL-terminated string at the start of `bytes`, and what follows its NUL.
fn split_cstr(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &[]),
    }
}

/// Writes a message of type `kind` whose body is `parts` concatenated.
fn put(output: &mut Vec<u8>, kind: u8, parts: &[&[u8]]) {
    let length: usize = 4 + parts.iter().map(|p| p.len()).sum::<usize>();
    output.push(kind);
    output.extend_from_slice(&(length as u32).to_be_bytes());
    for part in parts {
        output.extend_from_slice(part);
    }
}

/// A Postgres connection's byte stream with named statements kept off the server.
pub struct Inlined<S> {
    inner: S,
    rewriter: Rewriter,
    /// Written by tokio-postgres, not yet a complete message.
    write_in: Vec<u8>,
    /// Rewritten, not yet accepted by the socket.
    write_out: Vec<u8>,
    /// Read from the socket, not yet a complete message.
    read_in: Vec<u8>,
    /// Ready for tokio-postgres.
    read_out: Vec<u8>,
}

impl<S> Inlined<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rewriter: Rewriter::default(),
            write_in: Vec::new(),
            write_out: Vec::new(),
            read_in: Vec::new(),
            read_out: Vec::new(),
        }
    }
}

impl<S: AsyncWrite + Unpin> Inlined<S> {
    /// Sends what is rewritten; `Ready` once all of it is with the socket.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.write_out.is_empty() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.write_out) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.write_out.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Inlined<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.read_out.is_empty() {
                let n = this.read_out.len().min(buf.remaining());
                buf.put_slice(&this.read_out[..n]);
                this.read_out.drain(..n);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    this.read_in.extend_from_slice(read.filled());
                    this.rewriter.backend(&mut this.read_in, &mut this.read_out);
                }
                other => return other,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Inlined<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_out.len() >= HIGH_WATER {
            match this.drain(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        this.write_in.extend_from_slice(buf);
        this.rewriter
            .frontend(&mut this.write_in, &mut this.write_out);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

impl<S: TlsStream + Unpin> TlsStream for Inlined<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

#[cfg(test)]
mod tests;
