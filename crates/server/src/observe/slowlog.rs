//! The slow log (SLOWLOG): the latest commands that ran for at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` of them.
//!
//! Invariants:
//! - An entry holds at most [`ARGS_MAX`] arguments of at most
//!   [`ARG_BYTES_MAX`] bytes each (plus Redis's "... (N more ...)" notes),
//!   so the log's memory is bounded by its length.
//! - Ids grow by one per entry for the node's life; RESET empties the log
//!   but does not restart them (as in Redis).
//! - The lock is taken only to add an entry that qualifies and to read:
//!   a command under the threshold costs one atomic load.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use bytes::Bytes;
use parking_lot::Mutex;

/// Arguments kept per entry (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
pub const ARGS_MAX: usize = 32;
/// Bytes kept per argument (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
pub const ARG_BYTES_MAX: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    /// Unix time, seconds, when it was logged.
    pub time: u64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    /// `ip:port` of the client.
    pub peer: String,
    pub name: Bytes,
}

#[derive(Debug)]
pub struct SlowLog {
    /// `slowlog-log-slower-than`: microseconds; negative disables.
    slower_than_us: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicU64,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            slower_than_us: AtomicI64::new(10_000),
            max_len: AtomicU64::new(128),
            next_id: AtomicU64::new(0),
            entries: Mutex::default(),
        }
    }
}

/// A command's arguments as the slow log keeps them: Redis's trimming,
/// with `redacted` arguments replaced by `(redacted)`.
pub fn trimmed_args(args: &[&[u8]], redacted: impl Fn(usize) -> bool) -> Vec<Bytes> {
    let kept = args.len().min(ARGS_MAX);
    let mut out = Vec::with_capacity(kept);
    for (i, arg) in args.iter().take(kept).enumerate() {
        if kept != args.len() && i == kept - 1 {
            out.push(Bytes::from(format!("... ({} more arguments)", args.len() - kept + 1)));
        } else if redacted(i) {
            out.push(Bytes::from_static(b"(redacted)"));
        } else if arg.len() > ARG_BYTES_MAX {
            let mut s = arg[..ARG_BYTES_MAX].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", arg.len() - ARG_BYTES_MAX).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(Bytes::copy_from_slice(arg));
        }
    }
    out
}

impl SlowLog {
    pub fn configure(&self, slower_than_us: i64, max_len: u64) {
        self.slower_than_us.store(slower_than_us, Relaxed);
        self.max_len.store(max_len, Relaxed);
    }

    /// Whether a command that took `duration_us` goes into the log.
    #[inline]
    pub fn wants(&self, duration_us: u64) -> bool {
        let threshold = self.slower_than_us.load(Relaxed);
        threshold >= 0 && duration_us >= threshold as u64 && self.max_len.load(Relaxed) > 0
    }

    /// Adds an entry (made by `make` from its id) and trims the log to
    /// `slowlog-max-len`.
    pub fn push(&self, make: impl FnOnce(u64) -> Entry) {
        let max_len = self.max_len.load(Relaxed) as usize;
        let mut entries = self.entries.lock();
        let entry = make(self.next_id.fetch_add(1, Relaxed));
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `count` newest entries, newest first.
    pub fn latest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> Entry {
        Entry { id, time: 0, duration_us: 1, args: vec![], peer: String::new(), name: Bytes::new() }
    }

    #[test]
    fn arguments_are_trimmed_as_redis_trims_them() {
        let many: Vec<Vec<u8>> = (0..35).map(|i| i.to_string().into_bytes()).collect();
        let views: Vec<&[u8]> = many.iter().map(|a| &a[..]).collect();
        let t = trimmed_args(&views, |_| false);
        assert_eq!(t.len(), 32);
        assert_eq!(t[30], Bytes::from_static(b"30"));
        assert_eq!(t[31], Bytes::from_static(b"... (4 more arguments)"));
        let long = vec![b'A'; 129];
        let t = trimmed_args(&[b"set", &long], |i| i == 0);
        assert_eq!(t[0], Bytes::from_static(b"(redacted)"));
        assert_eq!(t[1].len(), 128 + "... (1 more bytes)".len());
        assert!(t[1].ends_with(b"A... (1 more bytes)"));
    }

    #[test]
    fn the_log_keeps_the_newest_and_ids_survive_reset() {
        let log = SlowLog::default();
        log.configure(0, 3);
        assert!(log.wants(0));
        for _ in 0..5 {
            log.push(entry);
        }
        assert_eq!(log.latest(10).iter().map(|e| e.id).collect::<Vec<_>>(), vec![4, 3, 2]);
        log.reset();
        assert!(log.is_empty());
        log.push(entry);
        assert_eq!(log.latest(1)[0].id, 5);
        log.configure(-1, 3);
        assert!(!log.wants(1_000_000));
        log.configure(10, 0);
        assert!(!log.wants(1_000_000));
        log.configure(10, 3);
        assert!(!log.wants(9) && log.wants(10));
    }
}
