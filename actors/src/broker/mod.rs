//! The broker: the one owner of the client to Alpaca's paper account and of the kill switch.
//!
//! Handlers ask it for the account, positions and orders, and to submit or cancel orders. It
//! answers at once with `Disabled` while the kill switch is engaged; otherwise it reserves a
//! send time under the outbound rate limit and runs the request on a task of its own, so one
//! slow answer from Alpaca never holds up the next caller or a kill-switch change.
//!
//! The kill switch is engaged by configuration ([`BrokerConfig::engaged_by`]) or by an operator.
//! The operator's switch lives in Postgres ([`switch`]); every process's broker LISTENs for
//! changes and re-reads it, so an engage on one dyno stops trading on every dyno within a
//! second. When the row cannot be read, the switch counts as engaged until it can. A SIGHUP
//! sends [`BrokerMsg::Reconfigure`]; each change of the switch is audited with its source.

pub mod alpaca;
mod client;
pub mod config;
pub mod order;
mod rate_limit;
mod simulated;
pub mod switch;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::value::RawValue;

use crate::audit::{AuditClient, AuditEntry};
use crate::clock::SharedClock;
use crate::pg::listen::{self, Notice};
use crate::task::AbortOnDrop;
pub use alpaca::refusal;
use alpaca::AlpacaClient;
pub use client::BrokerClient;
pub use config::{BrokerConfig, BrokerKind, SharedBrokerConfig};
use order::{ClientOrderId, OrderId, OrderQuery, OrderRequest};
use rate_limit::OutboundLimiter;
use simulated::Simulator;
pub use switch::{OperatorSwitch, SwitchSource};

/// The longest a caller waits for its turn under the outbound rate limit before it is refused.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(3);
/// The operator's switch is re-read at least this often, in case a notification was missed.
const REFRESH_EVERY: Duration = Duration::from_secs(15);
/// Bound on one read or write of the operator's switch.
const SWITCH_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Why the operator's switch counts as engaged while it cannot be read.
const SWITCH_UNKNOWN: &str = "the kill switch state cannot be read";

/// Whether trading is allowed, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitch {
    pub engaged: bool,
    pub reason: String,
}

/// A JSON document exactly as the broker sent it: checked to be JSON, never re-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerJson(String);

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

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An order the broker accepted: its id there and its body as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    pub order_id: Option<String>,
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
        status: u16,
        message: String,
        body: String,
    },
    #[error("the broker knows no such object")]
    NotFound,
    /// Too many requests, ours (the outbound limit) or Alpaca's; nothing was sent or done.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// No answer in time: the request may or may not have taken effect.
    #[error("the broker did not answer in time")]
    Timeout,
    /// The broker could not be reached.
    #[error("the broker cannot be reached")]
    Unreachable,
    /// The broker answered with something unexpected (a 5xx, a 401, a body that is not JSON).
    #[error("the broker answered unexpectedly")]
    BadGateway,
}

/// What `GET /api/trading/mode` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerStatus {
    pub kind: BrokerKind,
    /// Why trading is off, if it is: configuration first, then the operator.
    pub engaged: Option<(SwitchSource, String)>,
    /// The operator's switch as last read (`None` when never set or unreadable).
    pub operator: Option<OperatorSwitch>,
}

impl BrokerStatus {
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

/// An operator's request to engage or release the switch.
#[derive(Debug, Clone)]
pub struct SwitchChange {
    pub engaged: bool,
    pub reason: String,
    /// `api:<user id>`.
    pub changed_by: String,
    /// The audit row committed together with the change.
    pub audit: AuditEntry,
}

/// The change could not be stored (for an engage, this process has engaged anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    #[error("the kill switch could not be stored")]
    Storage,
    #[error("the audit row could not be written")]
    Audit,
}

pub enum BrokerMsg {
    /// Kind and kill-switch state.
    Status(RpcReplyPort<BrokerStatus>),
    KillSwitchState(RpcReplyPort<KillSwitch>),
    /// Pre-flight: the switch is released and the broker answers with these credentials.
    Check(RpcReplyPort<Result<(), BrokerError>>),
    GetAccount(RpcReplyPort<Result<BrokerJson, BrokerError>>),
    ListPositions(RpcReplyPort<Result<BrokerJson, BrokerError>>),
    /// Orders, newest first; only those with a client order id in `only` when given.
    ListOrders {
        query: OrderQuery,
        only: Option<HashSet<String>>,
        reply: RpcReplyPort<Result<BrokerJson, BrokerError>>,
    },
    SubmitOrder {
        order: OrderRequest,
        client_order_id: ClientOrderId,
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    /// The order sent under `client_order_id`, to settle a submission whose outcome is unknown.
    FindOrder {
        client_order_id: ClientOrderId,
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    CancelOrder {
        order_id: OrderId,
        reply: RpcReplyPort<Result<(), BrokerError>>,
    },
    /// An operator engages or releases the switch (the API route).
    SetSwitch {
        change: SwitchChange,
        reply: RpcReplyPort<Result<BrokerStatus, SwitchError>>,
    },
    /// Configuration re-read (SIGHUP).
    Reconfigure(BrokerConfig),
    /// From the LISTEN connection: the operator's switch changed somewhere.
    Notified(Notice),
    /// Re-read the operator's switch (periodic safety net).
    Refresh,
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}

pub struct Broker;

pub struct BrokerArgs {
    pub config: SharedBrokerConfig,
    pub pool: Pool,
    /// Where to LISTEN for kill-switch changes made by other processes.
    pub listen: tokio_postgres::Config,
    pub clock: SharedClock,
    pub audit: AuditClient,
}

/// Who answers trading requests under the current configuration.
enum Backend {
    Alpaca(AlpacaClient),
    Simulated(Simulator),
    /// Nothing can trade (the configuration engages the switch).
    None,
}

/// The operator's switch as this process knows it.
enum OperatorState {
    Known(Option<OperatorSwitch>),
    Unknown,
}

pub struct BrokerState {
    shared: SharedBrokerConfig,
    config: BrokerConfig,
    backend: Backend,
    limiter: OutboundLimiter,
    operator: OperatorState,
    /// Mirrors "engaged" for requests already waiting for their turn.
    engaged: Arc<AtomicBool>,
    pool: Pool,
    clock: SharedClock,
    audit: AuditClient,
    _listener: AbortOnDrop<()>,
    _refresh: AbortOnDrop<()>,
}

impl Actor for Broker {
    type Msg = BrokerMsg;
    type State = BrokerState;
    type Arguments = BrokerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<BrokerMsg>,
        args: BrokerArgs,
    ) -> Result<BrokerState, ActorProcessingErr> {
        let config = args
            .config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let me = myself.clone();
        let listener = listen::spawn(args.listen, switch::CHANNEL, move |notice| {
            me.send_message(BrokerMsg::Notified(notice)).is_ok()
        });
        let me = myself.clone();
        let refresh = tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if me.send_message(BrokerMsg::Refresh).is_err() {
                    return;
                }
            }
        });
        let mut state = BrokerState {
            shared: args.config,
            backend: Backend::None,
            limiter: limiter(&config),
            config,
            operator: OperatorState::Unknown,
            engaged: Arc::new(AtomicBool::new(true)),
            pool: args.pool,
            clock: args.clock,
            audit: args.audit,
            _listener: AbortOnDrop(listener),
            _refresh: AbortOnDrop(refresh),
        };
        state.backend = state.build_backend();
        // Read the operator's switch first thing, without holding up startup while the
        // database is slow: until then the switch counts as engaged.
        myself.send_message(BrokerMsg::Refresh)?;
        tracing::info!(broker = state.config.kind.as_str(), "broker started");
        Ok(state)
    }

    async fn handle(
        &self,
        _: ActorRef<BrokerMsg>,
        msg: BrokerMsg,
        state: &mut BrokerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BrokerMsg::Status(reply) => {
                let _ = reply.send(state.status());
            }
            BrokerMsg::KillSwitchState(reply) => {
                let _ = reply.send(state.status().kill_switch());
            }
            BrokerMsg::Check(reply) => state.dispatch(
                reply,
                |_, _| Ok(()),
                |alpaca| async move { alpaca.account().await.map(|_| ()) },
            ),
            BrokerMsg::GetAccount(reply) => state.dispatch(
                reply,
                |sim, _| sim.account(),
                |alpaca| async move { alpaca.account().await },
            ),
            BrokerMsg::ListPositions(reply) => state.dispatch(
                reply,
                |sim, _| sim.positions(),
                |alpaca| async move { alpaca.positions().await },
            ),
            BrokerMsg::ListOrders { query, only, reply } => {
                let only_sim = only.clone();
                state.dispatch(
                    reply,
                    move |sim, _| {
                        let all = sim.orders(query)?;
                        match &only_sim {
                            Some(only) => alpaca::keep_orders(&all, only, query.limit),
                            None => Ok(all),
                        }
                    },
                    move |alpaca| async move { alpaca.orders(query, only.as_ref()).await },
                )
            }
            BrokerMsg::SubmitOrder {
                order,
                client_order_id,
                reply,
            } => {
                let (sim_order, sim_id) = (order.clone(), client_order_id.clone());
                state.dispatch(
                    reply,
                    move |sim, now| sim.submit(&sim_order, &sim_id, now),
                    move |alpaca| async move { alpaca.submit(&order, &client_order_id).await },
                )
            }
            BrokerMsg::FindOrder {
                client_order_id,
                reply,
            } => {
                let sim_id = client_order_id.clone();
                state.dispatch(
                    reply,
                    move |sim, _| sim.find(&sim_id),
                    move |alpaca| async move { alpaca.find(&client_order_id).await },
                )
            }
            BrokerMsg::CancelOrder { order_id, reply } => state.dispatch(
                reply,
                move |sim, now| sim.cancel(order_id, now),
                move |alpaca| async move { alpaca.cancel(order_id).await },
            ),
            BrokerMsg::SetSwitch { change, reply } => {
                let _ = reply.send(state.set_operator_switch(change).await);
            }
            BrokerMsg::Reconfigure(config) => state.reconfigure(config).await,
            BrokerMsg::Notified(_) | BrokerMsg::Refresh => state.reload_operator().await,
            #[cfg(feature = "testing")]
            BrokerMsg::Fault => panic!("fault injected into the broker"),
        }
        Ok(())
    }
}

fn limiter(config: &BrokerConfig) -> OutboundLimiter {
    OutboundLimiter::new(
        config.rate_limit_per_minute,
        Duration::from_secs(60),
        MAX_QUEUE_WAIT,
    )
}

impl BrokerState {
    fn build_backend(&self) -> Backend {
        if let Some(reason) = self.config.engaged_by() {
            tracing::warn!(reason, "kill switch engaged by configuration");
            return Backend::None;
        }
        match self.config.kind {
            BrokerKind::Simulated => {
                tracing::warn!("SIMULATED paper broker: no order reaches Alpaca");
                Backend::Simulated(Simulator::new(self.clock.now()))
            }
            BrokerKind::AlpacaPaper => match AlpacaClient::new(&self.config) {
                Ok(client) => Backend::Alpaca(client),
                Err(problem) => {
                    tracing::error!(problem, "the Alpaca client cannot be built; trading is off");
                    Backend::None
                }
            },
        }
    }

    fn status(&self) -> BrokerStatus {
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

    fn publish_engaged(&self) {
        let engaged = self.status().engaged.is_some();
        self.engaged.store(engaged, Ordering::SeqCst);
    }

    /// Answers `reply` from the simulator in place, or from Alpaca on a task of its own once the
    /// rate limit lets the request go; refuses at once while the switch is engaged.
    fn dispatch<T, S, A, Fut>(
        &mut self,
        reply: RpcReplyPort<Result<T, BrokerError>>,
        simulated: S,
        alpaca: A,
    ) where
        T: Send + 'static,
        S: FnOnce(&mut Simulator, DateTime<Utc>) -> Result<T, BrokerError>,
        A: FnOnce(AlpacaClient) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, BrokerError>> + Send + 'static,
    {
        if let Some((_, reason)) = self.status().engaged {
            let _ = reply.send(Err(BrokerError::Disabled(reason)));
            return;
        }
        let now = self.clock.now();
        match &mut self.backend {
            Backend::Simulated(sim) => {
                let _ = reply.send(simulated(sim, now));
            }
            Backend::Alpaca(client) => {
                let at = match self.limiter.reserve(tokio::time::Instant::now()) {
                    Ok(at) => at,
                    Err(retry_after) => {
                        tracing::warn!("outbound rate limit reached; request refused");
                        let _ = reply.send(Err(BrokerError::RateLimited { retry_after }));
                        return;
                    }
                };
                let client = client.clone();
                let engaged = self.engaged.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    let result = if engaged.load(Ordering::SeqCst) {
                        Err(BrokerError::Disabled(config::NO_CREDENTIALS.to_owned()))
                    } else {
                        alpaca(client).await
                    };
                    let _ = reply.send(result);
                });
            }
            Backend::None => {
                let _ = reply.send(Err(BrokerError::Disabled(
                    config::NO_CREDENTIALS.to_owned(),
                )));
            }
        }
    }

    /// Re-reads the operator's switch; unreadable counts as engaged.
    async fn reload_operator(&mut self) {
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

    /// Stores an operator's change with its audit row in one transaction. An engage takes
    /// effect in this process even when it cannot be stored: stopping is always allowed.
    async fn set_operator_switch(
        &mut self,
        change: SwitchChange,
    ) -> Result<BrokerStatus, SwitchError> {
        let switch = OperatorSwitch {
            engaged: change.engaged,
            reason: change.reason,
            changed_by: change.changed_by,
            changed_at: self.clock.now(),
        };
        let stored = tokio::time::timeout(
            SWITCH_IO_TIMEOUT * 2,
            store_audited(&self.pool, &self.audit, &switch, change.audit),
        )
        .await
        .unwrap_or(Err(SwitchError::Storage));
        match stored {
            Ok(()) => {
                self.operator = OperatorState::Known(Some(switch));
                self.publish_engaged();
                Ok(self.status())
            }
            Err(error) => {
                if switch.engaged {
                    tracing::error!(%error, "kill switch engaged in this process only");
                    self.operator = OperatorState::Known(Some(switch));
                    self.publish_engaged();
                }
                Err(error)
            }
        }
    }

    /// Applies re-read configuration; a change of the configured switch is audited with
    /// source `config`.
    async fn reconfigure(&mut self, config: BrokerConfig) {
        let before = self.config.engaged_by();
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = config.clone();
        let rate_changed = config.rate_limit_per_minute != self.config.rate_limit_per_minute;
        self.config = config;
        if rate_changed {
            self.limiter = limiter(&self.config);
        }
        self.backend = match std::mem::replace(&mut self.backend, Backend::None) {
            // A simulated account survives a reload that keeps the simulator.
            Backend::Simulated(sim)
                if self.config.kind == BrokerKind::Simulated
                    && self.config.engaged_by().is_none() =>
            {
                Backend::Simulated(sim)
            }
            _ => self.build_backend(),
        };
        self.publish_engaged();
        let after = self.config.engaged_by();
        tracing::info!(engaged = after.is_some(), "broker configuration reloaded");
        if before.is_some() != after.is_some() {
            let mut entry = AuditEntry::new(if after.is_some() {
                "kill_switch.engage"
            } else {
                "kill_switch.release"
            });
            entry.details = serde_json::json!({
                "source": "config",
                "reason": after.or(before).unwrap_or_default(),
            });
            if self.audit.append(entry).await.is_err() {
                tracing::error!("the configured kill switch changed but could not be audited");
            }
        }
    }
}

async fn store_audited(
    pool: &Pool,
    audit: &AuditClient,
    switch: &OperatorSwitch,
    entry: AuditEntry,
) -> Result<(), SwitchError> {
    let storage = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "kill switch could not be stored");
        SwitchError::Storage
    };
    let mut client = pool.get().await.map_err(|e| storage(&e))?;
    let tx = client.transaction().await.map_err(|e| storage(&e))?;
    switch::save(&tx, switch).await.map_err(|e| storage(&e))?;
    if audit.append(entry).await.is_err() {
        return Err(SwitchError::Audit);
    }
    tx.commit().await.map_err(|e| storage(&e))
}
