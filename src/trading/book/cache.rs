//! Each web process's cache of the books it reads: a user's book rows (cash, positions, what
//! open orders reserve, the last close) and their first page of open orders, so a signed-in
//! client polling its account or orders costs no database round trip.
//!
//! A write anywhere invalidates it: triggers on `books`, `book_positions` and `orders` send
//! `pg_notify('raptor_books', user_id)` (migration V13), every web process LISTENs
//! ([`BookCache::listen`]) and drops that user's entry; a reconnect of the listener drops
//! everything (notifications may have been missed). This process also drops an entry itself as
//! soon as it changes the user's book or orders, so a client never reads its own write stale.
//! A read that began before such a drop never stores what it read ([`Ticket`]): it may have
//! missed the write that caused the drop. An entry lives at most [`TTL`] in any case.

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
struct Entry<B, O> {
    book: Option<(Instant, Arc<B>)>,
    open_orders: Option<(Instant, Arc<O>)>,
    /// The cache's clock when this user's entry was last forgotten.
    forgotten: u64,
}

impl<B, O> Default for Entry<B, O> {
    fn default() -> Self {
        Self {
            book: None,
            open_orders: None,
            forgotten: 0,
        }
    }
}

/// The entries and a logical clock that ticks at every forget, so a read that began before a
/// forget never stores what it read ([`Ticket`]).
struct State<B, O> {
    entries: HashMap<Uuid, Entry<B, O>>,
    clock: u64,
    /// The clock when everything was last forgotten.
    cleared: u64,
}

/// Taken before reading a user's rows from Postgres, and shown when storing them: what was read
/// is stored only if nothing about that user was forgotten in between (a write that committed
/// while the read was under way may not be in it, and its notification has already passed).
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    user_id: Uuid,
    taken: u64,
}

/// A per-process cache of books (`B`) and default open-order pages (`O`).
pub struct Cache<B, O> {
    state: Mutex<State<B, O>>,
}

impl<B, O> Default for Cache<B, O> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                entries: HashMap::new(),
                clock: 0,
                cleared: 0,
            }),
        }
    }
}

impl<B, O> Cache<B, O> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<B, O>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take one before reading `user_id`'s rows that are to be stored here.
    pub fn ticket(&self, user_id: Uuid) -> Ticket {
        Ticket {
            user_id,
            taken: self.lock().clock,
        }
    }

    pub fn book(&self, user_id: Uuid) -> Option<Arc<B>> {
        let state = self.lock();
        let (at, book) = state.entries.get(&user_id)?.book.as_ref()?;
        (at.elapsed() < TTL).then(|| book.clone())
    }

    /// Stores a book read after `ticket` was taken, unless it may be stale.
    pub fn put_book(&self, ticket: Ticket, book: Arc<B>) {
        self.entry(ticket, |e| e.book = Some((Instant::now(), book)));
    }

    pub fn open_orders(&self, user_id: Uuid) -> Option<Arc<O>> {
        let state = self.lock();
        let (at, page) = state.entries.get(&user_id)?.open_orders.as_ref()?;
        (at.elapsed() < TTL).then(|| page.clone())
    }

    /// Stores a page read after `ticket` was taken, unless it may be stale.
    pub fn put_open_orders(&self, ticket: Ticket, page: Arc<O>) {
        self.entry(ticket, |e| e.open_orders = Some((Instant::now(), page)));
    }

    fn entry(&self, ticket: Ticket, set: impl FnOnce(&mut Entry<B, O>)) {
        let mut state = self.lock();
        if state.cleared > ticket.taken {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES && !state.entries.contains_key(&ticket.user_id) {
            state.clock += 1;
            state.cleared = state.clock;
            state.entries.clear();
            return;
        }
        let entry = state.entries.entry(ticket.user_id).or_default();
        if entry.forgotten <= ticket.taken {
            set(entry);
        }
    }

    /// Drops what is cached for `user_id`, and what any read under way would store.
    pub fn forget(&self, user_id: Uuid) {
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        if let Some(entry) = state.entries.get_mut(&user_id) {
            *entry = Entry {
                forgotten: now,
                ..Entry::default()
            };
        } else if state.entries.len() >= MAX_ENTRIES {
            state.cleared = now;
            state.entries.clear();
        } else {
            // No entry: a read under way holds a ticket older than `now`; remember the forget.
            state.entries.insert(
                user_id,
                Entry {
                    forgotten: now,
                    ..Entry::default()
                },
            );
        }
    }

    /// Drops everything, and what any read under way would store.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.clock += 1;
        state.cleared = state.clock;
        state.entries.clear();
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
        cache.put_book(cache.ticket(a), Arc::new(1));
        cache.put_open_orders(cache.ticket(a), Arc::new(2));
        cache.put_book(cache.ticket(b), Arc::new(3));
        cache.forget(a);
        assert!(cache.book(a).is_none() && cache.open_orders(a).is_none());
        assert_eq!(cache.book(b).as_deref(), Some(&3));
        cache.clear();
        assert!(cache.book(b).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_forget_is_not_stored() {
        let cache: Cache<u32, u32> = Cache::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // A read of `a` begins; a write to `a` commits and is forgotten; the read ends.
        let stale = cache.ticket(a);
        let other = cache.ticket(b);
        cache.forget(a);
        cache.put_book(stale, Arc::new(1));
        cache.put_open_orders(stale, Arc::new(1));
        assert!(cache.book(a).is_none() && cache.open_orders(a).is_none());
        // Another user's read is not affected; a read that began after the forget is stored.
        cache.put_book(other, Arc::new(2));
        assert_eq!(cache.book(b).as_deref(), Some(&2));
        cache.put_book(cache.ticket(a), Arc::new(3));
        assert_eq!(cache.book(a).as_deref(), Some(&3));
        // Forgetting everything (a listener reconnect) stops every read under way.
        let before_clear = cache.ticket(b);
        cache.clear();
        cache.put_book(before_clear, Arc::new(4));
        assert!(cache.book(b).is_none());
    }
}
