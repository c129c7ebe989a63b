//! Postgres over TLS is tested, not assumed: a private cluster with `ssl=on`, a self-signed
//! certificate and a `pg_hba.conf` that refuses unencrypted connections. `DATABASE_SSL=require`
//! connects (encrypted, certificate not verified, as Heroku Postgres needs); `disable` fails
//! with the server's reason.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use raptor::db;
use raptor::settings::DatabaseSsl;

/// A throwaway TLS-only cluster, stopped and removed on drop.
struct TlsCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn postgres_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("a PostgreSQL server install under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("initdb")
}

fn run(program: &Path, args: &[&str]) {
    if let Err(error) = try_run(program, args) {
        panic!("{error}");
    }
}

/// Runs `program` (as the postgres user when root); `Err` with its output when it fails.
fn try_run(program: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    // From the temporary directory: the postgres user may not be able to enter the checkout.
    let output = command
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl TlsCluster {
    fn start() -> Self {
        // In the system's temporary directory, not under target/: as root the cluster runs as
        // the postgres user, who may not be able to enter the checkout (a clone in a 0700
        // directory). The directory is created 0700 and handed to that user below.
        let dir =
            std::env::temp_dir().join(format!("raptor-pg-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        let data = dir.join("data");
        let key = dir.join("server.key");
        let crt = dir.join("server.crt");
        let openssl = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .output()
            .expect("openssl");
        assert!(
            openssl.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&openssl.stderr)
        );
        if as_root() {
            assert!(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap()
                .success());
        }
        let mut cluster = Self {
            bin: postgres_bin(),
            dir,
            port: 0,
        };
        let data_str = data.to_str().unwrap();
        run(
            &cluster.bin.join("initdb"),
            &["-D", data_str, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        if as_root() {
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(data.join("pg_hba.conf"))
                .status()
                .unwrap();
            Command::new("chmod")
                .args(["600"])
                .arg(&key)
                .status()
                .unwrap();
        }
        let log = cluster.dir.join("server.log");
        // Postgres needs its port up front: pick a free one, and should another process take it
        // before the server binds it, `pg_ctl start` fails and another one is tried.
        let mut failures = Vec::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {dir} -c fsync=off -c ssl=on \
                 -c ssl_cert_file={crt} -c ssl_key_file={key}",
                dir = cluster.dir.display(),
                crt = crt.display(),
                key = key.display(),
            );
            let started = try_run(
                &cluster.bin.join("pg_ctl"),
                &[
                    "-D",
                    data_str,
                    "-l",
                    log.to_str().unwrap(),
                    "-o",
                    &options,
                    "-w",
                    "start",
                ],
            );
            match started {
                Ok(()) => {
                    cluster.port = port;
                    return cluster;
                }
                Err(error) => failures.push(error),
            }
        }
        panic!("the TLS cluster did not start: {failures:?}");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        // Nothing to stop when the server never started.
        let _ = try_run(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_connects_over_tls_and_disable_fails_clearly_against_a_tls_only_server() {
    let cluster = TlsCluster::start();

    let pool = db::build_pool(&cluster.url(), DatabaseSsl::Require, 2).unwrap();
    let client = pool.get().await.expect("DATABASE_SSL=require connects");
    let encrypted: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted, "the connection is encrypted");
    drop(client);

    let plain = db::build_pool(&cluster.url(), DatabaseSsl::Disable, 2).unwrap();
    let refused = plain
        .get()
        .await
        .expect_err("a TLS-only server refuses a plain connection");
    let reason = raptor::db::StorageError::from(refused).to_string();
    assert!(
        reason.contains("no encryption"),
        "the server's reason is kept: {reason}"
    );
    assert!(
        !reason.contains("postgres://"),
        "no URL in the error: {reason}"
    );

    // `prefer` (the default outside deployments) takes TLS when offered.
    let prefer = db::build_pool(&cluster.url(), DatabaseSsl::Prefer, 2).unwrap();
    assert!(prefer.get().await.is_ok());
}
