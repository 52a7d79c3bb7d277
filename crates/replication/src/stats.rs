//! Counters for `INFO replication`.
//!
//! Invariant: counters only grow; each names one thing that happened, so
//! that a refused message or a dropped hint is always visible somewhere.

/// What one node's state machine has done since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages received and decoded.
    pub messages_in: u64,
    /// Messages refused because they did not decode.
    pub refused_malformed: u64,
    /// Messages refused for passing a limit (length, counts).
    pub refused_over_limit: u64,
    /// Messages refused because the sender or a node they name is not a
    /// member of the view.
    pub refused_unknown_node: u64,

    /// Writes this node coordinated.
    pub writes: u64,
    /// Writes refused because `writes_inflight_max` were waiting.
    pub writes_busy: u64,
    pub writes_acked: u64,
    pub writes_failed: u64,
    /// Write messages sent again to an owner that had not answered.
    pub write_retries: u64,
    /// Acks for a write that had already finished.
    pub acks_late: u64,
    /// Acks from a node that was not asked, or that did not match the write.
    pub acks_unexpected: u64,
    /// Owners that needed the whole value for a delta.
    pub need_full: u64,
    /// ... of which the whole value was already on its way (sent within
    /// `write_retry_ms`): the write waited for its retry instead.
    pub need_full_waited: u64,
    /// Effects applied from peers (applied or already held).
    pub effects_applied: u64,
    pub effects_had: u64,

    /// Hints kept for a down owner.
    pub hints_stored: u64,
    /// Hints dropped: over `hints_max_per_node` or `hints_bytes_max`, or
    /// for a node that left the view.
    pub hints_dropped: u64,
    /// Hints delivered to their owner and acknowledged.
    pub hints_delivered: u64,
    /// Hints not sent at write time because no fallback was live or the
    /// whole value did not fit in a message.
    pub hints_skipped: u64,

    /// Anti-entropy rounds this node started.
    pub ae_rounds: u64,
    /// Rounds a peer started that found every range equal.
    pub ae_in_sync: u64,
    /// Slots found to differ.
    pub ae_slots_differing: u64,
    /// Of those, big slots being written whose comparison was put off.
    pub ae_slots_put_off: u64,
    /// Entries pushed to a peer that was behind.
    pub ae_entries_pushed: u64,
    /// Keys asked of a peer that was ahead.
    pub ae_keys_fetched: u64,
    /// Entries applied from repair messages (anti-entropy, read repair).
    pub entries_repaired: u64,

    /// Catch-up chunks sent to a restarted peer / received.
    pub sync_chunks_sent: u64,
    pub sync_chunks_received: u64,
    /// Catch-up chunks that answered an old request (duplicates, retries).
    pub sync_stale: u64,
    /// Entries too large for one message, left to anti-entropy.
    pub entries_too_large: u64,
    /// Slots declared ready after `catch_up_timeout_ms` without a live peer.
    pub catch_up_gave_up: u64,

    /// Quorum reads started / answered / failed.
    pub reads: u64,
    pub reads_done: u64,
    pub reads_failed: u64,
    /// Stale owners sent the winning version by a quorum read.
    pub read_repairs: u64,
    /// Read answers for a read that had finished.
    pub replies_late: u64,
}
