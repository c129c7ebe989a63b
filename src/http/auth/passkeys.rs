//! A signed-in person's passkeys (`/api/auth/passkeys…`): list, add, rename, remove — the use
//! cases live in [`crate::auth::passkeys`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::{accounts, options_body};
use crate::auth::passkeys::{self, PasskeyName};
use crate::http::extract::{Caller, CurrentSession};
use crate::http::{ApiError, ApiJson, AppState};

pub async fn list(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let passkeys = passkeys::list_passkeys(&accounts(&state), &me).await?;
    Ok(Json(json!({ "passkeys": passkeys })))
}

/// `POST /api/auth/passkeys/options`: a creation ceremony for the signed-in account.
pub async fn options(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let options = passkeys::start_adding_passkey(&accounts(&state), &me).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
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
    let name = request
        .name
        .as_deref()
        .map(PasskeyName::parse)
        .transpose()?;
    let accounts = accounts(&state);
    let requester = caller.requester();
    let added = passkeys::finish_adding_passkey(
        &accounts,
        &requester,
        &me,
        request.ceremony_id,
        &request.credential,
        name,
    )
    .await?;
    let body = json!({ "credential_id": added.credential_id, "name": added.name.as_str() });
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize)]
pub struct RenameRequest {
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<RenameRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let name = PasskeyName::parse(&request.name)?;
    passkeys::rename_passkey(&accounts(&state), &caller.requester(), &me, id, &name).await?;
    Ok(Json(json!({ "id": id, "name": name.as_str() })))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    passkeys::remove_passkey(&accounts(&state), &caller.requester(), &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
