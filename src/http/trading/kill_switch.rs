//! `GET/POST /api/trading/kill-switch` (operators only): read, engage or release the operator's
//! kill switch. The broker stores the change with its audit row (`kill_switch.engage` or
//! `kill_switch.release`, source `api`) and every dyno follows within a second. Engaging is
//! always allowed: when the change cannot be stored, this dyno has engaged anyway and the answer
//! says so.

use crate::audit::AuditEvent;
use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use raptor_actors::broker::{BrokerMsg, BrokerStatus, SwitchChange, SwitchError};
use raptor_actors::slot::DEFAULT_CALL_TIMEOUT;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{broker_status, source_name};
use crate::http::extract::{Caller, OperatorSession};
use crate::http::{ApiError, ApiJson, AppState};

/// Longest reason kept.
const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDto {
    engaged: bool,
    reason: String,
}

pub async fn show(
    State(state): State<AppState>,
    _: OperatorSession,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&broker_status(&state).await?)))
}

pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    OperatorSession(operator): OperatorSession,
    ApiJson(dto): ApiJson<ChangeDto>,
) -> Result<Json<Value>, ApiError> {
    let reason = dto.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        let problem = format!("must say why, in 1 to {MAX_REASON_CHARS} characters");
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
            format!("reason {problem}"),
        )
        .with_fields(
            [("reason".to_owned(), json!(problem))]
                .into_iter()
                .collect(),
        ));
    }
    let mut audit = caller.audit(AuditEvent::kill_switch(dto.engaged));
    audit.actor_user_id = Some(operator.user_id);
    audit.details = json!({ "source": "api", "reason": reason });
    let change = SwitchChange {
        engaged: dto.engaged,
        reason: reason.to_owned(),
        changed_by: format!("api:{}", operator.user_id),
        audit,
    };
    let status = state
        .actors
        .broker
        .slot()
        .ask(
            |reply| BrokerMsg::SetSwitch { change, reply },
            DEFAULT_CALL_TIMEOUT * 3,
        )
        .await?
        .map_err(|error| {
            let message = match (error, dto.engaged) {
                (SwitchError::Storage, true) => {
                    "engaged on this instance only: the change could not be stored; retry"
                }
                (SwitchError::Audit, true) => {
                    "engaged on this instance only: the change could not be audited; retry"
                }
                (SwitchError::Storage, false) => "the change could not be stored; nothing changed",
                (SwitchError::Audit, false) => "the change could not be audited; nothing changed",
            };
            ApiError::unavailable(message)
        })?;
    Ok(Json(view(&status)))
}

fn view(status: &BrokerStatus) -> Value {
    let operator = status.operator.as_ref();
    json!({
        "broker": status.kind.as_str(),
        "engaged": status.engaged.is_some(),
        "source": status.engaged.as_ref().map(|(source, _)| source_name(*source)),
        "reason": status.engaged.as_ref().map(|(_, reason)| reason),
        "operator": {
            "engaged": operator.is_some_and(|o| o.engaged),
            "reason": operator.map(|o| &o.reason),
            "changed_by": operator.map(|o| &o.changed_by),
            "changed_at": operator.map(|o| o.changed_at),
        },
    })
}
