//! Raptor's actors: every long-lived piece of state has exactly one owner here.
//!
//! The root [`supervisor`] starts the children a process mode needs and restarts a child that
//! fails, with backoff and a cap. Request handlers never hold an actor directly: they look the
//! live one up in a [`slot::Slot`], so a child that is down (or restarting) answers
//! "unavailable" at once instead of hanging the request.
//!
//! The crate knows mechanisms only. Domain rules (email wording and tokens, the list of
//! scheduled jobs, audit event names, what a trade event updates, how a backtest runs) come in
//! through traits and values the main crate passes at startup (ADR 0004).

#![warn(missing_docs)]

pub mod acceptor;
mod alpaca_http;
pub mod audit;
pub mod backtests;
pub mod broker;
pub mod clock;
pub mod mailer;
pub mod market_data;
pub mod outbound;
pub mod pg;
pub mod registry;
pub mod scheduler;
pub mod session;
pub mod slot;
pub mod supervisor;
pub mod task;
pub mod token;
pub mod trade_stream;

pub use registry::Actors;
pub use slot::{ActorUnavailable, Slot};
