//! Logging: JSON lines in production (one event a line, fields not formatted strings), readable
//! output in development. `RUST_LOG` overrides `LOG_LEVEL`.

use tracing_subscriber::{fmt, EnvFilter};

pub fn init(json: bool, level: &str) {
    // tokio-cron-scheduler narrates every job registration at info; tokio-postgres logs every
    // statement's parameters (emails among them) at debug: neither belongs in our logs.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},tokio_cron_scheduler=warn,tokio_postgres=info"
        ))
    });
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests start many apps in one process) keeps the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
