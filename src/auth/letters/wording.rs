//! What each kind of email says. Links carry a token minted at send time; a security notice
//! carries none: it names what happened, when, and the IP prefix and browser of the session
//! that did it, so the owner can tell whether it was them.

use serde_json::Value;

/// A message's subject and plain-text body.
pub(super) struct Message {
    pub subject: &'static str,
    pub body: String,
}

impl Message {
    /// The letter the mailer delivers; `issued` is the token row its link names, if any.
    pub(super) fn letter(self, issued: Option<uuid::Uuid>) -> raptor_actors::mailer::Letter {
        raptor_actors::mailer::Letter {
            subject: self.subject.to_owned(),
            body: self.body,
            issued,
        }
    }
}

pub(super) fn verify_email(link: &str) -> Message {
    Message {
        subject: "Confirm your email for Raxx",
        body: format!(
            "Confirm your email address for Raxx by opening this link:\n\n{link}\n\n\
             The link works once and expires in 24 hours. If you did not sign up, ignore this message.\n"
        ),
    }
}

pub(super) fn recover_passkey(link: &str) -> Message {
    Message {
        subject: "Add a new passkey to your Raxx account",
        body: format!(
            "Someone asked to add a new passkey to your Raxx account, for example because the \
             old one was lost. To add one, open this link:\n\n{link}\n\n\
             The link works once and expires in 30 minutes. Using it signs out every device. \
             If you did not ask for this, ignore this message: nothing changes, and signing in \
             with one of your passkeys cancels the link.\n"
        ),
    }
}

/// A security notice from its `email_outbox.notice` (`{event, at, ip_prefix, user_agent,
/// passkey}`).
pub(super) fn security_notice(notice: &Value) -> Message {
    let text = |key: &str| notice[key].as_str().unwrap_or("unknown").to_owned();
    let passkey = notice["passkey"].as_str();
    let named = passkey.map(|p| format!(" (\"{p}\")")).unwrap_or_default();
    let (subject, what) = match notice["event"].as_str().unwrap_or_default() {
        "passkey_added" => (
            "A passkey was added to your Raxx account",
            format!("A passkey{named} was added to your account."),
        ),
        "passkey_removed" => (
            "A passkey was removed from your Raxx account",
            format!("A passkey{named} was removed from your account."),
        ),
        "passkey_renamed" => (
            "A passkey of your Raxx account was renamed",
            format!(
                "A passkey of your account was renamed{}.",
                passkey.map(|p| format!(" to \"{p}\"")).unwrap_or_default()
            ),
        ),
        "recovery_used" => (
            "Your Raxx account was recovered",
            format!(
                "A recovery link was used: a new passkey{named} was added to your account \
                 and every other device was signed out."
            ),
        ),
        "sessions_revoked" => (
            "Your other Raxx sessions were signed out",
            "Every other session of your account was signed out.".to_owned(),
        ),
        _ => (
            "Security notice for your Raxx account",
            "Something changed in your account's security settings.".to_owned(),
        ),
    };
    Message {
        subject,
        body: format!(
            "{what}\n\nWhen: {}\nFrom: IP {} (browser: {})\n\n\
             If this was you, there is nothing to do. If it was not, sign in, review your \
             passkeys and sessions, and secure your email account: whoever controls it can \
             recover your Raxx account.\n",
            text("at"),
            text("ip_prefix"),
            text("user_agent"),
        ),
    }
}
