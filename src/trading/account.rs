//! The read-only use cases: `mode` (what the broker is and why trading is off, if it is),
//! `readiness`, `account` and `positions` (Alpaca's documents as received).

use raptor_actors::broker::{BrokerError, BrokerJson, BrokerKind, BrokerStatus};
use raptor_actors::ActorUnavailable;

use super::error::{ReadError, ReadinessError};
use super::Trading;

/// The broker's kind and kill-switch state; answered even while the switch is engaged.
pub async fn mode(trading: Trading<'_>) -> Result<BrokerStatus, ActorUnavailable> {
    trading.broker.status().await
}

/// `Disabled` while the kill switch is engaged, so nothing is recorded or sent.
pub(crate) async fn ensure_enabled(trading: &Trading<'_>) -> Result<BrokerStatus, BrokerError> {
    let status = trading
        .broker
        .status()
        .await
        .map_err(|_| BrokerError::Unavailable)?;
    match &status.engaged {
        Some((_, reason)) => Err(BrokerError::Disabled(reason.clone())),
        None => Ok(status),
    }
}

/// Ready: the switch is released and the broker answers with our credentials.
pub async fn readiness(trading: Trading<'_>) -> Result<BrokerKind, ReadinessError> {
    let status = trading.broker.status().await?;
    if let Some((_, reason)) = status.engaged {
        return Err(ReadinessError::Disabled(reason));
    }
    match trading.broker.check().await {
        Ok(()) => Ok(status.kind),
        Err(BrokerError::Disabled(reason)) => Err(ReadinessError::Disabled(reason)),
        Err(error) => Err(ReadinessError::NotReady(error)),
    }
}

/// The paper account, as Alpaca sent it.
pub async fn account(trading: Trading<'_>) -> Result<BrokerJson, ReadError> {
    Ok(trading.broker.account().await?)
}

/// Open positions of the paper account, as Alpaca sent them.
pub async fn positions(trading: Trading<'_>) -> Result<BrokerJson, ReadError> {
    Ok(trading.broker.positions().await?)
}
