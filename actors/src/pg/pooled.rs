//! Connections through a transaction-mode pooler (`DATABASE_CONNECTION_POOL_URL`: Heroku's
//! connection pooling, PgBouncer): the same TLS as a direct connection, with the protocol
//! adapter of [`super::inline`] above the encryption, so that no named statement is ever left
//! on, or expected from, a server connection the pooler may hand to someone else.
//!
//! Only pooled connections use this; LISTEN, migrations and anything else that needs a session
//! of its own connect directly (`DATABASE_URL`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::inline::Inlined;

/// Without a `connect_timeout` in the URL, a connection attempt gives up after this.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens pooled connections (the pool's `Connect`).
#[derive(Clone)]
pub struct PooledConnect {
    tls: MakeRustlsConnect,
}

impl Default for PooledConnect {
    fn default() -> Self {
        Self {
            tls: super::connector(),
        }
    }
}

impl PooledConnect {
    /// A connection for `config` whose statements are inlined; its driver runs on a task.
    pub async fn open(
        &self,
        config: &Config,
    ) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        let (socket, host) = match socket(config).await {
            Ok(connected) => connected,
            Err(error) => return Err(connect_error(config, error).await),
        };
        let mut make = self.tls.clone();
        let tls = match <MakeRustlsConnect as MakeTlsConnect<Inlined<TcpStream>>>::make_tls_connect(
            &mut make, &host,
        ) {
            Ok(tls) => tls,
            Err(error) => {
                let error = io::Error::new(io::ErrorKind::InvalidInput, error);
                return Err(connect_error(config, error).await);
            }
        };
        let (client, connection) = config
            .connect_raw(Inlined::new(socket), InlinedTls(tls))
            .await?;
        let driver = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "pooled database connection closed");
            }
        });
        Ok((client, driver))
    }
}

impl Connect for PooledConnect {
    fn connect(
        &self,
        config: &Config,
    ) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), tokio_postgres::Error>> {
        let config = config.clone();
        Box::pin(async move { self.open(&config).await })
    }
}

/// A TCP connection to the first host of `config` (a pooler URL names one), and its name.
async fn socket(config: &Config) -> io::Result<(TcpStream, String)> {
    let (host, port) = endpoint(config)?;
    let timeout = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let socket = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    socket.set_nodelay(true)?;
    Ok((socket, host))
}

fn endpoint(config: &Config) -> io::Result<(String, u16)> {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a pooled connection needs a TCP host",
            ))
        }
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Ok((host, port))
}

/// `error` as the driver's own error type (whose constructors are private): the driver is
/// handed a stream that fails with it, and reports it as a failure to talk to the server.
async fn connect_error(config: &Config, error: io::Error) -> tokio_postgres::Error {
    match config.connect_raw(Failed(Some(error)), NoTls).await {
        Err(error) => error,
        Ok(_) => unreachable!("a stream that fails every call cannot complete a startup"),
    }
}

/// A stream whose first use fails with the error it holds.
struct Failed(Option<io::Error>);

impl Failed {
    fn fail<T>(&mut self) -> Poll<io::Result<T>> {
        Poll::Ready(Err(self
            .0
            .take()
            .unwrap_or_else(|| io::ErrorKind::NotConnected.into())))
    }
}

impl AsyncRead for Failed {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().fail()
    }
}

impl AsyncWrite for Failed {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().fail()
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().fail()
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().fail()
    }
}

/// The TLS handshake of a direct connection, with the adapter on top of the encryption.
struct InlinedTls<T>(T);

impl<S, T> TlsConnect<S> for InlinedTls<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
{
    type Stream = Inlined<T::Stream>;
    type Error = T::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, Self::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let handshake = self.0.connect(stream);
        Box::pin(async move { handshake.await.map(Inlined::new) })
    }
}
