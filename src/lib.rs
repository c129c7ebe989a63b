//! Raptor, the HTTP API behind raxx.app: configuration, the HTTP surface, the database, and the
//! startup that ties them to the supervision tree in `raptor-actors`.

pub mod audit;
pub mod auth;
pub mod backtest;
pub mod cli;
pub mod db;
pub mod dsr;
pub mod email;
pub mod error_reporting;
pub mod http;
pub mod input;
pub mod limits;
pub mod market_data;
pub mod net;
pub mod retention;
pub mod schemas;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod trading;

pub use settings::Settings;
pub use startup::Application;
