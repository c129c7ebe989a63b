//! Auth routes (SPEC §3–§4): passkey registration and login, email verification, the current
//! session, signing out, lost-passkey recovery, and a person's own sessions and passkeys. Each handler parses the
//! request, calls one use case of [`crate::auth`] and shapes the answer; the domain's errors
//! become HTTP answers in [`errors`].

mod email;
mod errors;
mod login;
mod passkeys;
mod recovery;
mod register;
mod sessions;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post};
use axum::Json;
use axum::Router;
use raptor_actors::session::SessionInfo;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::extract::{Caller, CurrentSession};
use super::{cookie, ApiError, AppState};
use crate::auth::{self, Accounts};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register/options", post(register::options))
        .route("/api/auth/register/verify", post(register::verify))
        .route("/api/auth/email/verify", post(email::verify))
        .route("/api/auth/email/resend", post(email::resend))
        .route("/api/auth/recovery/start", post(recovery::start))
        .route("/api/auth/recovery/options", post(recovery::options))
        .route("/api/auth/recovery/verify", post(recovery::verify))
        .route("/api/auth/login/options", post(login::options))
        .route("/api/auth/login/verify", post(login::verify))
        .route("/api/auth/session", get(session))
        .route("/api/auth/logout", post(logout))
        .route(
            "/api/auth/sessions",
            get(sessions::list).delete(sessions::revoke_others),
        )
        .route("/api/auth/sessions/{id}", delete(sessions::revoke))
        .route("/api/auth/passkeys", get(passkeys::list))
        .route("/api/auth/passkeys/options", post(passkeys::options))
        .route("/api/auth/passkeys/verify", post(passkeys::add))
        .route(
            "/api/auth/passkeys/{id}",
            patch(passkeys::rename).delete(passkeys::remove),
        )
}

/// The accounts domain's dependencies, from the app state.
fn accounts(state: &AppState) -> Accounts {
    Accounts {
        pool: state.pool.clone(),
        actors: state.actors.clone(),
        hasher: state.hasher(),
        clock: state.clock.clone(),
        webauthn: state.webauthn.clone(),
    }
}

/// SPEC §4's `…/options` answer: `{ceremony_id, publicKey[, mediation]}`.
fn options_body(ceremony_id: Uuid, challenge: impl Serialize) -> Json<serde_json::Value> {
    let mut body = serde_json::to_value(challenge).expect("webauthn options serialise");
    body["ceremony_id"] = json!(ceremony_id);
    Json(body)
}

/// The body of `GET /api/auth/session` and of a successful login.
#[derive(Debug, Serialize)]
pub struct SessionBody {
    pub user_id: Uuid,
    pub email: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl From<&SessionInfo> for SessionBody {
    fn from(info: &SessionInfo) -> Self {
        Self {
            user_id: info.user_id,
            email: info.email.clone(),
            expires_at: info.expires_at,
        }
    }
}

pub async fn session(CurrentSession(info): CurrentSession) -> Json<SessionBody> {
    Json(SessionBody::from(&info))
}

/// `POST /api/auth/logout`: revoke on every dyno, then clear the cookie.
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    auth::sessions::logout(&accounts(&state), &caller.requester(), &me).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie::clear(&state.settings))],
    ))
}
