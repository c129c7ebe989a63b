//! Logging: JSON lines in production (one event a line, fields not formatted strings), readable
//! output in development.
//!
//! `LOG_LEVEL` is the level of Raptor's own crates (`raptor`, `raptor_actors`); dependencies log
//! at that level too but never below `info`, so `raptor dev` (`LOG_LEVEL=debug`) shows our debug
//! lines without every rustls handshake and hyper frame. `RUST_LOG`, when set, replaces all of
//! this. Colours only when stderr is a terminal: a file or a pipe gets plain text.
//!
//! Production lines are formatted by [`json_lines`] (span fields rendered once, no JSON value
//! maps per event) and gathered by [`batch_writer`], whose thread writes them to stderr every
//! 10 ms in one system call: a request never waits on a `write`, nor wakes a thread. Nothing is
//! dropped. [`flush`] writes what is pending; the binary calls it before it exits.

mod batch_writer;
mod json_lines;
pub mod request;

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// The crates whose logs are ours: their targets start with these names.
const OWN_CRATES: [&str; 2] = ["raptor", "raptor_actors"];

/// Dependencies that stay quieter than the rest: tokio-cron-scheduler narrates every job
/// registration at info; tokio-postgres logs every statement's parameters (emails among them)
/// at debug. Neither belongs in our logs.
const QUIET_DEPENDENCIES: [&str; 2] = ["tokio_cron_scheduler=warn", "tokio_postgres=info"];

/// The flusher of the JSON log, while there is one.
static FLUSHER: Mutex<Option<batch_writer::Flusher>> = Mutex::new(None);

/// The JSON log's writer, once the JSON subscriber is the process's and its filter lets the
/// access-log line through: the line goes to it directly ([`served`]).
static ACCESS_LOG: OnceLock<batch_writer::BatchWriter> = OnceLock::new();

pub fn init(json: bool, level: &str) {
    let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let filter = filter(rust_log.as_deref(), level);
    // A second init (tests start many apps in one process) keeps the first subscriber.
    if json {
        let Ok((writer, flusher)) = batch_writer::start() else {
            eprintln!("raptor: cannot start the log writer thread");
            return;
        };
        let layer = json_lines::JsonLines::new(writer.clone());
        if tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .try_init()
            .is_ok()
        {
            *FLUSHER.lock().unwrap_or_else(|e| e.into_inner()) = Some(flusher);
            // The filter is fixed from here on: whether it lets the access line through is
            // asked once, not per request.
            if tracing::enabled!(target: json_lines::ACCESS_TARGET, tracing::Level::INFO) {
                let _ = ACCESS_LOG.set(writer);
            }
        }
    } else {
        let readable = fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init();
        // tracing-subscriber's formatter shows a request's fields through its span.
        request::use_spans(readable.is_ok());
    }
}

/// The access-log line of the request being handled: `served`, its status and latency, with the
/// request's fields. Every request writes one, so with the JSON format it is formatted straight
/// into the log's batch (the same line the layer would write, at the same filter: the target
/// `raptor::http::edge` at INFO), skipping `tracing`'s dispatch, field visitors and span lookup
/// (ADR 0007). Any other format logs it through `tracing`.
pub fn served(status: u16, latency_ms: u64) {
    match ACCESS_LOG.get() {
        Some(writer) => json_lines::write_served(writer, status, latency_ms),
        None => tracing::info!(
            target: json_lines::ACCESS_TARGET,
            message = "served",
            status,
            latency_ms
        ),
    }
}

/// Writes every pending log line and stops the writer thread; later lines are dropped. Call
/// once, as the process ends.
pub fn flush() {
    drop(FLUSHER.lock().unwrap_or_else(|e| e.into_inner()).take());
}

/// The filter for `LOG_LEVEL = level`, unless `RUST_LOG` (`rust_log`) says otherwise.
fn filter(rust_log: Option<&str>, level: &str) -> EnvFilter {
    rust_log
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(directives(level)))
}

/// Directives for `LOG_LEVEL`: ours at `level`, dependencies at `level` but no more verbose than
/// `info`. A `LOG_LEVEL` that is not a bare level (say `info,hyper=debug`) is taken as the
/// operator wrote it.
fn directives(level: &str) -> String {
    let quiet = QUIET_DEPENDENCIES.join(",");
    let Ok(own) = level.trim().parse::<LevelFilter>() else {
        return format!("{level},{quiet}");
    };
    let dependencies = own.min(LevelFilter::INFO);
    let own = OWN_CRATES.map(|name| format!("{name}={own}")).join(",");
    format!("{dependencies},{quiet},{own}")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Which of a fixed set of (target, level) events pass the filter.
    fn passing(filter: EnvFilter) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "raptor::http::auth", "raptor-debug");
            tracing::info!(target: "raptor::http::auth", "raptor-info");
            tracing::debug!(target: "raptor_actors::broker", "actors-debug");
            tracing::trace!(target: "raptor_actors::broker", "actors-trace");
            tracing::debug!(target: "rustls::client::hs", "rustls-debug");
            tracing::info!(target: "rustls::client::hs", "rustls-info");
            tracing::warn!(target: "rustls::client::hs", "rustls-warn");
            tracing::info!(target: "tokio_cron_scheduler::job", "cron-info");
            tracing::debug!(target: "tokio_postgres::query", "postgres-debug");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| l.trim().to_owned()).collect()
    }

    #[test]
    fn development_shows_our_debug_lines_and_only_info_from_dependencies() {
        assert_eq!(
            passing(filter(None, "debug")),
            [
                "raptor-debug",
                "raptor-info",
                "actors-debug",
                "rustls-info",
                "rustls-warn"
            ]
        );
    }

    #[test]
    fn production_level_applies_to_ours_and_to_dependencies() {
        assert_eq!(
            passing(filter(None, "info")),
            ["raptor-info", "rustls-info", "rustls-warn"]
        );
        assert_eq!(passing(filter(None, "warn")), ["rustls-warn"]);
    }

    #[test]
    fn rust_log_replaces_the_level() {
        assert_eq!(
            passing(filter(Some("rustls=debug"), "debug")),
            ["rustls-debug", "rustls-info", "rustls-warn"]
        );
    }

    #[test]
    fn a_log_level_with_directives_is_used_as_written() {
        assert_eq!(
            passing(filter(None, "warn,raptor::http=info")),
            ["raptor-info", "rustls-warn"]
        );
    }

    #[test]
    fn an_empty_or_unparsable_rust_log_falls_back_to_the_level() {
        for rust_log in ["", "=="] {
            assert_eq!(passing(filter(Some(rust_log), "warn")), ["rustls-warn"]);
        }
    }
}
