//! A Postgres for `raptor dev` and the test script on a machine with nothing configured.
//!
//! If a server answers on 127.0.0.1:5432 (trust auth, user `postgres`) it is used. Otherwise a
//! private cluster is created under `target/raptor-pg` from the system PostgreSQL install
//! (`initdb`, then `pg_ctl start`) on port 54329. PostgreSQL refuses to run as root, so as root
//! the cluster is owned by, and started as, the `postgres` user, and its data lives where that
//! user can reach it (see [`cluster_dir`]).

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

const SYSTEM_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PRIVATE_PORT: u16 = 54329;
/// A port for the private cluster other than 54329; when set, the server on 5432 is not used
/// (scripts/check-clone-anywhere.sh starts a cluster from a fresh clone this way).
const PRIVATE_PORT_VARIABLE: &str = "RAPTOR_PRIVATE_PG_PORT";

/// Makes sure a server is running and returns an admin URL to its `postgres` database.
pub async fn ensure_server(target_dir: &Path) -> anyhow::Result<String> {
    let chosen_port = std::env::var(PRIVATE_PORT_VARIABLE)
        .ok()
        .map(|p| p.parse::<u16>())
        .transpose()
        .with_context(|| format!("{PRIVATE_PORT_VARIABLE} is not a port"))?;
    if chosen_port.is_none() && answers(SYSTEM_URL).await {
        tracing::info!(
            url = SYSTEM_URL,
            "using the PostgreSQL server already running"
        );
        return Ok(SYSTEM_URL.to_owned());
    }
    let port = chosen_port.unwrap_or(PRIVATE_PORT);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    if answers(&url).await {
        tracing::info!(%url, "using the private cluster already running");
        return Ok(url);
    }
    let data_dir = cluster_dir(target_dir)?;
    start_private_cluster(&data_dir, port)?;
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

/// The cluster's data directory, named by `target/raptor-pg`. As root the cluster runs as the
/// `postgres` user, who may not be able to enter the checkout (a clone in a 0700 directory, or
/// in root's home): then the data lives in a directory created for that user in the system's
/// temporary directory, and `target/raptor-pg` is a symbolic link to it.
fn cluster_dir(target_dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(target_dir)?;
    let name = std::fs::canonicalize(target_dir)?.join("raptor-pg");
    if !running_as_root() {
        std::fs::create_dir_all(&name)?;
        return Ok(name);
    }
    if let Ok(dir) = std::fs::canonicalize(&name) {
        if postgres_can_write(&dir) {
            return Ok(dir);
        }
    }
    let dir = std::env::temp_dir().join(format!("raptor-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    set_aside(&name)?;
    std::os::unix::fs::symlink(&dir, &name)
        .with_context(|| format!("linking {} to {}", name.display(), dir.display()))?;
    Ok(dir)
}

/// Whether the `postgres` user can write in `dir` (and so reach it).
fn postgres_can_write(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-w"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

/// Moves whatever `name` holds out of the way: a dangling link or an empty directory is
/// removed, a directory with data is renamed `<name>.unreachable-<id>`.
fn set_aside(name: &Path) -> anyhow::Result<()> {
    let Ok(meta) = name.symlink_metadata() else {
        return Ok(());
    };
    if !meta.is_dir() {
        std::fs::remove_file(name)?;
    } else if std::fs::remove_dir(name).is_err() {
        let aside = name.with_extension(format!("unreachable-{}", uuid::Uuid::new_v4().simple()));
        std::fs::rename(name, &aside)?;
        tracing::warn!(moved_to = %aside.display(), "the postgres user cannot reach the old cluster directory");
    }
    Ok(())
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

fn start_private_cluster(data_dir: &Path, port: u16) -> anyhow::Result<()> {
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
        // From the data directory: the postgres user may not be able to enter the caller's.
        let status = command
            .args(args)
            .current_dir(data_dir)
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
    let options = format!("-p {port} -c listen_addresses=127.0.0.1 -k {dir} -c fsync=off");
    run(
        &bin.join("pg_ctl"),
        &["-D", dir, "-l", &log, "-o", &options, "-w", "start"],
    )
}
