//! Email: what the mailer actor is given. Its transport (`SMTP_URL`) and sender (`EMAIL_FROM`)
//! are read from the settings in `startup::wiring` ([`MailConfig`]); the links its emails carry
//! are built here.
//!
//! `SMTP_URL` uses lettre's URL form: `smtps://` (implicit TLS), `smtp://…?tls=required`
//! (STARTTLS), and plain `smtp://` only to a loopback host. Without it, development writes
//! emails to the log and other environments keep them queued.

use std::time::Duration;

use lettre::message::Mailbox;
use raptor_actors::clock::SharedClock;
use raptor_actors::mailer::{MailerArgs, Transport};
use raptor_actors::token::TokenHasher;

use crate::auth::letters::AuthLetters;

/// The mailer's configuration, as `startup::wiring` reads it from the settings.
pub struct MailConfig {
    /// SMTP, the log (development), or nothing (emails stay queued).
    pub transport: Transport,
    /// The sender of every email.
    pub from: Mailbox,
    /// The first `FRONTEND_ORIGIN`, where the emails' links point.
    pub frontend_origin: String,
    /// Keys the HMAC of the tokens the emails carry.
    pub hasher: TokenHasher,
}

/// The mailer actor's arguments for `config`.
pub fn mailer_args(
    config: MailConfig,
    pool: deadpool_postgres::Pool,
    clock: SharedClock,
) -> MailerArgs {
    let origin = &config.frontend_origin;
    MailerArgs {
        pool,
        clock,
        letters: std::sync::Arc::new(AuthLetters::new(config.hasher, origin)),
        transport: config.transport,
        from: config.from,
        poll_every: Duration::from_secs(5),
    }
}
