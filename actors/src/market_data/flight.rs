//! Single flight: one upstream request per key, however many callers want its answer.
//!
//! A [`Flight`] is a cloneable handle on a request running on a task of its own; every caller
//! awaits a clone, and all get the same result. The actor keeps the flights in progress in
//! [`Flights`] and forgets each one when it lands (the cache or Postgres holds the answer by
//! then).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use futures_util::future::{BoxFuture, FutureExt, Shared};

use super::MarketDataError;

/// The shared answer of one upstream request.
pub type Flight<T> = Shared<BoxFuture<'static, Result<T, MarketDataError>>>;

/// Starts `work` on its own task, so it completes even if every caller goes away.
pub fn start<T, F>(work: F) -> Flight<T>
where
    T: Clone + Send + Sync + 'static,
    F: Future<Output = Result<T, MarketDataError>> + Send + 'static,
{
    let task = tokio::spawn(work);
    async move {
        task.await.unwrap_or_else(|_| {
            tracing::error!("a market-data request task failed");
            Err(MarketDataError::BadGateway)
        })
    }
    .boxed()
    .shared()
}

/// A flight whose answer is a part of another's.
pub fn map<T, U>(flight: Flight<T>, part: impl FnOnce(T) -> U + Send + 'static) -> Flight<U>
where
    T: Clone + Send + Sync + 'static,
    U: Clone + Send + Sync + 'static,
{
    async move { flight.await.map(part) }.boxed().shared()
}

/// The flights in progress, by key.
pub struct Flights<K, V: Clone> {
    running: HashMap<K, Flight<V>>,
}

impl<K, V: Clone> Default for Flights<K, V> {
    fn default() -> Self {
        Self {
            running: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Flights<K, V> {
    pub fn contains(&self, key: &K) -> bool {
        self.running.contains_key(key)
    }

    pub fn get(&self, key: &K) -> Option<Flight<V>> {
        self.running.get(key).cloned()
    }

    pub fn insert(&mut self, key: K, flight: Flight<V>) {
        self.running.insert(key, flight);
    }

    pub fn forget(&mut self, keys: impl IntoIterator<Item = K>) {
        for key in keys {
            self.running.remove(&key);
        }
    }
}
