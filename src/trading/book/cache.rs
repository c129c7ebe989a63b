//! Each web process's cache of the books it reads: a user's book rows (cash, positions, what
//! open orders reserve, the last close) and their first page of open orders, so a signed-in
//! client polling its account or orders costs no database round trip.
//!
//! A write anywhere invalidates it: triggers on `books`, `book_positions` and `orders` send
//! `pg_notify('raptor_books', user_id)` (migration V13), every web process LISTENs
//! ([`BookCache::listen`]) and drops that user's entry; a reconnect of the listener drops
//! everything (notifications may have been missed). This process also drops an entry itself as
//! soon as it changes the user's book or orders, so a client never reads its own write stale.
//! An entry lives at most [`TTL`] in any case.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raptor_actors::pg::listen::{self, Notice};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

/// The longest an entry is trusted without a notification.
pub const TTL: Duration = Duration::from_secs(5);
/// Users cached at most; beyond, the cache starts over.
const MAX_ENTRIES: usize = 10_000;
/// The channel the triggers notify.
pub const CHANNEL: &str = "raptor_books";

/// What is cached for one user.
#[derive(Default)]
struct Entry<B, O> {
    book: Option<(Instant, Arc<B>)>,
    open_orders: Option<(Instant, Arc<O>)>,
}

/// A per-process cache of books (`B`) and default open-order pages (`O`).
pub struct Cache<B, O> {
    entries: Mutex<HashMap<Uuid, Entry<B, O>>>,
}

impl<B, O> Default for Cache<B, O> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<B, O> Cache<B, O> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry<B, O>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn book(&self, user_id: Uuid) -> Option<Arc<B>> {
        let entries = self.lock();
        let (at, book) = entries.get(&user_id)?.book.as_ref()?;
        (at.elapsed() < TTL).then(|| book.clone())
    }

    pub fn put_book(&self, user_id: Uuid, book: Arc<B>) {
        self.entry(user_id, |e| e.book = Some((Instant::now(), book)));
    }

    pub fn open_orders(&self, user_id: Uuid) -> Option<Arc<O>> {
        let entries = self.lock();
        let (at, page) = entries.get(&user_id)?.open_orders.as_ref()?;
        (at.elapsed() < TTL).then(|| page.clone())
    }

    pub fn put_open_orders(&self, user_id: Uuid, page: Arc<O>) {
        self.entry(user_id, |e| e.open_orders = Some((Instant::now(), page)));
    }

    fn entry(&self, user_id: Uuid, set: impl FnOnce(&mut Entry<B, O>)) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&user_id) {
            entries.clear();
        }
        let entry = entries.entry(user_id).or_insert_with(|| Entry {
            book: None,
            open_orders: None,
        });
        set(entry);
    }

    /// Drops what is cached for `user_id`.
    pub fn forget(&self, user_id: Uuid) {
        self.lock().remove(&user_id);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl<B: Send + Sync + 'static, O: Send + Sync + 'static> Cache<B, O> {
    /// LISTENs for the triggers' notifications on a connection of its own.
    pub fn listen(self: &Arc<Self>, config: tokio_postgres::Config) -> JoinHandle<()> {
        let cache = Arc::downgrade(self);
        listen::spawn(config, CHANNEL, move |notice| {
            let Some(cache) = cache.upgrade() else {
                return false;
            };
            match notice {
                Notice::Payload(user) => match user.parse() {
                    Ok(user_id) => cache.forget(user_id),
                    Err(_) => cache.clear(),
                },
                Notice::Resync => cache.clear(),
            }
            true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_forgotten_per_user() {
        let cache: Cache<u32, u32> = Cache::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        cache.put_book(a, Arc::new(1));
        cache.put_open_orders(a, Arc::new(2));
        cache.put_book(b, Arc::new(3));
        cache.forget(a);
        assert!(cache.book(a).is_none() && cache.open_orders(a).is_none());
        assert_eq!(cache.book(b).as_deref(), Some(&3));
        cache.clear();
        assert!(cache.book(b).is_none());
    }
}
