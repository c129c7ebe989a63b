//! The mailer: drains the durable `email_outbox` through lettre, with retries and backoff.
//!
//! Rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease, so several dynos can run a mailer
//! and each message is sent by one of them. What a row says, and the token its link carries, is
//! written by the domain through [`Letters`] inside the claim's transaction, committed before
//! the email leaves. The pooled connection goes back to the pool before SMTP is contacted: a
//! slow or hung mail server holds no connection (STYLE "no waiting while holding"). A message
//! still unsent [`Letters::give_up_after`] after it was queued is no longer tried; the outbox
//! purge deletes it.

mod client;
mod letters;
mod outbox;

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::clock::SharedClock;
use crate::task::AbortOnDrop;
pub use client::MailerClient;
pub use letters::{Claimed, Letter, LetterError, LetterFuture, Letters, SharedLetters};
pub use outbox::OutboxError;

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

/// What the mailer starts with.
#[derive(Clone)]
pub struct MailerArgs {
    /// The outbox's database.
    pub pool: deadpool_postgres::Pool,
    /// Leases, backoff and "give up" are measured on this clock.
    pub clock: SharedClock,
    /// What each kind of email says (the main crate's).
    pub letters: SharedLetters,
    /// Where messages go.
    pub transport: Transport,
    /// The sender (`EMAIL_FROM`).
    pub from: Mailbox,
    /// How often the outbox is polled even without a wake-up (retries, other dynos' rows).
    pub poll_every: Duration,
}

/// The mailer's messages.
pub enum MailerMsg {
    /// Something was queued: drain now.
    Wake,
    /// Drain, then reply (shutdown, tests).
    Flush(RpcReplyPort<()>),
}

/// The mailer actor.
pub struct Mailer;

/// The mailer's state: its arguments and the poll ticker.
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
    async fn send_one(&self) -> Result<bool, OutboxError> {
        let now = self.args.clock.now();
        let Some((row, letter)) = self.claim_and_write(now).await? else {
            return Ok(false);
        };
        // The connection is back in the pool while SMTP talks.
        let delivered = self
            .deliver(&row.recipient, letter.subject, letter.body)
            .await;
        let client = self.args.pool.get().await?;
        match delivered {
            Ok(()) => {
                outbox::mark_sent(&client, row.id, now).await?;
                tracing::info!(outbox_id = %row.id, kind = %row.kind, "email sent");
            }
            Err(error) => {
                // Never delivered: what its link carries must not stay usable.
                if let Some(issued) = letter.issued {
                    let letters = &self.args.letters;
                    letters
                        .withdraw(&client, &row, issued)
                        .await
                        .map_err(OutboxError::Letter)?;
                }
                let attempts = row.attempts + 1;
                let wait = chrono::Duration::seconds(
                    2i64.saturating_pow(attempts.min(12) as u32).min(3600),
                );
                outbox::mark_failed(&client, row.id, attempts, now + wait, &error).await?;
                tracing::warn!(outbox_id = %row.id, kind = %row.kind, attempts, %error, "email delivery failed; will retry");
            }
        }
        Ok(true)
    }

    /// Claims the next due row with a lease and has the domain write its letter, in one
    /// transaction committed before the email leaves: a link never reaches anyone before its
    /// token exists, and no row lock or connection is held while SMTP talks. If this process
    /// dies mid-send, the lease runs out and another mailer sends it (at least once).
    async fn claim_and_write(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<(Claimed, Letter)>, OutboxError> {
        let letters = &self.args.letters;
        let mut client = self.args.pool.get().await?;
        let tx = client.transaction().await?;
        let due = outbox::Due {
            now,
            lease_until: now + LEASE,
            kinds: letters.kinds(),
            queued_after: now - letters.give_up_after(),
        };
        let Some(row) = outbox::claim_due(&tx, due).await? else {
            return Ok(None);
        };
        let letter = letters
            .write(&tx, &row, now)
            .await
            .map_err(OutboxError::Letter)?;
        tx.commit().await?;
        Ok(Some((row, letter)))
    }

    async fn deliver(&self, recipient: &str, subject: String, body: String) -> Result<(), String> {
        match &self.args.transport {
            Transport::Smtp(smtp) => {
                let to: Mailbox = recipient
                    .parse()
                    .map_err(|_| "recipient is not a valid address".to_owned())?;
                let message = Message::builder()
                    .from(self.args.from.clone())
                    .to(to)
                    .subject(subject)
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
