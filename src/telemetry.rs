//! Logging: JSON lines in production (one event a line, fields not formatted strings), readable
//! output in development. `RUST_LOG` overrides `LOG_LEVEL`.
//!
//! Production lines are formatted by `json-subscriber` (it keeps each span's fields as ready
//! JSON, where tracing-subscriber's formatter re-parses them for every event) and written by a
//! background thread through a buffer (`tracing-appender`), so a request never waits on a
//! `write` to stderr and lines that arrive together leave in one system call. Nothing is
//! dropped: a full queue makes the caller wait. [`flush`] writes what is queued; the binary
//! calls it before it exits.

use std::io::{BufWriter, Stderr};
use std::sync::Mutex;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// Lines queued before a caller waits for the writer thread.
const QUEUED_LINES: usize = 64 * 1024;
/// The writer's buffer: it is written out whenever the queue runs empty, or fills.
const BUFFER_BYTES: usize = 64 * 1024;

/// The writer thread of the JSON log, while there is one.
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

pub fn init(json: bool, level: &str) {
    // tokio-cron-scheduler narrates every job registration at info; tokio-postgres logs every
    // statement's parameters (emails among them) at debug: neither belongs in our logs.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},tokio_cron_scheduler=warn,tokio_postgres=info"
        ))
    });
    // A second init (tests start many apps in one process) keeps the first subscriber.
    if json {
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(false)
            .buffered_lines_limit(QUEUED_LINES)
            .thread_name("raptor-log")
            .finish(buffered_stderr());
        let layer = json_subscriber::fmt::layer()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer);
        if tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .try_init()
            .is_ok()
        {
            *WRITER.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);
        }
    } else {
        let _ = fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

fn buffered_stderr() -> BufWriter<Stderr> {
    BufWriter::with_capacity(BUFFER_BYTES, std::io::stderr())
}

/// Writes every queued log line and stops the writer thread; later lines are dropped. Call
/// once, as the process ends.
pub fn flush() {
    drop(WRITER.lock().unwrap_or_else(|e| e.into_inner()).take());
}
