//! Passkey accounts (SPEC §4): the domain types and the SQL behind registration, email
//! verification, login and bootstrap tokens. The HTTP shapes live in `crate::http::auth`.

pub mod bootstrap;
pub mod ceremony;
pub mod email;
pub mod passkeys;
pub mod repo;

pub use email::Email;
