//! A signed-in person's passkeys: list, add (a registration ceremony for the current account),
//! rename, and remove — never the last one, which would lock the account out.

use crate::audit::AuditEvent;
use crate::http::error::ErrorCode;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use crate::auth::{ceremony, passkeys, repo};
use crate::http::extract::{Caller, CurrentSession};
use crate::http::{ApiError, ApiJson, AppState};

use super::invalid_ceremony;

/// A passkey's display name: trimmed, 1 to 64 printable characters.
fn parse_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidName,
            "a name is 1 to 64 printable characters",
        ));
    }
    Ok(name.to_owned())
}

pub async fn list(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let passkeys = repo::list_passkeys(&state.db().await?, me.user_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "passkeys": passkeys })))
}

/// `POST /api/auth/passkeys/options`: a registration challenge for the signed-in account that
/// excludes the passkeys it already has.
pub async fn options(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let webauthn = state.webauthn()?;
    let now = state.now();
    let client = state.db().await?;
    let existing = repo::passkeys_of(&client, me.user_id)
        .await
        .map_err(ApiError::internal)?;
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (mut challenge, registration) = webauthn
        .start_passkey_registration(me.user_id, &me.email, &me.email, Some(exclude))
        .map_err(ApiError::internal)?;
    passkeys::require_resident_key(&mut challenge);
    let new = ceremony::New {
        kind: ceremony::Kind::Registration,
        user_id: Some(me.user_id),
        email: Some(&me.email),
        bootstrap_token_id: None,
        state: serde_json::to_value(&registration).map_err(ApiError::internal)?,
    };
    let ceremony_id = ceremony::create(&client, new, now)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "ceremony_id": ceremony_id, "publicKey": challenge.public_key }),
    ))
}

#[derive(Deserialize)]
pub struct AddRequest {
    ceremony_id: Uuid,
    credential: RegisterPublicKeyCredential,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/auth/passkeys/verify`: stores the new passkey on the signed-in account.
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
    ApiJson(request): ApiJson<AddRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let webauthn = state.webauthn()?;
    let name = request
        .name
        .as_deref()
        .map(parse_name)
        .transpose()?
        .unwrap_or_else(|| "Passkey".to_owned());
    let now = state.now();
    let mut client = state.db().await?;
    let taken = ceremony::take(
        &client,
        request.ceremony_id,
        &[ceremony::Kind::Registration],
        now,
    )
    .await
    .map_err(ApiError::internal)?
    .ok_or_else(invalid_ceremony)?;
    // Only a ceremony started by this account for itself (not an invitation's sign-up).
    if taken.user_id != Some(me.user_id) || taken.bootstrap_token_id.is_some() {
        return Err(invalid_ceremony());
    }
    let registration: PasskeyRegistration =
        serde_json::from_value(taken.state).map_err(|_| invalid_ceremony())?;
    let passkey = webauthn
        .finish_passkey_registration(&request.credential, &registration)
        .map_err(|error| {
            tracing::info!(%error, "passkey ceremony failed");
            ApiError::bad_request("the passkey could not be registered")
                .with_code(ErrorCode::RegistrationFailed)
        })?;
    let tx = client.transaction().await.map_err(ApiError::internal)?;
    if !repo::insert_passkey(&tx, me.user_id, &passkey, &name, now)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::CredentialExists,
            "this passkey is already registered",
        ));
    }
    let credential_id = repo::credential_key(&passkey);
    let mut entry = caller.audit(AuditEvent::PasskeyAdd);
    entry.actor_user_id = Some(me.user_id);
    entry.details = json!({ "credential_id": credential_id });
    state.audit(entry).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "credential_id": credential_id, "name": name })),
    ))
}

#[derive(Deserialize)]
pub struct RenameRequest {
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<RenameRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let name = parse_name(&request.name)?;
    let client = state.db().await?;
    if !repo::rename_passkey(&client, me.user_id, id, &name)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::not_found());
    }
    Ok(Json(json!({ "id": id, "name": name })))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    let mut client = state.db().await?;
    let tx = client.transaction().await.map_err(ApiError::internal)?;
    match repo::remove_passkey(&tx, me.user_id, id)
        .await
        .map_err(ApiError::internal)?
    {
        repo::Removal::NotFound => Err(ApiError::not_found()),
        repo::Removal::LastPasskey => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::LastPasskey,
            "add another passkey before removing the last one",
        )),
        repo::Removal::Removed { credential_id } => {
            let mut entry = caller.audit(AuditEvent::PasskeyRemove);
            entry.actor_user_id = Some(me.user_id);
            entry.details = json!({ "credential_id": credential_id });
            state.audit(entry).await?;
            tx.commit().await.map_err(ApiError::internal)?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}
