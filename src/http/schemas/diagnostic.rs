//! The body of `GET /api/system/diagnostic` (operators only), built as JSON in
//! `crate::http::system`: what an operator needs at 3 a.m., configuration by name only.

#![allow(dead_code)] // Schema-only types.

use std::collections::HashMap;

use utoipa::ToSchema;

use super::alpaca::{AlpacaAccount, AlpacaPosition};

/// The diagnostic.
#[derive(ToSchema)]
pub struct Diagnostic {
    /// The build's version.
    version: String,
    /// `production`, `staging`, `development` or `test`.
    environment: String,
    uptime_seconds: u64,
    /// Actor name → `running` or `down`.
    actors: HashMap<String, String>,
    database: DatabaseDiagnostic,
    /// Names of optional settings that are not set (never values).
    missing_config: Vec<String>,
    /// `null` while the broker is down.
    kill_switch: Option<KillSwitchDiagnostic>,
    /// The shared Alpaca account; `null` when Alpaca cannot be asked.
    paper_account: Option<PaperAccount>,
}

/// The database's reachability and this process's pool.
#[derive(ToSchema)]
pub struct DatabaseDiagnostic {
    reachable: bool,
    pool_size: u64,
    pool_available: i64,
    pool_max: u64,
    waiting: u64,
}

/// The kill switch as the broker actor holds it.
#[derive(ToSchema)]
pub struct KillSwitchDiagnostic {
    /// `alpaca` or `simulated`.
    broker: String,
    engaged: bool,
    /// `config` or `operator`, while engaged.
    source: Option<String>,
    reason: Option<String>,
}

/// The shared paper account and its positions, as Alpaca sends them.
#[derive(ToSchema)]
pub struct PaperAccount {
    account: Option<AlpacaAccount>,
    positions: Option<Vec<AlpacaPosition>>,
}
