//! [`MailerClient`]: how a use case tells the mailer that the outbox has something new.

use std::time::Duration;

use crate::slot::{ActorUnavailable, Slot};

use super::MailerMsg;

/// The mailer's client.
#[derive(Clone)]
pub struct MailerClient {
    slot: Slot<MailerMsg>,
}

impl MailerClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("mailer"),
        }
    }

    /// The mailer's slot (for the supervisor and diagnostics).
    pub fn slot(&self) -> &Slot<MailerMsg> {
        &self.slot
    }

    /// Something was queued in the outbox: drain it now. The row is durable already, so a mailer
    /// that is down simply sends it on its next poll.
    pub fn wake(&self) {
        if let Ok(mailer) = self.slot.get() {
            let _ = mailer.send_message(MailerMsg::Wake);
        }
    }

    /// Drains the outbox, then returns (shutdown, tests).
    pub async fn flush(&self) -> Result<(), ActorUnavailable> {
        self.slot
            .ask(MailerMsg::Flush, Duration::from_secs(10))
            .await
    }
}
