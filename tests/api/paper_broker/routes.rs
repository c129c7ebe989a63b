//! The broker's HTTP side: Alpaca's Trading API v2 routes over the book, behind the same
//! credential check and misbehaviours as the older stand-in, and the `/stream` upgrade.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::book::Book;
use super::order::{nested, Order, Refusal};
use super::stream::{self, Hub};
use crate::alpaca_stub::{alpaca_error, authorized, json_text, misbehave, Behaviour, Seen};

type Params = HashMap<String, String>;

pub struct Shared {
    pub book: Mutex<Book>,
    pub hub: Arc<Hub>,
    pub behaviour: Mutex<Behaviour>,
    pub seen: Mutex<Vec<Seen>>,
}

impl Shared {
    /// Runs `f` on the book, then sends the updates it made while the book is still locked.
    pub fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut book = self.book.lock().unwrap();
        let result = f(&mut book);
        for data in book.outbox.drain(..) {
            self.hub.send(&data);
        }
        result
    }
}

fn refused(Refusal(status, code, message): Refusal) -> Response {
    alpaca_error(StatusCode::from_u16(status).unwrap(), code, &message)
}

fn answer(result: Result<Value, Refusal>) -> Response {
    match result {
        Ok(value) => json_text(StatusCode::OK, value.to_string()),
        Err(refusal) => refused(refusal),
    }
}

pub async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let (path, query) = (parts.uri.path(), parts.uri.query().unwrap_or_default());
    shared.seen.lock().unwrap().push(Seen {
        method: parts.method.clone(),
        path: path.to_owned(),
        query: query.to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if parts.method == Method::GET && path == "/stream" {
        let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
        return stream::upgrade(shared.hub.clone(), &parts.headers, on_upgrade);
    }
    if !authorized(&parts.headers) {
        return alpaca_error(
            StatusCode::UNAUTHORIZED,
            40110000,
            "request is not authorized",
        );
    }
    let behaviour = shared.behaviour.lock().unwrap().clone();
    let lose = matches!(behaviour, Behaviour::LoseAnswers);
    if let Some(response) = misbehave(behaviour).await {
        return response;
    }
    let params: Params = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let response = route(&shared, &parts.method, path, &params, &body);
    if lose {
        return std::future::pending().await;
    }
    response
}

fn not_found(what: &str) -> Response {
    alpaca_error(StatusCode::NOT_FOUND, 40410000, what)
}

fn route(shared: &Shared, method: &Method, path: &str, params: &Params, body: &[u8]) -> Response {
    if let Some(answer) = crate::asset_stub::answer(method, path, params) {
        return answer;
    }
    if path.starts_with("/v2/orders") {
        return orders_route(shared, method, path, params, body);
    }
    let symbol = path.strip_prefix("/v2/positions/");
    let activity_type = path.strip_prefix("/v2/account/activities/");
    match (method.clone(), path) {
        (Method::GET, "/v2/account") => answer(Ok(shared.with_book(|b| b.account_json()))),
        (Method::GET, "/v2/positions") => answer(Ok(shared.with_book(|b| {
            let held = b.positions.keys();
            held.filter_map(|s| b.position_json(s)).collect()
        }))),
        (Method::GET, _) if symbol.is_some() => {
            let symbol = symbol.unwrap_or_default().to_uppercase();
            match shared.with_book(|b| b.position_json(&symbol)) {
                Some(position) => answer(Ok(position)),
                None => not_found("position does not exist"),
            }
        }
        (Method::GET, "/v2/account/activities") => {
            let types = params.get("activity_types").map(String::as_str);
            answer(shared.with_book(|b| list_activities(&b.activities, types, params)))
        }
        (Method::GET, _) if activity_type.is_some() => {
            answer(shared.with_book(|b| list_activities(&b.activities, activity_type, params)))
        }
        _ => alpaca_error(StatusCode::NOT_FOUND, 40400000, "endpoint not found"),
    }
}

/// The order `chosen` picks, or 404.
fn one_order(shared: &Shared, chosen: impl Fn(&Order) -> bool) -> Response {
    let found = shared.with_book(|b| {
        let order = b.orders.iter().find(|o| chosen(o));
        order.map(|o| nested(&b.orders, o))
    });
    match found {
        Some(order) => answer(Ok(order)),
        None => not_found("order not found"),
    }
}

fn orders_route(
    shared: &Shared,
    method: &Method,
    path: &str,
    params: &Params,
    body: &[u8],
) -> Response {
    let id = path.strip_prefix("/v2/orders/").unwrap_or_default();
    match (method.clone(), path) {
        (Method::GET, "/v2/orders") => answer(shared.with_book(|b| list_orders(&b.orders, params))),
        (Method::POST, "/v2/orders") => match serde_json::from_slice::<Value>(body) {
            Ok(request) => answer(shared.with_book(|b| b.submit(&request))),
            Err(_) => alpaca_error(StatusCode::BAD_REQUEST, 40010000, "invalid body"),
        },
        (Method::GET, "/v2/orders:by_client_order_id") => {
            let wanted = params.get("client_order_id").cloned().unwrap_or_default();
            one_order(shared, |o| o.client_order_id == wanted)
        }
        (Method::GET, _) if !id.is_empty() => one_order(shared, |o| o.id.to_string() == id),
        (Method::PATCH, _) if !id.is_empty() => match serde_json::from_slice::<Value>(body) {
            Ok(request) => answer(shared.with_book(|b| b.replace(id, &request))),
            Err(_) => alpaca_error(StatusCode::BAD_REQUEST, 40010000, "invalid body"),
        },
        (Method::DELETE, _) if !id.is_empty() => {
            let canceled = shared.with_book(|b| {
                let known = b.orders.iter().any(|o| o.id.to_string() == id);
                known.then(|| b.settle(id, "canceled"))
            });
            match canceled {
                None => not_found("order not found"),
                Some(Ok(())) => StatusCode::NO_CONTENT.into_response(),
                Some(Err(refusal)) => refused(refusal),
            }
        }
        _ => alpaca_error(StatusCode::NOT_FOUND, 40400000, "endpoint not found"),
    }
}

fn invalid(message: String) -> Refusal {
    Refusal(422, 40010001, message)
}

/// `after`/`until`: RFC 3339, or a date (its midnight, UTC).
fn time_param(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, Refusal> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) => Ok(Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())),
        Err(_) => Err(invalid(format!("invalid {name}: {text}"))),
    }
}

/// `direction`: `true` for `asc`; `desc` by default.
fn ascending(params: &Params) -> Result<bool, Refusal> {
    match params.get("direction").map(String::as_str) {
        None | Some("desc") => Ok(false),
        Some("asc") => Ok(true),
        Some(other) => Err(invalid(format!("invalid direction: {other}"))),
    }
}

/// A size parameter: `default` when absent, at most `max`.
fn size(params: &Params, name: &str, default: usize, max: usize) -> Result<usize, Refusal> {
    match params.get(name).map(|v| v.parse::<usize>()) {
        None => Ok(default),
        Some(Ok(n)) if n > 0 => Ok(n.min(max)),
        Some(_) => Err(invalid(format!("invalid {name}"))),
    }
}

/// Between `after` and `until`, both exclusive.
fn within(t: DateTime<Utc>, after: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
    after.is_none_or(|a| t > a) && until.is_none_or(|u| t < u)
}

/// `GET /v2/orders`: `status` (`open` by default), `limit` (50, at most 500), `after` and
/// `until` on the submission time, `direction`, `symbols`, `side`; `nested` is ignored.
fn list_orders(orders: &[Order], params: &Params) -> Result<Value, Refusal> {
    let status = params.get("status").map_or("open", String::as_str);
    if !matches!(status, "open" | "closed" | "all") {
        return Err(invalid(format!("invalid status: {status}")));
    }
    let limit = size(params, "limit", 50, 500)?;
    let (after, until) = (time_param(params, "after")?, time_param(params, "until")?);
    let symbols: Option<Vec<String>> = params
        .get("symbols")
        .map(|s| s.split(',').map(|s| s.trim().to_uppercase()).collect());
    let side = params.get("side");
    // Alpaca's `nested`: legs inside their parent only, else each order on its own, legs too.
    let nest = match params.get("nested").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(invalid(format!("invalid nested: {other}"))),
    };
    let chosen = |o: &&Order| {
        (!nest || o.parent.is_none())
            && (status == "all" || o.is_open() == (status == "open"))
            && within(o.created_at, after, until)
            && symbols.as_ref().is_none_or(|s| s.contains(&o.symbol))
            && side.is_none_or(|s| *s == o.side)
    };
    let mut listed: Vec<&Order> = orders.iter().filter(chosen).collect();
    if !ascending(params)? {
        listed.reverse();
    }
    let shown = listed.into_iter().take(limit);
    Ok(shown
        .map(|o| if nest { nested(orders, o) } else { o.json() })
        .collect())
}

/// `GET /v2/account/activities[/{type}]` for FILL activities: `activity_types` (or the type in
/// the path), `date`, `after`, `until`, `direction` (`desc` by default), `page_size` (100, at
/// most 100) and `page_token` (the id of the last activity of the previous page).
fn list_activities(all: &[Value], types: Option<&str>, params: &Params) -> Result<Value, Refusal> {
    if types.is_some_and(|t| !t.split(',').any(|t| t.trim() == "FILL")) {
        return Ok(Value::Array(Vec::new()));
    }
    let asc = ascending(params)?;
    let page_size = size(params, "page_size", 100, 100)?;
    let (after, until) = (time_param(params, "after")?, time_param(params, "until")?);
    let date = time_param(params, "date")?.map(|d| d.date_naive());
    let candidates = match params.get("page_token") {
        None => all,
        Some(token) => {
            let Some(i) = all.iter().position(|a| a["id"] == token.as_str()) else {
                return Err(invalid(format!("invalid page_token: {token}")));
            };
            if asc {
                &all[i + 1..]
            } else {
                &all[..i]
            }
        }
    };
    let time = |a: &Value| {
        let text = a["transaction_time"].as_str().expect("a transaction time");
        DateTime::parse_from_rfc3339(text)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    };
    let chosen = |a: &&Value| {
        within(time(a), after, until) && date.is_none_or(|d| time(a).date_naive() == d)
    };
    let mut listed: Vec<&Value> = candidates.iter().filter(chosen).collect();
    if !asc {
        listed.reverse();
    }
    Ok(listed.into_iter().take(page_size).cloned().collect())
}
