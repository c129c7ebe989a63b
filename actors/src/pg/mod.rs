//! Postgres plumbing shared by the actors: the TLS connector, LISTEN/NOTIFY, and connections
//! through a transaction-mode pooler.
//!
//! Postgres is the shared truth between dynos; a change one process makes (a revoked session,
//! an engaged kill switch) is announced with `pg_notify` in the same transaction and reaches
//! every other process's listener when it commits.

pub mod inline;
pub mod listen;
pub mod pooled;
mod tls;

pub use tls::connector;
