use std::time::Duration;

use super::*;
use crate::broker::BrokerClient;
use crate::session::SessionClient;

struct NoSink;

impl TradeSink for NoSink {
    fn record(&self, _: Arc<TradeEvent>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
    fn owners(
        &self,
        events: Vec<Arc<TradeEvent>>,
    ) -> Pin<Box<dyn Future<Output = Vec<Option<Uuid>>> + Send>> {
        Box::pin(async move { vec![None; events.len()] })
    }
    fn follows(&self) -> Pin<Box<dyn Future<Output = bool> + Send>> {
        Box::pin(async { false })
    }
    fn resumed(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
}

fn data(n: usize) -> String {
    format!(r#"{{"event":"new","order":{{"id":"o{n}","client_order_id":"c{n}","status":"new"}}}}"#)
}

async fn start(replay: usize, lag: usize) -> ActorRef<TradeStreamMsg> {
    let mut config = TradeStreamConfig::new(StreamSource::Off);
    config.replay = replay;
    config.lag = lag;
    config.tick = Duration::from_secs(3600);
    let args = TradeStreamArgs {
        config,
        sink: Arc::new(NoSink),
        broker: BrokerClient::new(),
        sessions: SessionClient::new(),
    };
    Actor::spawn(None, TradeStream, args).await.unwrap().0
}

/// An operator's subscription: every event.
async fn subscribe(actor: &ActorRef<TradeStreamMsg>, after: Option<u64>) -> Subscription {
    let audience = Audience {
        user_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
        sees_all: true,
    };
    ractor::call!(actor, |reply| TradeStreamMsg::Subscribe {
        audience,
        last_event_id: after,
        reply
    })
    .unwrap()
}

#[tokio::test]
async fn a_client_resumes_from_the_bounded_replay_buffer() {
    let actor = start(3, 16).await;
    let mut first = subscribe(&actor, None).await;
    for n in 0..5 {
        actor.cast(TradeStreamMsg::Data(data(n))).unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..5 {
        let Some(StreamItem::Event(event)) = first.live.recv().await else {
            panic!("an event")
        };
        ids.push(event.id);
    }
    // Resume after the fourth event: the fifth is replayed.
    let resumed = subscribe(&actor, Some(ids[3])).await;
    assert!(resumed.resumed);
    assert_eq!(resumed.replay.len(), 1);
    assert_eq!(resumed.replay[0].id, ids[4]);
    // The first event fell out of the buffer: the client is told it may have missed some.
    let gone = subscribe(&actor, Some(ids[0])).await;
    assert!(!gone.resumed);
    assert!(gone.replay.is_empty());
    // The newest event: nothing missed.
    assert!(subscribe(&actor, Some(ids[4])).await.resumed);
    actor.stop(None);
}

#[tokio::test]
async fn a_client_that_falls_behind_lags_instead_of_growing_memory() {
    let actor = start(8, 4).await;
    let mut slow = subscribe(&actor, None).await;
    for n in 0..10 {
        actor.cast(TradeStreamMsg::Data(data(n))).unwrap();
    }
    let mut received = 0;
    while let Some(item) = slow.live.recv().await {
        assert!(matches!(item, StreamItem::Event(_)));
        received += 1;
    }
    // The queue held `lag` events, then ended instead of growing.
    assert_eq!(received, 4);
    actor.stop(None);
}

/// Events `c<n>` with an even `n` are Alice's, the others Bob's; counts the owner lookups.
struct Owners {
    alice: Uuid,
    bob: Uuid,
    lookups: std::sync::atomic::AtomicUsize,
}

impl TradeSink for Owners {
    fn record(&self, _: Arc<TradeEvent>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
    fn owners(
        &self,
        events: Vec<Arc<TradeEvent>>,
    ) -> Pin<Box<dyn Future<Output = Vec<Option<Uuid>>> + Send>> {
        self.lookups
            .fetch_add(events.len(), std::sync::atomic::Ordering::SeqCst);
        let owners = events
            .iter()
            .map(|event| {
                let n: usize = event.client_order_id.as_deref().unwrap_or("c1")[1..]
                    .parse()
                    .unwrap_or(1);
                Some(if n % 2 == 0 { self.alice } else { self.bob })
            })
            .collect();
        Box::pin(async move { owners })
    }
    fn follows(&self) -> Pin<Box<dyn Future<Output = bool> + Send>> {
        Box::pin(async { false })
    }
    fn resumed(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
}

#[tokio::test]
async fn one_owner_lookup_per_event_whatever_the_number_of_streams() {
    let owners = Arc::new(Owners {
        alice: Uuid::new_v4(),
        bob: Uuid::new_v4(),
        lookups: Default::default(),
    });
    let mut config = TradeStreamConfig::new(StreamSource::Off);
    config.tick = Duration::from_secs(3600);
    config.per_user = 100;
    let args = TradeStreamArgs {
        config,
        sink: owners.clone(),
        broker: BrokerClient::new(),
        sessions: SessionClient::new(),
    };
    let actor = Actor::spawn(None, TradeStream, args).await.unwrap().0;
    let listen = |user_id| {
        let actor = actor.clone();
        async move {
            let audience = Audience {
                user_id,
                session_id: Uuid::new_v4(),
                sees_all: false,
            };
            ractor::call!(actor, |reply| TradeStreamMsg::Subscribe {
                audience,
                last_event_id: None,
                reply
            })
            .unwrap()
        }
    };
    let mut alices = Vec::new();
    let mut bobs = Vec::new();
    for _ in 0..50 {
        alices.push(listen(owners.alice).await);
        bobs.push(listen(owners.bob).await);
    }
    for n in 0..4 {
        actor.cast(TradeStreamMsg::Data(data(n))).unwrap();
    }
    for stream in alices.iter_mut() {
        for expected in ["c0", "c2"] {
            let Some(StreamItem::Event(event)) = stream.live.recv().await else {
                panic!("an event")
            };
            assert_eq!(event.client_order_id.as_deref(), Some(expected));
        }
    }
    for stream in bobs.iter_mut() {
        for expected in ["c1", "c3"] {
            let Some(StreamItem::Event(event)) = stream.live.recv().await else {
                panic!("an event")
            };
            assert_eq!(event.client_order_id.as_deref(), Some(expected));
        }
        assert!(stream.live.try_recv().is_err(), "only Bob's events");
    }
    let lookups = owners.lookups.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(lookups, 4, "one lookup per event for 100 streams");
    actor.stop(None);
}
