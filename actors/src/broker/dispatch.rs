//! Who answers a trading request and when: the simulator in place, or Alpaca on a task of its
//! own once the account's outbound budget, shared with market data and every other process
//! ([`OutboundBudget`]), lets the request go, so one slow answer never holds up the mailbox.
//! While the kill switch is engaged nothing is sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;

use super::alpaca::AlpacaClient;
use super::config::{self, BrokerConfig, BrokerKind};
use super::simulated::Simulator;
use super::types::BrokerError;
use crate::outbound::{Lane, OutboundBudget};

/// Who answers trading requests under the current configuration.
pub(crate) enum Backend {
    Alpaca(AlpacaClient),
    Simulated(Simulator),
    /// Nothing can trade (the configuration engages the switch).
    None,
}

impl Backend {
    /// The backend `config` asks for; `None` when it engages the switch or cannot be built.
    /// Alpaca's answers are reported to `budget`.
    pub fn build(config: &BrokerConfig, now: DateTime<Utc>, budget: &OutboundBudget) -> Self {
        if let Some(reason) = config.engaged_by() {
            tracing::warn!(reason, "kill switch engaged by configuration");
            return Backend::None;
        }
        match config.kind {
            BrokerKind::Simulated => {
                tracing::warn!("SIMULATED paper broker: no order reaches Alpaca");
                Backend::Simulated(Simulator::new(now))
            }
            BrokerKind::AlpacaPaper => match AlpacaClient::new(config) {
                Ok(client) => Backend::Alpaca(client.observed_by(budget)),
                Err(problem) => {
                    tracing::error!(problem, "the Alpaca client cannot be built; trading is off");
                    Backend::None
                }
            },
        }
    }
}

/// What a trading request is answered with: the backend, the budget and the kill switch as
/// they are when the message is handled ([`super::BrokerState::dispatch`]).
pub(crate) struct Dispatch<'a> {
    /// Who answers: the simulator, Alpaca, or nobody.
    pub backend: &'a mut Backend,
    /// The outbound budget a request to Alpaca waits its turn under.
    pub budget: &'a OutboundBudget,
    /// `Some(reason)` while the switch is engaged.
    pub engaged_by: Option<String>,
    /// Re-checked when a waiting request's turn comes.
    pub engaged: &'a Arc<AtomicBool>,
    /// The simulator's time for this request.
    pub now: DateTime<Utc>,
}

impl Dispatch<'_> {
    /// Answers `reply` from the simulator in place, or from Alpaca on a task of its own once
    /// the budget lets the request go; refuses at once with `Disabled(reason)` while the switch
    /// is engaged. The switch is re-checked when a waiting request's turn comes.
    pub fn answer<T, S, A, Fut>(
        self,
        reply: RpcReplyPort<Result<T, BrokerError>>,
        simulated: S,
        alpaca: A,
    ) where
        T: Send + 'static,
        S: FnOnce(&mut Simulator, DateTime<Utc>) -> Result<T, BrokerError>,
        A: FnOnce(AlpacaClient) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, BrokerError>> + Send + 'static,
    {
        if let Some(reason) = self.engaged_by {
            let _ = reply.send(Err(BrokerError::Disabled(reason)));
            return;
        }
        match self.backend {
            Backend::Simulated(sim) => {
                let _ = reply.send(simulated(sim, self.now));
            }
            Backend::Alpaca(client) => {
                let task = (client.clone(), self.engaged.clone(), self.budget.clone());
                tokio::spawn(send_when_allowed(task, reply, alpaca));
            }
            Backend::None => {
                let _ = reply.send(Err(BrokerError::Disabled(
                    config::NO_CREDENTIALS.to_owned(),
                )));
            }
        }
    }
}

/// Waits for the request's turn under the budget, then asks Alpaca unless the switch was
/// engaged meanwhile.
async fn send_when_allowed<T, A, Fut>(
    (client, engaged, budget): (AlpacaClient, Arc<AtomicBool>, OutboundBudget),
    reply: RpcReplyPort<Result<T, BrokerError>>,
    alpaca: A,
) where
    A: FnOnce(AlpacaClient) -> Fut,
    Fut: std::future::Future<Output = Result<T, BrokerError>>,
{
    if let Err(retry_after) = budget.acquire(Lane::Trading).await {
        tracing::warn!("outbound rate limit reached; request refused");
        let _ = reply.send(Err(BrokerError::RateLimited { retry_after }));
        return;
    }
    let result = if engaged.load(Ordering::SeqCst) {
        Err(BrokerError::Disabled(config::NO_CREDENTIALS.to_owned()))
    } else {
        alpaca(client).await
    };
    let _ = reply.send(result);
}
