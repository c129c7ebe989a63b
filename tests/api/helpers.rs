//! `spawn_app()` and friends: the real application on a random loopback port, against a fresh
//! database that is dropped when the last app using it is dropped.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use raptor::{db, Application, Settings};
use raptor_actors::clock::OffsetClock;
use raptor_actors::supervisor::Mode;

pub const ORIGIN: &str = "http://localhost:3000";
pub const TEST_SECRET_KEY: &str = "test-only-secret-key-0123456789-abcdefghij"; // secret-scan: allow (test-only key)

/// Admin URL of the server the tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of one test, dropped (with any connection still open) on drop.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Arc<Self> {
        let name = format!("raptor_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_url();
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect(
                "TEST_DATABASE_URL must point at a running PostgreSQL (scripts/test.sh starts one)",
            );
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_owned();
        Arc::new(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// The single number a `SELECT count(*) …` answers.
    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get(0)
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any async context we can await in: use a short-lived runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running application and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub app: Option<Application>,
    pub db: Arc<TestDb>,
    pub clock: Arc<OffsetClock>,
    /// Stand-ins that live as long as the application (a market-data stand-in, say).
    pub peers: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn app(&self) -> &Application {
        self.app.as_ref().expect("app is running")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Another instance of the application on the same database (a second dyno).
    pub async fn spawn_peer(&self, overrides: &[(&str, &str)]) -> TestApp {
        start(self.db.clone(), overrides, false).await
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the application with some configuration variables overridden.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    start(TestDb::create().await, overrides, true).await
}

async fn start(db: Arc<TestDb>, overrides: &[(&str, &str)], migrate: bool) -> TestApp {
    let settings = test_settings(&db.url, overrides);
    if migrate {
        let pool = db::build_pool(&db.url, settings.database.ssl, 2).expect("pool");
        db::migrate(&pool).await.expect("migrations apply");
        crate::asset_stub::seed(&db.client().await).await;
    }
    let clock = Arc::new(OffsetClock::default());
    let app = Application::build_with_clock(settings, Mode::Web, clock.clone())
        .await
        .expect("app starts");
    let addr = app.local_addr().expect("web mode listens");
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        app: Some(app),
        db,
        clock,
        peers: Vec::new(),
    }
}

/// The URL of `database_url`'s database through the transaction-mode PgBouncer of
/// `TEST_PGBOUNCER_URL` (scripts/test.sh starts one), when that is set and the database is on
/// the tests' own server.
pub fn pooled_url(database_url: &str) -> Option<String> {
    let bouncer = std::env::var("TEST_PGBOUNCER_URL").ok()?;
    let admin = admin_url();
    let server = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let name = database_url.strip_prefix(server)?.strip_prefix('/')?;
    let base = bouncer
        .rsplit_once('/')
        .map_or(bouncer.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

/// Test settings: `APP_ENV=test`, the test database, a fixed key, then `overrides`. With
/// `TEST_PGBOUNCER_URL` the pool goes through PgBouncer (`DATABASE_CONNECTION_POOL_URL`), as on
/// Heroku with connection pooling.
pub fn test_settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = [
        ("APP_ENV", "test"),
        ("DATABASE_URL", database_url),
        ("SECRET_KEY", TEST_SECRET_KEY),
        ("FRONTEND_ORIGIN", ORIGIN),
        ("DATABASE_SSL", "disable"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let own_database = !overrides
        .iter()
        .any(|(k, _)| matches!(*k, "DATABASE_URL" | "DATABASE_CONNECTION_POOL_URL"));
    if let Some(pooled) = pooled_url(database_url).filter(|_| own_database) {
        env.insert("DATABASE_CONNECTION_POOL_URL".into(), pooled);
    }
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Settings::load(|k| env.get(k).cloned()).expect("test settings are valid")
}

/// Polls `check` until it returns `Some`, failing the test after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let stop = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < stop,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `raw` as-is over TCP (for requests a well-behaved client refuses to make) and returns
/// the status code and the whole response text.
pub async fn raw_request(base: &str, raw: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw.as_bytes()).await.expect("write");
    let mut text = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut text))
        .await
        .expect("response within 5 s")
        .expect("read");
    let text = String::from_utf8_lossy(&text).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Asserts the SPEC §3 error shape and returns the error code.
pub async fn error_code(response: reqwest::Response) -> String {
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.expect("error body is JSON");
    let error = &body["error"];
    assert!(error["message"].is_string(), "error has a message: {body}");
    assert_eq!(
        error["request_id"],
        request_id.as_str(),
        "error names the request id"
    );
    error["code"].as_str().expect("error has a code").to_owned()
}

/// A verified user with a live session, made without a passkey ceremony (the ceremonies have
/// their own tests): the user row is inserted, the session issued by the real session store.
#[derive(Clone)]
pub struct SignedIn {
    pub user_id: uuid::Uuid,
    pub email: String,
    /// `session=<token>`, ready for a `Cookie` header.
    pub cookie: String,
}

impl TestApp {
    /// A verified user `email` (optionally an operator) signed in to this app.
    pub async fn sign_in(&self, email: &str, operator: bool) -> SignedIn {
        let user_id = uuid::Uuid::new_v4();
        self.db
            .client()
            .await
            .execute(
                "INSERT INTO users (id, email, email_verified_at, is_operator, created_at) VALUES ($1, $2, now(), $3, now())",
                &[&user_id, &email, &operator],
            )
            .await
            .expect("insert user");
        self.session_for(user_id, email).await
    }

    /// A new session for an existing verified user.
    pub async fn session_for(&self, user_id: uuid::Uuid, email: &str) -> SignedIn {
        use raptor_actors::session::{NewSession, SessionMsg};
        use secrecy::ExposeSecret;
        let new = NewSession {
            user_id,
            ip_prefix: Some("127.0.0.0/24".into()),
            user_agent: Some("tests".into()),
        };
        let issued = self
            .app()
            .actors()
            .sessions
            .slot()
            .ask(
                |reply| SessionMsg::Issue { new, reply },
                Duration::from_secs(5),
            )
            .await
            .expect("session store up")
            .expect("session issued");
        SignedIn {
            user_id,
            email: email.to_owned(),
            cookie: format!("session={}", issued.token.expose_secret()),
        }
    }

    /// A request with the user's cookie and, for writes, the allowed origin and a JSON body type.
    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &SignedIn,
    ) -> reqwest::RequestBuilder {
        let write = !matches!(method, reqwest::Method::GET | reqwest::Method::HEAD);
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("cookie", &user.cookie);
        if write {
            request = request
                .header("origin", ORIGIN)
                .header("content-type", "application/json");
        }
        request
    }
}
