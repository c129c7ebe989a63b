//! Made-up market data for `raptor dev` without credentials, clearly labelled and never
//! selectable on a deployed dyno (the main crate's configuration refuses it there).
//!
//! Deterministic: a price is a function of the symbol and the time alone, so the same question
//! always gets the same answer, and a chart drawn twice looks the same. Every object carries
//! `"synthetic": true` beside Alpaca's field names.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{Bar, BarsRequest, LatestKind};

/// The latest object of every symbol asked for.
pub fn latest(kind: LatestKind, symbols: &[String]) -> HashMap<String, Arc<str>> {
    let now = Utc::now();
    symbols
        .iter()
        .map(|symbol| {
            let object = match kind {
                LatestKind::Quotes => quote(symbol, now),
                LatestKind::Trades => trade(symbol, now),
                LatestKind::Bars => bar(symbol, minute(now), Duration::minutes(1)).raw,
                LatestKind::Snapshots => format!(
                    r#"{{"latestTrade":{},"latestQuote":{},"minuteBar":{},"dailyBar":{},"prevDailyBar":{},"synthetic":true}}"#,
                    trade(symbol, now),
                    quote(symbol, now),
                    bar(symbol, minute(now), Duration::minutes(1)).raw,
                    bar(symbol, day(now), Duration::days(1)).raw,
                    bar(symbol, day(now) - Duration::days(1), Duration::days(1)).raw,
                ),
            };
            (symbol.clone(), Arc::from(object))
        })
        .collect()
}

/// Bars every `timeframe` step from `start` to `end` (weekends skipped for daily and longer).
pub fn bars(request: &BarsRequest) -> Vec<Bar> {
    let step = step_of(&request.timeframe);
    let mut t = request.start;
    let mut bars = Vec::new();
    while t <= request.end && bars.len() < request.max_bars {
        let weekend = matches!(
            chrono::Datelike::weekday(&t),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        if !(weekend && step >= Duration::days(1)) {
            bars.push(bar(&request.symbol, t, step));
        }
        t += step;
    }
    bars
}

fn step_of(timeframe: &str) -> Duration {
    let digits: String = timeframe.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().unwrap_or(1).max(1);
    match &timeframe[digits.len()..] {
        "Min" | "T" => Duration::minutes(n),
        "Hour" | "H" => Duration::hours(n),
        "Week" | "W" => Duration::weeks(n),
        "Month" | "M" => Duration::days(30 * n),
        _ => Duration::days(n),
    }
}

/// A deterministic price for `symbol` at `t`: a slow wave and a little noise around a level
/// of the symbol's own.
fn price(symbol: &str, t: DateTime<Utc>) -> f64 {
    let seed = hash(symbol.as_bytes(), 0);
    let level = 20.0 + (seed % 48_000) as f64 / 100.0;
    let days = t.timestamp() as f64 / 86_400.0;
    let wave = (days / 30.0 + (seed % 628) as f64 / 100.0).sin() * 0.15;
    let noise = (hash(symbol.as_bytes(), t.timestamp() as u64) % 2_000) as f64 / 100_000.0 - 0.01;
    round(level * (1.0 + wave + noise))
}

fn bar(symbol: &str, t: DateTime<Utc>, step: Duration) -> Bar {
    let o = price(symbol, t);
    let c = price(symbol, t + step - Duration::seconds(1));
    let h = round(o.max(c) * 1.004);
    let l = round(o.min(c) * 0.996);
    let v = (hash(symbol.as_bytes(), t.timestamp() as u64 ^ 0x5eed) % 900_000 + 1_000) as f64;
    let n = (v / 50.0) as i64;
    let vw = round((o + h + l + c) / 4.0);
    let raw = format!(
        r#"{{"t":"{}","o":{o},"h":{h},"l":{l},"c":{c},"v":{v},"n":{n},"vw":{vw},"synthetic":true}}"#,
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Bar {
        t,
        o,
        h,
        l,
        c,
        v,
        n: Some(n),
        vw: Some(vw),
        raw,
    }
}

fn quote(symbol: &str, now: DateTime<Utc>) -> String {
    let p = price(symbol, now);
    format!(
        r#"{{"t":"{}","ax":"V","ap":{},"as":1,"bx":"V","bp":{},"bs":1,"c":["R"],"z":"C","synthetic":true}}"#,
        now.to_rfc3339(),
        round(p * 1.0005),
        round(p * 0.9995)
    )
}

fn trade(symbol: &str, now: DateTime<Utc>) -> String {
    format!(
        r#"{{"t":"{}","x":"V","p":{},"s":100,"c":["@"],"i":1,"z":"C","synthetic":true}}"#,
        now.to_rfc3339(),
        price(symbol, now)
    )
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(60), 0).unwrap_or(t)
}

fn day(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(86_400), 0).unwrap_or(t)
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// FNV-1a over `bytes` and `salt`: stable across runs and platforms.
fn hash(bytes: &[u8], salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= salt.rotate_left(17);
    h.wrapping_mul(0x0100_0000_01b3)
}
