//! Auth routes (SPEC §3–§4): passkey registration and login, email verification, the current
//! session, signing out, lost-passkey recovery, and a person's own sessions and passkeys. Each handler parses the
//! request, calls one use case of [`crate::auth`] and shapes the answer; the domain's errors
//! become HTTP answers in [`errors`].

mod ceremony;
mod email;
mod errors;
mod login;
mod passkeys;
mod recovery;
mod register;
mod sessions;
mod step_up;
mod webauthn_json;

pub(crate) use step_up::SteppedUpSession;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use raptor_actors::session::SessionInfo;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::CurrentSession;
use super::{ApiError, AppState};
use crate::audit::Origin;
use crate::auth::{self, Accounts};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register::options))
        .routes(routes!(register::verify))
        .routes(routes!(email::verify))
        .routes(routes!(email::resend))
        .routes(routes!(recovery::start))
        .routes(routes!(recovery::options))
        .routes(routes!(recovery::verify))
        .routes(routes!(login::options))
        .routes(routes!(login::verify))
        .routes(routes!(step_up::options))
        .routes(routes!(step_up::verify))
        .routes(routes!(session))
        .routes(routes!(logout))
        .routes(routes!(sessions::list, sessions::revoke_others))
        .routes(routes!(sessions::revoke))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::options))
        .routes(routes!(passkeys::add))
        .routes(routes!(passkeys::rename, passkeys::remove))
}

/// The accounts domain's dependencies, from the app state.
fn accounts(state: &AppState) -> Accounts {
    Accounts {
        pool: state.pool.clone(),
        actors: state.actors.clone(),
        hasher: state.hasher(),
        clock: state.clock.clone(),
        webauthn: state.webauthn.clone(),
        step_up_window: chrono::Duration::from_std(state.config.step_up_window).unwrap_or(
            chrono::Duration::seconds(crate::auth::step_up::DEFAULT_WINDOW_SECS as i64),
        ),
    }
}

/// SPEC §4's `…/options` answer: `{ceremony_id, publicKey[, mediation]}`.
fn options_body(ceremony_id: Uuid, challenge: impl Serialize) -> Json<serde_json::Value> {
    let mut body = serde_json::to_value(challenge).expect("webauthn options serialise");
    body["ceremony_id"] = json!(ceremony_id);
    Json(body)
}

/// The body of `GET /api/auth/session` and of a successful login.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "user_id": "0f8b5c2e-7d4a-4e1b-9c3d-2a6f1e8b7c90",
    "email": "ada@example.com",
    "expires_at": "2026-01-02T03:04:05Z"
}))]
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

/// `GET /api/auth/session`: who is signed in, and until when.
#[utoipa::path(
    get,
    path = "/api/auth/session",
    tag = "auth",
    operation_id = "current_session",
    security(("session" = [])),
    responses((status = 200, description = "The signed-in person", body = SessionBody)),
)]
pub async fn session(CurrentSession(info): CurrentSession) -> Json<SessionBody> {
    Json(SessionBody::from(&info))
}

/// `POST /api/auth/logout`: revoke on every dyno, then clear the cookie.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    operation_id = "logout",
    security(("session" = [])),
    responses((
        status = 204,
        description = "Signed out everywhere; the cookie is cleared",
        headers(("Set-Cookie" = String, description = "`session=; Max-Age=0` (cleared)")),
    )),
)]
pub async fn logout(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    auth::sessions::logout(&accounts(&state), &caller, &me).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, state.cookie.clear())],
    ))
}
