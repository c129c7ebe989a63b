//! Schema-only types for the OpenAPI document: the shapes of bodies Raptor passes through or
//! builds as JSON (Alpaca's objects, free-form JSON), so that every request and response body
//! is described field by field (ADR 0006, docs/clients.md). Nothing here is serialised; the
//! handlers send the JSON these types describe.

pub mod alpaca;
pub mod diagnostic;
pub mod json;
pub mod openapi_document;

pub use json::{JsonValue, NumberOrString};
