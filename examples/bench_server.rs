//! A Raptor web process for load benchmarks of signed-in routes (`benches/load.sh`,
//! `benches/streams.sh`): it starts the application from the environment exactly as
//! `raptor serve` does, signs benchmark users in through the real session store, prints one
//! `COOKIE=session=…` line per user on stdout (`BENCH_USERS`, default 1), and serves until
//! SIGINT or SIGTERM.
//!
//! For `benches/streams.sh` it also reads commands on stdin: `events N PER_SECOND` places `N`
//! orders in the ledger, round robin over the users, and hands one `new` event per order to
//! the trade-stream actor as if the upstream had sent it, with `bench_sent_ns` (nanoseconds
//! since the epoch, when it was handed over) in the data object so a client can measure the
//! delay to its stream; then prints `injected N`.
//!
//! It exists only because a passkey ceremony cannot be driven from a shell script; everything
//! a request meets (router, middleware, actors, caches) is the production code. It refuses to
//! run with `APP_ENV=production` or `staging`.

use std::time::Duration;

use raptor::{telemetry, Application, Settings};
use raptor_actors::session::NewSession;
use raptor_actors::supervisor::Mode;
use raptor_actors::trade_stream::TradeStreamMsg;
use secrecy::ExposeSecret;
use tokio::io::AsyncBufReadExt;
use uuid::Uuid;

// The production binary's allocator (src/main.rs, ADR 0007), so the memory measured is what a
// web dyno would hold.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    anyhow::ensure!(
        !settings.app_env.is_deployed(),
        "bench_server runs only outside production and staging"
    );
    telemetry::init(settings.log_json, &settings.log_level);
    let url = settings
        .database_url()
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is required"))?
        .to_owned();
    let users: usize = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let app = Application::build(settings, Mode::Web).await?;

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let mut user_ids = Vec::with_capacity(users);
    for _ in 0..users.max(1) {
        let user_id = Uuid::new_v4();
        client
            .execute(
                "INSERT INTO users (id, email, email_verified_at, is_operator, created_at) \
                 VALUES ($1, $2, now(), false, now())",
                &[&user_id, &format!("bench-{}@example.com", user_id.simple())],
            )
            .await?;
        let issued = app
            .actors()
            .sessions
            .issue(NewSession {
                user_id,
                ip_prefix: Some("127.0.0.0/24".into()),
                user_agent: Some("bench".into()),
            })
            .await?;
        println!("COOKIE=session={}", issued.token.expose_secret());
        user_ids.push(user_id);
    }
    let stream = app.actors().trade_stream.clone();
    tokio::spawn(async move {
        if let Err(error) = commands(client, stream, user_ids).await {
            eprintln!("bench_server: {error}");
        }
    });
    app.run_until_stopped().await
}

/// Runs the stdin commands until stdin ends.
async fn commands(
    client: tokio_postgres::Client,
    stream: raptor_actors::trade_stream::TradeStreamClient,
    users: Vec<Uuid>,
) -> anyhow::Result<()> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut next = 0usize;
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let ["events", n, rate] = words.as_slice() else {
            continue;
        };
        let (n, rate): (usize, f64) = (n.parse()?, rate.parse()?);
        let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
        for _ in 0..n {
            every.tick().await;
            let user = users[next % users.len()];
            let client_order_id = format!("bench-{}", Uuid::new_v4().simple());
            next += 1;
            client
                .execute(
                    "INSERT INTO orders (id, user_id, client_order_id, symbol, side, request, \
                     status, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'AAPL', 'buy', '{}', 'accepted', now(), now())",
                    &[&Uuid::new_v4(), &user, &client_order_id],
                )
                .await?;
            let sent_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
            let data = serde_json::json!({
                "event": "new",
                "timestamp": chrono::Utc::now().to_rfc3339(),
                "bench_sent_ns": sent_ns,
                "order": {"id": Uuid::new_v4(), "client_order_id": client_order_id, "status": "new"},
            });
            stream
                .slot()
                .get()?
                .cast(TradeStreamMsg::Data(data.to_string()))?;
        }
        println!("injected {n}");
    }
    Ok(())
}
