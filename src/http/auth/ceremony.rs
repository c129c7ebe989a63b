//! The passkey ceremonies' wire format (SPEC §4) as the OpenAPI document describes it. The
//! bodies themselves are webauthn-rs's JSON (`publicKey` out, the credential's `toJSON()` in),
//! which has no schema of its own; these types give it one, with examples, for the document
//! only.

#![allow(dead_code, non_snake_case)] // Schema-only types: the handlers pass webauthn-rs's JSON.

use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Every `…/options` answer: the ceremony to finish within 5 minutes, and webauthn-rs's options
/// for `PublicKeyCredential.parseCreationOptionsFromJSON` (registration, recovery, adding a
/// passkey) or `parseRequestOptionsFromJSON` (login).
#[derive(ToSchema)]
#[schema(example = json!({
    "ceremony_id": "6a0c1d8e-2f4b-4b7a-9d51-3e8f0c2a7b14",
    "publicKey": {
        "challenge": "q2a8xU6m0d8X2c9bq3J9Yw8f3l1m5Jr8n0p1s2t3u4w",
        "rpId": "raxx.app",
        "timeout": 300000,
        "userVerification": "preferred",
        "allowCredentials": []
    },
    "mediation": "conditional"
}))]
pub struct CeremonyOptions {
    /// Send it back with the credential to `…/verify`.
    ceremony_id: Uuid,
    /// webauthn-rs's options JSON (binary fields base64url).
    #[schema(value_type = Object)]
    publicKey: Value,
    /// `conditional` for a login started without an email (autofill); absent otherwise.
    #[schema(nullable = false)]
    mediation: Option<String>,
}

/// A new credential's `toJSON()` (`navigator.credentials.create`), binary fields base64url.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
    "rawId": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
    "type": "public-key",
    "response": {
        "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVi...",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoi..."
    },
    "clientExtensionResults": {}
}))]
pub struct NewCredential {
    id: String,
    rawId: String,
    #[schema(example = "public-key")]
    r#type: String,
    /// `{attestationObject, clientDataJSON[, transports]}`.
    #[schema(value_type = Object)]
    response: Value,
    #[schema(value_type = Option<Object>, nullable = false)]
    clientExtensionResults: Option<Value>,
}

/// An assertion's `toJSON()` (`navigator.credentials.get`), binary fields base64url.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
    "rawId": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
    "type": "public-key",
    "response": {
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoi...",
        "signature": "MEUCIQDq...",
        "userHandle": "b8d2d9b4e1c24a6c9c3f0f6e2a7b5d10"
    },
    "clientExtensionResults": {}
}))]
pub struct Assertion {
    id: String,
    rawId: String,
    #[schema(example = "public-key")]
    r#type: String,
    /// `{authenticatorData, clientDataJSON, signature[, userHandle]}`.
    #[schema(value_type = Object)]
    response: Value,
    #[schema(value_type = Option<Object>, nullable = false)]
    clientExtensionResults: Option<Value>,
}
