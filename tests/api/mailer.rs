//! The mailer holds no pooled connection while SMTP talks: with a pool of one connection and a
//! mail server that hangs before its greeting, the application still gets its connection, and
//! the email goes out once the server answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{eventually, spawn_app_with};
use crate::passkey::{self, authenticator};

/// A mail server on loopback that accepts connections, holds each one silent until released,
/// then speaks just enough SMTP to take one message; what it received is kept.
struct HeldSmtp {
    port: u16,
    accepted: Arc<AtomicUsize>,
    release: watch::Sender<bool>,
    received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl HeldSmtp {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (release, released) = watch::channel(false);
        let server = Self {
            port,
            accepted: Arc::default(),
            release,
            received: Arc::default(),
        };
        let (accepted, received) = (server.accepted.clone(), server.received.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let (mut released, received) = (released.clone(), received.clone());
                tokio::spawn(async move {
                    if released.wait_for(|r| *r).await.is_ok() {
                        let _ = converse(stream, received).await;
                    }
                });
            }
        });
        server
    }
}

/// One SMTP conversation: greeting, EHLO, MAIL, RCPT, DATA (kept), QUIT.
async fn converse(
    stream: TcpStream,
    received: Arc<std::sync::Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 held.test ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 held.test\r\n",
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut message = String::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    message.push_str(&line);
                    message.push('\n');
                }
                received.lock().unwrap().push(message);
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_mail_server_holds_no_pooled_connection() {
    let smtp = HeldSmtp::start().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = spawn_app_with(&[
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("SMTP_URL", &url),
        ("DATABASE_POOL_SIZE", "1"),
    ])
    .await;
    let email = "held@example.com";
    let mut key = authenticator();
    assert_eq!(passkey::register(&app, &mut key, email).await.status(), 201);

    // The verification email is being delivered: the mailer is talking to the silent server.
    eventually(Duration::from_secs(10), "the mailer connects", || async {
        (smtp.accepted.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    // Its token was stored before the email left.
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM email_verifications")
            .await,
        1
    );
    // The pool's only connection is free while SMTP hangs.
    let pooled = tokio::time::timeout(Duration::from_secs(3), app.app().pool().get()).await;
    assert!(
        matches!(pooled, Ok(Ok(_))),
        "the pool's one connection is held while SMTP delivers"
    );
    drop(pooled);

    // The server answers: the email goes out and is recorded as sent.
    smtp.release.send(true).unwrap();
    eventually(
        Duration::from_secs(15),
        "the email is recorded as sent",
        || async {
            let sent = app
                .db
                .count("SELECT count(*) FROM email_outbox WHERE sent_at IS NOT NULL")
                .await;
            (sent == 1).then_some(())
        },
    )
    .await;
    let received = smtp.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].contains("/verify-email"),
        "the link went out: {}",
        received[0]
    );
}
