//! Alpaca's assets in the stand-ins (`GET /v2/assets`, `GET /v2/assets/{symbol}`), with the
//! rules the tests rely on: a coin pair (`BTCUSD`, `BTC/USD`, `ETHUSD`) is crypto spelled with
//! the slash; a symbol starting `NOPE` is unknown (404); `DELIST…` is inactive and not
//! tradable; `WHOLE…` is not fractionable; any other symbol is a tradable US equity. The
//! application's copy is seeded with [`SEEDED`] as if the worker had refreshed it.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::alpaca_stub::{alpaca_error, json_text};

/// The equities the stand-ins list (and the test databases' copy holds).
pub const SEEDED: [&str; 8] = [
    "AAPL", "AMZN", "GOOG", "MSFT", "NVDA", "SPY", "TSLA", "WHOLE",
];

/// Alpaca's asset object for `symbol` under the rules above; `None` when unknown.
pub fn asset(symbol: &str) -> Option<Value> {
    let symbol = symbol.to_ascii_uppercase();
    if symbol.starts_with("NOPE") || symbol.is_empty() {
        return None;
    }
    let pair = ["BTC", "ETH"]
        .into_iter()
        .find(|coin| symbol == format!("{coin}USD") || symbol == format!("{coin}/USD"));
    if let Some(coin) = pair {
        return Some(json!({
            "id": format!("00000000-0000-4000-8000-0000000{coin}"), "class": "crypto",
            "exchange": "CRYPTO", "symbol": format!("{coin}/USD"), "name": format!("{coin} / US Dollar"),
            "status": "active", "tradable": true, "marginable": false, "shortable": false,
            "easy_to_borrow": false, "fractionable": true, "min_order_size": "0.0001",
            "min_trade_increment": "0.0001", "price_increment": "1", "attributes": []
        }));
    }
    let delisted = symbol.starts_with("DELIST");
    Some(json!({
        "id": uuid::Uuid::new_v4().to_string(), "class": "us_equity", "exchange": "NASDAQ",
        "symbol": symbol, "name": format!("{symbol} Inc. Common Stock"),
        "status": if delisted { "inactive" } else { "active" }, "tradable": !delisted,
        "marginable": true, "maintenance_margin_requirement": 30, "shortable": true,
        "easy_to_borrow": true, "fractionable": !symbol.starts_with("WHOLE"),
        "attributes": ["fractional_eh_enabled"]
    }))
}

/// The stand-ins' answer to an asset request, `None` for any other path.
pub fn answer(method: &Method, path: &str, params: &HashMap<String, String>) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    if path == "/v2/assets" {
        let class = params
            .get("asset_class")
            .map_or("us_equity", String::as_str);
        let listed: Vec<Value> = match class {
            "us_equity" => SEEDED.iter().filter_map(|s| asset(s)).collect(),
            "crypto" => ["BTCUSD", "ETHUSD"]
                .iter()
                .filter_map(|s| asset(s))
                .collect(),
            _ => Vec::new(),
        };
        return Some(json_text(StatusCode::OK, Value::Array(listed).to_string()));
    }
    let symbol = path.strip_prefix("/v2/assets/")?;
    let symbol = percent_decode(symbol);
    Some(match asset(&symbol) {
        Some(found) => json_text(StatusCode::OK, found.to_string()),
        None => alpaca_error(
            StatusCode::NOT_FOUND,
            40410000,
            &format!("asset not found for {symbol}"),
        ),
    })
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("s={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Fills a fresh test database's asset copy with [`SEEDED`], as the worker's daily refresh
/// would (only the order checks read it; the stand-ins answer the same assets).
pub async fn seed(client: &tokio_postgres::Client) {
    for symbol in SEEDED {
        let a = asset(symbol).expect("a seeded asset");
        client
            .execute(
                "INSERT INTO assets (symbol, id, class, exchange, name, status, tradable, \
                 marginable, shortable, easy_to_borrow, fractionable, attributes, listed, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '{}', true, now())",
                &[
                    &symbol,
                    &a["id"].as_str(),
                    &a["class"].as_str(),
                    &a["exchange"].as_str(),
                    &a["name"].as_str(),
                    &a["status"].as_str(),
                    &a["tradable"].as_bool(),
                    &a["marginable"].as_bool(),
                    &a["shortable"].as_bool(),
                    &a["easy_to_borrow"].as_bool(),
                    &a["fractionable"].as_bool(),
                ],
            )
            .await
            .expect("seed the asset copy");
    }
}

/// Alpaca's `GET /v2/clock` (open) and `GET /v2/calendar?start=&end=` (weekdays, the 24th of
/// December a short day, the 25th a holiday); `None` for any other path.
pub fn market(method: &Method, path: &str, params: &HashMap<String, String>) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    match path {
        "/v2/clock" => Some(json_text(
            StatusCode::OK,
            json!({"timestamp": "2026-12-07T11:30:00.1-05:00", "is_open": true,
                "next_open": "2026-12-08T09:30:00-05:00",
                "next_close": "2026-12-07T16:00:00-05:00"})
            .to_string(),
        )),
        "/v2/calendar" => {
            use chrono::Datelike;
            let date = |name: &str| {
                params
                    .get(name)
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            };
            let (Some(start), Some(end)) = (date("start"), date("end")) else {
                return Some(alpaca_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    40010000,
                    "invalid dates",
                ));
            };
            let days: Vec<Value> = start
                .iter_days()
                .take_while(|d| *d <= end)
                .filter(|d| d.weekday().number_from_monday() <= 5)
                .filter(|d| !(d.month() == 12 && d.day() == 25))
                .map(|d| {
                    let close = if d.month() == 12 && d.day() == 24 {
                        "13:00"
                    } else {
                        "16:00"
                    };
                    json!({"date": d.to_string(), "open": "09:30", "close": close,
                        "session_open": "0400", "session_close": "2000",
                        "settlement_date": (d + chrono::Duration::days(1)).to_string()})
                })
                .collect();
            Some(json_text(StatusCode::OK, Value::Array(days).to_string()))
        }
        _ => None,
    }
}
