use std::time::Duration;

use super::*;
use crate::broker::BrokerClient;

struct NoSink;

impl TradeSink for NoSink {
    fn record(&self, _: Arc<TradeEvent>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
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
    };
    Actor::spawn(None, TradeStream, args).await.unwrap().0
}

async fn subscribe(actor: &ActorRef<TradeStreamMsg>, after: Option<u64>) -> Subscription {
    ractor::call!(actor, |reply| TradeStreamMsg::Subscribe {
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
        let StreamItem::Event(event) = first.live.recv().await.unwrap() else {
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
    // Wait for the actor to have handled them all: a new subscription is answered after.
    let _ = subscribe(&actor, None).await;
    assert!(matches!(
        slow.live.recv().await,
        Err(broadcast::error::RecvError::Lagged(_))
    ));
    actor.stop(None);
}
