//! [`MarketDataClient`]: how use cases get market data. A fresh cached answer is read straight
//! from the shared cache; misses go to the actor, which coalesces them, and are awaited here,
//! outside its mailbox.

use std::sync::Arc;
use std::time::Duration;

use crate::outbound::Lane;
use crate::slot::{ActorUnavailable, Slot, DEFAULT_CALL_TIMEOUT};

use super::{Bar, BarsRequest, Found, LatestCache, LatestKind, MarketDataError, MarketDataMsg};

/// A market-data call failed: the actor is down, or the data could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketDataCallError {
    /// The actor is down or did not answer in time.
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
    /// The data provider failed.
    #[error(transparent)]
    Data(#[from] MarketDataError),
}

/// The market-data actor's client.
#[derive(Clone)]
pub struct MarketDataClient {
    slot: Slot<MarketDataMsg>,
    cache: LatestCache,
    /// Bound on waiting for an upstream answer (its turn under the budget, paging included).
    wait: Duration,
}

impl MarketDataClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("market data"),
            cache: LatestCache::default(),
            wait: Duration::from_secs(60),
        }
    }

    /// The actor's slot (for the supervisor, diagnostics and fault-injection tests).
    pub fn slot(&self) -> &Slot<MarketDataMsg> {
        &self.slot
    }

    /// The cache the actor fills and this client reads.
    pub fn cache(&self) -> &LatestCache {
        &self.cache
    }

    /// The latest object of each symbol, in the order asked; `None` for a symbol Alpaca does
    /// not know.
    pub async fn latest(
        &self,
        kind: LatestKind,
        symbols: &[String],
    ) -> Result<Vec<(String, Found)>, MarketDataCallError> {
        self.latest_on(Lane::MarketData, kind, symbols).await
    }

    /// [`Self::latest`] for pricing an order: a fetch draws on the trading lane, so charts
    /// refreshing cannot starve order submission of its price.
    pub async fn latest_for_order(
        &self,
        kind: LatestKind,
        symbols: &[String],
    ) -> Result<Vec<(String, Found)>, MarketDataCallError> {
        self.latest_on(Lane::Trading, kind, symbols).await
    }

    async fn latest_on(
        &self,
        lane: Lane,
        kind: LatestKind,
        symbols: &[String],
    ) -> Result<Vec<(String, Found)>, MarketDataCallError> {
        let now = tokio::time::Instant::now();
        let mut answers: Vec<(String, Option<Found>)> = symbols
            .iter()
            .map(|s| (s.clone(), self.cache.get(kind, s, now)))
            .collect();
        let missing: Vec<String> = answers
            .iter()
            .filter(|(_, found)| found.is_none())
            .map(|(s, _)| s.clone())
            .collect();
        if !missing.is_empty() {
            let flights = self
                .slot
                .ask(
                    |reply| MarketDataMsg::Latest {
                        kind,
                        symbols: missing,
                        lane,
                        reply,
                    },
                    DEFAULT_CALL_TIMEOUT,
                )
                .await??;
            for (symbol, flight) in flights {
                let found = self.land(flight).await?;
                if let Some(slot) = answers.iter_mut().find(|(s, _)| *s == symbol) {
                    slot.1 = Some(found);
                }
            }
        }
        Ok(answers
            .into_iter()
            .map(|(s, found)| (s, found.flatten()))
            .collect())
    }

    /// Every bar of the range from the provider (not from Postgres), oldest first.
    pub async fn bars(&self, request: BarsRequest) -> Result<Arc<Vec<Bar>>, MarketDataCallError> {
        let flight = self
            .slot
            .ask(
                |reply| MarketDataMsg::Bars { request, reply },
                DEFAULT_CALL_TIMEOUT,
            )
            .await??;
        self.land(flight).await
    }

    /// Which source answers (`alpaca`, `synthetic`, `unconfigured`).
    pub async fn source(&self) -> Result<&'static str, ActorUnavailable> {
        self.slot
            .ask(MarketDataMsg::Source, DEFAULT_CALL_TIMEOUT)
            .await
    }

    async fn land<T: Clone>(
        &self,
        flight: super::flight::Flight<T>,
    ) -> Result<T, MarketDataCallError> {
        match tokio::time::timeout(self.wait, flight).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(MarketDataError::Timeout.into()),
        }
    }
}
