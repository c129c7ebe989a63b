//! The scheduler (worker dyno): runs the retention and purge jobs on their schedules.
//!
//! No job is registered yet; the actor holds the place in the supervision tree.

use ractor::{Actor, ActorProcessingErr, ActorRef};

pub enum SchedulerMsg {}

pub struct Scheduler;

impl Actor for Scheduler {
    type Msg = SchedulerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<SchedulerMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        tracing::info!("scheduler started with no jobs");
        Ok(())
    }
}
