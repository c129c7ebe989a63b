//! The `raptor` binary: one process, several modes.
//!
//! `serve` is the web dyno, `worker` the worker dyno, `migrate` Heroku's release phase, and
//! `dev` everything in one process on a laptop, with a local Postgres if none is configured.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use raptor::{cli, db, telemetry, Application, Settings};
use raptor_actors::supervisor::Mode;

#[derive(Parser)]
#[command(name = "raptor", about = "The raxx.app API server", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the web dyno).
    Serve,
    /// Run the scheduled jobs (the worker dyno).
    Worker,
    /// Apply pending database migrations, then exit (the release phase).
    Migrate,
    /// Run everything in one process with development defaults.
    Dev,
    /// Make sure a local PostgreSQL answers (starting a private one under target/ if needed)
    /// and print its admin URL.
    DevDb,
    /// Registration invitations.
    #[command(subcommand)]
    BootstrapToken(cli::bootstrap::Command),
    /// Data-subject requests: export or erase a person's data.
    #[command(subcommand)]
    Dsr(cli::dsr::Command),
    /// The audit trail's hash chain.
    #[command(subcommand)]
    Audit(cli::audit::Command),
    /// What the retention jobs keep and remove.
    #[command(subcommand)]
    Retention(cli::retention::Command),
    /// Lost-passkey recovery links for people who contacted support.
    #[command(subcommand)]
    Recovery(cli::recovery::Command),
    /// The operator's kill switch: stop or allow trading on every dyno.
    #[command(subcommand)]
    KillSwitch(cli::kill_switch::Command),
    /// Paper books: show or adjust a person's book, reconcile all books with Alpaca.
    #[command(subcommand)]
    Book(cli::book::Command),
    /// Print the OpenAPI document (`raptor openapi > docs/openapi.json` refreshes the committed
    /// copy).
    Openapi,
}

// Built with one arena (`.cargo/config.toml`), which keeps idle memory in budget (ADR 0007).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(run(cli.command));
    telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, naming the cause (a ConfigError names the variable).
            eprintln!("raptor: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(Settings::from_env()?, Mode::Web).await,
        Command::Worker => serve(Settings::from_env()?, Mode::Worker).await,
        Command::Migrate => {
            let settings = Settings::from_env()?;
            telemetry::init(settings.log_json, &settings.log_level);
            let pool = pool(&settings)?;
            db::migrate(&pool).await
        }
        Command::Dev => dev().await,
        Command::BootstrapToken(command) => {
            operator(|ctx| Box::pin(cli::bootstrap::run(command, ctx))).await
        }
        Command::Dsr(command) => operator(|ctx| Box::pin(cli::dsr::run(command, ctx))).await,
        Command::Audit(command) => operator(|ctx| Box::pin(cli::audit::run(command, ctx))).await,
        Command::Retention(command) => {
            operator(|ctx| Box::pin(cli::retention::run(command, ctx))).await
        }
        Command::Recovery(c) => operator(|ctx| Box::pin(cli::recovery::run(c, ctx))).await,
        Command::KillSwitch(c) => operator(|ctx| Box::pin(cli::kill_switch::run(c, ctx))).await,
        Command::Book(c) => operator(|ctx| Box::pin(cli::book::run(c, ctx))).await,
        Command::Openapi => {
            print!("{}", raptor::http::openapi::document_json());
            Ok(())
        }
        Command::DevDb => {
            telemetry::init(false, "warn");
            println!("{}", db::local_cluster::ensure_server(&target_dir()).await?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings, mode: Mode) -> anyhow::Result<()> {
    telemetry::init(settings.log_json, &settings.log_level);
    Application::build(settings, mode)
        .await?
        .run_until_stopped()
        .await
}

async fn dev() -> anyhow::Result<()> {
    let mut settings = Settings::load(|key| match key {
        "APP_ENV" => Some("development".to_owned()),
        _ => std::env::var(key).ok(),
    })?;
    telemetry::init(settings.log_json, &settings.log_level);
    if settings.database.url.is_none() {
        let admin = db::local_cluster::ensure_server(&target_dir()).await?;
        let url = db::local_cluster::ensure_database(&admin, "raptor_dev").await?;
        tracing::info!(database = %url, "development database ready");
        settings.database.url = Some(url.into());
    }
    let pool = pool(&settings)?;
    db::migrate(&pool).await?;
    let page = format!("http://localhost:{}/dev/passkeys", settings.port);
    let invite = settings.flags.webauthn_registration;
    let hasher = settings.token_hasher();
    tracing::info!(
        url = %format!("http://localhost:{}", settings.port),
        %page,
        console = %format!("http://localhost:{}{}", settings.port, raptor::http::dev_console::PATH),
        api_reference = %format!("http://localhost:{}{}/", settings.port, raptor::http::openapi::DOCS_PATH),
        "raptor dev: development defaults; without Alpaca credentials the broker is simulated, without SMTP_URL emails go to this log"
    );
    let app = Application::build(settings, Mode::Dev).await?;
    if invite {
        if let Err(error) = dev_invitation(&app, &hasher, &page).await {
            tracing::warn!(%error, "no development invitation could be created");
        }
    }
    app.run_until_stopped().await
}

/// Development only: an invitation to try sign-up at once, valid for a day, created (and
/// audited) by the same use case as `raptor bootstrap-token create`.
async fn dev_invitation(
    app: &Application,
    hasher: &raptor_actors::token::TokenHasher,
    page: &str,
) -> anyhow::Result<()> {
    use raptor::auth::invitations::{self, Inviter, NewInvitation};
    let inviter = Inviter {
        pool: app.pool(),
        audit: &app.actors().audit,
        hasher,
    };
    let invitation = NewInvitation {
        email: None,
        ttl: chrono::Duration::days(1),
        source: "dev",
    };
    let invite = invitations::create(&inviter, invitation, chrono::Utc::now()).await?;
    tracing::info!(%page, "development invitation (bootstrap token): {}", secrecy::ExposeSecret::expose_secret(&invite.token));
    Ok(())
}

/// Runs an operator command with a [`cli::CliContext`], closing it afterwards.
async fn operator<F>(command: F) -> anyhow::Result<()>
where
    F: for<'a> FnOnce(
        &'a cli::CliContext,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = anyhow::Result<()>> + 'a>,
    >,
{
    let settings = Settings::from_env()?;
    telemetry::init(settings.log_json, "warn");
    let ctx = cli::CliContext::open(settings).await?;
    let result = command(&ctx).await;
    ctx.close().await;
    result
}

fn pool(settings: &Settings) -> anyhow::Result<deadpool_postgres::Pool> {
    let url = settings
        .database_url()
        .ok_or_else(|| anyhow::anyhow!("configuration error: DATABASE_URL is required"))?;
    Ok(db::build_pool(
        url,
        settings.database.ssl,
        settings.database.pool_size,
    )?)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}
