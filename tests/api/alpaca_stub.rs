//! An Alpaca stand-in: a real HTTP server on loopback that speaks the Trading API v2 with the
//! real payloads in `tests/fixtures/alpaca/trading/` (served as the exact text in those files), checks
//! the credentials every request carries, remembers the orders it received, and can be told to
//! fail (any status), or to hang.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The credentials the tests configure, and the only ones the stand-in accepts.
pub const KEY_ID: &str = "test-key-id";
pub const SECRET: &str = "test-secret-value";

const PAYLOADS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/alpaca/trading/"
);
/// The id and client order id in the order payloads, replaced in each order the stand-in takes.
const PAYLOAD_ORDER_ID: &str = "61e69015-8549-4bfd-b9c3-01e75843f47d";
const PAYLOAD_CLIENT_ORDER_ID: &str = "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4";

/// How the stand-in answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Like Alpaca.
    Normal,
    /// Every request gets this status and body (a 429 also carries `X-RateLimit-Reset`).
    Fail(u16, String),
    /// Every request is accepted and never answered.
    Hang,
    /// Every request is carried out and its answer never sent (the broker acted; the caller
    /// never learns). The paper broker's; the older stand-in hangs as with `Hang`.
    LoseAnswers,
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: String,
}

/// One order the stand-in took.
#[derive(Debug, Clone)]
struct TakenOrder {
    id: String,
    client_order_id: String,
    text: String,
    canceled: bool,
}

struct Inner {
    behaviour: Mutex<Behaviour>,
    order_delay: Mutex<Duration>,
    seen: Mutex<Vec<Seen>>,
    bad_credentials: AtomicUsize,
    orders: Mutex<Vec<TakenOrder>>,
    /// Lookups by client order id still to answer 404 (Alpaca's index lagging behind).
    lookup_misses: AtomicUsize,
}

pub struct AlpacaStub {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AlpacaStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    body: &'a RawValue,
}

/// The `body` of payload file `name`, as the exact text the file holds.
pub fn payload(name: &str) -> String {
    let path = format!("{PAYLOADS}{name}.json");
    let file = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let payload: Payload<'_> = serde_json::from_str(&file).expect("payload file is JSON");
    payload.body.get().to_owned()
}

/// The elements of a payload that is a JSON array, each as its exact text.
pub fn payload_elements(name: &str) -> Vec<String> {
    let body = payload(name);
    let elements: Vec<&RawValue> = serde_json::from_str(&body).expect("an array payload");
    elements.iter().map(|e| e.get().to_owned()).collect()
}

impl AlpacaStub {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            behaviour: Mutex::new(Behaviour::Normal),
            order_delay: Mutex::new(Duration::ZERO),
            seen: Mutex::new(Vec::new()),
            bad_credentials: AtomicUsize::new(0),
            orders: Mutex::new(Vec::new()),
            lookup_misses: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner, task }
    }

    /// The configuration that points the application at this stand-in.
    pub fn overrides(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("ALPACA_AUTH_MODE", "trading"),
            ("ALPACA_PAPER_API_KEY", KEY_ID),
            ("ALPACA_PAPER_API_SECRET", SECRET),
            ("ALPACA_PAPER_BASE_URL", self.url.as_str()),
        ]
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.inner.behaviour.lock().unwrap() = behaviour;
    }

    /// Answers every order submission this long after taking it.
    pub fn delay_orders(&self, delay: Duration) {
        *self.inner.order_delay.lock().unwrap() = delay;
    }

    /// The next `n` lookups by client order id answer 404 whatever the stand-in holds.
    pub fn miss_lookups(&self, n: usize) {
        self.inner.lookup_misses.store(n, Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Requests received with `method` on `path`.
    pub fn count(&self, method: Method, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }

    /// Requests received with `method` on a path starting with `prefix`.
    pub fn count_prefix(&self, method: Method, prefix: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path.starts_with(prefix))
            .count()
    }

    /// Order submissions received (each would be an order at Alpaca).
    pub fn orders_received(&self) -> usize {
        self.count(Method::POST, "/v2/orders")
    }

    /// Requests that came without the configured credentials.
    pub fn bad_credentials(&self) -> usize {
        self.inner.bad_credentials.load(Ordering::SeqCst)
    }
}

pub fn alpaca_error(status: StatusCode, code: u32, message: &str) -> Response {
    json_text(
        status,
        serde_json::json!({"code": code, "message": message}).to_string(),
    )
}

pub fn json_text(status: StatusCode, text: String) -> Response {
    (status, [("content-type", "application/json")], text).into_response()
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let body = String::from_utf8_lossy(&body).into_owned();
    inner.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
    });
    if !authorized(&headers) {
        inner.bad_credentials.fetch_add(1, Ordering::SeqCst);
        return alpaca_error(
            StatusCode::UNAUTHORIZED,
            40110000,
            "request is not authorized",
        );
    }
    let behaviour = inner.behaviour.lock().unwrap().clone();
    if matches!(behaviour, Behaviour::LoseAnswers) {
        return std::future::pending().await;
    }
    if let Some(response) = misbehave(behaviour).await {
        return response;
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if let Some(answer) = crate::asset_stub::answer(&method, &path, &params) {
        return answer;
    }
    if let Some(answer) = crate::asset_stub::market(&method, &path, &params) {
        return answer;
    }
    match (method, path.as_str()) {
        (Method::GET, "/v2/account") => json_text(StatusCode::OK, payload("test_get_account")),
        (Method::GET, "/v2/positions") => {
            json_text(StatusCode::OK, payload("test_get_all_positions"))
        }
        (Method::GET, "/v2/orders") => {
            let mut all: Vec<String> = {
                let orders = inner.orders.lock().unwrap();
                orders.iter().rev().map(|o| o.text.clone()).collect()
            };
            all.extend(payload_elements("test_get_orders"));
            let limit = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(50);
            all.truncate(limit);
            json_text(StatusCode::OK, format!("[{}]", all.join(",")))
        }
        (Method::GET, "/v2/orders:by_client_order_id") => {
            let wanted = params.get("client_order_id").cloned().unwrap_or_default();
            let missed =
                inner
                    .lookup_misses
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if missed.is_ok() {
                return alpaca_error(StatusCode::NOT_FOUND, 40410000, "order not found");
            }
            let orders = inner.orders.lock().unwrap();
            match orders.iter().find(|o| o.client_order_id == wanted) {
                Some(order) => json_text(StatusCode::OK, order.text.clone()),
                None => alpaca_error(StatusCode::NOT_FOUND, 40410000, "order not found"),
            }
        }
        (Method::POST, "/v2/orders") => {
            // The order is taken at once; only the answer is late.
            let response = take_order(&inner, &body);
            let delay = *inner.order_delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            response
        }
        (Method::PATCH, p) if p.starts_with("/v2/orders/") => {
            replace_order(&inner, &p["/v2/orders/".len()..], &body)
        }
        (Method::DELETE, p) if p.starts_with("/v2/orders/") => {
            let id = &p["/v2/orders/".len()..];
            let mut orders = inner.orders.lock().unwrap();
            match orders.iter_mut().find(|o| o.id == id) {
                Some(order) if order.canceled => alpaca_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    42210000,
                    "order is not cancelable",
                ),
                Some(order) => {
                    order.canceled = true;
                    StatusCode::NO_CONTENT.into_response()
                }
                None => alpaca_error(StatusCode::NOT_FOUND, 40410000, "order not found"),
            }
        }
        _ => alpaca_error(StatusCode::NOT_FOUND, 40400000, "endpoint not found"),
    }
}

/// The answer `behaviour` gives instead of Alpaca's (`None` when `Normal` or `LoseAnswers`,
/// which answer like Alpaca; never for `Hang`).
pub async fn misbehave(behaviour: Behaviour) -> Option<Response> {
    match behaviour {
        Behaviour::Normal | Behaviour::LoseAnswers => None,
        Behaviour::Hang => std::future::pending().await,
        Behaviour::Fail(status, text) => {
            let status = StatusCode::from_u16(status).unwrap();
            let mut response = json_text(status, text);
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = chrono::Utc::now().timestamp() + 7;
                response
                    .headers_mut()
                    .insert("x-ratelimit-reset", reset.into());
            }
            Some(response)
        }
    }
}

/// Whether `headers` carry the configured credentials.
pub fn authorized(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("apca-api-key-id") == Some(KEY_ID) && header("apca-api-secret-key") == Some(SECRET)
}

fn take_order(inner: &Inner, body: &str) -> Response {
    let Ok(request) = serde_json::from_str::<serde_json::Value>(body) else {
        return alpaca_error(StatusCode::UNPROCESSABLE_ENTITY, 40010000, "invalid json");
    };
    let Some(client_order_id) = request["client_order_id"].as_str().map(str::to_owned) else {
        return alpaca_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            40010000,
            "client_order_id is required by this stand-in",
        );
    };
    let mut orders = inner.orders.lock().unwrap();
    if orders.iter().any(|o| o.client_order_id == client_order_id) {
        return alpaca_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            40010001,
            "client_order_id must be unique",
        );
    }
    if let Err(message) = crate::alpaca_rules::check(&request) {
        return alpaca_error(StatusCode::UNPROCESSABLE_ENTITY, 42210000, &message);
    }
    let template = if request["type"] == "limit" || request["order_class"] == "oco" {
        "test_limit_order"
    } else {
        "test_market_order"
    };
    let id = uuid::Uuid::new_v4().to_string();
    let mut text = payload(template)
        .replace(PAYLOAD_ORDER_ID, &id)
        .replace(PAYLOAD_CLIENT_ORDER_ID, &client_order_id);
    let simple = request["order_class"].is_null() || request["order_class"] == "simple";
    if !simple || !matches!(request["type"].as_str(), Some("market" | "limit")) {
        // Market and limit orders are answered with the payload's exact text; the others
        // show their own type, prices, trail, class and legs.
        let mut order: serde_json::Value = serde_json::from_str(&text).expect("a payload");
        shape(&mut order, &request);
        let legs = take_legs(&mut orders, &request);
        if !legs.is_empty() {
            order["legs"] = serde_json::Value::Array(legs);
        }
        text = order.to_string();
    }
    orders.push(TakenOrder {
        id,
        client_order_id,
        text: text.clone(),
        canceled: false,
    });
    json_text(StatusCode::OK, text)
}

/// The fields of the request an order object shows: its type, prices, trail and class.
fn shape(order: &mut serde_json::Value, request: &serde_json::Value) {
    for field in [
        "type",
        "side",
        "limit_price",
        "stop_price",
        "trail_price",
        "trail_percent",
        "time_in_force",
    ] {
        if !request[field].is_null() {
            order[field] = request[field].clone();
        }
    }
    order["order_type"] = order["type"].clone();
    order["order_class"] = request
        .get("order_class")
        .cloned()
        .unwrap_or_else(|| "simple".into());
    if request["type"] == "trailing_stop" {
        order["hwm"] = "161.2958".into();
    }
}

/// Alpaca's legs of `request`, taken as orders of their own (`held` until the entry fills).
fn take_legs(orders: &mut Vec<TakenOrder>, request: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut legs = Vec::new();
    for spec in crate::alpaca_rules::legs(request) {
        let (id, client_order_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let mut leg: serde_json::Value =
            serde_json::from_str(&payload("test_limit_order")).expect("a payload");
        leg["id"] = id.to_string().into();
        leg["client_order_id"] = client_order_id.to_string().into();
        leg["symbol"] = request["symbol"].clone();
        leg["qty"] = request["qty"].clone();
        leg["time_in_force"] = request["time_in_force"].clone();
        leg["side"] = spec.side.into();
        leg["type"] = spec.kind.into();
        leg["order_type"] = spec.kind.into();
        leg["limit_price"] = serde_json::json!(spec.limit_price.map(|p| p.to_string()));
        leg["stop_price"] = serde_json::json!(spec.stop_price.map(|p| p.to_string()));
        leg["order_class"] = request["order_class"].clone();
        leg["status"] = "held".into();
        orders.push(TakenOrder {
            id: id.to_string(),
            client_order_id: client_order_id.to_string(),
            text: leg.to_string(),
            canceled: false,
        });
        legs.push(leg);
    }
    legs
}

/// `PATCH /v2/orders/{id}` with Alpaca's rules: the order must be open (422 otherwise), the
/// client order id unique; the answer is `test_replace_order`'s payload as the new order, with
/// `replaces` naming the old one, which is closed.
fn replace_order(inner: &Inner, id: &str, body: &str) -> Response {
    let Ok(request) = serde_json::from_str::<serde_json::Value>(body) else {
        return alpaca_error(StatusCode::UNPROCESSABLE_ENTITY, 40010000, "invalid json");
    };
    let mut orders = inner.orders.lock().unwrap();
    let Some(index) = orders.iter().position(|o| o.id == id) else {
        return alpaca_error(StatusCode::NOT_FOUND, 40410000, "order not found");
    };
    if orders[index].canceled {
        return alpaca_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42210000,
            "order is not replaceable",
        );
    }
    let client_order_id = request["client_order_id"]
        .as_str()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    if orders.iter().any(|o| o.client_order_id == client_order_id) {
        return alpaca_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            40010001,
            "client_order_id must be unique",
        );
    }
    let old: serde_json::Value = serde_json::from_str(&orders[index].text).expect("an order");
    let trailing = old["type"] == "trailing_stop";
    if request.get("trail").is_some() && !trailing {
        return alpaca_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42210000,
            "trail is only for trailing_stop orders",
        );
    }
    let new_id = uuid::Uuid::new_v4().to_string();
    let mut order: serde_json::Value =
        serde_json::from_str(&payload("test_replace_order")).expect("a payload");
    if trailing {
        for field in ["type", "order_type", "trail_price", "trail_percent", "hwm"] {
            order[field] = old[field].clone();
        }
        order["limit_price"] = serde_json::Value::Null;
        let which = if old["trail_percent"].is_null() {
            "trail_price"
        } else {
            "trail_percent"
        };
        if let Some(trail) = request.get("trail") {
            order[which] = trail.clone();
        }
    }
    order["id"] = new_id.clone().into();
    order["client_order_id"] = client_order_id.clone().into();
    order["replaces"] = id.into();
    for field in ["qty", "limit_price", "stop_price", "time_in_force"] {
        if let Some(value) = request.get(field) {
            order[field] = value.clone();
        }
    }
    orders[index].canceled = true;
    let text = order.to_string();
    orders.push(TakenOrder {
        id: new_id,
        client_order_id,
        text: text.clone(),
        canceled: false,
    });
    json_text(StatusCode::OK, text)
}
