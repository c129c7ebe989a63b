//! The broker: the one owner of the client to Alpaca's paper account (or the simulator) and of
//! what this process believes about the kill switch.
//!
//! Use cases ask it, through [`BrokerClient`], for the account, positions and orders, and to
//! submit ([`OrderTicket`]) or cancel orders. It answers at once with `Disabled` while the kill
//! switch is engaged; otherwise it reserves a send time under the outbound rate limit and runs
//! the request on a task of its own ([`dispatch`]), so one slow answer from Alpaca never holds
//! up the next caller or a kill-switch change. Only this module knows Alpaca's JSON
//! ([`alpaca`]); its inputs are its own types ([`ticket`]), built by the trading domain.
//!
//! The kill switch is engaged by configuration ([`BrokerConfig::engaged_by`]) or by an operator.
//! The operator's switch lives in Postgres ([`switch`]); every process's broker LISTENs for
//! changes and re-reads it ([`state`]), so an engage on one dyno stops trading on every dyno
//! within a second. When the row cannot be read, the switch counts as engaged until it can.
//! Storing an operator's change with its audit row is the trading domain's use case
//! (`trading::kill_switch::set`), which then tells this actor ([`BrokerMsg::AdoptSwitch`]).
//! A SIGHUP sends [`BrokerMsg::Reconfigure`]; a change of the configured switch is audited once
//! across dynos, at start or reload ([`config_record`]).

pub mod alpaca;
pub mod asset;
mod client;
pub mod config;
pub mod config_record;
mod dispatch;
pub mod market;
mod messages;
mod simulated;
pub use simulated::simulated_events;
mod state;
pub mod switch;
pub mod ticket;
mod types;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::audit::AuditEntry;
use crate::clock::SharedClock;
use crate::outbound::OutboundBudget;
use crate::pg::listen;
use crate::task::AbortOnDrop;
pub use alpaca::refusal;
pub use asset::BrokerAsset;
pub use client::BrokerClient;
pub use config::{BrokerConfig, BrokerKind, SharedBrokerConfig};
use dispatch::{Backend, Dispatch};
pub use market::{CalendarDay, MarketClock};
pub use messages::BrokerMsg;
use simulated::Simulator;
pub use state::BrokerState;
use state::{OperatorState, REFRESH_EVERY};
pub use switch::{OperatorSwitch, SwitchSource};
pub use ticket::{
    ListStatus, OrderId, OrderListing, OrderTicket, ReplaceTicket, TicketKind, TicketLegs,
    TicketSide, TicketSize, TicketTrail,
};
pub use types::{BrokerError, BrokerJson, BrokerStatus, KillSwitch, PlacedOrder};

/// The shared paper account's positions, asked once outside the broker actor (an operator's
/// one-off command, `raptor book reconcile`): Alpaca's answer as received. Only the paper
/// account can be asked; the simulator's positions live in its web process.
pub async fn account_positions(config: &BrokerConfig) -> Result<BrokerJson, BrokerError> {
    match config.kind {
        BrokerKind::Simulated => Err(BrokerError::Disabled(
            "the simulated broker's positions live in its own process".into(),
        )),
        BrokerKind::AlpacaPaper => {
            let client = alpaca::AlpacaClient::new(config).map_err(BrokerError::Disabled)?;
            client.positions().await
        }
    }
}

/// Cancels one order outside the broker actor (an operator's one-off command erasing an
/// account): one request to Alpaca. The simulator's orders live in its web process.
pub async fn cancel_once(config: &BrokerConfig, order_id: OrderId) -> Result<(), BrokerError> {
    if let Some(reason) = config.engaged_by() {
        return Err(BrokerError::Disabled(reason.to_owned()));
    }
    match config.kind {
        BrokerKind::Simulated => Err(BrokerError::Disabled(
            "the simulated broker's orders live in its own process".into(),
        )),
        BrokerKind::AlpacaPaper => {
            let client = alpaca::AlpacaClient::new(config).map_err(BrokerError::Disabled)?;
            client.cancel(order_id).await
        }
    }
}

/// The asset classes the daily copy holds (Alpaca lists one class per request).
pub const LISTED_CLASSES: [&str; 2] = ["us_equity", "crypto"];

/// Alpaca's active assets of [`LISTED_CLASSES`], asked outside the broker actor (the worker's
/// daily copy), each request under the account's outbound budget. The simulator's are its own.
pub async fn list_assets(
    config: &BrokerConfig,
    budget: &OutboundBudget,
) -> Result<Vec<BrokerAsset>, BrokerError> {
    if let Some(reason) = config.engaged_by() {
        return Err(BrokerError::Disabled(reason.to_owned()));
    }
    match config.kind {
        BrokerKind::Simulated => Ok(Simulator::listed_assets()),
        BrokerKind::AlpacaPaper => {
            let client = alpaca::AlpacaClient::new(config)
                .map_err(BrokerError::Disabled)?
                .observed_by(budget);
            let mut all = Vec::new();
            for class in LISTED_CLASSES {
                budget
                    .acquire(crate::outbound::Lane::Trading)
                    .await
                    .map_err(|retry_after| BrokerError::RateLimited { retry_after })?;
                all.extend(client.assets(class).await?);
            }
            Ok(all)
        }
    }
}

/// The longest a caller waits for its turn under the outbound rate limit before it is refused.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(3);

/// The broker actor.
pub struct Broker;

/// The audit row of a change of the configured kill switch (`engaged` after the change), as the
/// trading domain names it; the broker adds the details (source `config`, the reason).
pub type SwitchAuditEntry = fn(engaged: bool) -> AuditEntry;

/// What the broker starts with.
pub struct BrokerArgs {
    /// The broker's configuration, shared with startup (SIGHUP replaces it in place).
    pub config: SharedBrokerConfig,
    /// Where the operator's switch is stored.
    pub pool: Pool,
    /// Where to LISTEN for kill-switch changes made by other processes.
    pub listen: tokio_postgres::Config,
    /// The simulated account's and the switch's clock.
    pub clock: SharedClock,
    /// The audit row of a change of the configured switch.
    pub switch_entry: SwitchAuditEntry,
    /// The outbound budget to Alpaca, shared with market data.
    pub budget: OutboundBudget,
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
        let (config_audit, config_auditor) =
            config_record::recorder(args.pool.clone(), args.clock.clone(), args.switch_entry);
        let state = BrokerState {
            shared: args.config,
            backend: Backend::build(&config, args.clock.now(), &args.budget),
            budget: args.budget,
            config,
            operator: OperatorState::Unknown,
            engaged: Arc::new(AtomicBool::new(true)),
            pool: args.pool,
            clock: args.clock,
            config_audit,
            _config_auditor: config_auditor,
            _listener: AbortOnDrop(listener),
            _refresh: AbortOnDrop(refresh),
        };
        // Read the operator's switch first thing, without holding up startup while the
        // database is slow: until then the switch counts as engaged.
        myself.send_message(BrokerMsg::Refresh)?;
        state.record_configured_switch();
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
            BrokerMsg::AdoptSwitch { switch, reply } => {
                let _ = reply.send(state.adopt(switch));
            }
            BrokerMsg::Reconfigure(config) => state.reconfigure(config),
            BrokerMsg::Notified(_) | BrokerMsg::Refresh => state.reload_operator().await,
            #[cfg(feature = "testing")]
            BrokerMsg::Fault => panic!("fault injected into the broker"),
            request => answer(request, state.dispatch()),
        }
        Ok(())
    }
}

/// Answers a request to the account (the simulator's, or Alpaca's): each names what the
/// simulator does and what Alpaca is asked.
fn answer(request: BrokerMsg, to: Dispatch<'_>) {
    match request {
        BrokerMsg::Check(reply) => to.answer(
            reply,
            |_, _| Ok(()),
            |alpaca| async move { alpaca.account().await.map(|_| ()) },
        ),
        BrokerMsg::GetAccount(reply) => to.answer(
            reply,
            |sim, _| sim.account(),
            |alpaca| async move { alpaca.account().await },
        ),
        BrokerMsg::ListPositions(reply) => to.answer(
            reply,
            |sim, _| sim.positions(),
            |alpaca| async move { alpaca.positions().await },
        ),
        BrokerMsg::ListOrders { listing, reply } => to.answer(
            reply,
            {
                let listing = listing.clone();
                move |sim, _| sim.orders(&listing)
            },
            move |alpaca| async move { alpaca.orders(&listing).await },
        ),
        BrokerMsg::GetClock(reply) => to.answer(
            reply,
            |_, now| Ok(Simulator::clock(now)),
            |alpaca| async move { alpaca.clock().await },
        ),
        BrokerMsg::GetCalendar { start, end, reply } => to.answer(
            reply,
            move |_, _| Ok(Simulator::calendar(start, end)),
            move |alpaca| async move { alpaca.calendar(start, end).await },
        ),
        BrokerMsg::GetAsset { symbol, reply } => to.answer(
            reply,
            {
                let symbol = symbol.clone();
                move |_, _| Simulator::asset(&symbol)
            },
            move |alpaca| async move { alpaca.asset(&symbol).await },
        ),
        order => answer_order(order, to),
    }
}

/// Answers a request that places, finds or cancels an order.
fn answer_order(request: BrokerMsg, to: Dispatch<'_>) {
    match request {
        BrokerMsg::SubmitOrder {
            ticket,
            client_order_id: id,
            reply,
        } => to.answer(
            reply,
            {
                let (ticket, id) = (ticket.clone(), id.clone());
                move |sim, now| sim.submit(&ticket, &id, now)
            },
            move |alpaca| async move { alpaca.submit(&ticket, &id).await },
        ),
        BrokerMsg::FindOrder {
            client_order_id: id,
            reply,
        } => to.answer(
            reply,
            {
                let id = id.clone();
                move |sim, _| sim.find(&id)
            },
            move |alpaca| async move { alpaca.find(&id).await },
        ),
        BrokerMsg::CancelOrder { order_id, reply } => to.answer(
            reply,
            move |sim, now| sim.cancel(order_id, now),
            move |alpaca| async move { alpaca.cancel(order_id).await },
        ),
        BrokerMsg::ReplaceOrder {
            order_id,
            ticket,
            reply,
        } => to.answer(
            reply,
            {
                let ticket = ticket.clone();
                move |sim, now| sim.replace(order_id, &ticket, now)
            },
            move |alpaca| async move { alpaca.replace(order_id, &ticket).await },
        ),
        _ => unreachable!("the broker's own messages are handled in `handle`"),
    }
}
