//! A signed-in person's passkeys (`/api/auth/passkeys…`): list, add, rename, remove — the use
//! cases live in [`crate::auth::passkeys`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::ceremony::{CreationCeremony, NewCredential};
use super::{accounts, options_body, SteppedUpSession};
use crate::audit::Origin;
use crate::auth::passkeys::{self, PasskeyName};
use crate::auth::repo::credentials::PasskeyInfo;
use crate::http::error_schema::ErrorBody;
use crate::http::extract::CurrentSession;
use crate::http::{ApiError, ApiJson, AppState};

/// `{"passkeys": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    passkeys: Vec<PasskeyInfo>,
}

#[utoipa::path(
    get,
    path = "/api/auth/passkeys",
    tag = "auth",
    operation_id = "list_passkeys",
    security(("session" = [])),
    responses((status = 200, description = "The signed-in person's passkeys", body = PasskeyList)),
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let passkeys = passkeys::list_passkeys(&accounts(&state), &me).await?;
    Ok(Json(PasskeyList { passkeys }))
}

/// `POST /api/auth/passkeys/options`: a creation ceremony for the signed-in account. No body.
#[utoipa::path(
    post,
    path = "/api/auth/passkeys/options",
    tag = "auth",
    operation_id = "add_passkey_options",
    security(("session" = [])),
    responses(
        (status = 200, description = "A creation ceremony", body = CreationCeremony),
        (status = 401, description = "`reauth_required`: the session's last passkey assertion is older than `STEP_UP_WINDOW_SECS` (300 s); POST /api/auth/reauth/options and /verify, then retry (or `unauthenticated`)", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn options(
    State(state): State<AppState>,
    SteppedUpSession(me): SteppedUpSession,
) -> Result<impl IntoResponse, ApiError> {
    let options = passkeys::start_adding_passkey(&accounts(&state), &me).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "ceremony_id": "6a0c1d8e-2f4b-4b7a-9d51-3e8f0c2a7b14",
    "name": "Laptop",
    "credential": {
        "id": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
        "rawId": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
        "type": "public-key",
        "response": {
            "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVi...",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoi..."
        },
        "clientExtensionResults": {}
    }
}))]
#[schema(as = AddPasskeyRequest)]
pub struct AddRequest {
    ceremony_id: Uuid,
    #[schema(value_type = NewCredential)]
    credential: RegisterPublicKeyCredential,
    /// 1 to 64 printable characters; a default name when absent.
    #[serde(default)]
    name: Option<String>,
}

/// A passkey's `credential_id` and `name`.
#[derive(Serialize, ToSchema)]
pub struct Added {
    credential_id: String,
    name: String,
}

/// `{"id", "name"}` of a renamed passkey.
#[derive(Serialize, ToSchema)]
pub struct Renamed {
    id: Uuid,
    name: String,
}

/// `POST /api/auth/passkeys/verify`: stores the new passkey on the signed-in account.
#[utoipa::path(
    post,
    path = "/api/auth/passkeys/verify",
    tag = "auth",
    operation_id = "add_passkey",
    security(("session" = [])),
    request_body = AddRequest,
    responses(
        (status = 201, description = "Added", body = Added),
        (status = 400, description = "`invalid_ceremony`, `registration_failed` (the credential was refused), or `malformed_json`", body = ErrorBody),
        (status = 401, description = "`reauth_required`: the session's last passkey assertion is older than `STEP_UP_WINDOW_SECS` (300 s); POST /api/auth/reauth/options and /verify, then retry (or `unauthenticated`)", body = ErrorBody),
        (status = 409, description = "`credential_exists`: this passkey is already registered", body = ErrorBody),
        (status = 422, description = "`invalid_name`, or `invalid_request`: the body does not have the documented shape", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Origin,
    SteppedUpSession(me): SteppedUpSession,
    ApiJson(request): ApiJson<AddRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let name = request
        .name
        .as_deref()
        .map(PasskeyName::parse)
        .transpose()?;
    let accounts = accounts(&state);
    let requester = caller.clone();
    let added = passkeys::finish_adding_passkey(
        &accounts,
        &requester,
        &me,
        request.ceremony_id,
        &request.credential,
        name,
    )
    .await?;
    let body = Added {
        credential_id: added.credential_id,
        name: added.name.as_str().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "Work phone"}))]
#[schema(as = RenamePasskeyRequest)]
pub struct RenameRequest {
    /// 1 to 64 printable characters.
    name: String,
}

#[utoipa::path(
    patch,
    path = "/api/auth/passkeys/{id}",
    tag = "auth",
    operation_id = "rename_passkey",
    security(("session" = [])),
    params(("id" = Uuid, Path, description = "The passkey's `id` (from the list)")),
    request_body = RenameRequest,
    responses(
        (status = 200, description = "Renamed", body = Renamed),
        (status = 400, description = "`bad_request`: the id is not a UUID (or `malformed_json`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such passkey of yours", body = ErrorBody),
        (status = 422, description = "`invalid_name`, or `invalid_request`: the body does not have the documented shape", body = ErrorBody),
    ),
)]
pub async fn rename(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(me): CurrentSession,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<RenameRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let name = PasskeyName::parse(&request.name)?;
    passkeys::rename_passkey(&accounts(&state), &caller, &me, id, &name).await?;
    Ok(Json(Renamed {
        id,
        name: name.as_str().to_owned(),
    }))
}

/// Removes a passkey; never the last one.
#[utoipa::path(
    delete,
    path = "/api/auth/passkeys/{id}",
    tag = "auth",
    operation_id = "remove_passkey",
    security(("session" = [])),
    params(("id" = Uuid, Path, description = "The passkey's `id` (from the list)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ErrorBody),
        (status = 401, description = "`reauth_required`: the session's last passkey assertion is older than `STEP_UP_WINDOW_SECS` (300 s); POST /api/auth/reauth/options and /verify, then retry (or `unauthenticated`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such passkey of yours", body = ErrorBody),
        (status = 409, description = "`last_passkey`: add another passkey before removing the last one", body = ErrorBody),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Origin,
    SteppedUpSession(me): SteppedUpSession,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    passkeys::remove_passkey(&accounts(&state), &caller, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
