//! Trading routes (SPEC §3): a signed-in user trades through the operator's one Alpaca paper
//! account, and an operator can stop all trading at once.
//!
//! Each user sees their own paper book ([`book`]: account, positions, history in Alpaca's field
//! names) and their own orders, read from the ledger as Alpaca's order objects; a submitted
//! order is Alpaca's answer exactly as received ([`BrokerJson`]). Handlers parse, call one use
//! case of `crate::trading`, and map its error in one `From` impl ([`errors`]). While the kill switch is
//! engaged every route here but `mode` (and the operator's own switch route) answers 503
//! `trading_disabled`.

mod assets;
mod book;
mod close;
mod errors;
mod kill_switch;
mod market;
mod orders;
pub(crate) mod stream;
mod stream_events;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use raptor_actors::broker::{BrokerJson, SwitchSource};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::CurrentSession;
use super::{ApiError, AppState};
use crate::audit::Origin;
use crate::trading::{account, Trader, Trading};
use raptor_actors::session::SessionInfo;

pub use errors::{BrokerErrors, TRADING_DISABLED_MESSAGE};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(mode))
        .routes(routes!(readiness))
        .routes(routes!(book::account))
        .routes(routes!(book::positions, close::close_all))
        .routes(routes!(book::position, close::close_position))
        .routes(routes!(book::portfolio_history))
        .routes(routes!(orders::list, orders::submit, close::cancel_all))
        .routes(routes!(orders::get, orders::cancel, orders::replace))
        .routes(routes!(stream::stream))
        .routes(routes!(kill_switch::show, kill_switch::change))
        .routes(routes!(assets::list))
        .routes(routes!(assets::get))
        .routes(routes!(market::clock))
        .routes(routes!(market::calendar))
}

/// The body of `GET /api/trading/mode`.
#[derive(Serialize, ToSchema)]
pub struct ModeBody {
    /// Always `true`: no live trading exists.
    paper: bool,
    #[schema(example = "paper")]
    mode: &'static str,
    /// `alpaca_paper` or `simulated` (development and test only).
    #[schema(example = "alpaca_paper")]
    broker: &'static str,
    trading_enabled: bool,
    kill_switch: KillSwitchState,
}

/// Whether trading is off, and why.
#[derive(Serialize, ToSchema)]
pub struct KillSwitchState {
    engaged: bool,
    /// `config` (credentials or `ALPACA_AUTH_MODE`) or `operator`; `null` while released.
    source: Option<&'static str>,
    /// `credentials not configured`, or the operator's reason; `null` while released.
    reason: Option<String>,
    operator: OperatorState,
}

/// The operator's switch as last set (`engaged: false` and nulls when never set).
#[derive(Serialize, ToSchema)]
pub struct OperatorState {
    engaged: bool,
    reason: Option<String>,
    changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The body of a ready `GET /api/trading/readiness`.
#[derive(Serialize, ToSchema)]
pub struct ReadinessBody {
    /// Always `true` in a 200.
    ready: bool,
    broker: &'static str,
    checks: ReadinessChecks,
}

/// What was checked: `configured`, `released`, `answering`.
#[derive(Serialize, ToSchema)]
pub struct ReadinessChecks {
    credentials: &'static str,
    kill_switch: &'static str,
    broker: &'static str,
}

/// What the trading use cases need from the application.
fn trading(state: &AppState) -> Trading<'_> {
    Trading {
        pool: &state.pool,
        broker: &state.actors.broker,
        audit: &state.actors.audit,
        clock: &state.clock,
        risk: &state.risk,
        market_data: &state.actors.market_data,
        lane_share: &state.lane_share,
        books: &state.books,
    }
}

/// The signed-in user as a trader, with this request's audit stamp.
/// The request's `Idempotency-Key`. A header that is not text cannot be a key: its lossy text
/// fails the key's parser in the use case.
fn idempotency_key(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn trader(caller: &Origin, user: &SessionInfo) -> Trader {
    Trader {
        user_id: user.user_id,
        is_operator: user.is_operator,
        origin: caller.clone(),
    }
}

/// `GET /api/trading/mode`: always 200, engaged or not, and says why.
#[utoipa::path(
    get,
    path = "/api/trading/mode",
    tag = "trading",
    operation_id = "trading_mode",
    security(("session" = [])),
    responses((status = 200, description = "Paper mode, the broker, and whether and why trading is off", body = ModeBody)),
)]
async fn mode(State(state): State<AppState>, _: CurrentSession) -> Result<Response, ApiError> {
    let status = account::mode(trading(&state)).await?;
    let operator = status.operator.as_ref();
    let body = ModeBody {
        paper: true,
        mode: "paper",
        broker: status.kind.as_str(),
        trading_enabled: status.engaged.is_none(),
        kill_switch: KillSwitchState {
            engaged: status.engaged.is_some(),
            source: status
                .engaged
                .as_ref()
                .map(|(source, _)| source_name(*source)),
            reason: status.engaged.as_ref().map(|(_, reason)| reason.clone()),
            operator: OperatorState {
                engaged: operator.is_some_and(|o| o.engaged),
                reason: operator.map(|o| o.reason.clone()),
                changed_at: operator.map(|o| o.changed_at),
            },
        },
    };
    Ok(Json(body).into_response())
}

/// `GET /api/trading/readiness`: 200 when the switch is released and the broker answers with
/// our credentials; 503 otherwise.
#[utoipa::path(
    get,
    path = "/api/trading/readiness",
    tag = "trading",
    operation_id = "trading_readiness",
    security(("session" = [])),
    responses(
        (status = 200, description = "Ready: credentials configured, switch released, broker answering", body = ReadinessBody),
        (status = 503, description = "`trading_disabled` (the kill switch is engaged), `broker_not_ready` (the message says why), or `service_unavailable`; retry after `Retry-After`", body = crate::http::error_schema::ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
async fn readiness(State(state): State<AppState>, _: CurrentSession) -> Result<Response, ApiError> {
    let kind = account::readiness(trading(&state)).await?;
    Ok(Json(ReadinessBody {
        ready: true,
        broker: kind.as_str(),
        checks: ReadinessChecks {
            credentials: "configured",
            kill_switch: "released",
            broker: "answering",
        },
    })
    .into_response())
}

/// The kill switch as `GET /api/system/diagnostic` shows it; `null` while the broker is down.
pub async fn diagnostic(state: &AppState) -> serde_json::Value {
    match account::mode(trading(state)).await {
        Ok(status) => json!({
            "broker": status.kind.as_str(),
            "engaged": status.engaged.is_some(),
            "source": status.engaged.as_ref().map(|(source, _)| source_name(*source)),
            "reason": status.engaged.as_ref().map(|(_, reason)| reason),
        }),
        Err(_) => serde_json::Value::Null,
    }
}

/// The shared paper account's own figures and positions, as Alpaca sends them, for
/// `GET /api/system/diagnostic` (operators only); `null` when Alpaca cannot be asked.
pub async fn shared_account(state: &AppState) -> serde_json::Value {
    let trading = trading(state);
    let (account, positions) = tokio::join!(
        account::shared_account(trading),
        account::shared_positions(trading)
    );
    let parse = |body: BrokerJson| serde_json::from_str::<serde_json::Value>(body.as_str()).ok();
    match (account, positions) {
        (Ok(account), Ok(positions)) => json!({
            "account": parse(account),
            "positions": parse(positions),
        }),
        _ => serde_json::Value::Null,
    }
}

fn source_name(source: SwitchSource) -> &'static str {
    match source {
        SwitchSource::Config => "config",
        SwitchSource::Operator => "operator",
    }
}

/// A broker document as the response body, unchanged.
fn passthrough(status: StatusCode, body: BrokerJson) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into_string(),
    )
        .into_response()
}
