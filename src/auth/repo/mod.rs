//! The accounts domain's SQL, one file per table family. Only these modules know SQL; every
//! function returns [`crate::db::StorageError`] and takes any client, so a use case decides
//! which statements share a transaction.

pub mod bootstrap;
pub mod ceremonies;
pub mod credentials;
pub mod notices;
pub mod recoveries;
pub mod users;
pub mod verifications;
