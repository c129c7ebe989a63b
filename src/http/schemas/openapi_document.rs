//! The OpenAPI document itself (`GET /api/openapi.json`), described as far as a client reads
//! it: the version, `info`, each path's operations and the component schemas. The full
//! grammar is OpenAPI 3.1's own (<https://spec.openapis.org/oas/v3.1.0>); more fields are
//! allowed everywhere.

#![allow(dead_code, non_snake_case)] // Schema-only types, in the document's own field names.

use std::collections::HashMap;

use utoipa::ToSchema;

use super::JsonValue;

/// An OpenAPI 3.1 document.
#[derive(ToSchema)]
pub struct OpenApiDocument {
    /// `3.1.0`.
    openapi: String,
    info: OpenApiInfo,
    /// Path → method (`get`, `post`, …) → operation.
    paths: HashMap<String, HashMap<String, OpenApiOperation>>,
    #[schema(nullable = false)]
    components: Option<OpenApiComponents>,
}

/// The document's `info`.
#[derive(ToSchema)]
pub struct OpenApiInfo {
    title: String,
    /// The API's own version (`1.0`), not the build's.
    version: String,
    #[schema(nullable = false)]
    description: Option<String>,
}

/// One operation of a path.
#[derive(ToSchema)]
pub struct OpenApiOperation {
    #[schema(nullable = false)]
    operationId: Option<String>,
    #[schema(nullable = false)]
    summary: Option<String>,
    #[schema(nullable = false)]
    description: Option<String>,
    #[schema(nullable = false)]
    tags: Option<Vec<String>>,
}

/// The document's reusable parts.
#[derive(ToSchema)]
pub struct OpenApiComponents {
    /// Name → JSON Schema.
    #[schema(nullable = false)]
    schemas: Option<HashMap<String, JsonValue>>,
}
