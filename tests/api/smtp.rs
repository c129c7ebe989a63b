//! A real SMTP server on loopback for the tests: aiosmtpd (PyPI), writing to a maildir that the
//! tests read. `scripts/test.sh` installs it; `RAPTOR_TEST_PYTHON` names the interpreter.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::helpers::eventually;

pub struct SmtpServer {
    _child: Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    /// A server on a free port. aiosmtpd needs its port up front: should another process take
    /// the port picked before the server binds it, the server exits and another port is tried.
    pub async fn start() -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(server) = Self::try_start_on(port).await {
                return server;
            }
        }
        panic!("no SMTP server could start on a free port");
    }

    /// A server on a port chosen by the test (to bring a server up where one was missing).
    pub async fn start_on(port: u16) -> Self {
        Self::try_start_on(port)
            .await
            .unwrap_or_else(|| panic!("the SMTP server cannot listen on port {port}"))
    }

    /// The server on `port`, or `None` if it exited instead of listening there.
    async fn try_start_on(port: u16) -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("raptor-mail-{}", uuid::Uuid::new_v4().simple()));
        let python = std::env::var("RAPTOR_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let child = Command::new(&python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&dir)
            .kill_on_drop(true)
            .spawn()
            .expect("python with aiosmtpd (scripts/test.sh installs it; set RAPTOR_TEST_PYTHON)");
        let child = std::sync::Mutex::new(child);
        let listening = eventually(Duration::from_secs(10), "SMTP server listening", || async {
            // Exited (the port was taken): not ours to use.
            if !matches!(child.lock().unwrap().try_wait(), Ok(None)) {
                return Some(false);
            }
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| matches!(child.lock().unwrap().try_wait(), Ok(None)))
        })
        .await;
        let child = child.into_inner().unwrap();
        listening.then_some(Self {
            _child: child,
            port,
            dir,
        })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, as text.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }

    /// Waits for the next verification link sent to `recipient` beyond the `seen` first ones,
    /// and returns its token.
    pub async fn verification_token(&self, recipient: &str, seen: usize) -> String {
        eventually(
            Duration::from_secs(15),
            "verification email arrives",
            || async {
                let tokens: Vec<String> = self
                    .messages()
                    .iter()
                    .filter(|m| m.contains(&format!("To: {recipient}")))
                    .filter_map(|m| extract_token(m))
                    .collect();
                (tokens.len() > seen).then(|| tokens[seen].clone())
            },
        )
        .await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn extract_token(message: &str) -> Option<String> {
    // Undo quoted-printable soft line breaks in case the long link was wrapped.
    let text = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = text.find("/verify-email?token=")? + "/verify-email?token=".len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}
