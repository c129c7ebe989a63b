//! `GET/POST /api/trading/kill-switch` (operators only): read, engage or release the operator's
//! kill switch through `crate::trading::kill_switch::set`, audited as `kill_switch.engage` or
//! `kill_switch.release` with source `api`; every dyno follows within a second. Engaging is
//! always allowed: when the change cannot be stored, this dyno has engaged anyway and the answer
//! says so.

use axum::extract::State;
use axum::Json;
use raptor_actors::broker::BrokerStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{source_name, trading};
use crate::audit::AuditEvent;
use crate::audit::Origin;
use crate::http::error_schema::ErrorBody;
use crate::http::extract::OperatorSession;
use crate::http::{ApiError, ApiJson, AppState};
use crate::trading::{account, kill_switch};

/// Engage (`true`) or release (`false`) the operator's switch, saying why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"engaged": true, "reason": "broker incident, stopping all trading"}))]
#[schema(as = KillSwitchChange)]
pub struct ChangeDto {
    engaged: bool,
    /// 1 to 500 printable characters (no control characters).
    reason: String,
}

/// The switch as an operator sees it.
#[derive(Serialize, ToSchema)]
pub struct SwitchView {
    /// `alpaca_paper` or `simulated`.
    broker: &'static str,
    /// Whether trading is off, for any reason.
    engaged: bool,
    /// `config` or `operator`; `null` while released.
    source: Option<&'static str>,
    reason: Option<String>,
    operator: OperatorView,
}

/// The operator's switch as last set, and by whom (`cli` or `api:<user id>`).
#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    engaged: bool,
    reason: Option<String>,
    changed_by: Option<String>,
    changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(
    get,
    path = "/api/trading/kill-switch",
    tag = "trading",
    operation_id = "kill_switch",
    security(("session" = [])),
    responses(
        (status = 200, description = "The switch", body = SwitchView),
        (status = 403, description = "`operator_only`: the caller is not an operator (or a shared 403)", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    _: OperatorSession,
) -> Result<Json<SwitchView>, ApiError> {
    Ok(Json(view(&account::mode(trading(&state)).await?)))
}

/// Every dyno follows within a second. When the change cannot be stored or audited: 503, and an
/// engage has still taken effect on this dyno (the message says so).
#[utoipa::path(
    post,
    path = "/api/trading/kill-switch",
    tag = "trading",
    operation_id = "change_kill_switch",
    security(("session" = [])),
    request_body = ChangeDto,
    responses(
        (status = 200, description = "The switch", body = SwitchView),
        (status = 403, description = "`operator_only`: the caller is not an operator (or a shared 403)", body = ErrorBody),
        (status = 422, description = "`invalid_request`: `reason` must say why in 1 to 500 printable characters (`error.fields.reason`), or the body does not have the documented shape", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: the change could not be stored or audited (an engage still holds on this dyno), or a dependency is down", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Origin,
    OperatorSession(operator): OperatorSession,
    ApiJson(dto): ApiJson<ChangeDto>,
) -> Result<Json<SwitchView>, ApiError> {
    let mut origin = caller.entry(AuditEvent::kill_switch(dto.engaged));
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

fn view(status: &BrokerStatus) -> SwitchView {
    let operator = status.operator.as_ref();
    SwitchView {
        broker: status.kind.as_str(),
        engaged: status.engaged.is_some(),
        source: status
            .engaged
            .as_ref()
            .map(|(source, _)| source_name(*source)),
        reason: status.engaged.as_ref().map(|(_, reason)| reason.clone()),
        operator: OperatorView {
            engaged: operator.is_some_and(|o| o.engaged),
            reason: operator.map(|o| o.reason.clone()),
            changed_by: operator.map(|o| o.changed_by.clone()),
            changed_at: operator.map(|o| o.changed_at),
        },
    }
}
