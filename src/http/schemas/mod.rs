//! Schema-only types for the OpenAPI document that belong to the HTTP layer (the diagnostic,
//! the document itself), beside the shared ones of [`crate::schemas`] (Alpaca's objects,
//! free-form JSON), re-exported here. Nothing here is serialised; the handlers send the JSON
//! these types describe.

pub mod diagnostic;
pub mod openapi_document;

pub use crate::schemas::{alpaca, json, JsonValue, NumberOrString};
