//! The fault campaign (`scripts/fault-campaign.sh` builds and runs it): the real `raptor serve`
//! with the simulated broker under a steady mixed load, while faults are injected one after
//! another, and a checker that holds Raptor to its promises afterwards:
//!
//! - **postgres restart**: `pg_ctl -m immediate stop`, then start, under load. Requests that
//!   need the database answer 503 fast; service comes back without a restart.
//! - **actor panic**: SIGUSR1 (built with `fault-injection`) panics the session store; its
//!   supervisor restarts it; 503 while it is down, served again after.
//! - **hung broker**: a second `raptor serve` on the same database trades through a stand-in
//!   that accepts connections and never answers: every order is answered 504 within the broker
//!   timeout, none is acknowledged, and each was audited before the broker was called.
//! - **sigterm**: SIGTERM under load: no request in flight fails, exit 0 within 30 s; a new
//!   process takes over.
//!
//! Invariants, per phase: every acknowledged (2xx) state change has its audit row (matched by
//! request id); no 5xx but the documented 503 (and 504 from the hung broker); and at the end
//! `raptor audit verify` walks the whole hash chain. It prints a table and exits non-zero when
//! an invariant fails. It is a test tool: it refuses nothing but runs only against the private
//! cluster the script starts.
//!
//! Environment (set by the script): `RAPTOR_BIN`, `FAULT_DATABASE_URL` (a database on the
//! private cluster), `FAULT_PGCTL` (a command taking `start` or `stop`), `FAULT_WORK_DIR`
//! (logs), `FAULT_CAMPAIGN_SECONDS` (load per phase, default 6), `FAULT_CAMPAIGN_USERS`
//! (default 6).

mod checks;
mod load;
mod server;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{ensure, Context};
use nix::sys::signal::Signal;
use raptor_actors::token::TokenHasher;
use secrecy::SecretBox;
use tokio::time::Instant;

use checks::{PhaseReport, Phases};
use load::Recorder;
use server::Server;

/// The broker timeout of the hung-broker server.
const BROKER_TIMEOUT_SECS: u64 = 2;

struct Campaign {
    bin: PathBuf,
    database_url: String,
    pgctl: PathBuf,
    work: PathBuf,
    seconds: u64,
    env: Vec<(String, String)>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is required"));
    let seconds: u64 = std::env::var("FAULT_CAMPAIGN_SECONDS")
        .unwrap_or_else(|_| "6".into())
        .parse()
        .context("FAULT_CAMPAIGN_SECONDS must be a whole number of seconds")?;
    let users: usize = std::env::var("FAULT_CAMPAIGN_USERS")
        .unwrap_or_else(|_| "6".into())
        .parse()
        .context("FAULT_CAMPAIGN_USERS must be a number")?;
    ensure!(seconds >= 2, "FAULT_CAMPAIGN_SECONDS must be at least 2");
    let key: [u8; 32] = rand::random();
    let secret_key = hex::encode(key);
    let database_url = var("FAULT_DATABASE_URL")?;
    let env: Vec<(String, String)> = [
        ("APP_ENV", "test"),
        ("DATABASE_URL", database_url.as_str()),
        ("DATABASE_SSL", "disable"),
        ("SECRET_KEY", secret_key.as_str()),
        ("ALPACA_AUTH_MODE", "simulated"),
        ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
        ("TRUSTED_PROXY_HOPS", "1"),
        ("TRADING_MAX_OPEN_ORDERS", "100000"),
        ("TRADING_MAX_ORDERS_PER_DAY", "100000"),
        // A down window wide enough for the load to see the 503s.
        ("SUPERVISOR_BACKOFF_MS", "1000"),
        ("SHUTDOWN_GRACE_SECS", "19"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let campaign = Campaign {
        bin: var("RAPTOR_BIN")?.into(),
        database_url,
        pgctl: var("FAULT_PGCTL")?.into(),
        work: var("FAULT_WORK_DIR")?.into(),
        seconds,
        env,
    };
    let hasher = TokenHasher::new(Arc::new(SecretBox::from(secret_key.into_bytes())), None);
    let ok = campaign.run(&hasher, users).await?;
    ensure!(ok, "an invariant failed (see the table above)");
    Ok(())
}

impl Campaign {
    async fn run(&self, hasher: &TokenHasher, user_count: usize) -> anyhow::Result<bool> {
        let migrate = tokio::process::Command::new(&self.bin)
            .arg("migrate")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .status()
            .await?;
        ensure!(migrate.success(), "raptor migrate failed");
        let db = connect(&self.database_url).await?;
        let users = load::seed_users(&db, hasher, user_count).await?;
        let probe_user = load::seed_users(&db, hasher, 1).await?.remove(0);
        drop(db);

        let mut main = self.start_server("main").await?;
        let base = Arc::new(RwLock::new(main.base.clone()));
        let recorder = Recorder::new();
        let stop = Arc::new(AtomicBool::new(false));
        let workers = load::spawn_workers(&users, base.clone(), recorder.clone(), stop.clone());
        let half = Duration::from_millis(self.seconds * 500);
        let mut phases = Phases::default();

        // 0. Steady load, no fault.
        let phase = phases.begin("steady", &recorder);
        tokio::time::sleep(Duration::from_secs(self.seconds)).await;
        phases.end(phase, Instant::now(), None);

        // 1. Postgres stopped (immediate) and started again.
        let phase = phases.begin("postgres restart", &recorder);
        tokio::time::sleep(half).await;
        let fault_at = Instant::now();
        self.pgctl("stop").await?;
        tokio::time::sleep(half).await;
        self.pgctl("start").await?;
        let up_at = Instant::now();
        let recovered = recorder
            .first_ack_after(up_at, Duration::from_secs(60))
            .await
            .map(|t| t - up_at);
        tokio::time::sleep(half).await;
        phases.set_window(phase, fault_at, up_at);
        phases.end(phase, fault_at, recovered);

        // 2. The session store panics; its supervisor restarts it.
        let phase = phases.begin("actor panic", &recorder);
        tokio::time::sleep(half).await;
        let fault_at = Instant::now();
        main.signal(Signal::SIGUSR1)?;
        let recovered = probe_session_recovery(&recorder, &main.base, &probe_user).await;
        tokio::time::sleep(half).await;
        phases.end(phase, fault_at, recovered);

        // 3. A second server whose broker never answers.
        let phase = phases.begin("hung broker", &recorder);
        let fault_at = Instant::now();
        self.hung_broker(&recorder, &users[0]).await?;
        phases.end(phase, fault_at, None);

        // 4. SIGTERM under load; a new process takes over.
        let phase = phases.begin("sigterm", &recorder);
        tokio::time::sleep(half).await;
        let fault_at = Instant::now();
        main.signal(Signal::SIGTERM)?;
        let exit = main.wait(Duration::from_secs(30)).await;
        let drained = fault_at.elapsed();
        phases.set_exit(phase, exit.map(|s| s.success()).unwrap_or(false), drained);
        main = self.start_server("main-after-sigterm").await?;
        *base.write().unwrap() = main.base.clone();
        let recovered = recorder
            .first_ack_after(fault_at, Duration::from_secs(60))
            .await
            .map(|t| t - fault_at);
        tokio::time::sleep(half).await;
        phases.end(phase, fault_at, recovered);

        stop.store(true, Ordering::SeqCst);
        for worker in workers {
            let _ = worker.await;
        }
        let clean_exit = main.stop().await.map(|s| s.success()).unwrap_or(false);

        // The checker.
        let db = connect(&self.database_url).await?;
        let audited: HashSet<String> = db
            .query(
                "SELECT request_id FROM audit_log WHERE request_id IS NOT NULL",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let requested: HashSet<String> = db
            .query(
                "SELECT request_id FROM audit_log \
                 WHERE event = 'order.submit.requested' AND request_id IS NOT NULL",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let audit_rows: i64 = db
            .query_one("SELECT count(*) FROM audit_log", &[])
            .await?
            .get(0);
        let chain = tokio::process::Command::new(&self.bin)
            .args(["audit", "verify"])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("LOG_LEVEL", "warn")
            .output()
            .await?;
        let records = recorder.snapshot();
        let reports: Vec<PhaseReport> = phases.report(&records, &audited, &requested);
        checks::print_table(&reports);
        let chain_ok = chain.status.success();
        println!(
            "audit chain: {} ({audit_rows} rows; raptor audit verify: {})",
            if chain_ok { "verified" } else { "BROKEN" },
            String::from_utf8_lossy(&chain.stdout).trim()
        );
        println!(
            "final SIGTERM: {}",
            if clean_exit {
                "exit 0"
            } else {
                "NOT a clean exit"
            }
        );
        Ok(chain_ok && clean_exit && reports.iter().all(|r| r.ok()))
    }

    async fn start_server(&self, name: &str) -> anyhow::Result<Server> {
        Server::start(&self.bin, &self.env, self.work.join(format!("{name}.log"))).await
    }

    async fn pgctl(&self, action: &str) -> anyhow::Result<()> {
        let status = tokio::process::Command::new(&self.pgctl)
            .arg(action)
            .status()
            .await?;
        ensure!(status.success(), "pg_ctl {action} failed");
        Ok(())
    }

    /// Trading through a broker that accepts and never answers, for the phase's length.
    async fn hung_broker(&self, recorder: &Recorder, user: &load::User) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let broker_url = format!("http://{}", listener.local_addr()?);
        let hang = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let timeout = BROKER_TIMEOUT_SECS.to_string();
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "ALPACA_AUTH_MODE");
        env.extend(
            [
                ("ALPACA_AUTH_MODE", "trading"),
                ("ALPACA_PAPER_API_KEY", "fault-campaign-key-id"),
                ("ALPACA_PAPER_API_SECRET", "fault-campaign-not-a-secret"),
                ("ALPACA_PAPER_BASE_URL", broker_url.as_str()),
                ("ALPACA_REQUEST_TIMEOUT_SECS", timeout.as_str()),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let server = Server::start(&self.bin, &env, self.work.join("hung-broker.log")).await?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(BROKER_TIMEOUT_SECS + 10))
            .build()?;
        let until = Instant::now() + Duration::from_secs(self.seconds);
        let submitters: Vec<_> = (0..4)
            .map(|_| {
                let (client, recorder, base) =
                    (client.clone(), recorder.clone(), server.base.clone());
                let user = user.clone();
                tokio::spawn(async move {
                    while Instant::now() < until {
                        let order = serde_json::json!({"symbol": "AAPL", "qty": "1", "side": "buy",
                            "type": "market", "time_in_force": "day"});
                        let request = client
                            .post(format!("{base}/api/trading/orders"))
                            .header("cookie", &user.cookie)
                            .header("x-forwarded-for", "10.78.0.1")
                            .header("origin", load::ORIGIN)
                            .header("content-type", "application/json")
                            .body(order.to_string());
                        recorder
                            .send("hung", "POST order (hung)", true, request)
                            .await;
                    }
                })
            })
            .collect();
        for submitter in submitters {
            let _ = submitter.await;
        }
        let exit = server.stop().await?;
        hang.abort();
        ensure!(exit.success(), "the hung-broker server did not exit 0");
        Ok(())
    }
}

/// Polls `GET /api/auth/session` after the panic until it answers 200 following the 503s of
/// the down window; the time from the fault to that answer.
async fn probe_session_recovery(
    recorder: &Recorder,
    base: &str,
    user: &load::User,
) -> Option<Duration> {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let mut saw_down = false;
    while started.elapsed() < Duration::from_secs(30) {
        // No request saw the store down: it was back within the first backoff.
        if !saw_down && started.elapsed() > Duration::from_secs(5) {
            return Some(Duration::ZERO);
        }
        let request = client
            .get(format!("{base}/api/auth/session"))
            .header("cookie", &user.cookie)
            .header("x-forwarded-for", &user.ip);
        let status = recorder
            .send("main", "GET session (probe)", false, request)
            .await
            .map(|r| r.status().as_u16());
        match status {
            Some(503) => saw_down = true,
            Some(200) if saw_down => return Some(started.elapsed()),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}
