//! Backtests (SPEC §6): run a strategy over a symbol's historical bars and report its trades,
//! equity curve and metrics, agreeing with backtrader on the same bars and rules.
//!
//! The engine ([`engine::run`]) is pure: bars in, outcome out, f64 arithmetic internally (in
//! backtrader's order of operations, so results match it to the last bit); money and prices
//! leave the API as decimal strings.

pub mod engine;
pub mod metrics;
pub mod strategy;

pub use engine::{run, Bar, Costs, Outcome, Trade};
pub use metrics::Metrics;
pub use strategy::Strategy;

#[cfg(test)]
mod golden;
