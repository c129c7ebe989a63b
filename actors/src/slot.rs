//! Where request handlers find the live actors.
//!
//! The supervisor fills a slot when a child starts and empties it the moment the child fails, so
//! a caller either gets the current actor or an immediate [`ActorUnavailable`], never a reference
//! to a dead mailbox. Every call through a slot also carries a timeout, so a child that is alive
//! but stuck still answers "unavailable" within a bounded time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};

/// How long a request waits for an actor's answer before it is told the actor is unavailable.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The actor a request needs is down, restarting or not answering in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {actor} is unavailable")]
pub struct ActorUnavailable {
    /// The actor's name, as its slot was created with.
    pub actor: &'static str,
}

/// The current reference to one supervised actor, if it is running.
pub struct Slot<M: Message> {
    name: &'static str,
    current: Arc<RwLock<Option<ActorRef<M>>>>,
    /// Whether `current` holds an actor, kept beside it so that asking (every readiness probe)
    /// reads a flag instead of taking the lock and cloning the reference, whose counts every
    /// core would otherwise write.
    up: Arc<AtomicBool>,
}

impl<M: Message> Clone for Slot<M> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            current: Arc::clone(&self.current),
            up: Arc::clone(&self.up),
        }
    }
}

impl<M: Message> Slot<M> {
    /// An empty slot for the actor called `name` (in errors and diagnostics).
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            current: Arc::new(RwLock::new(None)),
            up: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The actor's name as shown in logs and diagnostics.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The running actor, or `ActorUnavailable` while it is down.
    pub fn get(&self) -> Result<ActorRef<M>, ActorUnavailable> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(ActorUnavailable { actor: self.name })
    }

    /// Whether an actor is in the slot right now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// `(name, is up)`, for status and diagnostics.
    pub fn state(&self) -> (&'static str, bool) {
        (self.name, self.is_up())
    }

    pub(crate) fn set(&self, actor: Option<ActorRef<M>>) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        self.up.store(actor.is_some(), Ordering::Release);
        *current = actor;
    }

    /// Asks the actor a question and waits at most `timeout` for the answer.
    pub async fn ask<T, F>(&self, build: F, timeout: Duration) -> Result<T, ActorUnavailable>
    where
        T: Send + 'static,
        F: FnOnce(RpcReplyPort<T>) -> M,
    {
        let unavailable = ActorUnavailable { actor: self.name };
        let actor = self.get()?;
        match actor.call(build, Some(timeout)).await {
            Ok(CallResult::Success(answer)) => Ok(answer),
            Ok(CallResult::Timeout) => {
                tracing::warn!(actor = self.name, "actor call timed out");
                Err(unavailable)
            }
            Ok(CallResult::SenderError) | Err(_) => Err(unavailable),
        }
    }
}
