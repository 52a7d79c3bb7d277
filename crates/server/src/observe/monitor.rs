//! MONITOR: every command run on this node, as one line per command, to
//! every connection that asked for it.
//!
//! Invariants:
//! - A monitor's lines wait in its connection's mailbox (the one Pub/Sub
//!   uses, see `crate::pubsub::Mailbox`): a command never waits for a
//!   monitor, and a monitor that does not read is disconnected once what
//!   waits passes its output buffer limit (see [`Monitors::set_limit`]).
//! - With no monitor, feeding costs one atomic load; the line is built
//!   once per command, whatever the number of monitors.
//! - A monitor whose connection is gone is dropped at the next feed (the
//!   list holds weak references: nothing else needs to remember it).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::config::{BufferLimit, OutputBufferLimits};
use crate::pubsub::Mailbox;

#[derive(Debug)]
pub struct Monitors {
    /// Connections in MONITOR mode: client id and mailbox.
    list: Mutex<Vec<(u64, Weak<Mailbox>)>>,
    /// `list.len()`, for the fast path.
    count: AtomicUsize,
    limit: Mutex<BufferLimit>,
}

impl Default for Monitors {
    fn default() -> Self {
        Monitors {
            list: Mutex::default(),
            count: AtomicUsize::new(0),
            limit: Mutex::new(monitor_limit(&OutputBufferLimits::default())),
        }
    }
}

/// The output buffer limit of a monitor. Redis holds monitors to the
/// `normal` class, which is unlimited by default; a node must not let one
/// slow reader grow without bound, so without a `normal` limit monitors
/// get the `slave` class's (a feed of every command, like a replica's).
pub fn monitor_limit(limits: &OutputBufferLimits) -> BufferLimit {
    let n = limits.normal;
    if n.hard_bytes != 0 || n.soft_bytes != 0 {
        n
    } else {
        limits.replica
    }
}

impl Monitors {
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Relaxed) != 0
    }

    pub fn set_limit(&self, limits: &OutputBufferLimits) {
        *self.limit.lock() = monitor_limit(limits);
    }

    /// Puts a connection in MONITOR mode (again: no change).
    pub fn add(&self, client: u64, mailbox: &Arc<Mailbox>) {
        let mut list = self.list.lock();
        if !list.iter().any(|(id, _)| *id == client) {
            list.push((client, Arc::downgrade(mailbox)));
            self.count.store(list.len(), Relaxed);
        }
    }

    /// Takes a connection out of MONITOR mode (RESET).
    pub fn remove(&self, client: u64) {
        let mut list = self.list.lock();
        list.retain(|(id, _)| *id != client);
        self.count.store(list.len(), Relaxed);
    }

    /// Sends one command's line to every monitor (the monitor's own
    /// commands too, as in Redis).
    pub fn feed(&self, line: impl FnOnce() -> Bytes) {
        let limit = *self.limit.lock();
        let mut list = self.list.lock();
        let line = line();
        list.retain(|(_, weak)| match weak.upgrade() {
            Some(mailbox) => {
                mailbox.push(line.clone(), limit);
                true
            }
            None => false,
        });
        self.count.store(list.len(), Relaxed);
    }
}

/// Redis's monitor line: `+<unix seconds>.<micros> [<db> <addr>] "arg" ...`
/// with each argument quoted as `sdscatrepr` quotes it; `addr` is `lua`
/// for a command a script ran.
pub fn line(db: u16, addr: &dyn std::fmt::Display, args: &[&[u8]], redacted: impl Fn(usize) -> bool) -> Bytes {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = String::with_capacity(64 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    let _ = write!(out, "+{}.{:06} [{db} {addr}]", now.as_secs(), now.subsec_micros());
    for (i, arg) in args.iter().enumerate() {
        out.push(' ');
        if redacted(i) {
            out.push_str("\"(redacted)\"");
        } else {
            repr(&mut out, arg);
        }
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

/// Redis's `sdscatrepr`: a quoted string with `\n`, `\r`, `\t`, `\a`,
/// `\b`, `\\` and `\"` escaped and other unprintable bytes as `\xHH`.
fn repr(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_quoted_as_redis_quotes_them() {
        let l = line(3, &"127.0.0.1:5000", &[b"SET", b"k\"\n\x01", b"secret"], |i| i == 2);
        let s = std::str::from_utf8(&l).expect("ascii");
        let (stamp, rest) = s.split_once(' ').expect("a space");
        assert!(stamp.starts_with('+') && stamp.len() == "+1700000000.123456".len(), "{stamp}");
        assert_eq!(rest, "[3 127.0.0.1:5000] \"SET\" \"k\\\"\\n\\x01\" \"(redacted)\"\r\n");
    }

    #[test]
    fn the_limit_falls_back_to_the_replica_class() {
        let mut limits = OutputBufferLimits::default();
        assert_eq!(monitor_limit(&limits), limits.replica);
        limits.normal.hard_bytes = 10;
        assert_eq!(monitor_limit(&limits).hard_bytes, 10);
    }
}
