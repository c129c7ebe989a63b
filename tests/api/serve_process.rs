//! `raptor serve` as a child process (the real binary), listening on a port the kernel chose:
//! `PORT=0`, and the address read back from its "raptor listening" log line, so no test picks a
//! port and hopes nobody takes it first.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// A running `raptor serve` and everything it has logged so far.
pub struct ServeProcess {
    pub child: Child,
    /// `http://<address it listens on>`.
    pub base: String,
    pub log: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// Starts `raptor serve` with `env` (plus `PORT=0` and JSON logs at info level unless `env`
    /// says otherwise) and waits up to 20 s for it to listen.
    pub async fn start(env: &[(String, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_raptor"));
        command
            .arg("serve")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("raptor serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = tokio::sync::oneshot::channel::<String>();
        let address_tx = Arc::new(Mutex::new(Some(address_tx)));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            let address_tx = address_tx.clone();
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains("raptor listening") {
                        if let Some(addr) = listening_address(&line) {
                            if let Some(tx) = address_tx.lock().unwrap().take() {
                                let _ = tx.send(addr);
                            }
                        }
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let addr = tokio::time::timeout(Duration::from_secs(20), address_rx)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "raptor serve listens within 20 s; log:\n{}",
                    log.lock().unwrap()
                )
            })
            .unwrap_or_else(|_| {
                panic!(
                    "raptor serve exited before listening; log:\n{}",
                    log.lock().unwrap()
                )
            });
        Self {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }
}

/// The `addr` field of a JSON log line.
fn listening_address(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let addr = value["fields"]["addr"]
        .as_str()
        .or(value["addr"].as_str())?;
    Some(addr.to_owned())
}
