//! The broker: the one owner of the Alpaca paper client and of the kill switch.
//!
//! Trading is not wired yet, so the kill switch is always engaged and the broker only reports
//! its state.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// Whether trading is allowed, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitch {
    pub engaged: bool,
    pub reason: String,
}

pub enum BrokerMsg {
    KillSwitchState(RpcReplyPort<KillSwitch>),
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}

pub struct Broker;

impl Actor for Broker {
    type Msg = BrokerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<BrokerMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<BrokerMsg>,
        msg: BrokerMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BrokerMsg::KillSwitchState(reply) => {
                let _ = reply.send(KillSwitch {
                    engaged: true,
                    reason: "credentials not configured".into(),
                });
            }
            #[cfg(feature = "testing")]
            BrokerMsg::Fault => panic!("fault injected into the broker"),
        }
        Ok(())
    }
}
