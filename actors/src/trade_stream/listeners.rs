//! The stream actor's listeners: who listens, for whom, under which session, and each one's
//! bounded queue. An event goes only to its owner's listeners and to those that see every
//! event (operators), so dispatching costs what its audience is, not the number of streams.
//!
//! Each user keeps at most `per_user` listeners in this process: a new one closes that user's
//! oldest with [`StreamItem::Replaced`]. A listener whose queue is full (a client that does not
//! keep up) is dropped: its queue ends, so does its stream. Ending a listener means dropping its
//! sender: the client reads what was queued (the final item included), then the end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::event::{StreamItem, TradeEvent};

/// Whose events a listener gets, and the session it lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience {
    /// The signed-in user (counted against the per-user cap).
    pub user_id: Uuid,
    /// The session the stream was opened with: the stream ends when it does.
    pub session_id: Uuid,
    /// Every event, whoever placed the order (operators).
    pub sees_all: bool,
}

impl Audience {
    /// Whether an event of an order placed by `owner` is for this listener.
    pub fn sees(&self, owner: Option<Uuid>) -> bool {
        self.sees_all || owner == Some(self.user_id)
    }
}

struct Listener {
    audience: Audience,
    tx: mpsc::Sender<StreamItem>,
}

/// Every listener of this process.
pub(super) struct Listeners {
    per_user: usize,
    queue: usize,
    next_id: u64,
    /// By id: oldest first.
    all: BTreeMap<u64, Listener>,
    /// Each user's listener ids, oldest first.
    by_user: HashMap<Uuid, Vec<u64>>,
    /// Listeners that see every event.
    see_all: HashSet<u64>,
}

impl Listeners {
    /// No listener yet; at most `per_user` per user, `queue` items queued per listener.
    pub(super) fn new(per_user: usize, queue: usize) -> Self {
        Self {
            per_user: per_user.max(1),
            queue: queue.max(1),
            next_id: 0,
            all: BTreeMap::new(),
            by_user: HashMap::new(),
            see_all: HashSet::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Adds a listener; closes the user's oldest beyond the cap. Its id and its queue.
    pub(super) fn add(&mut self, audience: Audience) -> (u64, mpsc::Receiver<StreamItem>) {
        let (tx, rx) = mpsc::channel(self.queue);
        let id = self.next_id;
        self.next_id += 1;
        self.all.insert(id, Listener { audience, tx });
        if audience.sees_all {
            self.see_all.insert(id);
        }
        let mine = self.by_user.entry(audience.user_id).or_default();
        mine.push(id);
        let excess = mine.len().saturating_sub(self.per_user);
        let oldest: Vec<u64> = mine.iter().take(excess).copied().collect();
        for old in oldest {
            tracing::info!("a stream was closed: its user opened more than the cap");
            self.end(old, Some(StreamItem::Replaced));
        }
        (id, rx)
    }

    /// Forgets listener `id` (its client left), without a final item.
    pub(super) fn remove(&mut self, id: u64) {
        self.end(id, None);
    }

    /// Sends the event to its owner's listeners and to those that see all.
    pub(super) fn dispatch(&mut self, event: &Arc<TradeEvent>, owner: Option<Uuid>) {
        let mut targets: Vec<u64> = self.see_all.iter().copied().collect();
        if let Some(ids) = owner.and_then(|owner| self.by_user.get(&owner)) {
            targets.extend(ids.iter().filter(|id| !self.see_all.contains(*id)));
        }
        for id in targets {
            let Some(listener) = self.all.get(&id) else {
                continue;
            };
            match listener.tx.try_send(StreamItem::Event(event.clone())) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::info!("a slow order stream client was dropped");
                    self.end(id, None);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.end(id, None),
            }
        }
    }

    /// Ends every listener with `item` (the kill switch).
    pub(super) fn end_all(&mut self, item: &StreamItem) {
        let ids: Vec<u64> = self.all.keys().copied().collect();
        for id in ids {
            self.end(id, Some(item.clone()));
        }
    }

    /// Ends the listeners of these sessions with [`StreamItem::SessionEnded`]; how many.
    pub(super) fn end_sessions(&mut self, sessions: &[Uuid]) -> usize {
        let sessions: HashSet<&Uuid> = sessions.iter().collect();
        let ids: Vec<u64> = (self.all.iter())
            .filter(|(_, l)| sessions.contains(&l.audience.session_id))
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.end(*id, Some(StreamItem::SessionEnded));
        }
        ids.len()
    }

    /// The sessions that have a listener.
    pub(super) fn sessions(&self) -> Vec<Uuid> {
        let set: HashSet<Uuid> = self.all.values().map(|l| l.audience.session_id).collect();
        set.into_iter().collect()
    }

    /// Removes listener `id`, after queueing `last` for it when there is room.
    fn end(&mut self, id: u64, last: Option<StreamItem>) {
        let Some(listener) = self.all.remove(&id) else {
            return;
        };
        if let Some(item) = last {
            let _ = listener.tx.try_send(item);
        }
        self.see_all.remove(&id);
        let user = listener.audience.user_id;
        if let Some(ids) = self.by_user.get_mut(&user) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_user.remove(&user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audience(user_id: Uuid, sees_all: bool) -> Audience {
        Audience {
            user_id,
            session_id: Uuid::new_v4(),
            sees_all,
        }
    }

    fn event(id: u64) -> Arc<TradeEvent> {
        let data = format!(r#"{{"event":"new","order":{{"id":"o{id}","client_order_id":"c"}}}}"#);
        Arc::new(super::super::event::event_from(id, &data).unwrap())
    }

    #[test]
    fn an_event_reaches_its_owner_and_operators_only() {
        let (alice, bob, ops) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut listeners = Listeners::new(5, 8);
        let (_, mut a) = listeners.add(audience(alice, false));
        let (_, mut b) = listeners.add(audience(bob, false));
        let (_, mut o) = listeners.add(audience(ops, true));
        listeners.dispatch(&event(1), Some(alice));
        listeners.dispatch(&event(2), None);
        assert!(matches!(a.try_recv(), Ok(StreamItem::Event(e)) if e.id == 1));
        assert!(a.try_recv().is_err());
        assert!(b.try_recv().is_err());
        assert!(matches!(o.try_recv(), Ok(StreamItem::Event(e)) if e.id == 1));
        assert!(matches!(o.try_recv(), Ok(StreamItem::Event(e)) if e.id == 2));
    }

    #[test]
    fn a_user_past_the_cap_loses_their_oldest_stream_with_a_notice() {
        let user = Uuid::new_v4();
        let mut listeners = Listeners::new(2, 8);
        let (_, mut first) = listeners.add(audience(user, false));
        let (_, mut second) = listeners.add(audience(user, false));
        let (_, mut third) = listeners.add(audience(Uuid::new_v4(), false));
        let (_, mut fourth) = listeners.add(audience(user, false));
        assert_eq!(listeners.all.len(), 3);
        assert!(matches!(first.try_recv(), Ok(StreamItem::Replaced)));
        assert!(matches!(
            first.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        for open in [&mut second, &mut third, &mut fourth] {
            assert!(matches!(
                open.try_recv(),
                Err(mpsc::error::TryRecvError::Empty)
            ));
        }
    }

    #[test]
    fn a_listener_that_does_not_keep_up_is_dropped_and_its_queue_ends() {
        let user = Uuid::new_v4();
        let mut listeners = Listeners::new(5, 2);
        let (_, mut slow) = listeners.add(audience(user, false));
        for id in 0..3 {
            listeners.dispatch(&event(id), Some(user));
        }
        assert_eq!(listeners.all.len(), 0);
        assert!(slow.try_recv().is_ok());
        assert!(slow.try_recv().is_ok());
        assert!(matches!(
            slow.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn ending_a_session_ends_its_streams_only() {
        let user = Uuid::new_v4();
        let mut listeners = Listeners::new(5, 8);
        let gone = audience(user, false);
        let (_, mut ended) = listeners.add(gone);
        let (_, mut other) = listeners.add(audience(user, false));
        assert_eq!(listeners.sessions().len(), 2);
        assert_eq!(listeners.end_sessions(&[gone.session_id]), 1);
        assert!(matches!(ended.try_recv(), Ok(StreamItem::SessionEnded)));
        assert!(ended.try_recv().is_err());
        assert!(matches!(
            other.try_recv(),
            Err(mpsc::error::TryRecvError::Empty)
        ));
        listeners.end_all(&StreamItem::TradingDisabled("stop".into()));
        assert!(matches!(
            other.try_recv(),
            Ok(StreamItem::TradingDisabled(_))
        ));
        assert_eq!(listeners.all.len(), 0);
    }
}
