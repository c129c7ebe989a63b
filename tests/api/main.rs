//! Raptor's integration tests: one binary, every module a capability. Each test starts the real
//! application on a random port against its own fresh database.

mod alpaca_budget;
mod alpaca_data_stub;
mod alpaca_stream_stub;
mod alpaca_stub;
mod audit;
mod auth;
mod backtest;
mod browser;
mod client_ip;
mod config;
mod connections;
mod csrf;
mod dsr;
#[cfg(feature = "testing")]
mod error_reporting;
mod fuzz_bodies;
mod helpers;
mod key_rotation;
mod market_data;
mod openapi;
mod passkey;
mod pgbouncer;
mod pool_capacity;
mod postgres_tls;
mod recovery;
mod recovery_browser;
mod registration;
mod retention;
mod schemathesis;
mod security;
mod self_service;
#[cfg(feature = "testing")]
mod sentry_stub;
mod serve_process;
mod session_listen;
mod session_store;
mod shared_limits;
mod shutdown;
mod smtp;
mod supervision;
mod system;
mod trading;
mod trading_kill_switch;
mod trading_orders;
mod trading_risk;
mod trading_stream;
