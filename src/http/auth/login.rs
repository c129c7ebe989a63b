//! `POST /api/auth/login/options` and `/verify`: passkey sign-in ([`crate::auth::login`]). A
//! successful verify sets a fresh session cookie.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;
use webauthn_rs::prelude::PublicKeyCredential;

use super::{accounts, options_body, SessionBody};
use crate::auth::login::{finish_login, start_login};
use crate::http::extract::Caller;
use crate::http::{cookie, ApiError, ApiJson, AppState};

#[derive(Deserialize, Default)]
pub struct OptionsRequest {
    #[serde(default)]
    email: Option<String>,
}

pub async fn options(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let options = start_login(&accounts(&state), request.email.as_deref()).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
}

#[derive(Deserialize)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    credential: PublicKeyCredential,
}

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let accounts = accounts(&state);
    let requester = caller.requester();
    let issued = finish_login(
        &accounts,
        &requester,
        request.ceremony_id,
        &request.credential,
    )
    .await?;
    let now = state.now();
    let until = now + state.session_policy().absolute;
    let set_cookie = cookie::issue(&state.settings, issued.token.expose_secret(), until, now);
    Ok((
        [(header::SET_COOKIE, set_cookie)],
        Json(SessionBody::from(&issued.info)),
    ))
}
