//! The accounts domain's emails as the mailer sends them: which kinds exist, what each says
//! (`wording`), and the token a link carries. [`AuthLetters`] implements the mailer's
//! [`Letters`] trait; startup passes it in the mailer's arguments.
//!
//! A link's token is minted when the mailer sends the email, inside the transaction that claims
//! the outbox row, and only its HMAC is stored (`email_verifications`, `recovery_tokens`), so
//! neither the outbox nor any other table ever holds a usable token. If delivery fails, the
//! token is deleted again. Security notices carry no token at all.

mod wording;

use chrono::{DateTime, Utc};
use raptor_actors::mailer::{Claimed, Letter, LetterFuture, Letters};
use raptor_actors::token::{self, TokenHasher};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::repo::{recoveries, verifications};

/// HMAC purpose of email verification tokens.
pub const VERIFY_PURPOSE: &str = "email-verify";
/// How long a verification link works.
pub const VERIFY_TTL: chrono::Duration = chrono::Duration::hours(24);
/// HMAC purpose of passkey recovery tokens.
pub const RECOVER_PURPOSE: &str = "passkey-recover";
/// How long an emailed recovery link works.
pub const RECOVER_TTL: chrono::Duration = chrono::Duration::minutes(30);

/// Days the mailer keeps trying an email; after that it gives up, and the outbox purge deletes
/// the row (a verification or recovery link that late is of no use, and an address that
/// bounces for days should not be retried forever).
pub const GIVE_UP_DAYS: u32 = 3;

/// What an outbox row asks the mailer to send (`email_outbox.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    /// The link that verifies an address and vouches for one pending passkey.
    VerifyEmail,
    /// The link that lets a verified address add a passkey after losing its own.
    RecoverPasskey,
    /// A security notice: no link, no token.
    SecurityNotice,
}

/// Every kind this process can send (a newer dyno's kinds are left to it).
const KINDS: [&str; 3] = ["verify_email", "recover_passkey", "security_notice"];

impl EmailKind {
    /// The kind as `email_outbox.kind` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => KINDS[0],
            EmailKind::RecoverPasskey => KINDS[1],
            EmailKind::SecurityNotice => KINDS[2],
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        [
            EmailKind::VerifyEmail,
            EmailKind::RecoverPasskey,
            EmailKind::SecurityNotice,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
    }
}

/// The accounts domain's letters: the token key and where links point.
pub struct AuthLetters {
    hasher: TokenHasher,
    /// `<first FRONTEND_ORIGIN>/verify-email?token=`
    verify_link_base: String,
    /// `<first FRONTEND_ORIGIN>/recover?token=`
    recover_link_base: String,
}

impl AuthLetters {
    /// Letters whose links point at the frontend `origin`, their tokens keyed by `hasher`.
    pub fn new(hasher: TokenHasher, origin: &str) -> Self {
        Self {
            hasher,
            verify_link_base: format!("{origin}/verify-email?token="),
            recover_link_base: format!("{origin}/recover?token="),
        }
    }
}

/// An outbox row of a kind this process does not know (`kinds` filters them out).
#[derive(Debug, thiserror::Error)]
#[error("unknown email kind {0:?}")]
struct UnknownKind(String);

impl Letters for AuthLetters {
    fn kinds(&self) -> &'static [&'static str] {
        &KINDS
    }

    fn give_up_after(&self) -> chrono::Duration {
        chrono::Duration::days(GIVE_UP_DAYS.into())
    }

    fn write<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        row: &'a Claimed,
        now: DateTime<Utc>,
    ) -> LetterFuture<'a, Letter> {
        Box::pin(async move {
            let kind = EmailKind::parse(&row.kind).ok_or_else(|| UnknownKind(row.kind.clone()))?;
            let letter = match kind {
                EmailKind::SecurityNotice => {
                    let notice = row.payload.clone().unwrap_or_default();
                    wording::security_notice(&notice).letter(None)
                }
                EmailKind::VerifyEmail => {
                    let token = token::mint();
                    let digest = self.hasher.digest(VERIFY_PURPOSE, token.expose_secret());
                    let id =
                        verifications::store_emailed(tx, row.id, &digest, now, now + VERIFY_TTL)
                            .await?;
                    let link = format!("{}{}", self.verify_link_base, token.expose_secret());
                    wording::verify_email(&link).letter(Some(id))
                }
                EmailKind::RecoverPasskey => {
                    let token = token::mint();
                    let digest = self.hasher.digest(RECOVER_PURPOSE, token.expose_secret());
                    let expires_at = now + RECOVER_TTL;
                    let id = recoveries::store_emailed(tx, row.user_id, &digest, now, expires_at)
                        .await?;
                    let link = format!("{}{}", self.recover_link_base, token.expose_secret());
                    wording::recover_passkey(&link).letter(Some(id))
                }
            };
            Ok(letter)
        })
    }

    fn withdraw<'a>(
        &'a self,
        client: &'a deadpool_postgres::Client,
        row: &'a Claimed,
        issued: Uuid,
    ) -> LetterFuture<'a, ()> {
        Box::pin(async move {
            match EmailKind::parse(&row.kind) {
                Some(EmailKind::RecoverPasskey) => recoveries::forget(client, issued).await?,
                Some(EmailKind::VerifyEmail) => verifications::forget(client, issued).await?,
                Some(EmailKind::SecurityNotice) | None => {}
            }
            Ok(())
        })
    }
}
