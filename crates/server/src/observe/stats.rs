//! Per-command counters and latency histograms (INFO commandstats and
//! latencystats, LATENCY HISTOGRAM) and error replies by prefix (INFO
//! errorstats, `total_error_replies`).
//!
//! Invariants:
//! - Each thread that runs commands records into its own [`Block`], locked
//!   by that thread and by a reader merging the blocks (INFO, CONFIG
//!   RESETSTAT): connections on different threads never contend, and no
//!   lock is shared by every command.
//! - A block outlives its thread: when the thread ends, its counts are
//!   folded into the registry's `retired` block, so nothing is lost and
//!   the list of blocks does not grow with threads that come and go.
//! - At most [`ERROR_PREFIXES_MAX`] error prefixes are kept (Redis keeps
//!   128): errors of other prefixes still count in `total_error_replies`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// Latencies are kept in nanoseconds from 1 ns to 1 s with two
/// significant digits, as Redis keeps them (`LATENCY_HISTOGRAM_*`);
/// longer ones count as 1 s.
const HISTOGRAM_MAX_NS: u64 = 1_000_000_000;
const HISTOGRAM_SIGFIGS: u8 = 2;
/// Distinct error prefixes kept (Redis's `ERROR_STATS_NUMBER`).
pub const ERROR_PREFIXES_MAX: usize = 128;
/// An error's prefix is its first word, within this many bytes (Redis's
/// `afterErrorReply`); else it counts as `ERR`.
const ERROR_PREFIX_BYTES_MAX: usize = 32;

/// Latency buckets as hdrhistogram lays them out for two significant
/// digits: values under 128 ns one per bucket, then 128 buckets per power
/// of two (under 1 % apart). A call adds one to one bucket (a few
/// instructions, where `Histogram::record` costs dozens); the buckets
/// become an [`Histogram`] only when read.
const SUB_BUCKETS: usize = 128;
const BUCKETS: usize = (30 - 6) * SUB_BUCKETS;

#[inline]
fn bucket_of(ns: u64) -> usize {
    let v = ns.min(HISTOGRAM_MAX_NS);
    if v < SUB_BUCKETS as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros() as usize;
    (e - 6) * SUB_BUCKETS + ((v >> (e - 7)) as usize & (SUB_BUCKETS - 1))
}

/// The lowest value of bucket `i`.
fn bucket_value(i: usize) -> u64 {
    if i < SUB_BUCKETS {
        return i as u64;
    }
    let (e, sub) = (i / SUB_BUCKETS + 6, i % SUB_BUCKETS);
    ((SUB_BUCKETS + sub) as u64) << (e - 7)
}

/// What one command (or subcommand) has done since the last reset, on one
/// thread.
#[derive(Debug, Default, Clone)]
struct Tally {
    calls: u64,
    usec: u64,
    rejected: u64,
    failed: u64,
    /// Latencies of the calls recorded while `latency-tracking` was on.
    buckets: Option<Box<[u64; BUCKETS]>>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.calls += other.calls;
        self.usec += other.usec;
        self.rejected += other.rejected;
        self.failed += other.failed;
        if let Some(theirs) = &other.buckets {
            let mine = self.buckets.get_or_insert_with(|| Box::new([0; BUCKETS]));
            for (m, t) in mine.iter_mut().zip(theirs.iter()) {
                *m += t;
            }
        }
    }
}

/// What one command (or subcommand) has done since the last reset, all
/// threads together.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Latencies of the calls recorded while `latency-tracking` was on.
    pub histogram: Option<Box<Histogram<u64>>>,
}

impl Counters {
    fn is_empty(&self) -> bool {
        self.calls == 0 && self.rejected == 0 && self.failed == 0
    }

    fn of(t: &Tally) -> Counters {
        let histogram = t.buckets.as_ref().map(|buckets| {
            let mut h = new_histogram();
            for (i, &n) in buckets.iter().enumerate().filter(|(_, n)| **n > 0) {
                h.saturating_record_n(bucket_value(i).max(1), n);
            }
            h
        });
        Counters { calls: t.calls, usec: t.usec, rejected: t.rejected, failed: t.failed, histogram }
    }
}

fn new_histogram() -> Box<Histogram<u64>> {
    Box::new(Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, HISTOGRAM_SIGFIGS).expect("valid histogram bounds"))
}

/// One thread's counts, or the retired threads' counts.
#[derive(Debug, Default)]
struct Block {
    /// By stat slot (see `cmd::StatNames`); grown on demand.
    commands: Vec<Tally>,
    errors: HashMap<Box<str>, u64>,
    total_errors: u64,
    /// Commands that changed the keyspace (`rdb_changes_since_last_save`);
    /// not a statistic CONFIG RESETSTAT resets.
    changes: u64,
}

impl Block {
    fn clear(&mut self) {
        *self = Block { changes: self.changes, ..Block::default() };
    }

    fn add(&mut self, other: &Block) {
        if self.commands.len() < other.commands.len() {
            self.commands.resize_with(other.commands.len(), Tally::default);
        }
        for (mine, theirs) in self.commands.iter_mut().zip(&other.commands) {
            mine.add(theirs);
        }
        for (prefix, n) in &other.errors {
            if let Some(mine) = self.errors.get_mut(prefix) {
                *mine += n;
            } else if self.errors.len() < ERROR_PREFIXES_MAX {
                self.errors.insert(prefix.clone(), *n);
            }
        }
        self.total_errors += other.total_errors;
        self.changes += other.changes;
    }

    #[inline]
    fn tally(&mut self, slot: usize) -> &mut Tally {
        if self.commands.len() <= slot {
            self.commands.resize_with(slot + 1, Tally::default);
        }
        &mut self.commands[slot]
    }

    fn count_error(&mut self, text: &[u8]) {
        self.total_errors += 1;
        let prefix = error_prefix(text);
        if let Some(n) = self.errors.get_mut(prefix) {
            *n += 1;
        } else if self.errors.len() < ERROR_PREFIXES_MAX {
            self.errors.insert(prefix.into(), 1);
        }
    }
}

/// The prefix an error reply is counted under: its first word (`WRONGTYPE`,
/// `NOSCRIPT`), `ERR` if there is no space in its first 32 bytes.
pub fn error_prefix(text: &[u8]) -> &str {
    let head = &text[..text.len().min(ERROR_PREFIX_BYTES_MAX)];
    match head.iter().position(|&b| b == b' ') {
        Some(end) if end > 0 => std::str::from_utf8(&head[..end]).unwrap_or("ERR"),
        _ => "ERR",
    }
}

#[derive(Debug, Default)]
struct Registry {
    live: Vec<Arc<Mutex<Block>>>,
    retired: Block,
}

/// A thread's handle on its block in one [`CommandStats`]; folds the block
/// into the registry's retired counts when the thread ends.
struct Local {
    owner: u64,
    block: Arc<Mutex<Block>>,
    registry: Weak<Mutex<Registry>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        let Some(registry) = self.registry.upgrade() else { return };
        let mut r = registry.lock();
        r.live.retain(|b| !Arc::ptr_eq(b, &self.block));
        let block = self.block.lock();
        r.retired.add(&block);
    }
}

thread_local! {
    /// This thread's blocks, one per node it records for (one, outside tests).
    static LOCAL: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

/// Every thread's counts for one node. See the module docs.
#[derive(Debug)]
pub struct CommandStats {
    owner: u64,
    registry: Arc<Mutex<Registry>>,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats { owner: NEXT_OWNER.fetch_add(1, Relaxed), registry: Arc::default() }
    }
}

/// The merged counts of every thread.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// By stat slot.
    pub commands: Vec<Counters>,
    /// Error prefixes with their counts, sorted by prefix.
    pub errors: Vec<(Box<str>, u64)>,
    pub total_errors: u64,
    /// Commands that changed the keyspace since the node started.
    pub changes: u64,
}

impl Snapshot {
    /// The slots that have anything to report, with their counters.
    pub fn used(&self) -> impl Iterator<Item = (usize, &Counters)> {
        self.commands.iter().enumerate().filter(|(_, c)| !c.is_empty())
    }
}

impl CommandStats {
    /// Runs `f` on this thread's block (registering it on first use).
    #[inline]
    fn with_block<R>(&self, f: impl FnOnce(&mut Block) -> R) -> Option<R> {
        LOCAL
            .try_with(|local| {
                let mut local = local.borrow_mut();
                let at = match local.iter().position(|l| l.owner == self.owner) {
                    Some(at) => at,
                    None => {
                        let block = Arc::new(Mutex::new(Block::default()));
                        self.registry.lock().live.push(block.clone());
                        local.push(Local { owner: self.owner, block, registry: Arc::downgrade(&self.registry) });
                        local.len() - 1
                    }
                };
                let mut block = local[at].block.lock();
                f(&mut block)
            })
            .ok()
    }

    /// Records one call of the command in `slot` that took `ns`; with an
    /// error reply, the call failed and the error is counted, unless
    /// `counted` (it was, where it arose: a script's command).
    /// `histogram`: whether `latency-tracking` is on.
    #[inline]
    pub fn record_call(&self, slot: usize, ns: u64, error: Option<&[u8]>, counted: bool, histogram: bool, wrote: bool) {
        self.with_block(|b| {
            b.changes += u64::from(wrote);
            if let Some(text) = error.filter(|_| !counted) {
                b.count_error(text);
            }
            let c = b.tally(slot);
            c.calls += 1;
            c.usec += ns / 1000;
            c.failed += u64::from(error.is_some());
            if histogram {
                c.buckets.get_or_insert_with(|| Box::new([0; BUCKETS]))[bucket_of(ns)] += 1;
            }
        });
    }

    /// Records a command refused before it ran (wrong arity, NOAUTH,
    /// OOM, BUSY ...): `slot` is `None` for an unknown command.
    pub fn record_rejected(&self, slot: Option<usize>, error: &[u8]) {
        self.with_block(|b| {
            b.count_error(error);
            if let Some(slot) = slot {
                b.tally(slot).rejected += 1;
            }
        });
    }

    /// Counts an error reply that no command's call accounts for.
    pub fn record_error(&self, error: &[u8]) {
        self.with_block(|b| b.count_error(error));
    }

    /// Every thread's counts, merged.
    pub fn snapshot(&self) -> Snapshot {
        let mut all = Block::default();
        {
            let r = self.registry.lock();
            all.add(&r.retired);
            for block in &r.live {
                all.add(&block.lock());
            }
        }
        let mut errors: Vec<(Box<str>, u64)> = all.errors.into_iter().collect();
        errors.sort();
        let commands = all.commands.iter().map(Counters::of).collect();
        Snapshot { commands, errors, total_errors: all.total_errors, changes: all.changes }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        let mut r = self.registry.lock();
        r.retired.clear();
        for block in &r.live {
            block.lock().clear();
        }
    }
}

/// Redis's `latency_percentiles_usec_<cmd>` value: `p50=1.003,p99=...`,
/// each percentile as Redis prints it (`%f` with trailing zeros dropped)
/// and its latency in microseconds with three decimals.
pub fn percentiles_line(h: &Histogram<u64>, percentiles: &[f64]) -> String {
    let mut out = String::new();
    for (i, p) in percentiles.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let value = h.value_at_percentile(*p) as f64 / 1000.0;
        out.push_str(&format!("p{}={value:.3}", percentile_name(*p)));
    }
    out
}

/// `99.9` as `99.9`, `50.0` as `50`: Redis prints `%f` and strips zeros.
pub fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_prefixes_are_the_first_word() {
        assert_eq!(error_prefix(b"WRONGTYPE Operation against a key"), "WRONGTYPE");
        assert_eq!(error_prefix(b"ERR unknown command"), "ERR");
        assert_eq!(error_prefix(b"NOSPACEINTHEFIRST32BYTESATALLATALLATALL x"), "ERR");
        assert_eq!(error_prefix(b" leading space"), "ERR");
        assert_eq!(error_prefix(b""), "ERR");
    }

    #[test]
    fn an_error_counted_where_it_arose_only_fails_the_call() {
        let stats = CommandStats::default();
        stats.record_call(2, 1_000, Some(b"ERR inner"), false, false, false);
        stats.record_call(3, 1_000, Some(b"ERR inner"), true, false, false);
        let s = stats.snapshot();
        assert_eq!((s.commands[2].failed, s.commands[3].failed), (1, 1));
        assert_eq!((s.total_errors, s.errors), (1, vec![("ERR".into(), 1)]));
    }

    #[test]
    fn threads_are_merged_and_reset() {
        let stats = Arc::new(CommandStats::default());
        stats.record_call(3, 2_000, None, false, true, true);
        let other = stats.clone();
        std::thread::spawn(move || {
            other.record_call(3, 4_000, Some(b"ERR boom"), false, true, false);
            other.record_rejected(Some(1), b"WRONGTYPE x");
        })
        .join()
        .expect("thread ran");
        // The other thread has ended: its counts were retired, not lost.
        let s = stats.snapshot();
        let c = &s.commands[3];
        assert_eq!((c.calls, c.usec, c.failed, c.rejected), (2, 6, 1, 0));
        assert_eq!(c.histogram.as_ref().map(|h| h.len()), Some(2));
        assert_eq!(s.commands[1].rejected, 1);
        assert_eq!(s.total_errors, 2);
        assert_eq!(s.errors, vec![("ERR".into(), 1), ("WRONGTYPE".into(), 1)]);
        assert_eq!(s.used().map(|(i, _)| i).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(s.changes, 1);
        stats.reset();
        let s = stats.snapshot();
        assert_eq!((s.used().count(), s.total_errors, s.errors.len()), (0, 0, 0));
        assert_eq!(s.changes, 1, "RESETSTAT keeps rdb_changes_since_last_save");
    }

    #[test]
    fn error_prefixes_are_bounded() {
        let stats = CommandStats::default();
        for i in 0..ERROR_PREFIXES_MAX + 10 {
            stats.record_error(format!("E{i} x").as_bytes());
        }
        let s = stats.snapshot();
        assert_eq!(s.errors.len(), ERROR_PREFIXES_MAX);
        assert_eq!(s.total_errors, (ERROR_PREFIXES_MAX + 10) as u64);
    }

    #[test]
    fn buckets_are_under_one_percent_wide() {
        let mut last = 0;
        for ns in (1..200_000u64).chain([1_000_000, 999_999_999, 1_000_000_000, u64::MAX]) {
            let i = bucket_of(ns);
            assert!(i < BUCKETS && i >= last || ns > 200_000, "{ns}");
            let low = bucket_value(i);
            assert!(low <= ns.min(HISTOGRAM_MAX_NS), "{ns} in bucket {i} from {low}");
            assert!((ns.min(HISTOGRAM_MAX_NS) - low) as f64 <= low as f64 / 128.0 + 1.0, "{ns}: {low}");
            last = i;
        }
    }

    #[test]
    fn percentiles_print_as_redis_does() {
        let mut h = new_histogram();
        for ns in [1_000u64, 2_000, 3_000] {
            h.record(ns).expect("in range");
        }
        assert_eq!(percentile_name(50.0), "50");
        assert_eq!(percentile_name(99.9), "99.9");
        let line = percentiles_line(&h, &[50.0, 100.0]);
        assert!(line.starts_with("p50=2.0") && line.contains(",p100=3.0"), "{line}");
    }
}
