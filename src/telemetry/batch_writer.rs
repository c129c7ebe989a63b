//! Where production log lines go: in-memory batches that a background thread writes to stderr
//! every few milliseconds, so neither a request nor the writer pays a system call or a thread
//! wake-up per line.
//!
//! Each thread appends to a batch of its own ([`SHARDS`] of them, each on its own cache lines),
//! under a mutex held for a copy, never for I/O: two threads logging at once neither wait for
//! each other nor pull the same memory back and forth between cores. The flusher thread wakes
//! every [`FLUSH_EVERY`], swaps each batch for an empty one and writes it out. Lines of one
//! thread keep their order; lines of different threads within one flush may not (each carries
//! its timestamp). A batch that grows past [`HIGH_WATER`] (a burst faster than the flusher) is
//! written out by the caller that crossed the mark: back-pressure, never a dropped line.
//! [`Flusher`]'s drop writes what is left and stops the thread.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory.
const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// A batch this large is written at once.
const HIGH_WATER: usize = 256 * 1024;
/// Batches: more than the threads that log at once (the runtime's workers, a few others).
const SHARDS: usize = 16;

/// One batch, alone on its cache lines.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<Vec<u8>>);

struct Shared {
    shards: [Shard; SHARDS],
    stopping: AtomicBool,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Shard::default()),
            stopping: AtomicBool::new(false),
        }
    }
}

/// Threads take the shards in turn, the first time they log.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl Shared {
    /// This thread's batch.
    fn batch(&self) -> MutexGuard<'_, Vec<u8>> {
        self.batch_at(SHARD.with(|shard| *shard))
    }

    fn batch_at(&self, shard: usize) -> MutexGuard<'_, Vec<u8>> {
        self.shards[shard]
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `batch` to `out` and empties it (keeping its capacity).
    fn write_out(out: &mut impl Write, batch: &mut Vec<u8>) {
        if !batch.is_empty() {
            let _ = out.write_all(batch);
            let _ = out.flush();
            batch.clear();
        }
    }

    /// Takes each batch in turn (leaving `spare` in its place) and writes it to stderr.
    fn flush_into(&self, spare: &mut Vec<u8>) {
        for shard in 0..SHARDS {
            {
                let mut batch = self.batch_at(shard);
                if batch.is_empty() {
                    continue;
                }
                std::mem::swap(&mut *batch, spare);
            }
            Self::write_out(&mut io::stderr().lock(), spare);
        }
    }
}

/// The `MakeWriter` of the JSON log.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// The flusher thread; dropping it writes every pending line and stops the thread.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer and its flusher thread, started.
pub fn start() -> io::Result<(BatchWriter, Flusher)> {
    let shared = Arc::new(Shared::default());
    let flusher = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("raptor-log".into())
        .spawn(move || {
            let mut spare = Vec::with_capacity(64 * 1024);
            while !flusher.stopping.load(Ordering::Acquire) {
                std::thread::park_timeout(FLUSH_EVERY);
                flusher.flush_into(&mut spare);
            }
            flusher.flush_into(&mut spare);
        })?;
    Ok((
        BatchWriter {
            shared: Arc::clone(&shared),
        },
        Flusher {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// One line's writer.
pub struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut batch = self.0.batch();
        batch.extend_from_slice(line);
        if batch.len() >= HIGH_WATER {
            // Written while holding the batch: other callers wait, none is lost or reordered.
            Shared::write_out(&mut io::stderr().lock(), &mut batch);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_whole_and_in_order_and_a_full_batch_is_written_by_its_caller() {
        let shared = Shared::default();
        let mut writer = LineWriter(&shared);
        writer.write_all(b"one\n").unwrap();
        writer.write_all(b"two\n").unwrap();
        assert_eq!(&*shared.batch(), b"one\ntwo\n");
        let mut out = Vec::new();
        Shared::write_out(&mut out, &mut shared.batch());
        assert_eq!(out, b"one\ntwo\n");
        assert!(shared.batch().is_empty(), "written lines leave the batch");
        let big = vec![b'x'; HIGH_WATER];
        writer.write_all(&big).unwrap();
        assert!(
            shared.batch().is_empty(),
            "a batch past the mark goes out at once"
        );
    }

    #[test]
    fn dropping_the_flusher_stops_its_thread() {
        let (writer, flusher) = start().unwrap();
        writer.make_writer().write_all(b"").unwrap();
        drop(flusher);
        assert!(writer.shared.stopping.load(Ordering::Acquire));
    }
}
