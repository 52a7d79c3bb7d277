//! What changed, for server-assisted client-side caching (CLIENT
//! TRACKING): the keys whose state changed and the flushes, as the server
//! needs them to send invalidation messages.
//!
//! While a [`Db`](crate::Db)'s invalidation switch has its [`TRACK`] bit
//! (`Db::set_invalidation`), every change of a key's state made by a shard
//! (a local write or delete, a lazy or active expiry, an eviction, a
//! replicated write) and every flush is appended to a list kept by the
//! thread that made it. Shards are only changed under their lock by the
//! thread running a command (or an expiry cycle, or a replica's apply), so
//! the caller drains the list ([`take`]) right after that work and gets
//! exactly its changes, in order, with no lock and no hook on the data
//! path. With only the [`GONE`] bit (`Db::set_gone_events`), only expired
//! and evicted keys are, for keyspace notifications. With the switch off
//! nothing is recorded: a write pays one relaxed load.
//!
//! Invariants:
//! - A change is recorded on the thread that made it, after the change.
//! - The list is bounded: past [`CHANGES_MAX`] entries it is replaced by
//!   one [`Change::Flush`], which invalidates everything (a stronger
//!   message, never a lost one).

use std::cell::RefCell;

use bytes::Bytes;

/// Most changes kept between two drains.
pub const CHANGES_MAX: usize = 1 << 16;

/// The switch's bit for CLIENT TRACKING: every change is recorded.
pub const TRACK: u8 = 1;
/// The switch's bit for keyspace notifications of `expired` and `evicted`
/// keys: those changes are recorded (no command's notification covers
/// them).
pub const GONE: u8 = 2;

/// What changed a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The command running on this thread (a write or a delete).
    Own,
    /// Its time to live passed (found on access, or by active expiry).
    Expired,
    /// Evicted to get under `maxmemory`.
    Evicted,
    /// Dropped by this node on its own for another reason (a copy of a
    /// slot it no longer owns).
    Local,
    /// A write applied from another owner (replication, repair, handoff).
    Replica,
}

impl Cause {
    /// Expired or evicted: what the [`GONE`] bit records.
    pub fn is_gone(self) -> bool {
        matches!(self, Cause::Expired | Cause::Evicted)
    }
}

/// One change that cached copies must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `key` of database `db` changed state, because of `cause`.
    Key { db: u16, key: Bytes, cause: Cause },
    /// A database (or all of them) was emptied.
    Flush,
}

thread_local! {
    static CHANGES: RefCell<Vec<Change>> = const { RefCell::new(Vec::new()) };
}

#[cold]
pub(crate) fn push(change: Change) {
    CHANGES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CHANGES_MAX {
            c.clear();
            c.push(Change::Flush);
            return;
        }
        if change == Change::Flush && c.last() == Some(&Change::Flush) {
            // A flush is recorded by every shard it empties: once is enough.
            return;
        }
        c.push(change);
    });
}

/// Moves this thread's changes, oldest first, to the end of `out`.
pub fn take(out: &mut Vec<Change>) {
    CHANGES.with(|c| out.append(&mut c.borrow_mut()));
}

/// Whether this thread has changes waiting.
pub fn pending() -> bool {
    CHANGES.with(|c| !c.borrow().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_drained_in_order_and_flushes_collapse() {
        let mut out = Vec::new();
        take(&mut out);
        out.clear();
        push(Change::Key { db: 0, key: Bytes::from_static(b"a"), cause: Cause::Own });
        push(Change::Flush);
        push(Change::Flush);
        assert!(pending());
        take(&mut out);
        assert_eq!(out, [Change::Key { db: 0, key: Bytes::from_static(b"a"), cause: Cause::Own }, Change::Flush]);
        assert!(!pending());
    }

    #[test]
    fn an_overfull_list_becomes_one_flush() {
        let mut out = Vec::new();
        for i in 0..=CHANGES_MAX {
            push(Change::Key { db: 0, key: Bytes::from(i.to_string()), cause: Cause::Expired });
        }
        take(&mut out);
        assert_eq!(out, [Change::Flush]);
    }
}
