//! The names of the events Raptor writes to the audit trail (SPEC §5), in one enum so that a
//! use case names what happened rather than spelling a string, and the list of what is audited
//! can be read in one place. The audit writer itself (`raptor_actors::audit`) stores any name;
//! this is the vocabulary of the domain.

use raptor_actors::audit::{AppendError, AuditClient, AuditEntry};
use uuid::Uuid;

/// The one way an audit row is appended: [`AuditTrail::append`] waits until the row is durable
/// (the change it records must not happen otherwise). The audit writer's client implements it
/// for the web and worker processes, the CLI's own writer for one-off commands; use cases take
/// either.
pub trait AuditTrail {
    /// Makes `entry` durable, or fails.
    fn append(
        &self,
        entry: AuditEntry,
    ) -> impl std::future::Future<Output = Result<(), AppendError>> + Send;
}

impl AuditTrail for AuditClient {
    async fn append(&self, entry: AuditEntry) -> Result<(), AppendError> {
        AuditClient::append(self, entry).await.map(|_| ())
    }
}

/// Who asked, as far as the audit trail may record it: for a request, an IP prefix (never the
/// address), a short user-agent fragment, the request id, and the client's rate-limit identity
/// (IPv4 address or IPv6 /64, only ever stored as an HMAC); for an operator at the command line
/// ([`Origin::operator`]), none of them. The one "who asked" type of every adapter and use case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's IPv4 /24 or IPv6 /48 (`net::ip_prefix`), never its address.
    pub ip_prefix: Option<String>,
    /// At most 64 printable characters of the `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's id (`x-request-id`).
    pub request_id: Option<String>,
    /// The client's rate-limit identity (IPv4 address or IPv6 /64), only ever stored as an HMAC.
    pub client: Option<String>,
}

impl Origin {
    /// An operator at the command line: no address, no request.
    pub fn operator() -> Self {
        Self::default()
    }

    /// An audit row for `event` done by (or to) `user`, stamped with this origin.
    pub fn audit(&self, event: AuditEvent, user: Option<Uuid>) -> AuditEntry {
        let mut entry = event.entry();
        entry.actor_user_id = user;
        self.stamp(&mut entry);
        entry
    }

    /// An audit row for `event` stamped with this origin, its actor not named yet.
    pub fn entry(&self, event: AuditEvent) -> AuditEntry {
        self.audit(event, None)
    }

    /// Stamps `entry` with this origin's IP prefix and request id.
    pub fn stamp(&self, entry: &mut AuditEntry) {
        entry.ip_prefix = self.ip_prefix.clone();
        entry.request_id = self.request_id.clone();
    }
}

pub mod verify;

/// Something that happened to an identity, a session, money or personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEvent {
    /// An account was registered with its first passkey.
    Register,
    /// An invitation (bootstrap token) was created by an operator.
    BootstrapTokenCreate,
    /// An invitation was used by a registration.
    BootstrapTokenUse,
    /// An email address was verified.
    EmailVerify,
    LoginSuccess,
    LoginFailure,
    /// A passkey's signature counter went backwards (a cloned authenticator?).
    LoginCounterRegression,
    Logout,
    /// One session was ended by its owner.
    SessionRevoke,
    /// Every other session of the owner was ended.
    SessionRevokeOthers,
    /// A signed-in person proved a passkey again (step-up before a dangerous change).
    SessionReauth,
    PasskeyAdd,
    PasskeyRename,
    PasskeyRemove,
    /// An order is about to be sent to the broker (the intent, durable before the call).
    OrderSubmitRequested,
    OrderSubmitAccepted,
    OrderSubmitRejected,
    /// An order was refused by a pre-trade risk limit before any broker call.
    OrderSubmitRefused,
    OrderCancel,
    /// An order is about to be cancelled at the broker (the intent, durable before the call).
    OrderCancelRequested,
    KillSwitchEngage,
    KillSwitchRelease,
    /// A data-subject access request was served.
    DsrExport,
    /// An account was erased.
    DsrErase,
    /// An operator read a person's data.
    UserPiiAccess,
    /// A recovery link was asked for (by email, pseudonymous subject) or made by an operator.
    RecoveryRequested,
    /// A recovery link added a passkey and ended every session.
    RecoveryCompleted,
    /// A recovery token was refused (unknown, used, expired, superseded, another account's).
    RecoveryTokenRejected,
    /// A backtest run was queued (who, symbol, range, strategy; never the results).
    BacktestRun,
    /// A paper book was opened with its initial cash.
    BookOpen,
    /// An operator adjusted a book's cash (`raptor book adjust`), with the reason.
    BookAdjust,
}

impl AuditEvent {
    /// The `audit_log.event` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::Register => "register",
            AuditEvent::BootstrapTokenCreate => "bootstrap_token.create",
            AuditEvent::BootstrapTokenUse => "bootstrap_token.use",
            AuditEvent::EmailVerify => "email.verify",
            AuditEvent::LoginSuccess => "login.success",
            AuditEvent::LoginFailure => "login.failure",
            AuditEvent::LoginCounterRegression => "login.counter_regression",
            AuditEvent::Logout => "logout",
            AuditEvent::SessionRevoke => "session.revoke",
            AuditEvent::SessionRevokeOthers => "session.revoke_others",
            AuditEvent::SessionReauth => "session.reauth",
            AuditEvent::PasskeyAdd => "passkey.add",
            AuditEvent::PasskeyRename => "passkey.rename",
            AuditEvent::PasskeyRemove => "passkey.remove",
            AuditEvent::OrderSubmitRequested => "order.submit.requested",
            AuditEvent::OrderSubmitAccepted => "order.submit.accepted",
            AuditEvent::OrderSubmitRejected => "order.submit.rejected",
            AuditEvent::OrderSubmitRefused => "order.submit.refused",
            AuditEvent::OrderCancel => "order.cancel",
            AuditEvent::OrderCancelRequested => "order.cancel.requested",
            AuditEvent::KillSwitchEngage => "kill_switch.engage",
            AuditEvent::KillSwitchRelease => "kill_switch.release",
            AuditEvent::DsrExport => "dsr.export",
            AuditEvent::DsrErase => "dsr.erase",
            AuditEvent::UserPiiAccess => "user.pii_access",
            AuditEvent::RecoveryRequested => "recovery.requested",
            AuditEvent::RecoveryCompleted => "recovery.completed",
            AuditEvent::RecoveryTokenRejected => "recovery.token_rejected",
            AuditEvent::BacktestRun => "backtest.run",
            AuditEvent::BookOpen => "book.open",
            AuditEvent::BookAdjust => "book.adjust",
        }
    }

    /// A fresh audit row for this event.
    pub fn entry(self) -> AuditEntry {
        AuditEntry::new(self.as_str())
    }

    /// `kill_switch.engage` or `kill_switch.release`.
    pub fn kill_switch(engaged: bool) -> Self {
        if engaged {
            AuditEvent::KillSwitchEngage
        } else {
            AuditEvent::KillSwitchRelease
        }
    }
}
