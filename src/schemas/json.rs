//! [`JsonValue`]: any JSON value, as a named schema, for the few places whose content is
//! genuinely free-form (an audit row's details, a recorded request). A generated client sees
//! `string | number | boolean | null | JsonObject | (string | … | JsonObject)[]`, never an
//! untyped `unknown`. Arrays directly inside arrays are not described: TypeScript cannot
//! resolve an array type that refers back to itself through the schemas, and Raptor's
//! free-form values have none.

use std::borrow::Cow;

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// Any JSON value (schema only).
pub struct JsonValue;

/// A JSON object whose values are any JSON (schema only).
pub struct JsonObject;

/// A scalar or an object: what a free-form array holds.
fn element() -> OneOfBuilder {
    let scalar = |kind: Type| ObjectBuilder::new().schema_type(kind).build();
    OneOfBuilder::new()
        .item(scalar(Type::String))
        .item(scalar(Type::Number))
        .item(scalar(Type::Boolean))
        .item(scalar(Type::Null))
        .item(Ref::from_schema_name("JsonObject"))
}

impl PartialSchema for JsonValue {
    fn schema() -> RefOr<Schema> {
        element()
            .item(ArrayBuilder::new().items(RefOr::T(Schema::OneOf(element().build()))))
            .description(Some("Any JSON value"))
            .into()
    }
}

impl ToSchema for JsonValue {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("JsonValue")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("JsonObject".into(), JsonObject::schema()));
    }
}

impl PartialSchema for JsonObject {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(Ref::from_schema_name("JsonValue")))
            .description(Some("A JSON object"))
            .into()
    }
}

impl ToSchema for JsonObject {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("JsonObject")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("JsonValue".into(), JsonValue::schema()));
    }
}

/// A number, or a decimal written as a string (schema only): a sweep grid's values.
pub struct NumberOrString;

impl PartialSchema for NumberOrString {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some("A number, or a decimal as a string"))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .into()
    }
}

impl ToSchema for NumberOrString {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NumberOrString")
    }
}
