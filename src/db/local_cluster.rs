//! A Postgres for `raptor dev` and the test script on a machine with nothing configured.
//!
//! If a server answers on 127.0.0.1:5432 (trust auth, user `postgres`) it is used. Otherwise a
//! private cluster is created under `target/raptor-pg` from the system PostgreSQL install
//! (`initdb`, then `pg_ctl start`) on port 54329. PostgreSQL refuses to run as root, so as root
//! the cluster is owned by, and started as, the `postgres` user.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

const SYSTEM_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PRIVATE_PORT: u16 = 54329;

/// Makes sure a server is running and returns an admin URL to its `postgres` database.
pub async fn ensure_server(target_dir: &Path) -> anyhow::Result<String> {
    if answers(SYSTEM_URL).await {
        tracing::info!(
            url = SYSTEM_URL,
            "using the PostgreSQL server already running"
        );
        return Ok(SYSTEM_URL.to_owned());
    }
    let url = format!("postgres://postgres@127.0.0.1:{PRIVATE_PORT}/postgres");
    if answers(&url).await {
        tracing::info!(%url, "using the private cluster already running");
        return Ok(url);
    }
    let data_dir = cluster_dir(target_dir)?;
    start_private_cluster(&data_dir)?;
    for _ in 0..50 {
        if answers(&url).await {
            tracing::info!(%url, data_dir = %data_dir.display(), "private PostgreSQL cluster started");
            return Ok(url);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!(
        "the private cluster in {} did not start; see its server.log",
        data_dir.display()
    )
}

/// Creates `name` on the server behind `admin_url` if it is missing; returns its URL.
pub async fn ensure_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
    }
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

async fn answers(url: &str) -> bool {
    let attempt = tokio_postgres::connect(url, tokio_postgres::NoTls);
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Ok(_))
    )
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn cluster_dir(target_dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(target_dir)?;
    let dir = std::fs::canonicalize(target_dir)?.join("raptor-pg");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, or the newest Debian-style install.
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context(
        "no PostgreSQL server install found (looked for pg_config and /usr/lib/postgresql/*/bin)",
    )
}

fn start_private_cluster(data_dir: &Path) -> anyhow::Result<()> {
    let bin = postgres_bin_dir()?;
    let as_root = running_as_root();
    if as_root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(data_dir)
            .status()?;
        if !status.success() {
            bail!("could not hand {} to the postgres user", data_dir.display());
        }
    }
    let run = |program: &Path, args: &[&str]| -> anyhow::Result<()> {
        let mut command = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        let status = command
            .args(args)
            .status()
            .with_context(|| format!("running {}", program.display()))?;
        if !status.success() {
            bail!("{} failed ({status})", program.display());
        }
        Ok(())
    };
    let dir = data_dir.to_str().context("cluster path is not UTF-8")?;
    if !data_dir.join("PG_VERSION").exists() {
        tracing::info!(data_dir = dir, "initialising a private PostgreSQL cluster");
        run(
            &bin.join("initdb"),
            &["-D", dir, "-U", "postgres", "-A", "trust", "--no-sync"],
        )?;
    }
    let log = format!("{dir}/server.log");
    let options = format!("-p {PRIVATE_PORT} -c listen_addresses=127.0.0.1 -k {dir} -c fsync=off");
    run(
        &bin.join("pg_ctl"),
        &["-D", dir, "-l", &log, "-o", &options, "-w", "start"],
    )
}
