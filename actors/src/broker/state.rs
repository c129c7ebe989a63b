//! The broker's state and its kill-switch state machine: what this process believes about the
//! switch, from configuration ([`BrokerConfig::engaged_by`]) and from the operator's row in
//! Postgres, re-read on every notification and at least every [`REFRESH_EVERY`].
//!
//! The operator's switch counts as engaged while it cannot be read. Storing an operator's change
//! (with its audit row) is the trading domain's use case; it then tells this process what it
//! stored ([`BrokerState::adopt`]). The configured switch is recorded at start and at every
//! reload (SIGHUP), and a change of it audited once across dynos ([`super::config_record`]), on
//! a task of its own so the mailbox never waits for the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use super::config::{self, BrokerConfig, BrokerKind, SharedBrokerConfig};
use super::dispatch::{Backend, Dispatch};
use super::switch::{self, OperatorSwitch, SwitchSource};
use super::types::BrokerStatus;
use crate::clock::SharedClock;
use crate::outbound::{BudgetPolicy, OutboundBudget};
use crate::task::AbortOnDrop;

/// The operator's switch is re-read at least this often, in case a notification was missed.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(15);
/// Bound on one read of the operator's switch.
const SWITCH_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Why the operator's switch counts as engaged while it cannot be read.
const SWITCH_UNKNOWN: &str = "the kill switch state cannot be read";

/// The operator's switch as this process knows it.
pub(crate) enum OperatorState {
    Known(Option<OperatorSwitch>),
    Unknown,
}

/// The broker's state: its configuration and backend, the kill switch as this process knows
/// it, and the tasks that keep it current.
pub struct BrokerState {
    pub(crate) shared: SharedBrokerConfig,
    pub(crate) config: BrokerConfig,
    pub(crate) backend: Backend,
    pub(crate) budget: OutboundBudget,
    pub(crate) operator: OperatorState,
    /// Mirrors "engaged" for requests already waiting for their turn.
    pub(crate) engaged: Arc<AtomicBool>,
    pub(crate) pool: Pool,
    pub(crate) clock: SharedClock,
    /// The configured switch (`Some(reason)`: engaged), recorded in order by
    /// [`super::config_record::recorder`].
    pub(crate) config_audit: mpsc::UnboundedSender<Option<String>>,
    pub(crate) _config_auditor: AbortOnDrop<()>,
    pub(crate) _listener: AbortOnDrop<()>,
    pub(crate) _refresh: AbortOnDrop<()>,
}

impl BrokerState {
    pub(crate) fn status(&self) -> BrokerStatus {
        let operator = match &self.operator {
            OperatorState::Known(switch) => switch.clone(),
            OperatorState::Unknown => None,
        };
        let engaged = if let Some(reason) = self.config.engaged_by() {
            Some((SwitchSource::Config, reason.to_owned()))
        } else if matches!(self.backend, Backend::None) {
            Some((SwitchSource::Config, config::NO_CREDENTIALS.to_owned()))
        } else {
            match &self.operator {
                OperatorState::Unknown => Some((SwitchSource::Operator, SWITCH_UNKNOWN.to_owned())),
                OperatorState::Known(Some(s)) if s.engaged => {
                    Some((SwitchSource::Operator, s.reason.clone()))
                }
                OperatorState::Known(_) => None,
            }
        };
        BrokerStatus {
            kind: self.config.kind,
            engaged,
            operator,
        }
    }

    /// Why trading is off right now, if it is.
    pub(crate) fn engaged_by(&self) -> Option<String> {
        self.status().engaged.map(|(_, reason)| reason)
    }

    /// What a trading request handled now is answered with.
    pub(crate) fn dispatch(&mut self) -> Dispatch<'_> {
        Dispatch {
            engaged_by: self.engaged_by(),
            now: self.clock.now(),
            backend: &mut self.backend,
            budget: &self.budget,
            engaged: &self.engaged,
        }
    }

    fn publish_engaged(&self) {
        let engaged = self.status().engaged.is_some();
        self.engaged.store(engaged, Ordering::SeqCst);
    }

    /// Re-reads the operator's switch; unreadable counts as engaged.
    pub(crate) async fn reload_operator(&mut self) {
        let read = async {
            let client = self.pool.get().await.map_err(|e| e.to_string())?;
            switch::load(&client).await.map_err(|e| e.to_string())
        };
        self.operator = match tokio::time::timeout(SWITCH_IO_TIMEOUT, read).await {
            Ok(Ok(switch)) => OperatorState::Known(switch),
            Ok(Err(error)) => {
                tracing::error!(%error, "kill switch cannot be read; trading is off until it can");
                OperatorState::Unknown
            }
            Err(_) => {
                tracing::error!("kill switch read timed out; trading is off until it can be read");
                OperatorState::Unknown
            }
        };
        self.publish_engaged();
    }

    /// Takes `switch` as the operator's switch: stored by the caller, or an engage that must
    /// hold in this process even though it could not be stored.
    pub(crate) fn adopt(&mut self, switch: OperatorSwitch) -> BrokerStatus {
        self.operator = OperatorState::Known(Some(switch));
        self.publish_engaged();
        self.status()
    }

    /// Applies re-read configuration; a change of the configured switch is audited with
    /// source `config`.
    pub(crate) fn reconfigure(&mut self, config: BrokerConfig) {
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = config.clone();
        let rate_changed = config.rate_limit_per_minute != self.config.rate_limit_per_minute;
        self.config = config;
        if rate_changed {
            let policy = self.budget.policy();
            self.budget.set_policy(BudgetPolicy {
                limit: self.config.rate_limit_per_minute,
                ..policy
            });
        }
        self.backend = match std::mem::replace(&mut self.backend, Backend::None) {
            // A simulated account survives a reload that keeps the simulator.
            Backend::Simulated(sim)
                if self.config.kind == BrokerKind::Simulated
                    && self.config.engaged_by().is_none() =>
            {
                Backend::Simulated(sim)
            }
            _ => Backend::build(&self.config, self.clock.now(), &self.budget),
        };
        self.publish_engaged();
        tracing::info!(
            engaged = self.config.engaged_by().is_some(),
            "broker configuration reloaded"
        );
        self.record_configured_switch();
    }

    /// Sends the configured switch to be recorded (and a change audited, once across dynos).
    pub(crate) fn record_configured_switch(&self) {
        let configured = match self.status().engaged {
            Some((SwitchSource::Config, reason)) => Some(reason),
            _ => None,
        };
        if self.config_audit.send(configured).is_err() {
            tracing::error!("the configured kill switch could not be recorded");
        }
    }
}
