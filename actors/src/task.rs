//! Background tasks owned by an actor.

use tokio::task::JoinHandle;

/// A task aborted when its owner (an actor's state) is dropped, so a failed actor's helpers die
/// with it instead of leaking into its restarted successor.
pub struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
