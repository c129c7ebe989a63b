//! The in-memory cache of latest quotes, trades, bars and snapshots: one entry per kind and
//! symbol, holding Alpaca's object exactly as received (or the fact that Alpaca has none).
//!
//! The market-data actor writes it; [`super::MarketDataClient`] reads it directly, so a cache
//! hit never waits on the actor's mailbox. Entries live for a short TTL; the map is bounded.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::time::Instant;

use super::LatestKind;

/// Alpaca's object for one symbol, as received; `None` when Alpaca knows no such symbol.
pub type Found = Option<Arc<str>>;

struct Entry {
    value: Found,
    expires_at: Instant,
}

/// Shared between the actor (writes) and its client (reads).
#[derive(Clone, Default)]
pub struct LatestCache {
    entries: Arc<RwLock<[HashMap<String, Entry>; LatestKind::COUNT]>>,
}

impl LatestCache {
    /// The fresh entry for `symbol`, if any (`Some(None)`: fresh and absent at Alpaca).
    pub fn get(&self, kind: LatestKind, symbol: &str, now: Instant) -> Option<Found> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries[kind.index()]
            .get(symbol)
            .filter(|e| e.expires_at > now)
            .map(|e| e.value.clone())
    }

    /// Stores what one upstream answer said about each symbol it was asked for.
    pub fn put(
        &self,
        kind: LatestKind,
        found: impl IntoIterator<Item = (String, Found)>,
        expires_at: Instant,
        max_entries: usize,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let entries = &mut entries[kind.index()];
        if entries.len() >= max_entries {
            let now = Instant::now();
            entries.retain(|_, e| e.expires_at > now);
            if entries.len() >= max_entries {
                entries.clear();
            }
        }
        for (symbol, value) in found {
            entries.insert(symbol, Entry { value, expires_at });
        }
    }

    /// Entries cached, all kinds together.
    pub fn len(&self) -> usize {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.iter().map(HashMap::len).sum()
    }

    /// Nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
