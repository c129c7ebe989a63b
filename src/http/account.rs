//! The customer's GDPR requests (SPEC §3, §5): `GET /api/account/export` returns everything held
//! about the signed-in person; `DELETE /api/account` erases the account. What is held and how it
//! is erased is `crate::dsr`'s business; this module adds the session guard, the audit rows and
//! the response.

use crate::audit::AuditEvent;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::json;

use super::extract::{Caller, CurrentSession};
use super::{cookie, ApiError, AppState};
use crate::dsr::{self, Erasure};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/account/export", get(export))
        .route("/api/account", delete(erase))
}

/// `GET /api/account/export`: the person's data as JSON, audited as `dsr.export` before it is
/// sent.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let client = state.db().await?;
    let export = dsr::export(&client, session.user_id, state.now())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::unauthenticated)?;
    let mut entry = caller.audit(AuditEvent::DsrExport);
    entry.actor_user_id = Some(session.user_id);
    entry.details = json!({
        "passkeys": export.passkeys.len(),
        "sessions": export.sessions.len(),
        "orders": export.orders.len(),
        "audit_rows": export.audit.len(),
    });
    state.audit(entry).await?;
    Ok(Json(export))
}

/// `DELETE /api/account`: erase the account, end every session on every dyno, clear the
/// cookie.
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let user_id = session.user_id;
    let now = state.now();
    let mut client = state.db().await?;
    let tx = client.transaction().await.map_err(ApiError::internal)?;
    let Erasure::Erased {
        passkeys_removed,
        purge_after,
        ..
    } = dsr::erase(&tx, user_id, now)
        .await
        .map_err(ApiError::internal)?
    else {
        // Erased meanwhile (another request): this session is no longer valid.
        return Err(ApiError::unauthenticated());
    };
    let mut entry = caller.audit(AuditEvent::DsrErase);
    entry.actor_user_id = Some(user_id);
    entry.subject = Some(user_id.to_string());
    entry.details = json!({
        "passkeys_removed": passkeys_removed,
        "purge_after": purge_after,
    });
    state.audit(entry).await?;
    tx.commit().await.map_err(ApiError::internal)?;

    // Committed: no session of this user validates against the database any more. Revoking
    // through the session store also drops the cached ones, here at once and on every other
    // dyno through its notification.
    let revoked = state.actors.sessions.revoke_all(user_id, None).await;
    if revoked.is_err() {
        // The store is down or failed: revoke in SQL; its notification reaches every store.
        tracing::warn!(%user_id, "session store unavailable during erasure; revoking directly");
        raptor_actors::session::revoke(&state.pool, user_id, None, None, now)
            .await
            .map_err(|_| ApiError::unavailable("sessions could not be ended; retry"))?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie::clear(&state.settings))],
    ))
}
