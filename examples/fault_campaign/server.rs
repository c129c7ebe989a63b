//! `raptor serve` as a child process: started with `PORT=0` (the address is read back from its
//! "raptor listening" log line), its log appended to a file, and signalled by pid.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

pub struct Server {
    child: Child,
    /// `http://<address>`.
    pub base: String,
}

impl Server {
    /// Starts `raptor serve` with `env` and waits (up to 30 s) until it listens.
    pub async fn start(bin: &Path, env: &[(String, String)], log: PathBuf) -> anyhow::Result<Self> {
        let mut child = Command::new(bin)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stderr = child.stderr.take().context("stderr")?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .await
                .ok();
            let mut tx = Some(tx);
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("raptor listening") {
                    if let Some(addr) = listening_address(&line) {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(addr);
                        }
                    }
                }
                if let Some(file) = file.as_mut() {
                    let _ = file.write_all(format!("{line}\n").as_bytes()).await;
                }
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(_)) => bail!("raptor serve exited before listening (see its log)"),
            Err(_) => bail!("raptor serve did not listen within 30 s (see its log)"),
        };
        Ok(Self {
            child,
            base: format!("http://{addr}"),
        })
    }

    pub fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = self.child.id().context("the server has exited")?;
        kill(Pid::from_raw(pid as i32), signal)?;
        Ok(())
    }

    /// Waits up to `bound` for the process to exit.
    pub async fn wait(&mut self, bound: Duration) -> anyhow::Result<ExitStatus> {
        tokio::time::timeout(bound, self.child.wait())
            .await
            .context("the server did not exit in time")?
            .context("wait")
    }

    /// SIGTERM, then the exit status (within 30 s, Heroku's bound).
    pub async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        self.signal(Signal::SIGTERM)?;
        self.wait(Duration::from_secs(30)).await
    }
}

/// The `addr` field of a JSON log line.
fn listening_address(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let addr = value["addr"]
        .as_str()
        .or(value["fields"]["addr"].as_str())?;
    Some(addr.to_owned())
}
