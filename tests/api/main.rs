//! Raptor's integration tests: one binary, every module a capability. Each test starts the real
//! application on a random port against its own fresh database.

mod audit;
mod config;
mod helpers;
mod security;
mod shutdown;
mod supervision;
mod system;
