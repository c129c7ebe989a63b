//! The mailer: drains the durable `email_outbox` through lettre, with retries and backoff.
//!
//! Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several dynos can run a mailer and each
//! message is sent by one of them. A link's token (email verification, passkey recovery) is
//! minted at send time and only its HMAC is stored, so neither the outbox nor any other table
//! ever holds a usable token. Security notices carry no token at all. A message still unsent
//! [`GIVE_UP_DAYS`] after it was queued is no longer tried; the outbox purge deletes it.

mod client;
mod message;
mod outbox;

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use secrecy::ExposeSecret;

use crate::clock::SharedClock;
use crate::task::AbortOnDrop;
use crate::token::{self, TokenHasher};
pub use client::MailerClient;
pub use outbox::{EmailKind, GIVE_UP_DAYS, RECOVER_PURPOSE, RECOVER_TTL, VERIFY_PURPOSE};

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server (`SMTP_URL`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development without SMTP: the message, link included, is written to the log.
    Log,
    /// Outside development without `SMTP_URL`: messages stay queued until it is configured.
    Disabled,
}

#[derive(Clone)]
pub struct MailerArgs {
    pub pool: deadpool_postgres::Pool,
    pub clock: SharedClock,
    pub hasher: TokenHasher,
    pub transport: Transport,
    pub from: Mailbox,
    /// `<first FRONTEND_ORIGIN>/verify-email?token=`
    pub verify_link_base: String,
    /// `<first FRONTEND_ORIGIN>/recover?token=`
    pub recover_link_base: String,
    /// How often the outbox is polled even without a wake-up (retries, other dynos' rows).
    pub poll_every: Duration,
}

pub enum MailerMsg {
    /// Something was queued: drain now.
    Wake,
    /// Drain, then reply (shutdown, tests).
    Flush(RpcReplyPort<()>),
}

pub struct Mailer;

pub struct MailerState {
    args: MailerArgs,
    _ticker: AbortOnDrop<()>,
}

/// How long a claimed message is reserved for the mailer sending it.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// Messages sent per drain before yielding to the mailbox.
const BATCH: usize = 50;

impl Actor for Mailer {
    type Msg = MailerMsg;
    type State = MailerState;
    type Arguments = MailerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<MailerMsg>,
        args: MailerArgs,
    ) -> Result<MailerState, ActorProcessingErr> {
        if matches!(args.transport, Transport::Disabled) {
            tracing::warn!("SMTP_URL is not set: emails are queued but not sent");
        }
        let ticker = myself.send_interval(args.poll_every, || MailerMsg::Wake);
        myself.send_message(MailerMsg::Wake)?;
        Ok(MailerState {
            args,
            _ticker: AbortOnDrop(ticker),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<MailerMsg>,
        msg: MailerMsg,
        state: &mut MailerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MailerMsg::Wake => state.drain().await,
            MailerMsg::Flush(reply) => {
                state.drain().await;
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}

impl MailerState {
    async fn drain(&mut self) {
        if matches!(self.args.transport, Transport::Disabled) {
            return;
        }
        for _ in 0..BATCH {
            match self.send_one().await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(error) => {
                    tracing::error!(%error, "mailer could not read the outbox");
                    break;
                }
            }
        }
    }

    /// Sends the next due message; `Ok(false)` when none is due.
    async fn send_one(&self) -> Result<bool, outbox::OutboxError> {
        let a = &self.args;
        let now = a.clock.now();
        let mut client = a.pool.get().await?;
        // Claim the message with a lease and store the token's digest, committed before the
        // email leaves: the link never reaches anyone before its token exists, and no row lock
        // is held while SMTP talks. If this process dies mid-send, the lease runs out and
        // another mailer sends it (at least once).
        let tx = client.transaction().await?;
        let Some(row) = outbox::claim_due(&tx, now, now + LEASE).await? else {
            return Ok(false);
        };
        let (message, stored) = match row.kind {
            EmailKind::SecurityNotice => {
                let notice = row.notice.clone().unwrap_or_default();
                (message::security_notice(&notice), None)
            }
            EmailKind::VerifyEmail => {
                let token = token::mint();
                let digest = a.hasher.digest(VERIFY_PURPOSE, token.expose_secret());
                let id = outbox::store_verification(&tx, &row, &digest, now).await?;
                let link = format!("{}{}", a.verify_link_base, token.expose_secret());
                (message::verify_email(&link), Some(id))
            }
            EmailKind::RecoverPasskey => {
                let token = token::mint();
                let digest = a.hasher.digest(RECOVER_PURPOSE, token.expose_secret());
                let id = outbox::store_recovery(&tx, &row, &digest, now).await?;
                let link = format!("{}{}", a.recover_link_base, token.expose_secret());
                (message::recover_passkey(&link), Some(id))
            }
        };
        tx.commit().await?;

        match self.deliver(&row.recipient, message).await {
            Ok(()) => {
                outbox::mark_sent(&client, row.id, now).await?;
                tracing::info!(outbox_id = %row.id, kind = row.kind.as_str(), "email sent");
            }
            Err(error) => {
                // Never delivered: the token must not stay valid.
                if let Some(id) = stored {
                    outbox::forget_token(&client, row.kind, id).await?;
                }
                let attempts = row.attempts + 1;
                let wait = chrono::Duration::seconds(
                    2i64.saturating_pow(attempts.min(12) as u32).min(3600),
                );
                outbox::mark_failed(&client, row.id, attempts, now + wait, &error).await?;
                tracing::warn!(outbox_id = %row.id, kind = row.kind.as_str(), attempts, %error, "email delivery failed; will retry");
            }
        }
        Ok(true)
    }

    async fn deliver(&self, recipient: &str, message: message::Message) -> Result<(), String> {
        let body = message.body;
        match &self.args.transport {
            Transport::Smtp(smtp) => {
                let to: Mailbox = recipient
                    .parse()
                    .map_err(|_| "recipient is not a valid address".to_owned())?;
                let message = Message::builder()
                    .from(self.args.from.clone())
                    .to(to)
                    .subject(message.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body)
                    .map_err(|e| e.to_string())?;
                match tokio::time::timeout(Duration::from_secs(30), smtp.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("SMTP timed out".into()),
                }
            }
            Transport::Log => {
                // Development only (SPEC §7): the link is printed so a developer can click it.
                tracing::info!(to = recipient, "development email:\n{body}");
                Ok(())
            }
            Transport::Disabled => Err("SMTP is not configured".into()),
        }
    }
}
