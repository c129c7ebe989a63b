//! The connection budget check (docs/capacity.md): a pool the database cannot fill is named at
//! startup, with the setting to change. Limits come from a role with a `CONNECTION LIMIT`, the
//! way small hosted plans cap a customer.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use raptor::db::capacity::{self, Limit, PoolFit};
use raptor::settings::DatabaseSsl;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{admin_url, TestDb, TEST_SECRET_KEY};

/// A login role with a connection limit, dropped (its sessions ended first) on drop.
struct LimitedRole {
    name: String,
    url: String,
    _db: Arc<TestDb>,
}

impl LimitedRole {
    async fn create(limit: u32) -> Self {
        let db = TestDb::create().await;
        let name = format!("raptor_cap_{}", uuid::Uuid::new_v4().simple());
        admin(&format!(
            "CREATE ROLE \"{name}\" LOGIN CONNECTION LIMIT {limit}"
        ))
        .await;
        let mut url = url::Url::parse(&db.url).expect("test database URL");
        url.set_username(&name).expect("a URL with a user");
        url.set_password(None).expect("a URL with a user");
        Self {
            url: url.to_string(),
            name,
            _db: db,
        }
    }

    fn pool(&self, size: usize) -> deadpool_postgres::Pool {
        raptor::db::build_pool(&self.url, DatabaseSsl::Disable, size).expect("pool")
    }
}

async fn admin(sql: &str) {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect("admin statement");
}

impl Drop for LimitedRole {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(admin(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'; \
                 DROP ROLE IF EXISTS \"{name}\""
            )));
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_larger_than_the_roles_connection_limit_is_reported() {
    let role = LimitedRole::create(3).await;
    let pool = role.pool(8);
    let fit = capacity::check(&pool, 8, 3).await;
    assert_eq!(
        fit,
        PoolFit::Short {
            room: 3,
            wanted: 11,
            limited_by: Limit::Role,
        }
    );
    let warning = fit.warning().expect("a warning");
    assert!(warning.contains("DATABASE_POOL_SIZE"), "{warning}");
    pool.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_within_the_limits_is_not_reported() {
    let role = LimitedRole::create(10).await;
    let pool = role.pool(2);
    let fit = capacity::check(&pool, 2, 1).await;
    assert_eq!(fit, PoolFit::Fits);
    assert_eq!(fit.warning(), None);
    pool.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_refused_for_too_many_connections_is_reported() {
    let role = LimitedRole::create(0).await;
    let pool = role.pool(4);
    let fit = capacity::check(&pool, 4, 3).await;
    assert_eq!(fit, PoolFit::Refused);
    assert!(fit
        .warning()
        .is_some_and(|w| w.contains("DATABASE_POOL_SIZE")));
    pool.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raptor_serve_warns_at_startup_when_its_pool_cannot_be_filled() {
    let role = LimitedRole::create(4).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_raptor"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("APP_ENV", "test"),
            ("DATABASE_URL", role.url.as_str()),
            ("DATABASE_SSL", "disable"),
            ("DATABASE_POOL_SIZE", "8"),
            ("SECRET_KEY", TEST_SECRET_KEY),
            ("PORT", "0"),
            ("LOG_LEVEL", "warn"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("raptor starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stderr line") {
            if line.contains("DATABASE_POOL_SIZE") {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("the warning within 30 s")
    .expect("the warning before raptor exits");
    assert!(found.contains("WARN"), "a warning: {found}");
    assert!(
        found.contains("room for 4 of this process's 11 connections"),
        "the figures: {found}"
    );
    child.kill().await.expect("raptor stops");
}
