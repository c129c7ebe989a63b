//! WebAuthn Level 3's JSON option and extension types, as webauthn-rs writes them
//! (<https://w3c.github.io/webauthn/#dictdef-publickeycredentialcreationoptionsjson>): the
//! `publicKey` of a ceremony's options and the extension outputs of a credential. Schema only.

#![allow(dead_code, non_snake_case)] // WebAuthn's own field names.

use utoipa::ToSchema;

/// `PublicKeyCredentialCreationOptionsJSON`.
#[derive(ToSchema)]
pub struct PublicKeyCredentialCreationOptions {
    rp: RelyingParty,
    user: UserEntity,
    /// base64url.
    challenge: String,
    pubKeyCredParams: Vec<CredentialParameters>,
    /// Milliseconds.
    #[schema(nullable = false)]
    timeout: Option<u32>,
    /// The account's passkeys, so an authenticator does not register one twice.
    #[schema(nullable = false)]
    excludeCredentials: Option<Vec<CredentialDescriptor>>,
    #[schema(nullable = false)]
    authenticatorSelection: Option<AuthenticatorSelection>,
    /// `security-key`, `client-device`, `hybrid`.
    #[schema(nullable = false)]
    hints: Option<Vec<String>>,
    /// `none`, `indirect`, `direct`, `enterprise`.
    #[schema(nullable = false)]
    attestation: Option<String>,
    #[schema(nullable = false)]
    attestationFormats: Option<Vec<String>>,
    #[schema(nullable = false)]
    extensions: Option<RegistrationExtensionInputs>,
}

/// `PublicKeyCredentialRequestOptionsJSON`.
#[derive(ToSchema)]
pub struct PublicKeyCredentialRequestOptions {
    /// base64url.
    challenge: String,
    /// Milliseconds.
    #[schema(nullable = false)]
    timeout: Option<u32>,
    rpId: String,
    /// The account's passkeys; empty for a discoverable (usernameless) login.
    allowCredentials: Vec<CredentialDescriptor>,
    /// `required`, `preferred` or `discouraged`.
    userVerification: String,
    #[schema(nullable = false)]
    hints: Option<Vec<String>>,
    #[schema(nullable = false)]
    extensions: Option<AuthenticationExtensionInputs>,
}

/// `PublicKeyCredentialRpEntity`.
#[derive(ToSchema)]
pub struct RelyingParty {
    name: String,
    id: String,
}

/// `PublicKeyCredentialUserEntityJSON`.
#[derive(ToSchema)]
pub struct UserEntity {
    /// The user handle, base64url.
    id: String,
    name: String,
    displayName: String,
}

/// `PublicKeyCredentialParameters`.
#[derive(ToSchema)]
pub struct CredentialParameters {
    /// `public-key`.
    r#type: String,
    /// A COSE algorithm (`-7` ES256, `-257` RS256, …).
    alg: i64,
}

/// `PublicKeyCredentialDescriptorJSON`.
#[derive(ToSchema)]
pub struct CredentialDescriptor {
    /// `public-key`.
    r#type: String,
    /// The credential id, base64url.
    id: String,
    #[schema(nullable = false)]
    transports: Option<Vec<String>>,
}

/// `AuthenticatorSelectionCriteria`.
#[derive(ToSchema)]
pub struct AuthenticatorSelection {
    /// `platform` or `cross-platform`.
    #[schema(nullable = false)]
    authenticatorAttachment: Option<String>,
    /// `discouraged`, `preferred` or `required`.
    #[schema(nullable = false)]
    residentKey: Option<String>,
    requireResidentKey: bool,
    userVerification: String,
}

/// The registration extensions asked for (`AuthenticationExtensionsClientInputsJSON`).
#[derive(ToSchema)]
pub struct RegistrationExtensionInputs {
    #[schema(nullable = false)]
    credentialProtectionPolicy: Option<String>,
    #[schema(nullable = false)]
    enforceCredentialProtectionPolicy: Option<bool>,
    #[schema(nullable = false)]
    uvm: Option<bool>,
    #[schema(nullable = false)]
    credProps: Option<bool>,
    #[schema(nullable = false)]
    minPinLength: Option<bool>,
    #[schema(nullable = false)]
    hmacCreateSecret: Option<bool>,
}

/// The authentication extensions asked for (`AuthenticationExtensionsClientInputsJSON`).
#[derive(ToSchema)]
pub struct AuthenticationExtensionInputs {
    #[schema(nullable = false)]
    appid: Option<String>,
    #[schema(nullable = false)]
    uvm: Option<bool>,
    #[schema(nullable = false)]
    hmacGetSecret: Option<HmacGetSecret>,
}

/// The `hmacGetSecret` salts, base64url.
#[derive(ToSchema)]
pub struct HmacGetSecret {
    output1: String,
    #[schema(nullable = false)]
    output2: Option<String>,
}

/// `AuthenticationExtensionsClientOutputsJSON`: what the browser reports of the extensions.
#[derive(ToSchema)]
pub struct AuthenticationExtensionsClientOutputs {
    #[schema(nullable = false)]
    appid: Option<bool>,
    #[schema(nullable = false)]
    credProps: Option<CredentialProperties>,
    #[schema(nullable = false)]
    hmacCreateSecret: Option<bool>,
}

/// `CredentialPropertiesOutput`.
#[derive(ToSchema)]
pub struct CredentialProperties {
    /// Whether the credential is discoverable (a passkey).
    #[schema(nullable = false)]
    rk: Option<bool>,
}
