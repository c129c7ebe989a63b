//! Email configuration: the mailer's transport from `SMTP_URL` and sender from `EMAIL_FROM`.
//!
//! `SMTP_URL` uses lettre's URL form: `smtps://` (implicit TLS), `smtp://…?tls=required`
//! (STARTTLS), and plain `smtp://` only to a loopback host. Without it, development writes
//! emails to the log and other environments keep them queued.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use raptor_actors::clock::SharedClock;
use raptor_actors::mailer::{MailerArgs, Transport};
use secrecy::ExposeSecret;

use crate::auth::letters::AuthLetters;

use crate::settings::{AppEnv, ConfigError, Settings};

const DEFAULT_FROM: &str = "Raxx <no-reply@raxx.app>";

/// The mailer's configuration for these settings.
pub fn mailer_args(
    settings: &Settings,
    pool: deadpool_postgres::Pool,
    clock: SharedClock,
) -> Result<MailerArgs, ConfigError> {
    let transport = match &settings.smtp_url {
        Some(url) => {
            let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .map_err(|_| ConfigError {
                    variable: "SMTP_URL",
                    problem: "is not a valid SMTP URL".into(),
                })?;
            Transport::Smtp(builder.timeout(Some(Duration::from_secs(20))).build())
        }
        None if settings.app_env == AppEnv::Development => Transport::Log,
        None => Transport::Disabled,
    };
    let from: Mailbox = settings
        .email_from
        .as_deref()
        .unwrap_or(DEFAULT_FROM)
        .parse()
        .map_err(|_| ConfigError {
            variable: "EMAIL_FROM",
            problem: "is not a valid address".into(),
        })?;
    let origin = settings
        .frontend_origins
        .first()
        .map(String::as_str)
        .unwrap_or("http://localhost:3000");
    Ok(MailerArgs {
        pool,
        clock,
        letters: std::sync::Arc::new(AuthLetters::new(settings.token_hasher(), origin)),
        transport,
        from,
        poll_every: Duration::from_secs(5),
    })
}
