//! The accounts domain's errors as HTTP answers, each mapped in one place. Storage failures
//! answer 503 (database gone) or 500; the cause is logged, never shown.

use axum::http::StatusCode;

use crate::auth::ceremony::StartError;
use crate::auth::login::LoginError;
use crate::auth::passkeys::PasskeyError;
use crate::auth::recovery::RecoveryError;
use crate::auth::register::RegisterError;
use crate::auth::sessions::SessionsError;
use crate::auth::verification::{ResendError, VerifyEmailError};
use crate::auth::PasskeysNotConfigured;
use crate::http::error::ErrorCode;
use crate::http::ApiError;

impl From<PasskeysNotConfigured> for ApiError {
    fn from(_: PasskeysNotConfigured) -> Self {
        ApiError::unavailable("passkeys are not configured")
    }
}

impl From<StartError> for ApiError {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Storage(e) => e.into(),
            StartError::Library(e) => ApiError::internal(e),
        }
    }
}

fn invalid_ceremony() -> ApiError {
    ApiError::bad_request("the ceremony is unknown, used or expired; start again")
        .with_code(ErrorCode::InvalidCeremony)
}

fn credential_refused(error: impl std::fmt::Display) -> ApiError {
    tracing::info!(%error, "passkey creation ceremony failed");
    ApiError::bad_request("the passkey could not be registered")
        .with_code(ErrorCode::RegistrationFailed)
}

fn credential_exists() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::CredentialExists,
        "this passkey is already registered",
    )
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::NotConfigured(e) => e.into(),
            RegisterError::InvalidEmail => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidEmail,
                "not a valid email address",
            ),
            RegisterError::InvalidInvitation => ApiError::forbidden(
                ErrorCode::InvalidBootstrapToken,
                "the invitation token is not valid",
            ),
            RegisterError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "this address already has an account",
            ),
            RegisterError::RegistrationPending => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::RegistrationPending,
                "a sign-up of this address is waiting for its email to be verified; use the \
                 link in that email, or ask for it again",
            ),
            RegisterError::InvalidCeremony => invalid_ceremony(),
            RegisterError::CredentialRefused(e) => credential_refused(e),
            RegisterError::CredentialExists => credential_exists(),
            RegisterError::Start(e) => e.into(),
            RegisterError::Storage(e) => e.into(),
            RegisterError::Audit(e) => e.into(),
        }
    }
}

impl From<VerifyEmailError> for ApiError {
    fn from(error: VerifyEmailError) -> Self {
        match error {
            VerifyEmailError::InvalidToken => {
                ApiError::bad_request("the link is invalid or has expired")
                    .with_code(ErrorCode::InvalidToken)
            }
            VerifyEmailError::Storage(e) => e.into(),
            VerifyEmailError::Audit(e) => e.into(),
        }
    }
}

impl From<ResendError> for ApiError {
    fn from(error: ResendError) -> Self {
        match error {
            ResendError::Storage(e) => e.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::NotConfigured(e) => e.into(),
            LoginError::InvalidCeremony => invalid_ceremony(),
            LoginError::Failed => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::LoginFailed,
                "the passkey could not be verified",
            ),
            LoginError::EmailNotVerified => ApiError::forbidden(
                ErrorCode::EmailNotVerified,
                "verify your email address before signing in",
            ),
            LoginError::Library(e) => ApiError::internal(e),
            LoginError::Storage(e) => e.into(),
            LoginError::Audit(e) => e.into(),
            LoginError::Session(e) => e.into(),
        }
    }
}

impl From<SessionsError> for ApiError {
    fn from(error: SessionsError) -> Self {
        match error {
            SessionsError::NotFound => ApiError::not_found(),
            SessionsError::Audit(e) => e.into(),
            SessionsError::Session(e) => e.into(),
            SessionsError::Storage(e) => e.into(),
        }
    }
}

impl From<PasskeyError> for ApiError {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::NotConfigured(e) => e.into(),
            PasskeyError::InvalidName => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidName,
                "a name is 1 to 64 printable characters",
            ),
            PasskeyError::InvalidCeremony => invalid_ceremony(),
            PasskeyError::CredentialRefused(e) => credential_refused(e),
            PasskeyError::CredentialExists => credential_exists(),
            PasskeyError::NotFound => ApiError::not_found(),
            PasskeyError::LastPasskey => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LastPasskey,
                "add another passkey before removing the last one",
            ),
            PasskeyError::Start(e) => e.into(),
            PasskeyError::Storage(e) => e.into(),
            PasskeyError::Audit(e) => e.into(),
        }
    }
}

impl From<RecoveryError> for ApiError {
    fn from(error: RecoveryError) -> Self {
        match error {
            RecoveryError::NotConfigured(e) => e.into(),
            RecoveryError::InvalidToken => {
                ApiError::bad_request("the recovery link is invalid, used or has expired")
                    .with_code(ErrorCode::InvalidToken)
            }
            RecoveryError::InvalidCeremony => invalid_ceremony(),
            RecoveryError::CredentialRefused(e) => credential_refused(e),
            RecoveryError::CredentialExists => credential_exists(),
            RecoveryError::Start(e) => e.into(),
            RecoveryError::Storage(e) => e.into(),
            RecoveryError::Audit(e) => e.into(),
            RecoveryError::Session(e) => e.into(),
        }
    }
}
