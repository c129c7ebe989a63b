//! A Raptor web process for load benchmarks of signed-in routes (`benches/load.sh`): it starts
//! the application from the environment exactly as `raptor serve` does, signs one benchmark
//! user in through the real session store, prints `COOKIE=session=…` on stdout, and serves
//! until SIGINT or SIGTERM.
//!
//! It exists only because a passkey ceremony cannot be driven from a shell script; everything
//! a request meets (router, middleware, actors, caches) is the production code. It refuses to
//! run with `APP_ENV=production` or `staging`.

use raptor::{telemetry, Application, Settings};
use raptor_actors::session::NewSession;
use raptor_actors::supervisor::Mode;
use secrecy::ExposeSecret;

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
    let app = Application::build(settings, Mode::Web).await?;

    let user_id = uuid::Uuid::new_v4();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
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
    app.run_until_stopped().await
}
