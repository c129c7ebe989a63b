//! Alpaca's paper Trading API v2: the only code that knows its URLs, headers and JSON.
//!
//! One pooled `reqwest` client (rustls) per configuration, with a connect timeout and a
//! whole-request timeout. Bodies are passed through as the exact text Alpaca sent, checked to be
//! JSON but never re-encoded, so decimal strings stay byte for byte and fields that arrive as
//! numbers or nulls cannot break anything. Idempotent GETs are retried once when the connection
//! failed; a POST is never retried (its client order id makes a deliberate retry safe instead).
//! Errors are mapped to [`BrokerError`] here, and logged without URL or headers, so neither the
//! keys nor the host can leak.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use super::asset::{self, BrokerAsset};
use super::config::{BrokerConfig, LIVE_HOST};
use super::market::{self, CalendarDay, MarketClock};
use super::ticket::{OrderId, OrderListing, OrderTicket, ReplaceTicket};
use super::types::{BrokerError, BrokerJson, PlacedOrder};

/// Longest refusal message passed on to a client.
const MAX_MESSAGE_CHARS: usize = 300;

/// The client to one Alpaca paper account.
#[derive(Clone)]
pub(crate) struct AlpacaClient {
    http: reqwest::Client,
    base: Url,
    /// Told what Alpaca says about its own count after every answer.
    budget: Option<crate::outbound::OutboundBudget>,
}

impl AlpacaClient {
    /// Builds the client for `config`; `Err` says why it cannot exist (never with a secret).
    pub fn new(config: &BrokerConfig) -> Result<Self, String> {
        let base = Url::parse(&config.base_url).map_err(|_| "the base URL is not a URL")?;
        if base
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(LIVE_HOST))
        {
            return Err("refusing Alpaca's live trading host".into());
        }
        let (Some(key), Some(secret)) = (&config.api_key, &config.api_secret) else {
            return Err("credentials not configured".into());
        };
        let http = crate::alpaca_http::client(key, secret, config.request_timeout)?;
        Ok(Self {
            http,
            base,
            budget: None,
        })
    }

    /// The same client, telling `budget` about Alpaca's rate-limit headers.
    pub fn observed_by(mut self, budget: &crate::outbound::OutboundBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }

    /// `GET /v2/account`.
    pub async fn account(&self) -> Result<BrokerJson, BrokerError> {
        self.get_json("/v2/account", &[]).await
    }

    /// `GET /v2/positions`.
    pub async fn positions(&self) -> Result<BrokerJson, BrokerError> {
        self.get_json("/v2/positions", &[]).await
    }

    /// `GET /v2/orders` as `listing` asks (`status`, `limit`, `after`, `direction`, `nested`).
    pub async fn orders(&self, listing: &OrderListing) -> Result<BrokerJson, BrokerError> {
        let direction = if listing.ascending { "asc" } else { "desc" };
        let mut params = vec![
            ("status", listing.status.as_str().to_owned()),
            ("limit", listing.limit.to_string()),
            ("direction", direction.to_owned()),
            ("nested", listing.nested.to_string()),
        ];
        if let Some(after) = listing.after {
            params.push((
                "after",
                after.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            ));
        }
        self.get_json("/v2/orders", &params).await
    }

    /// `POST /v2/orders`. Never retried.
    pub async fn submit(
        &self,
        ticket: &OrderTicket,
        client_order_id: &str,
    ) -> Result<PlacedOrder, BrokerError> {
        let body = WireOrder::new(ticket, client_order_id);
        let request = self.http.post(self.url("/v2/orders")).json(&body);
        let (status, text) = self.send(request).await?;
        placed(status, text)
    }

    /// `GET /v2/orders:by_client_order_id`: the order sent under `client_order_id`, if any.
    pub async fn find(&self, client_order_id: &str) -> Result<PlacedOrder, BrokerError> {
        let params = [("client_order_id", client_order_id.to_owned())];
        let (status, text) = self
            .get_with_retry("/v2/orders:by_client_order_id", &params)
            .await?;
        placed(status, text)
    }

    /// `DELETE /v2/orders/{id}`. Retried once on a connection failure: cancelling twice is
    /// harmless.
    pub async fn cancel(&self, order_id: OrderId) -> Result<(), BrokerError> {
        let path = format!("/v2/orders/{order_id}");
        let mut result = self.send(self.http.delete(self.url(&path))).await;
        if matches!(result, Err(BrokerError::Unreachable)) {
            result = self.send(self.http.delete(self.url(&path))).await;
        }
        let (status, text) = result?;
        if status.is_success() {
            Ok(())
        } else {
            Err(failure(status, &text))
        }
    }

    /// `PATCH /v2/orders/{id}`: the replacement order. Never retried (its client order id makes
    /// a deliberate retry safe instead).
    pub async fn replace(
        &self,
        order_id: OrderId,
        ticket: &ReplaceTicket,
    ) -> Result<PlacedOrder, BrokerError> {
        let path = format!("/v2/orders/{order_id}");
        let body = wire::WireReplace::new(ticket);
        let request = self.http.patch(self.url(&path)).json(&body);
        let (status, text) = self.send(request).await?;
        placed(status, text)
    }

    /// `GET /v2/clock`.
    pub async fn clock(&self) -> Result<MarketClock, BrokerError> {
        market::parse_clock(self.get_json("/v2/clock", &[]).await?.as_str())
    }

    /// `GET /v2/calendar?start=&end=`.
    pub async fn calendar(
        &self,
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
    ) -> Result<Vec<CalendarDay>, BrokerError> {
        let params = [("start", start.to_string()), ("end", end.to_string())];
        market::parse_calendar(self.get_json("/v2/calendar", &params).await?.as_str())
    }

    /// `GET /v2/assets?status=active&asset_class=…`: the active assets of one class.
    pub async fn assets(&self, class: &str) -> Result<Vec<BrokerAsset>, BrokerError> {
        let params = [
            ("status", "active".to_owned()),
            ("asset_class", class.to_owned()),
        ];
        let (status, text) = self.get_with_retry("/v2/assets", &params).await?;
        if !status.is_success() {
            return Err(failure(status, &text));
        }
        asset::parse_list(&text)
    }

    /// `GET /v2/assets/{symbol}` (the symbol one path segment, `/` escaped); `NotFound` for a
    /// symbol Alpaca does not know.
    pub async fn asset(&self, symbol: &str) -> Result<BrokerAsset, BrokerError> {
        let mut url = self.url("/v2/assets");
        url.path_segments_mut()
            .map_err(|()| BrokerError::BadGateway)?
            .push(symbol);
        let request = || self.http.request(Method::GET, url.clone());
        let (status, text) = match self.send(request()).await {
            Err(BrokerError::Unreachable) => self.send(request()).await,
            other => other,
        }?;
        if !status.is_success() {
            return Err(failure(status, &text));
        }
        asset::parse_one(&text)
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    async fn get_json(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<BrokerJson, BrokerError> {
        let (status, text) = self.get_with_retry(path, params).await?;
        if status.is_success() {
            BrokerJson::parse(text)
        } else {
            Err(failure(status, &text))
        }
    }

    async fn get_with_retry(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<(StatusCode, String), BrokerError> {
        let request = || self.http.request(Method::GET, self.url(path)).query(params);
        match self.send(request()).await {
            Err(BrokerError::Unreachable) => self.send(request()).await,
            other => other,
        }
    }
}

impl AlpacaClient {
    /// Sends one request; the error never carries the URL or a header.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, String), BrokerError> {
        let response = request.send().await.map_err(transport)?;
        if let Some(budget) = &self.budget {
            budget.observe(response.status().as_u16(), response.headers());
        }
        read(response).await
    }
}

async fn read(response: reqwest::Response) -> Result<(StatusCode, String), BrokerError> {
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let text = response.text().await.map_err(transport)?;
    if status == StatusCode::TOO_MANY_REQUESTS {
        tracing::warn!("alpaca is rate limiting the paper account");
        return Err(BrokerError::RateLimited { retry_after });
    }
    Ok((status, text))
}

fn transport(error: reqwest::Error) -> BrokerError {
    let error = error.without_url();
    if error.is_timeout() {
        tracing::warn!(%error, "alpaca request timed out");
        BrokerError::Timeout
    } else {
        tracing::warn!(%error, "alpaca request failed");
        BrokerError::Unreachable
    }
}

/// How long Alpaca asks us to wait: `Retry-After`, else until `X-RateLimit-Reset`, else 5 s;
/// between 1 s and a minute.
fn retry_after(headers: &HeaderMap) -> Duration {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let secs = number("retry-after")
        .or_else(|| number("x-ratelimit-reset").map(|reset| reset - chrono::Utc::now().timestamp()))
        .unwrap_or(5);
    Duration::from_secs(secs.clamp(1, 60) as u64)
}

/// Maps an Alpaca error answer (not 429, handled in [`send`]).
fn failure(status: StatusCode, text: &str) -> BrokerError {
    match status {
        StatusCode::NOT_FOUND => BrokerError::NotFound,
        StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY => {
            refusal(status.as_u16(), text)
        }
        other => {
            tracing::warn!(
                status = other.as_u16(),
                "alpaca answered with an unexpected status"
            );
            BrokerError::BadGateway
        }
    }
}

/// An order answer: accepted with its body, or refused.
fn placed(status: StatusCode, text: String) -> Result<PlacedOrder, BrokerError> {
    if !status.is_success() {
        return Err(failure(status, &text));
    }
    #[derive(Deserialize)]
    struct Ids {
        id: Option<serde_json::Value>,
    }
    let order_id = serde_json::from_str::<Ids>(&text)
        .ok()
        .and_then(|ids| ids.id)
        .and_then(|id| id.as_str().map(str::to_owned));
    Ok(PlacedOrder {
        order_id,
        body: BrokerJson::parse(text)?,
    })
}

/// Alpaca refused a request (400, 403, 422): its message, shortened, and the body as received.
pub fn refusal(status: u16, body: &str) -> BrokerError {
    #[derive(Deserialize)]
    struct AlpacaError {
        message: Option<String>,
    }
    let message = serde_json::from_str::<AlpacaError>(body)
        .ok()
        .and_then(|e| e.message)
        .map(|m| {
            m.chars()
                .filter(|c| !c.is_control())
                .take(MAX_MESSAGE_CHARS)
                .collect()
        })
        .filter(|m: &String| !m.trim().is_empty())
        .unwrap_or_else(|| "the broker refused the request".to_owned());
    BrokerError::Refused {
        status,
        message,
        body: body.to_owned(),
    }
}

mod wire;
use wire::WireOrder;

#[cfg(test)]
mod tests;
