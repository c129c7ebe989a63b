//! [`BrokerClient`]: how use cases reach the broker, each call with its deadline built in.

use std::time::Duration;

use ractor::RpcReplyPort;

use crate::slot::{ActorUnavailable, Slot, DEFAULT_CALL_TIMEOUT};

use super::{BrokerConfig, BrokerError, BrokerMsg, BrokerStatus};

/// The broker's client.
#[derive(Clone)]
pub struct BrokerClient {
    slot: Slot<BrokerMsg>,
}

impl BrokerClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("broker"),
        }
    }

    /// The broker's slot (for the supervisor, diagnostics and fault-injection tests).
    pub fn slot(&self) -> &Slot<BrokerMsg> {
        &self.slot
    }

    /// Kind and kill-switch state; answered from memory.
    pub async fn status(&self) -> Result<BrokerStatus, ActorUnavailable> {
        self.slot.ask(BrokerMsg::Status, DEFAULT_CALL_TIMEOUT).await
    }

    /// Applies re-read configuration (SIGHUP); a broker that is down reads it when it restarts.
    pub fn reconfigure(&self, config: BrokerConfig) {
        if let Ok(broker) = self.slot.get() {
            let _ = broker.send_message(BrokerMsg::Reconfigure(config));
        }
    }

    /// Asks something that reaches Alpaca (or the simulator), waiting at most `timeout`.
    pub async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<Result<T, BrokerError>>) -> BrokerMsg,
        timeout: Duration,
    ) -> Result<Result<T, BrokerError>, ActorUnavailable> {
        self.slot.ask(build, timeout).await
    }
}
