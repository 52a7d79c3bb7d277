//! Freeing large values off the command path, as Redis's lazy free does:
//! UNLINK, DEL under `lazyfree-lazy-user-del`, FLUSHDB / FLUSHALL ASYNC.
//!
//! A removed value whose free effort (about one allocation per element,
//! see [`free_effort`]) is above [`LAZYFREE_THRESHOLD`] goes to one
//! background thread, which drops it, so the shard's lock and the client's
//! reply need not wait for thousands of frees; smaller ones are dropped
//! where they are, as Redis's `freeObjAsync` does. A flushed database goes
//! there whole, whatever its size, as Redis's `emptyDbAsync` does.
//!
//! Invariants: `pending` counts the objects handed over and not yet freed
//! (INFO `lazyfree_pending_objects`), `freed` those the thread has freed
//! (`lazyfreed_objects`, reset by CONFIG RESETSTAT); the thread counts an
//! object freed before it stops counting it pending, so a reader that sees
//! nothing pending sees every free counted. The queue is bounded
//! ([`QUEUE_JOBS_MAX`]): when it is full the caller frees the job itself,
//! so a burst of deletes cannot pile up memory behind the thread. The
//! thread starts on the first job and ends when its [`LazyFree`] is
//! dropped.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use crate::value::Value;

/// Redis's `LAZYFREE_THRESHOLD`: a value whose free effort is at most this
/// is freed at once.
pub const LAZYFREE_THRESHOLD: usize = 64;

/// The most jobs waiting for the thread; past it callers free their own.
pub const QUEUE_JOBS_MAX: usize = 1024;

/// Something to drop, and how many objects it counts for.
struct Job {
    garbage: Box<dyn Send>,
    objects: usize,
}

#[derive(Debug, Default)]
struct Counters {
    pending: AtomicUsize,
    freed: AtomicU64,
}

/// The background freer of one keyspace (see the module's doc).
#[derive(Debug, Default)]
pub struct LazyFree {
    counters: Arc<Counters>,
    /// Set when the thread is started; `None` inside when it could not be.
    queue: OnceLock<Option<SyncSender<Job>>>,
}

impl LazyFree {
    /// Frees `value` in the background when freeing it is worth a thread's
    /// time (its effort is above [`LAZYFREE_THRESHOLD`]), else here; true
    /// when it went to the background.
    pub fn free_value(&self, value: Value) -> bool {
        worth_it(&value) && self.free(Box::new(value), 1)
    }

    /// Hands `garbage`, which counts for `objects` objects (a flushed
    /// database: its keys), to the thread to drop; true when it went, false
    /// when the caller dropped it (no thread, or the queue is full).
    pub fn free(&self, garbage: Box<dyn Send>, objects: usize) -> bool {
        let Some(queue) = self.queue.get_or_init(|| self.start()) else {
            return false;
        };
        self.counters.pending.fetch_add(objects, Relaxed);
        match queue.try_send(Job { garbage, objects }) {
            Ok(()) => true,
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                self.counters.pending.fetch_sub(objects, Relaxed);
                drop(job);
                false
            }
        }
    }

    fn start(&self) -> Option<SyncSender<Job>> {
        let (tx, rx) = sync_channel::<Job>(QUEUE_JOBS_MAX);
        let counters = self.counters.clone();
        let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
            // Ends when the sender (the `LazyFree`) is dropped.
            while let Ok(job) = rx.recv() {
                drop(job.garbage);
                counters.freed.fetch_add(job.objects as u64, Relaxed);
                counters.pending.fetch_sub(job.objects, Relaxed);
            }
        });
        spawned.ok().map(|_| tx)
    }

    /// Objects handed to the thread and not yet freed
    /// (`lazyfree_pending_objects`).
    pub fn pending(&self) -> usize {
        self.counters.pending.load(Relaxed)
    }

    /// Objects the thread freed since the start or the last
    /// [`reset_stats`](Self::reset_stats) (`lazyfreed_objects`).
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Relaxed)
    }

    /// CONFIG RESETSTAT: `lazyfreed_objects` starts again from zero.
    pub fn reset_stats(&self) {
        self.counters.freed.store(0, Relaxed);
    }
}

/// Whether freeing `value` is worth handing to the thread (its effort is
/// above [`LAZYFREE_THRESHOLD`]): O(1).
pub fn worth_it(value: &Value) -> bool {
    free_effort(value) > LAZYFREE_THRESHOLD
}

/// About how many allocations freeing `value` takes, as Redis's
/// `lazyfreeGetFreeEffort` estimates it: one per element of a list, set,
/// hash or sorted set (each element is its own allocation here); for a
/// stream, one per node plus, per consumer group, one and one per entry of
/// the first group's pending list (Redis's estimate for all the groups);
/// one for a string.
pub fn free_effort(value: &Value) -> usize {
    match value {
        Value::Str(_) => 1,
        Value::List(l) => l.len(),
        Value::Set(s) => s.len(),
        Value::Hash(h) => h.len(),
        Value::ZSet(z) => z.len(),
        Value::Stream(s) => {
            let groups = s.groups();
            let pel = groups.values().next().map_or(0, |g| g.pel().len());
            s.nodes_len() + groups.len() * (1 + pel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SetValue;
    use std::time::{Duration, Instant};

    fn set_of(n: usize) -> Value {
        let mut s = SetValue::new();
        for i in 0..n {
            s.insert(i.to_string().as_bytes());
        }
        Value::Set(Box::new(s))
    }

    fn settle(lf: &LazyFree) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while lf.pending() != 0 {
            assert!(Instant::now() < deadline, "the lazyfree thread did not catch up");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn small_values_are_freed_at_once_large_ones_in_the_background() {
        let lf = LazyFree::default();
        assert!(!lf.free_value(set_of(LAZYFREE_THRESHOLD)));
        assert!(!lf.free_value(Value::string(b"x")));
        assert!(lf.free_value(set_of(LAZYFREE_THRESHOLD + 1)));
        settle(&lf);
        assert_eq!(lf.freed(), 1);
        assert!(lf.free(Box::new(vec![0u8; 10]), 7));
        settle(&lf);
        assert_eq!(lf.freed(), 8);
        lf.reset_stats();
        assert_eq!((lf.pending(), lf.freed()), (0, 0));
    }
}
