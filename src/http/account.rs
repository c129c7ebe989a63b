//! The customer's GDPR requests (SPEC §3, §5): `GET /api/account/export` returns everything held
//! about the signed-in person; `DELETE /api/account` erases the account. Both are use cases of
//! `crate::dsr` (shared with `raptor dsr`); this module adds the session guard and the response,
//! and maps [`DsrError`] to the API's errors in one place. Erasure needs a recent passkey
//! assertion (step-up, [`SteppedUpSession`]).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::SteppedUpSession;
use super::error_schema::ErrorBody;
use super::extract::CurrentSession;
use super::{ApiError, AppState};
use crate::audit::Origin;
use crate::dsr::{self, DataSubject, DsrDeps, DsrError, EraseRequester, Erased, ExportRequester};
use crate::trading::erasure::Canceler;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export))
        .routes(routes!(erase))
}

fn deps(state: &AppState) -> DsrDeps<'_> {
    DsrDeps {
        pool: &state.pool,
        audit: &state.actors.audit,
        sessions: Some(&state.actors.sessions),
        canceler: Canceler::Broker(&state.actors.broker),
        now: state.now(),
    }
}

impl From<DsrError> for ApiError {
    fn from(error: DsrError) -> Self {
        match error {
            // The session names an account that is gone: the session is no longer valid.
            DsrError::NoSuchAccount => ApiError::unauthenticated(),
            DsrError::Storage(error) => error.into(),
            DsrError::Audit(error) => error.into(),
            DsrError::SessionsNotEnded(error) => {
                tracing::error!(%error, "erased account's sessions could not be ended");
                ApiError::unavailable("sessions could not be ended; retry")
            }
        }
    }
}

/// `GET /api/account/export`: the person's data as JSON, audited as `dsr.export` before it is
/// sent.
#[utoipa::path(
    get,
    path = "/api/account/export",
    tag = "account",
    operation_id = "export_account",
    security(("session" = [])),
    responses((status = 200, description = "Everything Raptor holds about the signed-in person: the account, passkeys (metadata), sessions, orders, backtests, audit events about them", body = crate::dsr::records::Export)),
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(session): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let subject = DataSubject::User(session.user_id);
    let by = ExportRequester::Customer(caller.clone());
    Ok(Json(dsr::export(&deps(&state), subject, by).await?))
}

/// `DELETE /api/account`: erase the account, end every session on every dyno, clear the
/// cookie.
#[utoipa::path(
    delete,
    path = "/api/account",
    tag = "account",
    operation_id = "erase_account",
    security(("session" = [])),
    responses(
        (
            status = 204,
            description = "Erased: every session ended, the cookie cleared; the data is deleted after a 30-day quarantine",
            headers(("Set-Cookie" = String, description = "`session=; Max-Age=0` (cleared)")),
        ),
        (status = 401, description = "`reauth_required`: the session's last passkey assertion is older than `STEP_UP_WINDOW_SECS` (300 s); POST /api/auth/reauth/options and /verify, then retry (or `unauthenticated`)", body = ErrorBody),
    ),
)]
pub async fn erase(
    State(state): State<AppState>,
    caller: Origin,
    SteppedUpSession(session): SteppedUpSession,
) -> Result<impl IntoResponse, ApiError> {
    let subject = DataSubject::User(session.user_id);
    let by = EraseRequester::Customer(caller.clone());
    match dsr::erase_account(&deps(&state), subject, by).await? {
        Erased::Now { .. } => Ok((
            StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, state.cookie.clear())],
        )),
        // Erased meanwhile (another request): this session is no longer valid.
        Erased::AlreadyErased { .. } => Err(ApiError::unauthenticated()),
    }
}
