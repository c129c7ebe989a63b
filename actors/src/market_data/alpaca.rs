//! Alpaca's Market Data API v2 (stocks): the only code that knows its URLs, headers and JSON.
//!
//! Objects are kept as the exact text Alpaca sent (checked to be JSON, never re-encoded), so
//! field names, values and decimal precision reach the client unchanged. Error bodies
//! (`{"code":…, "message":…}`) are read for their message and never forwarded raw; nothing
//! logged here carries a URL or a header, so neither keys nor hosts leak.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::config::{DataSource, MarketDataConfig};
use super::{Bar, BarsRequest, LatestKind, MarketDataError};
use crate::outbound::{Lane, OutboundBudget};

/// Alpaca's largest page of bars.
const PAGE_LIMIT: usize = 10_000;
/// Longest refusal message passed on to a client.
const MAX_MESSAGE_CHARS: usize = 300;
/// Retry-After when Alpaca's 429 does not say.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The client to the operator's data account.
#[derive(Clone)]
pub(crate) struct DataClient {
    http: reqwest::Client,
    base: Url,
    feed: String,
}

impl DataClient {
    pub fn new(config: &MarketDataConfig) -> Result<Self, String> {
        let DataSource::Alpaca {
            base_url,
            api_key,
            api_secret,
            feed,
        } = &config.source
        else {
            return Err("not configured for Alpaca".into());
        };
        let base = Url::parse(base_url).map_err(|_| "the data URL is not a URL")?;
        let http = crate::alpaca_http::client(api_key, api_secret, config.request_timeout)?;
        Ok(Self {
            http,
            base,
            feed: feed.clone(),
        })
    }

    /// The latest object of each symbol Alpaca knows (unknown ones are simply absent).
    pub async fn latest(
        &self,
        budget: &OutboundBudget,
        lane: Lane,
        kind: LatestKind,
        symbols: &[String],
    ) -> Result<HashMap<String, Arc<str>>, MarketDataError> {
        let query = [("symbols", symbols.join(",")), ("feed", self.feed.clone())];
        let body = self.get(budget, lane, kind.path(), &query).await?;
        let objects = match kind.envelope() {
            Some(key) => {
                let mut outer: HashMap<String, Box<RawValue>> = parse(&body)?;
                match outer.remove(key) {
                    Some(inner) => parse::<HashMap<String, Box<RawValue>>>(inner.get())?,
                    None => HashMap::new(),
                }
            }
            None => parse::<HashMap<String, Box<RawValue>>>(&body)?,
        };
        Ok(objects
            .into_iter()
            .map(|(symbol, raw)| (symbol, Arc::from(raw.get())))
            .collect())
    }

    /// Every bar of the range, oldest first, following `next_page_token` until the range or
    /// `max_bars` is exhausted.
    pub async fn bars(
        &self,
        budget: &OutboundBudget,
        request: &BarsRequest,
    ) -> Result<Vec<Bar>, MarketDataError> {
        let mut bars: Vec<Bar> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("symbols", request.symbol.clone()),
                ("timeframe", request.timeframe.clone()),
                ("start", rfc3339(request.start)),
                ("end", rfc3339(request.end)),
                ("limit", PAGE_LIMIT.to_string()),
                ("adjustment", request.adjustment.clone()),
                ("feed", self.feed.clone()),
                ("sort", "asc".to_owned()),
            ];
            if let Some(token) = token.take() {
                query.push(("page_token", token));
            }
            let body = self
                .get(budget, Lane::MarketData, "/v2/stocks/bars", &query)
                .await?;
            let page: BarsPage = parse(&body)?;
            let before = bars.len();
            for raw in page
                .bars
                .and_then(|mut b| b.remove(&request.symbol))
                .unwrap_or_default()
            {
                let bar = parse_bar(&raw)?;
                if bar.t >= request.start && bar.t <= request.end {
                    bars.push(bar);
                }
            }
            let progressed = bars.len() > before;
            match page.next_page_token {
                Some(next) if progressed && bars.len() < request.max_bars => token = Some(next),
                _ => break,
            }
        }
        bars.sort_by_key(|b| b.t);
        bars.dedup_by_key(|b| b.t);
        bars.truncate(request.max_bars);
        Ok(bars)
    }

    async fn get(
        &self,
        budget: &OutboundBudget,
        lane: Lane,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<String, MarketDataError> {
        budget.acquire(lane).await.map_err(|retry_after| {
            tracing::warn!("outbound budget reached; market-data request refused");
            MarketDataError::RateLimited { retry_after }
        })?;
        let url = self
            .base
            .join(path)
            .map_err(|_| MarketDataError::BadGateway)?;
        let response = self.http.get(url).query(query).send().await.map_err(|e| {
            if e.is_timeout() {
                tracing::warn!(path, "market-data request timed out");
                MarketDataError::Timeout
            } else {
                tracing::warn!(path, "market-data provider unreachable");
                MarketDataError::Unreachable
            }
        })?;
        let status = response.status();
        budget.observe(status.as_u16(), response.headers());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.map_err(|e| {
            if e.is_timeout() {
                MarketDataError::Timeout
            } else {
                MarketDataError::Unreachable
            }
        })?;
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::TOO_MANY_REQUESTS => Err(MarketDataError::RateLimited {
                retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            }),
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY => {
                Err(MarketDataError::Rejected(message_of(&body)))
            }
            s => {
                tracing::warn!(
                    status = s.as_u16(),
                    path,
                    "market-data provider answered unexpectedly"
                );
                Err(MarketDataError::BadGateway)
            }
        }
    }
}

#[derive(Deserialize)]
struct BarsPage {
    bars: Option<HashMap<String, Vec<Box<RawValue>>>>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct WireBar {
    t: chrono::DateTime<chrono::Utc>,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    v: f64,
    n: Option<i64>,
    vw: Option<f64>,
}

/// Reads one bar, keeping its text as received.
pub(crate) fn parse_bar(raw: &RawValue) -> Result<Bar, MarketDataError> {
    let w: WireBar = parse(raw.get())?;
    Ok(Bar {
        t: w.t,
        o: w.o,
        h: w.h,
        l: w.l,
        c: w.c,
        v: w.v,
        n: w.n,
        vw: w.vw,
        raw: raw.get().to_owned(),
    })
}

fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, MarketDataError> {
    serde_json::from_str(text).map_err(|_| {
        tracing::warn!("the data provider answered with a body Raptor cannot read");
        MarketDataError::BadGateway
    })
}

/// Alpaca's `message`, shortened; a generic text when there is none.
fn message_of(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    let message = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "the data provider refused the request".to_owned());
    message.chars().take(MAX_MESSAGE_CHARS).collect()
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
