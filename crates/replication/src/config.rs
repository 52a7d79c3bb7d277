//! Configuration of the state machine: every bound it keeps, by name.
//!
//! Invariant: a [`Replicator`](crate::Replicator) only runs with a config
//! that passed [`Config::validate`]; every queue it keeps and every message
//! it builds is bounded by one of these fields.

use crate::error::{Error, Result};
use ringcache_ring::SLOTS;

/// First byte of every encoded message. A peer that sees another value
/// refuses the message (counted), so an old node fails cleanly instead of
/// misreading a newer format.
pub const CODEC_VERSION: u8 = 3;
/// Anti-entropy compares this many range digests first. 128 ranges of 128
/// slots: one range digest message is 1 KiB, and a differing range costs at
/// most 128 slot digests.
pub const RANGES: usize = 128;
/// Slots per anti-entropy range.
pub const SLOTS_PER_RANGE: usize = SLOTS / RANGES;

/// Limits a decoder enforces; derived from [`Config`] so that what one node
/// sends, a peer with the same config accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest encoded message.
    pub message_len_max: usize,
    /// Most effects (or entries, or outcomes) in one message.
    pub effects_per_message_max: usize,
    /// Most keys in one key list (`Acked` write ids too).
    pub keys_per_message_max: usize,
    /// Most (key hash, stamp) pairs in an anti-entropy `Keys`, or hashes
    /// in a `Fetch`.
    pub hashes_per_message_max: usize,
    /// Databases a key may be in (`0..databases`): a key of another one
    /// is refused.
    pub databases: u32,
}

/// Settings of one node's replication. Every node of a cluster should use
/// the same message limits: a message one node builds within its limits is
/// refused by a peer with smaller ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A write not acknowledged by W owners this long after it started is
    /// reported failed (Redis Cluster's `cluster-node-timeout` plays the
    /// same role). Also the deadline of a quorum read.
    pub cluster_timeout_ms: u64,
    /// An owner that has not acknowledged a write is sent it again after
    /// this long (safe: applying is idempotent). Must be under
    /// `cluster_timeout_ms`, or a lost message always fails the write.
    pub write_retry_ms: u64,
    /// Writes waiting for acks at once; one more is refused with
    /// [`Error::Busy`].
    pub writes_inflight_max: usize,
    /// Finished writes whose ack count stays queryable (for `WAIT`).
    pub writes_finished_max: usize,
    /// Quorum reads waiting at once.
    pub reads_inflight_max: usize,
    /// Longest encoded message, sent or accepted.
    pub message_len_max: usize,
    /// Most effects in one message (one write is one message).
    pub effects_per_message_max: usize,
    /// Most keys in one key list (write ids in one `Acked`).
    pub keys_per_message_max: usize,
    /// Most key hashes in one anti-entropy `Keys` or `Fetch`: a hash and a
    /// stamp take 24 bytes whatever the key, so one message can cover a
    /// big slot.
    pub hashes_per_message_max: usize,
    /// The node's `databases`: every node of a cluster must have the same.
    pub databases: u32,
    /// Whether a hint stored on a fallback counts toward W (a "sloppy
    /// quorum"). Off by default: an acknowledged write is then on W real
    /// owners, which is what `write-quorum` promises.
    pub hints_count_toward_quorum: bool,
    /// Hints kept for one down owner; past it the oldest are dropped
    /// (counted), and anti-entropy covers what they held.
    pub hints_max_per_node: usize,
    /// Encoded bytes of all hints kept, for all owners.
    pub hints_bytes_max: usize,
    /// Hints sent to one owner and not yet acknowledged, at once.
    pub hints_inflight_max: usize,
    /// A hint delivery not acknowledged is sent again after this long.
    pub hint_retry_ms: u64,
    /// One anti-entropy round (with one peer) starts this often.
    pub anti_entropy_interval_ms: u64,
    /// Differing ranges whose slot digests one answer carries.
    pub anti_entropy_ranges_max: usize,
    /// Differing slots whose key lists one round compares.
    pub anti_entropy_slots_max: usize,
    /// Entry bytes one anti-entropy step (push or fetch answer) sends.
    pub anti_entropy_bytes_max: usize,
    /// Entry bytes in one catch-up chunk.
    pub sync_bytes_max: usize,
    /// Slots one catch-up chunk walks through (most are empty).
    pub sync_slots_per_chunk_max: usize,
    /// A catch-up request not answered is sent again after this long.
    pub sync_retry_ms: u64,
    /// After this long catching up, a slot whose other owners are all down
    /// is declared ready anyway (with what it has): waiting longer would
    /// keep the slot unreadable for nothing.
    pub catch_up_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            cluster_timeout_ms: 2_000,
            write_retry_ms: 500,
            writes_inflight_max: 65_536,
            writes_finished_max: 16_384,
            reads_inflight_max: 16_384,
            // Under the transport's default frame_len_max (64 MiB) with room
            // for framing; values larger than this cannot be replicated and
            // their writes are refused with Error::TooLarge.
            message_len_max: 32 << 20,
            effects_per_message_max: 1_024,
            keys_per_message_max: 4_096,
            hashes_per_message_max: 65_536,
            databases: 16,
            hints_count_toward_quorum: false,
            hints_max_per_node: 10_000,
            hints_bytes_max: 64 << 20,
            hints_inflight_max: 64,
            hint_retry_ms: 1_000,
            anti_entropy_interval_ms: 1_000,
            anti_entropy_ranges_max: 16,
            anti_entropy_slots_max: 16,
            anti_entropy_bytes_max: 4 << 20,
            sync_bytes_max: 1 << 20,
            sync_slots_per_chunk_max: 1_024,
            sync_retry_ms: 2_000,
            catch_up_timeout_ms: 60_000,
        }
    }
}

impl Config {
    /// Small bounds and short times, so that tests reach every limit and
    /// every timeout quickly.
    pub fn for_test() -> Config {
        Config {
            cluster_timeout_ms: 200,
            write_retry_ms: 50,
            writes_inflight_max: 64,
            writes_finished_max: 64,
            reads_inflight_max: 64,
            message_len_max: 64 << 10,
            effects_per_message_max: 16,
            databases: 16,
            keys_per_message_max: 32,
            hashes_per_message_max: 64,
            hints_count_toward_quorum: false,
            hints_max_per_node: 8,
            hints_bytes_max: 16 << 10,
            hints_inflight_max: 4,
            hint_retry_ms: 50,
            anti_entropy_interval_ms: 50,
            anti_entropy_ranges_max: 4,
            anti_entropy_slots_max: 4,
            anti_entropy_bytes_max: 8 << 10,
            sync_bytes_max: 4 << 10,
            sync_slots_per_chunk_max: 4_096,
            sync_retry_ms: 100,
            catch_up_timeout_ms: 2_000,
        }
    }

    /// The limits a decoder enforces for this config.
    pub fn limits(&self) -> Limits {
        Limits {
            message_len_max: self.message_len_max,
            effects_per_message_max: self.effects_per_message_max,
            keys_per_message_max: self.keys_per_message_max,
            hashes_per_message_max: self.hashes_per_message_max,
            databases: self.databases,
        }
    }

    /// Checks each field and how they relate.
    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, why: &'static str| if ok { Ok(()) } else { Err(Error::InvalidConfig(why)) };
        check(self.cluster_timeout_ms > 0, "cluster_timeout_ms must be at least 1")?;
        check((1..=1 << 16).contains(&self.databases), "databases must be between 1 and 65536")?;
        check(
            self.write_retry_ms > 0 && self.write_retry_ms < self.cluster_timeout_ms,
            "write_retry_ms must be between 1 and cluster_timeout_ms",
        )?;
        check(self.writes_inflight_max > 0, "writes_inflight_max must be at least 1")?;
        check(self.reads_inflight_max > 0, "reads_inflight_max must be at least 1")?;
        // Room for the largest fixed-size message (the 128 range digests)
        // and a few entries; anything smaller cannot run anti-entropy.
        check(self.message_len_max >= 4 << 10, "message_len_max must be at least 4 KiB")?;
        check(self.message_len_max <= u32::MAX as usize, "message_len_max must fit in 32 bits")?;
        check(self.effects_per_message_max > 0, "effects_per_message_max must be at least 1")?;
        check(self.keys_per_message_max > 0, "keys_per_message_max must be at least 1")?;
        check(
            self.hashes_per_message_max > 0
                && self.hashes_per_message_max.saturating_mul(24) <= self.message_len_max / 2,
            "hashes_per_message_max must be at least 1, and its list at most half a message",
        )?;
        check(self.hints_max_per_node > 0, "hints_max_per_node must be at least 1")?;
        check(self.hints_inflight_max > 0, "hints_inflight_max must be at least 1")?;
        check(self.hint_retry_ms > 0, "hint_retry_ms must be at least 1")?;
        check(self.anti_entropy_interval_ms > 0, "anti_entropy_interval_ms must be at least 1")?;
        check(
            (1..=RANGES).contains(&self.anti_entropy_ranges_max),
            "anti_entropy_ranges_max must be between 1 and RANGES",
        )?;
        check(self.anti_entropy_slots_max > 0, "anti_entropy_slots_max must be at least 1")?;
        check(self.anti_entropy_bytes_max > 0, "anti_entropy_bytes_max must be at least 1")?;
        check(
            self.sync_bytes_max > 0 && self.sync_bytes_max <= self.message_len_max / 2,
            "sync_bytes_max must be between 1 and message_len_max / 2",
        )?;
        check(self.sync_slots_per_chunk_max > 0, "sync_slots_per_chunk_max must be at least 1")?;
        check(self.sync_retry_ms > 0, "sync_retry_ms must be at least 1")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_test_configs_are_valid() {
        Config::default().validate().unwrap();
        Config::for_test().validate().unwrap();
        assert_eq!(SLOTS_PER_RANGE * RANGES, SLOTS);
    }

    #[test]
    fn validate_checks_how_fields_relate() {
        let bad = Config { write_retry_ms: 2_000, ..Config::default() };
        assert!(matches!(bad.validate(), Err(Error::InvalidConfig(_))));
        let bad = Config { sync_bytes_max: 32 << 20, ..Config::default() };
        assert!(matches!(bad.validate(), Err(Error::InvalidConfig(_))));
        let bad = Config { anti_entropy_ranges_max: RANGES + 1, ..Config::default() };
        assert!(matches!(bad.validate(), Err(Error::InvalidConfig(_))));
        let bad = Config { message_len_max: 100, ..Config::default() };
        assert!(matches!(bad.validate(), Err(Error::InvalidConfig(_))));
    }
}
