//! `GET/POST /api/trading/kill-switch` (operators only): read, engage or release the operator's
//! kill switch through `crate::trading::kill_switch::set`, audited as `kill_switch.engage` or
//! `kill_switch.release` with source `api`; every dyno follows within a second. Engaging is
//! always allowed: when the change cannot be stored, this dyno has engaged anyway and the answer
//! says so.

use axum::extract::State;
use axum::Json;
use raptor_actors::broker::BrokerStatus;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{source_name, trading};
use crate::audit::AuditEvent;
use crate::http::extract::{Caller, OperatorSession};
use crate::http::{ApiError, ApiJson, AppState};
use crate::trading::{account, kill_switch};

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
    Ok(Json(view(&account::mode(trading(&state)).await?)))
}

pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    OperatorSession(operator): OperatorSession,
    ApiJson(dto): ApiJson<ChangeDto>,
) -> Result<Json<Value>, ApiError> {
    let mut origin = caller.audit(AuditEvent::kill_switch(dto.engaged));
    origin.actor_user_id = Some(operator.user_id);
    let change = kill_switch::SwitchChange {
        engaged: dto.engaged,
        reason: dto.reason,
        changed_by: format!("api:{}", operator.user_id),
        source: "api",
        at: state.now(),
        origin,
    };
    let broker = &state.actors.broker;
    let status = kill_switch::set(&state.pool, &state.actors.audit, Some(broker), change).await?;
    let status = match status {
        Some(status) => status,
        None => account::mode(trading(&state)).await?,
    };
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
