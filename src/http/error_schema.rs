//! The error shape as the OpenAPI document describes it: [`ErrorBody`] for every handler's
//! error responses, [`error_response`] for responses added in code. A leaf of `src/http`, so
//! route modules name it without importing the document that gathers them (`openapi`).

use std::collections::BTreeMap;

use strum::VariantArray;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::error::ErrorCode;

/// The SPEC's error shape: `{"error": {"code", "message", "request_id"[, "fields"]}}`.
#[derive(ToSchema)]
#[schema(example = json!({"error": {
    "code": "unauthenticated",
    "message": "sign in first",
    "request_id": "0b6f8f2e-5d1c-4c1e-9d7a-3f1f2a6c9e10"
}}))]
#[allow(dead_code)] // Documents what `ApiError::into_response` writes (a test compares them).
pub struct ErrorBody {
    error: ErrorDetail,
}

/// One error.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// What went wrong, as a stable snake_case code to branch on.
    code: ErrorCode,
    /// For people; may change.
    message: String,
    /// The `x-request-id` of this request, to quote to support.
    request_id: String,
    /// 422 only: each field's problem, by field name.
    #[schema(nullable = false)]
    fields: Option<BTreeMap<String, String>>,
}

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let mut codes: Vec<&str> = ErrorCode::VARIANTS.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(codes))
            .description(Some("Every `error.code` Raptor answers with."))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// An operation's responses as the error shape, with a description.
pub fn error_response(description: &str, retry_after: bool) -> RefOr<utoipa::openapi::Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    RefOr::T(response.build())
}
