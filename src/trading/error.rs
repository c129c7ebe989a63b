//! The trading use cases' errors, in trading words. `crate::http::trading` maps each to the
//! SPEC's statuses in one `From` impl; the CLI prints them.

use std::time::Duration;

use raptor_actors::audit::AppendError;
use raptor_actors::broker::BrokerError;
use raptor_actors::ActorUnavailable;

use crate::db::StorageError;
use crate::input::InvalidInput;

/// Why the account, positions or the order list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Includes `Disabled` while the kill switch is engaged.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A new book's `book.open` row could not be written, so it was not opened.
    #[error(transparent)]
    Audit(#[from] AppendError),
    /// No such order or position of the caller's.
    #[error("not found")]
    NotFound,
    #[error("the books are inconsistent: {0}")]
    Corrupt(&'static str),
}
crate::db::storage_errors!(ReadError);

impl From<crate::trading::book::OpenError> for ReadError {
    fn from(error: crate::trading::book::OpenError) -> Self {
        match error {
            crate::trading::book::OpenError::Audit(e) => Self::Audit(e),
            crate::trading::book::OpenError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<crate::trading::book::OpenError> for SubmitError {
    fn from(error: crate::trading::book::OpenError) -> Self {
        match error {
            crate::trading::book::OpenError::Audit(e) => Self::Audit(e),
            crate::trading::book::OpenError::Storage(e) => Self::Storage(e),
        }
    }
}

/// Why trading is not ready.
#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    #[error("trading is disabled: {0}")]
    Disabled(String),
    /// The switch is released but the broker does not answer with our credentials.
    #[error("the broker is not ready: {0}")]
    NotReady(BrokerError),
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
}

/// Why an order was not placed (or its outcome cannot be told).
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The idempotency key was used before for a different order.
    #[error("this idempotency key was used for a different order")]
    KeyReused,
    /// The user has too many submissions in flight; nothing was recorded or sent.
    #[error("too many submissions in flight")]
    TooManyInFlight { retry_after: Duration },
    /// A pre-trade risk limit refused the order; it was audited, nothing was recorded or sent.
    #[error(transparent)]
    RiskLimit(crate::trading::risk::Refusal),
    /// The order's asset is unknown, inactive or not tradable; nothing was recorded or sent.
    #[error("{0}")]
    NotTradable(String),
    /// A `qty` order could not be priced to check the notional limit.
    #[error("no recent price for {symbol}")]
    NoPrice { symbol: String },
    /// An identical submission is still talking to the broker.
    #[error("an identical submission is still in progress")]
    InProgress { retry_after: Duration },
    /// The broker refused (`Refused`, also when replayed), was disabled, or failed; for
    /// [`BrokerError::outcome_unknown`] failures a retry settles the outcome first.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The intent could not be audited, so nothing was sent.
    #[error(transparent)]
    Audit(#[from] AppendError),
    /// The ledger holds something it should not (an accepted order without a body).
    #[error("the order ledger is inconsistent: {0}")]
    Corrupt(&'static str),
}
crate::db::storage_errors!(SubmitError);

/// Why a live order stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Includes `Disabled` while the kill switch is engaged.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
}

/// Why an order was not cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// No such order, or not the caller's.
    #[error("no such order")]
    NotFound,
    /// The caller's share of the trading lane is spent for now; nothing was sent.
    #[error("too many broker calls")]
    TooMany { retry_after: Duration },
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The intent could not be audited, so nothing was sent.
    #[error(transparent)]
    Audit(#[from] AppendError),
}
crate::db::storage_errors!(CancelError);

impl From<crate::trading::assets::AssetError> for SubmitError {
    fn from(error: crate::trading::assets::AssetError) -> Self {
        use crate::trading::assets::AssetError;
        match error {
            AssetError::NotFound => Self::NotTradable("the broker knows no such asset".into()),
            AssetError::TooMany { retry_after } => Self::TooManyInFlight { retry_after },
            AssetError::Broker(e) => Self::Broker(e),
            AssetError::Storage(e) => Self::Storage(e),
        }
    }
}
