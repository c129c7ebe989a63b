//! Schema-only types for the OpenAPI document: the shapes of bodies Raptor passes through
//! (Alpaca's objects) or keeps as free-form JSON, so that every request and response body is
//! described field by field (ADR 0006, docs/clients.md). Nothing here is serialised. They sit
//! below the domains, which describe their own records with them (the data-subject export),
//! and the HTTP layer's own schemas (`http::schemas`) build on them.

pub mod alpaca;
pub mod json;

pub use json::{JsonValue, NumberOrString};
