//! The passkey ceremonies' wire format (SPEC §4) as the OpenAPI document describes it. The
//! bodies themselves are webauthn-rs's JSON (`publicKey` out, the credential's `toJSON()` in);
//! these types give them the shapes of WebAuthn Level 3's JSON types
//! (`PublicKeyCredentialCreationOptionsJSON`, `PublicKeyCredentialRequestOptionsJSON`,
//! `RegistrationResponseJSON`, `AuthenticationResponseJSON`), so a browser passes `publicKey`
//! to `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` and
//! sends `credential.toJSON()` back. Binary fields are base64url strings. For the document only.

#![allow(dead_code, non_snake_case)] // Schema-only types in WebAuthn's own field names.

use utoipa::ToSchema;
use uuid::Uuid;

pub use super::webauthn_json::{
    AuthenticationExtensionsClientOutputs, PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
};

/// The answer of `register/options`, `recovery/options` and `passkeys/options`: the ceremony
/// to finish within 5 minutes and the options for `navigator.credentials.create` (through
/// `PublicKeyCredential.parseCreationOptionsFromJSON`).
#[derive(ToSchema)]
#[schema(example = json!({
    "ceremony_id": "6a0c1d8e-2f4b-4b7a-9d51-3e8f0c2a7b14",
    "publicKey": {
        "rp": {"name": "Raxx", "id": "raxx.app"},
        "user": {"id": "uLtQ2J0pRqWm6fQy3nN1Ag", "name": "ada@example.com", "displayName": "ada@example.com"},
        "challenge": "q2a8xU6m0d8X2c9bq3J9Yw8f3l1m5Jr8n0p1s2t3u4w",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
        "timeout": 300000,
        "attestation": "none",
        "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": "preferred"},
        "extensions": {"credProps": true}
    }
}))]
pub struct CreationCeremony {
    /// Send it back with the credential to `…/verify`.
    ceremony_id: Uuid,
    publicKey: PublicKeyCredentialCreationOptions,
}

/// The answer of `login/options` and `reauth/options`: the ceremony to finish within 5 minutes
/// and the options for `navigator.credentials.get` (through
/// `PublicKeyCredential.parseRequestOptionsFromJSON`).
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
pub struct RequestCeremony {
    /// Send it back with the assertion to `…/verify`.
    ceremony_id: Uuid,
    publicKey: PublicKeyCredentialRequestOptions,
    /// `conditional` for a login started without an email (pass it to
    /// `navigator.credentials.get` for autofill); absent otherwise.
    #[schema(nullable = false, pattern = "^conditional$")]
    mediation: Option<String>,
}

/// A new credential's `toJSON()` (`navigator.credentials.create`): WebAuthn's
/// `RegistrationResponseJSON`, binary fields base64url.
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
    response: AttestationResponse,
    /// `platform` or `cross-platform`.
    #[schema(nullable = false)]
    authenticatorAttachment: Option<String>,
    #[schema(nullable = false)]
    clientExtensionResults: Option<AuthenticationExtensionsClientOutputs>,
}

/// `AuthenticatorAttestationResponseJSON`.
#[derive(ToSchema)]
pub struct AttestationResponse {
    clientDataJSON: String,
    attestationObject: String,
    /// `usb`, `nfc`, `ble`, `hybrid`, `internal`.
    #[schema(nullable = false)]
    transports: Option<Vec<String>>,
    #[schema(nullable = false)]
    authenticatorData: Option<String>,
    #[schema(nullable = false)]
    publicKey: Option<String>,
    #[schema(nullable = false)]
    publicKeyAlgorithm: Option<i64>,
}

/// An assertion's `toJSON()` (`navigator.credentials.get`): WebAuthn's
/// `AuthenticationResponseJSON`, binary fields base64url.
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
    response: AssertionResponse,
    #[schema(nullable = false)]
    authenticatorAttachment: Option<String>,
    #[schema(nullable = false)]
    clientExtensionResults: Option<AuthenticationExtensionsClientOutputs>,
}

/// `AuthenticatorAssertionResponseJSON`.
#[derive(ToSchema)]
pub struct AssertionResponse {
    clientDataJSON: String,
    authenticatorData: String,
    signature: String,
    /// The account's user handle (discoverable credentials).
    #[schema(nullable = false)]
    userHandle: Option<String>,
}
