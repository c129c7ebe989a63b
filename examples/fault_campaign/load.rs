//! The steady mixed load: signed-in users (seeded straight into the database, as a passkey
//! ceremony cannot be scripted) reading their session, orders and account, placing and
//! cancelling orders, and ending spare sessions. Every request is recorded with the phase it
//! started in, its outcome and Raptor's request id, for the checker.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use raptor_actors::token::TokenHasher;
use secrecy::ExposeSecret;
use tokio::time::Instant;
use uuid::Uuid;

/// The SPA's origin in the test environment (`FRONTEND_ORIGIN`'s default).
pub const ORIGIN: &str = "http://localhost:3000";
/// Spare sessions seeded per user, ended one by one by the load.
const SPARE_SESSIONS: usize = 400;
/// Pause between one worker's requests: a steady load, not a flood.
const PACE: Duration = Duration::from_millis(40);

/// A signed-in user of the load.
#[derive(Clone)]
pub struct User {
    pub cookie: String,
    /// Sessions of this user the load may end (`DELETE /api/auth/sessions/{id}`).
    pub spare: Arc<Mutex<Vec<Uuid>>>,
    /// The client address this user's requests claim (`X-Forwarded-For`, one trusted hop), so
    /// each user has its own rate-limit buckets.
    pub ip: String,
}

/// Inserts `count` verified users, each with a live session and spare ones.
pub async fn seed_users(
    db: &tokio_postgres::Client,
    hasher: &TokenHasher,
    count: usize,
) -> anyhow::Result<Vec<User>> {
    let mut users = Vec::new();
    for i in 0..count {
        let user_id = Uuid::new_v4();
        db.execute(
            "INSERT INTO users (id, email, email_verified_at, is_operator, created_at) \
             VALUES ($1, $2, now(), false, now())",
            &[
                &user_id,
                &format!("fault-{i}-{}@example.com", user_id.simple()),
            ],
        )
        .await?;
        // The session store's own token format: sealed, stored as its HMAC.
        let token = hasher.mint_sealed("session");
        let digest = hasher.digest("session", token.expose_secret());
        db.execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, \
             idle_expires_at, absolute_expires_at, ip_prefix, user_agent) \
             VALUES ($1, $2, $3, now(), now(), now() + interval '12 hours', \
             now() + interval '7 days', '127.0.0.0/24', 'fault-campaign')",
            &[&Uuid::new_v4(), &digest, &user_id],
        )
        .await?;
        let spare: Vec<Uuid> = (0..SPARE_SESSIONS).map(|_| Uuid::new_v4()).collect();
        db.execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, \
             idle_expires_at, absolute_expires_at, ip_prefix, user_agent) \
             SELECT id, 'spare-' || id::text, $2, now(), now(), now() + interval '12 hours', \
             now() + interval '7 days', '127.0.0.0/24', 'fault-campaign spare' \
             FROM unnest($1::uuid[]) AS id",
            &[&spare, &user_id],
        )
        .await?;
        users.push(User {
            cookie: format!("session={}", token.expose_secret()),
            spare: Arc::new(Mutex::new(spare)),
            ip: format!("10.77.{}.{}", i / 250, i % 250 + 1),
        });
    }
    Ok(users)
}

/// What one request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    /// No HTTP answer (refused, reset, timed out).
    Transport,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub phase: usize,
    /// Which server it went to (`main` or the hung-broker one).
    pub target: &'static str,
    pub started: Instant,
    pub latency: Duration,
    pub write: bool,
    pub route: &'static str,
    pub outcome: Outcome,
    pub request_id: Option<String>,
}

impl Record {
    pub fn acknowledged_write(&self) -> bool {
        self.write && matches!(self.outcome, Outcome::Status(s) if (200..300).contains(&s))
    }

    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            Outcome::Status(s) => Some(s),
            Outcome::Transport => None,
        }
    }
}

/// Shared by the workers and the campaign: where to send, which phase it is, what happened.
#[derive(Clone)]
pub struct Recorder {
    pub records: Arc<Mutex<Vec<Record>>>,
    pub phase: Arc<AtomicUsize>,
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            records: Arc::new(Mutex::new(Vec::new())),
            phase: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Sends `request` and records it.
    pub async fn send(
        &self,
        target: &'static str,
        route: &'static str,
        write: bool,
        request: reqwest::RequestBuilder,
    ) -> Option<reqwest::Response> {
        let phase = self.phase.load(Ordering::SeqCst);
        let started = Instant::now();
        let result = request.send().await;
        let (outcome, request_id, response) = match result {
            Ok(response) => {
                let id = response
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (
                    Outcome::Status(response.status().as_u16()),
                    id,
                    Some(response),
                )
            }
            Err(_) => (Outcome::Transport, None, None),
        };
        self.records.lock().unwrap().push(Record {
            phase,
            target,
            started,
            latency: started.elapsed(),
            write,
            route,
            outcome,
            request_id,
        });
        response
    }

    /// When the first state change started at or after `after` was acknowledged, waiting up to
    /// `deadline` for one.
    pub async fn first_ack_after(&self, after: Instant, deadline: Duration) -> Option<Instant> {
        let give_up = Instant::now() + deadline;
        loop {
            let first = self
                .records
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.started >= after && r.acknowledged_write())
                .map(|r| r.started + r.latency)
                .min();
            if first.is_some() || Instant::now() > give_up {
                return first;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn snapshot(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }
}

/// The steady load: one task per user until `stop`, against whatever `base` holds.
pub fn spawn_workers(
    users: &[User],
    base: Arc<RwLock<String>>,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    users
        .iter()
        .cloned()
        .map(|user| {
            let base = base.clone();
            let recorder = recorder.clone();
            let stop = stop.clone();
            tokio::spawn(async move { worker(user, base, recorder, stop).await })
        })
        .collect()
}

async fn worker(user: User, base: Arc<RwLock<String>>, recorder: Recorder, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let mut placed: Vec<String> = Vec::new();
    let mut step: usize = 0;
    while !stop.load(Ordering::SeqCst) {
        let base = base.read().unwrap().clone();
        let get = |path: &str| {
            client
                .get(format!("{base}{path}"))
                .header("cookie", &user.cookie)
                .header("x-forwarded-for", &user.ip)
        };
        let write = |method: reqwest::Method, path: &str| {
            client
                .request(method, format!("{base}{path}"))
                .header("cookie", &user.cookie)
                .header("x-forwarded-for", &user.ip)
                .header("origin", ORIGIN)
                .header("content-type", "application/json")
        };
        match step % 20 {
            0..=7 => {
                recorder
                    .send("main", "GET session", false, get("/api/auth/session"))
                    .await;
            }
            8..=10 => {
                recorder
                    .send(
                        "main",
                        "GET orders",
                        false,
                        get("/api/trading/orders?status=all"),
                    )
                    .await;
            }
            11..=13 => {
                let order = serde_json::json!({"symbol": "AAPL", "qty": "1", "side": "buy",
                    "type": "limit", "limit_price": "1.00", "time_in_force": "gtc"});
                let request = write(reqwest::Method::POST, "/api/trading/orders")
                    .header("idempotency-key", Uuid::new_v4().to_string())
                    .body(order.to_string());
                if let Some(response) = recorder.send("main", "POST order", true, request).await {
                    if response.status().is_success() {
                        if let Ok(body) = response.json::<serde_json::Value>().await {
                            if let Some(id) = body["id"].as_str() {
                                placed.push(id.to_owned());
                            }
                        }
                    }
                }
            }
            14 | 15 => {
                if let Some(id) = placed.pop() {
                    let path = format!("/api/trading/orders/{id}");
                    recorder
                        .send(
                            "main",
                            "DELETE order",
                            true,
                            write(reqwest::Method::DELETE, &path),
                        )
                        .await;
                }
            }
            16 | 17 => {
                let spare = user.spare.lock().unwrap().pop();
                if let Some(id) = spare {
                    let path = format!("/api/auth/sessions/{id}");
                    recorder
                        .send(
                            "main",
                            "DELETE session",
                            true,
                            write(reqwest::Method::DELETE, &path),
                        )
                        .await;
                }
            }
            _ => {
                recorder
                    .send("main", "GET account", false, get("/api/trading/account"))
                    .await;
            }
        }
        step += 1;
        tokio::time::sleep(PACE).await;
    }
}
