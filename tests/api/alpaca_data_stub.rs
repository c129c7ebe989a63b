//! An Alpaca Market Data stand-in: a real HTTP server on loopback speaking the stock endpoints
//! of the Market Data API v2 with the real payloads in `tests/fixtures/alpaca/data/`. Latest
//! objects are the fixtures' own (any symbol but one named `ZZZZ…` gets one; `ZZZZ…` is unknown,
//! as at Alpaca); bars are the fixtures' bar objects placed on each weekday of the range asked,
//! served in pages of a size the test sets, with `next_page_token`. It counts every request,
//! checks the credentials, and can be told to fail with any status, or to hang.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Datelike, Utc};
use serde_json::{json, Map, Value};

use crate::alpaca_stub::{KEY_ID, SECRET};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/alpaca/data/");

/// How the stand-in answers.
#[derive(Debug, Clone)]
pub enum DataBehaviour {
    Normal,
    /// Every request gets this status and body.
    Fail(u16, String),
    /// Every request is accepted and never answered.
    Hang,
}

/// One request received: its path and query parameters.
#[derive(Debug, Clone)]
pub struct DataSeen {
    pub path: String,
    pub query: HashMap<String, String>,
}

struct Inner {
    behaviour: Mutex<DataBehaviour>,
    page_size: Mutex<usize>,
    /// Holds every answer this long (to let concurrent requests pile up).
    delay: Mutex<Duration>,
    seen: Mutex<Vec<DataSeen>>,
    bad_credentials: Mutex<usize>,
    /// Latest-trade prices a test set, by symbol (the fixture's otherwise).
    prices: Mutex<HashMap<String, f64>>,
}

pub struct AlpacaDataStub {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AlpacaDataStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `body` of fixture `name`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{FIXTURES}{name}.json");
    let file = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let payload: Value = serde_json::from_str(&file).expect("fixture is JSON");
    payload["body"].clone()
}

impl AlpacaDataStub {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            behaviour: Mutex::new(DataBehaviour::Normal),
            page_size: Mutex::new(10_000),
            delay: Mutex::new(Duration::ZERO),
            seen: Mutex::new(Vec::new()),
            bad_credentials: Mutex::new(0),
            prices: Mutex::new(HashMap::new()),
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

    /// Configuration pointing the application's market data at this stand-in.
    pub fn overrides(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("ALPACA_PAPER_API_KEY", KEY_ID),
            ("ALPACA_PAPER_API_SECRET", SECRET),
            ("ALPACA_DATA_BASE_URL", self.url.as_str()),
        ]
    }

    /// Makes `symbol`'s latest trade print at `price` (`p`), like Alpaca sends it: a number.
    pub fn set_trade_price(&self, symbol: &str, price: f64) {
        self.inner
            .prices
            .lock()
            .unwrap()
            .insert(symbol.to_owned(), price);
    }

    pub fn behave(&self, behaviour: DataBehaviour) {
        *self.inner.behaviour.lock().unwrap() = behaviour;
    }

    pub fn page_size(&self, size: usize) {
        *self.inner.page_size.lock().unwrap() = size;
    }

    pub fn delay(&self, delay: Duration) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    pub fn seen(&self) -> Vec<DataSeen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Requests received on `path`.
    pub fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }

    pub fn total(&self) -> usize {
        self.seen().len()
    }

    pub fn bad_credentials(&self) -> usize {
        *self.inner.bad_credentials.lock().unwrap()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let path = uri.path().to_owned();
    inner.seen.lock().unwrap().push(DataSeen {
        path: path.clone(),
        query: query.clone(),
    });
    if headers.get("apca-api-key-id").and_then(|v| v.to_str().ok()) != Some(KEY_ID)
        || headers
            .get("apca-api-secret-key")
            .and_then(|v| v.to_str().ok())
            != Some(SECRET)
    {
        *inner.bad_credentials.lock().unwrap() += 1;
        return error(
            StatusCode::UNAUTHORIZED,
            r#"{"code":40110000,"message":"request is not authorized"}"#,
        );
    }
    let delay = *inner.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let behaviour = inner.behaviour.lock().unwrap().clone();
    match behaviour {
        DataBehaviour::Normal => {}
        DataBehaviour::Fail(status, body) => {
            return error(StatusCode::from_u16(status).unwrap(), &body);
        }
        DataBehaviour::Hang => {
            std::future::pending::<()>().await;
        }
    }
    let symbols: Vec<String> = query
        .get("symbols")
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let body = match path.as_str() {
        "/v2/stocks/quotes/latest" => {
            json!({ "quotes": latest(&symbols, "test_get_latest_quote", "quotes") })
        }
        "/v2/stocks/trades/latest" => {
            let mut trades = latest(&symbols, "test_get_multisymbol_latest_trade", "trades");
            for (symbol, price) in inner.prices.lock().unwrap().iter() {
                if let Some(trade) = trades.get_mut(symbol) {
                    trade["p"] = json!(price);
                }
            }
            json!({ "trades": trades })
        }
        "/v2/stocks/bars/latest" => {
            json!({ "bars": latest(&symbols, "test_multi_stock_latest_bar", "bars") })
        }
        "/v2/stocks/snapshots" => Value::Object(latest(&symbols, "test_get_snapshot", "")),
        "/v2/stocks/bars" => bars(&inner, &symbols, &query),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                r#"{"code":40410000,"message":"endpoint not found"}"#,
            )
        }
    };
    ([("content-type", "application/json")], body.to_string()).into_response()
}

/// The fixture's object for each known symbol (the fixture's first object for symbols it does
/// not name), nothing for `ZZZZ…`.
fn latest(symbols: &[String], name: &str, envelope: &str) -> Map<String, Value> {
    let body = fixture(name);
    let objects = if envelope.is_empty() {
        &body
    } else {
        &body[envelope]
    };
    let objects = objects.as_object().expect("a map of symbols");
    let first = objects.values().next().expect("one object").clone();
    symbols
        .iter()
        .filter(|s| !s.starts_with("ZZZZ"))
        .map(|s| {
            (
                s.clone(),
                objects.get(s).cloned().unwrap_or_else(|| first.clone()),
            )
        })
        .collect()
}

/// The fixture bars, one on each weekday of `[start, end]`, paged.
fn bars(inner: &Inner, symbols: &[String], query: &HashMap<String, String>) -> Value {
    let time = |k: &str| -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&query[k])
            .expect("RFC 3339")
            .to_utc()
    };
    let (start, end) = (time("start"), time("end"));
    let templates: Vec<Value> = fixture("test_get_bars")["bars"]["AAPL"]
        .as_array()
        .unwrap()
        .clone();
    let step = match query.get("timeframe").map(String::as_str) {
        Some("1Min") => chrono::Duration::minutes(1),
        Some("1Hour") => chrono::Duration::hours(1),
        _ => chrono::Duration::days(1),
    };
    let mut all = Vec::new();
    // Bars sit on whole periods (midnight UTC for days), as at Alpaca.
    let secs = step.num_seconds();
    let first = (start.timestamp() + secs - 1).div_euclid(secs) * secs;
    let mut t = DateTime::from_timestamp(first, 0).unwrap();
    let mut i = 0;
    while t <= end {
        if step < chrono::Duration::days(1) || t.weekday().number_from_monday() <= 5 {
            let mut bar = templates[i % templates.len()].clone();
            bar["t"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            all.push(bar);
            i += 1;
        }
        t += step;
    }
    let offset: usize = query
        .get("page_token")
        .map(|tok| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(tok)
                .unwrap();
            String::from_utf8(raw).unwrap().parse().unwrap()
        })
        .unwrap_or(0);
    let size = (*inner.page_size.lock().unwrap()).min(
        query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(1000),
    );
    let page: Vec<Value> = all.iter().skip(offset).take(size).cloned().collect();
    let next = (offset + size < all.len())
        .then(|| base64::engine::general_purpose::STANDARD.encode((offset + size).to_string()));
    let mut map = Map::new();
    if let Some(symbol) = symbols.first() {
        if !page.is_empty() {
            map.insert(symbol.clone(), Value::Array(page));
        }
    }
    json!({ "bars": map, "next_page_token": next })
}

fn error(status: StatusCode, body: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_owned(),
    )
        .into_response()
}
