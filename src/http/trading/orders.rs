//! `GET/POST /api/trading/orders` and `DELETE /api/trading/orders/{id}`.
//!
//! A submission is validated whole before anything else (422 with field errors), then recorded
//! in the ledger under a client order id derived from the user and their idempotency key
//! (`Idempotency-Key`, or their own `client_order_id`). Whoever holds the ledger row's lock
//! talks to the broker; an identical submission, concurrent or later, waits for that lock and
//! answers with the recorded outcome, so one key never places two orders. A submission whose
//! outcome was lost (a timeout) is settled by asking the broker for the client order id before
//! anything is sent again. Audit: `order.submit.requested` is durable before the broker is
//! asked, `order.submit.accepted` or `order.submit.rejected` after, `order.cancel` for cancels.

use crate::audit::AuditEvent;
use crate::http::error::ErrorCode;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use raptor_actors::audit::AuditEntry;
use raptor_actors::broker::order::{
    ClientOrderId, FieldProblem, IdempotencyKey, InvalidInput, OrderDraft, OrderId, OrderQuery,
    OrderRequest, OrderSize,
};
use raptor_actors::broker::{refusal, BrokerError, BrokerJson, BrokerMsg, PlacedOrder};
use raptor_actors::session::SessionInfo;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::{ask, broker_error, invalid, passthrough, trading_status};
use crate::http::extract::{Caller, CurrentSession};
use crate::http::{ApiError, ApiJson, AppState};
use crate::trading::ledger::{self, LedgerOrder, LedgerStatus, NewOrder};

/// Header a client sets so that a retried submission returns the first result.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a response that repeats an earlier submission's outcome.
const REPLAYED: &str = "idempotent-replayed";

#[derive(Debug, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    limit: Option<String>,
}

/// `GET /api/trading/orders?status=open|closed|all&limit=1..500`: the caller's orders, newest
/// first (an operator sees every order of the account).
pub async fn list(
    State(state): State<AppState>,
    CurrentSession(user): CurrentSession,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = OrderQuery::parse(params.status.as_deref(), params.limit.as_deref())
        .map_err(|e| invalid(ErrorCode::InvalidQuery, e))?;
    trading_status(&state).await?;
    let only = if user.is_operator {
        None
    } else {
        let client = state.db().await?;
        let ids = ledger::client_order_ids(&client, user.user_id)
            .await
            .map_err(ApiError::internal)?;
        Some(ids)
    };
    let orders = ask(&state, |reply| BrokerMsg::ListOrders { query, only, reply }).await?;
    Ok(passthrough(StatusCode::OK, orders))
}

/// The body of `POST /api/trading/orders`. Amounts may be JSON strings or numbers; unknown
/// fields are refused so a typo cannot pass silently.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDto {
    symbol: Option<String>,
    qty: Option<Decimal>,
    notional: Option<Decimal>,
    side: Option<String>,
    #[serde(rename = "type")]
    order_type: Option<String>,
    time_in_force: Option<String>,
    limit_price: Option<Decimal>,
    stop_price: Option<Decimal>,
    extended_hours: Option<bool>,
    client_order_id: Option<String>,
}

/// A valid submission: the order and, if the client gave one, its idempotency key.
struct Submission {
    order: OrderRequest,
    key: Option<IdempotencyKey>,
}

impl Submission {
    fn parse(headers: &HeaderMap, dto: OrderDto) -> Result<Self, InvalidInput> {
        let mut problems = Vec::new();
        let key = match headers.get(IDEMPOTENCY_KEY) {
            Some(value) => value
                .to_str()
                .map_err(|_| "must be printable ASCII".to_owned())
                .and_then(IdempotencyKey::parse)
                .map_err(|problem| problems.push(field("Idempotency-Key", problem)))
                .ok(),
            None => dto
                .client_order_id
                .as_deref()
                .map(|id| {
                    IdempotencyKey::parse(id)
                        .map_err(|problem| problems.push(field("client_order_id", problem)))
                })
                .transpose()
                .ok()
                .flatten(),
        };
        let draft = OrderDraft {
            symbol: dto.symbol,
            qty: dto.qty,
            notional: dto.notional,
            side: dto.side,
            order_type: dto.order_type,
            time_in_force: dto.time_in_force,
            limit_price: dto.limit_price,
            stop_price: dto.stop_price,
            extended_hours: dto.extended_hours,
        };
        match OrderRequest::try_from(draft) {
            Ok(order) if problems.is_empty() => Ok(Self { order, key }),
            Ok(_) => Err(InvalidInput { problems }),
            Err(mut invalid) => {
                invalid.problems.extend(problems);
                Err(invalid)
            }
        }
    }
}

fn field(field: &'static str, problem: String) -> FieldProblem {
    FieldProblem { field, problem }
}

/// `POST /api/trading/orders`: 201 with Alpaca's order, or the first outcome again for a
/// repeated idempotency key.
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(user): CurrentSession,
    headers: HeaderMap,
    ApiJson(dto): ApiJson<OrderDto>,
) -> Result<Response, ApiError> {
    trading_status(&state).await?;
    let Submission { order, key } =
        Submission::parse(&headers, dto).map_err(|e| invalid(ErrorCode::InvalidOrder, e))?;
    let client_order_id = match &key {
        Some(key) => ClientOrderId::for_key(user.user_id, key),
        None => ClientOrderId::random(),
    };
    let mut client = state.db().await?;
    let inserted = ledger::insert_pending(
        &client,
        NewOrder {
            user_id: user.user_id,
            key: key.as_ref(),
            client_order_id: &client_order_id,
            order: &order,
            now: state.now(),
        },
    )
    .await
    .map_err(ApiError::internal)?;

    let tx = client.transaction().await.map_err(ApiError::internal)?;
    let row = ledger::lock(&tx, user.user_id, &client_order_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("a ledger row vanished under its lock"))?;
    if row.request != order.canonical_json() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::IdempotencyKeyReused,
            "this idempotency key was used for a different order",
        ));
    }
    match row.status {
        LedgerStatus::Accepted | LedgerStatus::Canceled => return replay_accepted(&row),
        LedgerStatus::Rejected => return Err(replay_rejected(&row)),
        LedgerStatus::Pending => {}
    }
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        user: &user,
        row: &row,
        client_order_id: &client_order_id,
    };

    // Not ours from the start: an earlier attempt may have reached the broker.
    if !inserted {
        let cid = client_order_id.clone();
        match ask(&state, |reply| BrokerMsg::FindOrder {
            client_order_id: cid,
            reply,
        })
        .await
        {
            Ok(placed) => return ctx.accepted(tx, placed, true).await,
            Err(error) if error.status == StatusCode::NOT_FOUND => {}
            Err(error) => return Err(error),
        }
    }

    let mut requested = ctx.entry(AuditEvent::OrderSubmitRequested);
    requested.details = order_details(&order, &client_order_id);
    state.audit(requested).await?;

    let cid = client_order_id.clone();
    let answer = state
        .actors
        .broker
        .slot()
        .ask(
            |reply| BrokerMsg::SubmitOrder {
                order,
                client_order_id: cid,
                reply,
            },
            super::broker_call_timeout(&state),
        )
        .await;
    match answer {
        Ok(Ok(placed)) => ctx.accepted(tx, placed, false).await,
        Ok(Err(BrokerError::Refused {
            status,
            message,
            body,
        })) => ctx.rejected(tx, status, message, body).await,
        Ok(Err(error)) => {
            // Nothing recorded: the row stays pending, and a retry settles the outcome.
            let outcome = match error {
                BrokerError::Timeout | BrokerError::Unreachable | BrokerError::BadGateway => {
                    "unknown"
                }
                _ => "not_sent",
            };
            ctx.failed(outcome, &error.to_string()).await?;
            Err(broker_error(error))
        }
        Err(unavailable) => {
            ctx.failed("unknown", "the broker is unavailable").await?;
            Err(unavailable.into())
        }
    }
}

/// What the steps of one submission share.
struct Ctx<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    user: &'a SessionInfo,
    row: &'a LedgerOrder,
    client_order_id: &'a ClientOrderId,
}

impl Ctx<'_> {
    fn entry(&self, event: AuditEvent) -> AuditEntry {
        let mut entry = self.caller.audit(event);
        entry.actor_user_id = Some(self.user.user_id);
        entry.subject = Some(self.row.id.to_string());
        entry
    }

    async fn accepted(
        &self,
        tx: deadpool_postgres::Transaction<'_>,
        placed: PlacedOrder,
        settled_later: bool,
    ) -> Result<Response, ApiError> {
        let body = placed.body.as_str();
        ledger::record(
            &tx,
            self.row.id,
            LedgerStatus::Accepted,
            placed.order_id.as_deref(),
            200,
            body,
            self.state.now(),
        )
        .await
        .map_err(ApiError::internal)?;
        tx.commit().await.map_err(ApiError::internal)?;
        let mut entry = self.entry(AuditEvent::OrderSubmitAccepted);
        entry.details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "alpaca_order_id": placed.order_id,
            "settled_after_lost_answer": settled_later,
        });
        self.state.audit(entry).await?;
        Ok(passthrough(StatusCode::CREATED, placed.body))
    }

    async fn rejected(
        &self,
        tx: deadpool_postgres::Transaction<'_>,
        status: u16,
        message: String,
        body: String,
    ) -> Result<Response, ApiError> {
        ledger::record(
            &tx,
            self.row.id,
            LedgerStatus::Rejected,
            None,
            status,
            &body,
            self.state.now(),
        )
        .await
        .map_err(ApiError::internal)?;
        tx.commit().await.map_err(ApiError::internal)?;
        let mut entry = self.entry(AuditEvent::OrderSubmitRejected);
        entry.details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "broker_status": status,
            "message": message,
        });
        self.state.audit(entry).await?;
        Err(broker_error(BrokerError::Refused {
            status,
            message,
            body,
        }))
    }

    async fn failed(&self, outcome: &str, error: &str) -> Result<(), ApiError> {
        let mut entry = self.entry(AuditEvent::OrderSubmitRejected);
        entry.details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "outcome": outcome,
            "error": error,
        });
        self.state.audit(entry).await
    }
}

fn order_details(order: &OrderRequest, client_order_id: &ClientOrderId) -> serde_json::Value {
    let (qty, notional) = match order.size {
        OrderSize::Qty(q) => (Some(q.to_string()), None),
        OrderSize::Notional(n) => (None, Some(n.to_string())),
    };
    json!({
        "client_order_id": client_order_id.as_str(),
        "symbol": order.symbol.as_str(),
        "side": order.side.as_str(),
        "type": order.kind.as_str(),
        "time_in_force": order.time_in_force.as_str(),
        "qty": qty,
        "notional": notional,
        "limit_price": order.kind.limit_price().map(|p| p.to_string()),
        "stop_price": order.kind.stop_price().map(|p| p.to_string()),
    })
}

/// The first submission's accepted order, again.
fn replay_accepted(row: &LedgerOrder) -> Result<Response, ApiError> {
    let body = row
        .broker_body
        .clone()
        .ok_or_else(|| ApiError::internal("an accepted order has no broker body"))
        .and_then(|b| BrokerJson::parse(b).map_err(ApiError::internal))?;
    let mut response = passthrough(StatusCode::CREATED, body);
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

/// The first submission's refusal, again.
fn replay_rejected(row: &LedgerOrder) -> ApiError {
    let status = row
        .broker_status
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(422);
    broker_error(refusal(status, row.broker_body.as_deref().unwrap_or("")))
}

/// `DELETE /api/trading/orders/{id}`: 204 once the broker cancelled it. A user may cancel only
/// orders they placed (an operator, any order of the account).
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(user): CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    trading_status(&state).await?;
    let no_such_order =
        || ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such order");
    let order_id = OrderId::parse(&id).map_err(|_| no_such_order())?;
    let alpaca_id = order_id.to_string();
    let client = state.db().await?;
    if !user.is_operator
        && !ledger::placed_by(&client, user.user_id, &alpaca_id)
            .await
            .map_err(ApiError::internal)?
    {
        return Err(no_such_order());
    }
    let result = ask(&state, |reply| BrokerMsg::CancelOrder { order_id, reply }).await;
    if result.is_ok() {
        ledger::mark_canceled(&client, &alpaca_id, state.now())
            .await
            .map_err(ApiError::internal)?;
    }
    let mut entry = caller.audit(AuditEvent::OrderCancel);
    entry.actor_user_id = Some(user.user_id);
    entry.subject = Some(alpaca_id);
    entry.details = json!({
        "outcome": match &result {
            Ok(()) => "canceled",
            Err(error) => error.code.as_str(),
        },
    });
    state.audit(entry).await?;
    result?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
