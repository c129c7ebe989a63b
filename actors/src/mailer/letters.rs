//! [`Letters`]: how the mailer asks the domain what a claimed outbox row says.
//!
//! The mailer knows mechanisms only: claiming a due row with a lease, delivering through SMTP,
//! retrying with backoff. Which kinds of email exist, what they say, and which token a link
//! carries (minted, stored as an HMAC in the domain's own table, valid for the domain's TTL) are
//! the main crate's: it implements this trait (`raptor::auth::letters`) and passes it in
//! [`super::MailerArgs`], as the scheduler's `JobRunner` is passed in.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An outbox row the mailer has claimed (`email_outbox`), as the domain needs it to write.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The outbox row's id.
    pub id: Uuid,
    /// The row's kind, one of [`Letters::kinds`].
    pub kind: String,
    /// The account the email is for.
    pub user_id: Uuid,
    /// The address it goes to.
    pub recipient: String,
    /// Delivery attempts before this one.
    pub attempts: i32,
    /// What the message says, for kinds that carry it in the row (`email_outbox.notice`).
    pub payload: Option<serde_json::Value>,
}

/// A message ready to deliver.
pub struct Letter {
    /// The subject line.
    pub subject: String,
    /// The plain-text body (a link's token included, so never logged outside development).
    pub body: String,
    /// What [`Letters::write`] stored for this letter (a link's token row), handed back to
    /// [`Letters::withdraw`] if delivery fails.
    pub issued: Option<Uuid>,
}

/// Writing or withdrawing a letter failed (the database, usually).
pub type LetterError = Box<dyn std::error::Error + Send + Sync>;

/// What [`Letters`]' methods return.
pub type LetterFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LetterError>> + Send + 'a>>;

/// The domain's side of the mailer: which kinds it sends, and what each says.
pub trait Letters: Send + Sync + 'static {
    /// The outbox kinds this process can write; rows of other kinds (a newer dyno's) are left
    /// alone.
    fn kinds(&self) -> &'static [&'static str];

    /// How long after it was queued an email is still worth sending; older rows are skipped
    /// (and left to the retention purge).
    fn give_up_after(&self) -> chrono::Duration;

    /// Writes the letter for `row` inside the claim's transaction `tx`, storing whatever its
    /// link needs (only a token's digest): the claim and the stored token commit together,
    /// before the email leaves.
    fn write<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        row: &'a Claimed,
        now: DateTime<Utc>,
    ) -> LetterFuture<'a, Letter>;

    /// The letter written for `row` was never delivered: whatever it stored (`issued`) must not
    /// stay usable.
    fn withdraw<'a>(
        &'a self,
        client: &'a deadpool_postgres::Client,
        row: &'a Claimed,
        issued: Uuid,
    ) -> LetterFuture<'a, ()>;
}

/// The letters as [`super::MailerArgs`] holds them.
pub type SharedLetters = Arc<dyn Letters>;
