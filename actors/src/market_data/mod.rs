//! The market-data actor: the one owner of the client to Alpaca's Market Data API, of the
//! in-memory cache of latest prices, and of the requests in flight.
//!
//! Every user shares the operator's one data account, so caching and coalescing are what keep
//! the product inside Alpaca's quota. A cache hit is read by [`MarketDataClient`] without the
//! mailbox. A miss is brought to the actor, which either joins a request already in flight for
//! the same key (single flight: fifty identical misses make one upstream call) or starts one on a
//! task of its own, under the outbound budget shared with trading ([`crate::outbound`]). The
//! mailbox only does bookkeeping; no I/O is awaited in it.
//!
//! Historical bars are fetched here too (following Alpaca's `next_page_token` to the end of the
//! range) and coalesced the same way; keeping them in Postgres is the main crate's business.

mod alpaca;
mod cache;
mod client;
mod config;
mod flight;
mod synthetic;
mod types;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::outbound::OutboundBudget;
use alpaca::DataClient;
pub use cache::{Found, LatestCache};
pub use client::{MarketDataCallError, MarketDataClient};
pub use config::{DataSource, MarketDataConfig};
use flight::{Flight, Flights};
pub use types::{Bar, BarsRequest, LatestKind, MarketDataError};

/// One flight per symbol asked for.
pub type LatestFlights = Vec<(String, Flight<Found>)>;

/// Internal and client messages.
pub enum MarketDataMsg {
    /// Latest objects of `symbols` (all missing from the cache): replies with one shared future
    /// per symbol, which the caller awaits outside the mailbox.
    Latest {
        /// Which endpoint.
        kind: LatestKind,
        /// The symbols to fetch.
        symbols: Vec<String>,
        /// The budget lane a fetch draws on: market data, or trading for pricing an order.
        lane: crate::outbound::Lane,
        /// One flight per symbol.
        reply: RpcReplyPort<Result<LatestFlights, MarketDataError>>,
    },
    /// Every bar of a range, oldest first: replies with a shared future.
    Bars {
        /// The range.
        request: BarsRequest,
        /// The flight to await.
        reply: RpcReplyPort<Result<Flight<std::sync::Arc<Vec<Bar>>>, MarketDataError>>,
    },
    /// A latest request landed: forget its flights.
    LatestLanded {
        /// Which endpoint.
        kind: LatestKind,
        /// The symbols it fetched.
        symbols: Vec<String>,
    },
    /// A bars request landed: forget its flight.
    BarsLanded(BarsRequest),
    /// Which source answers, for diagnostics.
    Source(RpcReplyPort<&'static str>),
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}

/// The market-data actor: answers latest quotes, trades and bars, from Alpaca or synthetic.
pub struct MarketData;

/// What the market-data actor starts with.
pub struct MarketDataArgs {
    /// Where data comes from and its bounds.
    pub config: MarketDataConfig,
    /// The outbound budget to Alpaca, shared with the broker.
    pub budget: OutboundBudget,
    /// The latest-values cache, shared with the client (it survives a restart).
    pub cache: LatestCache,
}

/// Who answers data requests.
#[derive(Clone)]
enum Backend {
    Alpaca(DataClient),
    Synthetic,
    Unconfigured,
}

/// The actor's state: its backend, the cache and the requests in flight.
pub struct MarketDataState {
    config: MarketDataConfig,
    backend: Backend,
    budget: OutboundBudget,
    cache: LatestCache,
    latest: [Flights<String, Found>; LatestKind::COUNT],
    bars: Flights<BarsRequest, std::sync::Arc<Vec<Bar>>>,
}

impl Actor for MarketData {
    type Msg = MarketDataMsg;
    type State = MarketDataState;
    type Arguments = MarketDataArgs;

    async fn pre_start(
        &self,
        _: ActorRef<MarketDataMsg>,
        args: MarketDataArgs,
    ) -> Result<MarketDataState, ActorProcessingErr> {
        let backend = match &args.config.source {
            DataSource::Alpaca { .. } => match DataClient::new(&args.config) {
                Ok(client) => Backend::Alpaca(client),
                Err(problem) => {
                    tracing::error!(problem, "the market-data client cannot be built");
                    Backend::Unconfigured
                }
            },
            DataSource::Synthetic => {
                tracing::warn!("SYNTHETIC market data: prices are made up, not Alpaca's");
                Backend::Synthetic
            }
            DataSource::Unconfigured => Backend::Unconfigured,
        };
        Ok(MarketDataState {
            config: args.config,
            backend,
            budget: args.budget,
            cache: args.cache,
            latest: Default::default(),
            bars: Flights::default(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<MarketDataMsg>,
        msg: MarketDataMsg,
        state: &mut MarketDataState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MarketDataMsg::Latest {
                kind,
                symbols,
                lane,
                reply,
            } => {
                let _ = reply.send(state.latest(myself, kind, symbols, lane));
            }
            MarketDataMsg::Bars { request, reply } => {
                let _ = reply.send(state.bars(myself, request));
            }
            MarketDataMsg::LatestLanded { kind, symbols } => {
                state.latest[kind.index()].forget(symbols);
            }
            MarketDataMsg::BarsLanded(request) => state.bars.forget([request]),
            MarketDataMsg::Source(reply) => {
                let _ = reply.send(state.config.source.as_str());
            }
            #[cfg(feature = "testing")]
            MarketDataMsg::Fault => panic!("fault injected into the market-data actor"),
        }
        Ok(())
    }
}

impl MarketDataState {
    fn latest(
        &mut self,
        myself: ActorRef<MarketDataMsg>,
        kind: LatestKind,
        symbols: Vec<String>,
        lane: crate::outbound::Lane,
    ) -> Result<LatestFlights, MarketDataError> {
        let backend = self.backend.clone();
        if matches!(backend, Backend::Unconfigured) {
            return Err(MarketDataError::Unavailable);
        }
        let flights = &mut self.latest[kind.index()];
        let missing: Vec<String> = symbols
            .iter()
            .filter(|s| !flights.contains(s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let budget = self.budget.clone();
            let cache = self.cache.clone();
            let (ttl, max) = (self.config.latest_ttl, self.config.max_cached);
            let asked = missing.clone();
            let batch = flight::start(async move {
                let result = match backend {
                    Backend::Alpaca(client) => client.latest(&budget, lane, kind, &asked).await,
                    Backend::Synthetic => Ok(synthetic::latest(kind, &asked)),
                    Backend::Unconfigured => Err(MarketDataError::Unavailable),
                };
                if let Ok(found) = &result {
                    let expires_at = tokio::time::Instant::now() + ttl;
                    let entries = asked.iter().map(|s| (s.clone(), found.get(s).cloned()));
                    cache.put(kind, entries, expires_at, max);
                }
                let _ = myself.send_message(MarketDataMsg::LatestLanded {
                    kind,
                    symbols: asked,
                });
                result.map(std::sync::Arc::new)
            });
            for symbol in missing {
                let batch = batch.clone();
                let key = symbol.clone();
                flights.insert(
                    symbol,
                    flight::map(batch, move |found| found.get(&key).cloned()),
                );
            }
        }
        Ok(symbols
            .into_iter()
            .filter_map(|s| flights.get(&s).map(|f| (s, f)))
            .collect())
    }

    fn bars(
        &mut self,
        myself: ActorRef<MarketDataMsg>,
        request: BarsRequest,
    ) -> Result<Flight<std::sync::Arc<Vec<Bar>>>, MarketDataError> {
        let backend = self.backend.clone();
        if matches!(backend, Backend::Unconfigured) {
            return Err(MarketDataError::Unavailable);
        }
        if let Some(flight) = self.bars.get(&request) {
            return Ok(flight);
        }
        let budget = self.budget.clone();
        let key = request.clone();
        let flight = flight::start(async move {
            let result = match backend {
                Backend::Alpaca(client) => client.bars(&budget, &key).await,
                Backend::Synthetic => Ok(synthetic::bars(&key)),
                Backend::Unconfigured => Err(MarketDataError::Unavailable),
            };
            let _ = myself.send_message(MarketDataMsg::BarsLanded(key));
            result.map(std::sync::Arc::new)
        });
        self.bars.insert(request, flight.clone());
        Ok(flight)
    }
}
