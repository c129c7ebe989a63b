//! What the broker answers with: Alpaca's documents as received ([`BrokerJson`]), a placed
//! order, the kill switch as this process sees it, and [`BrokerError`], why a request failed,
//! in trading words. Shared by the actor, its client and the use cases that call it.

use std::time::Duration;

use serde_json::value::RawValue;

use super::config::BrokerKind;
use super::switch::{OperatorSwitch, SwitchSource};

/// Whether trading is allowed, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitch {
    /// Trading is off.
    pub engaged: bool,
    /// Why (empty when released).
    pub reason: String,
}

/// A JSON document exactly as the broker sent it: checked to be JSON, never re-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerJson(pub(crate) String);

impl BrokerJson {
    /// Accepts `text` if it is one JSON value.
    pub fn parse(text: String) -> Result<Self, BrokerError> {
        match serde_json::from_str::<&RawValue>(&text) {
            Ok(_) => Ok(Self(text)),
            Err(_) => {
                tracing::warn!("the broker answered with a body that is not JSON");
                Err(BrokerError::BadGateway)
            }
        }
    }

    /// The document's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document's text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An order the broker accepted: its id there and its body as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    /// The broker's id of the order, when its body names one.
    pub order_id: Option<String>,
    /// The order as the broker sent it.
    pub body: BrokerJson,
}

/// Why the broker could not do what was asked, in trading words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The kill switch is engaged.
    #[error("trading is disabled: {0}")]
    Disabled(String),
    /// The broker refused the request (Alpaca's 400, 403 or 422): `message` is its words,
    /// `body` its answer as received.
    #[error("the broker refused the request: {message}")]
    Refused {
        /// The broker's HTTP status.
        status: u16,
        /// What the broker said was wrong.
        message: String,
        /// Its answer, as received.
        body: String,
    },
    /// The broker knows no such order (or other object).
    #[error("the broker knows no such object")]
    NotFound,
    /// Too many requests, ours (the outbound limit) or Alpaca's; nothing was sent or done.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// No answer in time: the request may or may not have taken effect.
    #[error("the broker did not answer in time")]
    Timeout,
    /// The broker could not be reached.
    #[error("the broker cannot be reached")]
    Unreachable,
    /// The broker answered unexpectedly (a 5xx, a 401, a body that is not JSON).
    #[error("the broker answered unexpectedly")]
    BadGateway,
    /// The broker actor is down, restarting or did not answer in time: for a submission, the
    /// outcome is unknown.
    #[error("the broker is unavailable")]
    Unavailable,
}

impl BrokerError {
    /// Whether this is Alpaca's 422 for an order whose `client_order_id` it already holds
    /// ("client_order_id must be unique"): the order was placed before, by an attempt whose
    /// answer was lost.
    pub fn is_duplicate_client_order_id(&self) -> bool {
        match self {
            Self::Refused {
                status: 422,
                message,
                ..
            } => {
                let message = message.to_ascii_lowercase();
                message.contains("client_order_id") && message.contains("unique")
            }
            _ => false,
        }
    }

    /// Whether a request that failed this way may nevertheless have reached Alpaca.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Unreachable | Self::BadGateway | Self::Unavailable
        )
    }
}

/// What `GET /api/trading/mode` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerStatus {
    /// Alpaca or the simulator.
    pub kind: BrokerKind,
    /// Why trading is off, if it is: configuration first, then the operator.
    pub engaged: Option<(SwitchSource, String)>,
    /// The operator's switch as last read (`None` when never set or unreadable).
    pub operator: Option<OperatorSwitch>,
}

impl BrokerStatus {
    /// The switch as callers see it: engaged by configuration or by the operator.
    pub fn kill_switch(&self) -> KillSwitch {
        KillSwitch {
            engaged: self.engaged.is_some(),
            reason: self
                .engaged
                .as_ref()
                .map(|(_, reason)| reason.clone())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, message: &str) -> BrokerError {
        BrokerError::Refused {
            status,
            message: message.into(),
            body: String::new(),
        }
    }

    #[test]
    fn only_alpacas_422_for_a_used_client_order_id_is_a_duplicate() {
        assert!(refused(422, "client_order_id must be unique").is_duplicate_client_order_id());
        assert!(refused(422, "Client_Order_ID must be unique").is_duplicate_client_order_id());
        assert!(!refused(403, "client_order_id must be unique").is_duplicate_client_order_id());
        assert!(!refused(422, "insufficient buying power").is_duplicate_client_order_id());
        assert!(!BrokerError::NotFound.is_duplicate_client_order_id());
    }
}
