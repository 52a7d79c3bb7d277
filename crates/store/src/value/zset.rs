//! Sorted sets: member → score, plus the members ordered by (score, member).
//!
//! The order is an order-statistic list ([`Order`]): sorted chunks of at
//! most `CHUNK_MAX` members plus a Fenwick tree of the chunk lengths, so
//! that finding a member's rank, the member at a rank, and both ends of a
//! score range are O(log n), as with Redis's skip list, and ranges iterate
//! in order from there. A chunk is a contiguous vector, so an insert or a
//! removal moves at most `CHUNK_MAX` entries.
//!
//! Invariants:
//! - `scores` and `order` hold the same members, sharing each member's bytes.
//! - No chunk of `order` is empty, none holds more than `CHUNK_MAX`
//!   members, and the Fenwick tree sums exactly the chunk lengths.
//! - No score is NaN, and no score is `-0.0` (it is stored as `0.0`, as
//!   Redis's compact encoding stores it), so that equal scores are equal bits.
//! - Members with equal scores are ordered by their bytes (`memcmp`), as in
//!   Redis.

use std::cmp::Ordering;
use std::ops::Bound;

use bytes::Bytes;

use super::ELEMENT_OVERHEAD;
use crate::hasher::IndexMap;

/// A score with a total order. NaN never gets in: the commands refuse it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        // `-0.0 == 0.0` as in Redis's comparisons; NaN (never stored) falls
        // back to the total order so that this stays a total order.
        self.0.partial_cmp(&other.0).unwrap_or_else(|| self.0.total_cmp(&other.0))
    }
}

/// One end of a score range: `1.5`, `(1.5`, `-inf`, `+inf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

impl ScoreBound {
    pub fn contains_as_min(&self, score: f64) -> bool {
        if self.exclusive {
            score > self.value
        } else {
            score >= self.value
        }
    }

    pub fn contains_as_max(&self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// The smallest double above `x` (`x` finite or `-inf`).
fn next_up(x: f64) -> f64 {
    debug_assert!(!x.is_nan() && x != f64::INFINITY);
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// Whether `m` is at or above the lex bound `min`.
fn lex_ge_min(m: &[u8], min: Bound<&[u8]>) -> bool {
    match min {
        Bound::Unbounded => true,
        Bound::Included(b) => m >= b,
        Bound::Excluded(b) => m > b,
    }
}

/// Whether `m` is at or below the lex bound `max`.
fn lex_le_max(m: &[u8], max: Bound<&[u8]>) -> bool {
    match max {
        Bound::Unbounded => true,
        Bound::Included(b) => m <= b,
        Bound::Excluded(b) => m < b,
    }
}

/// Whether the lex range `min..max` can hold nothing whatever the members.
fn lex_range_is_empty(min: Bound<&[u8]>, max: Bound<&[u8]>) -> bool {
    let (lo, lo_ex) = match min {
        Bound::Unbounded => return false,
        Bound::Included(b) => (b, false),
        Bound::Excluded(b) => (b, true),
    };
    let (hi, hi_ex) = match max {
        Bound::Unbounded => return false,
        Bound::Included(b) => (b, false),
        Bound::Excluded(b) => (b, true),
    };
    lo > hi || (lo == hi && (lo_ex || hi_ex))
}

/// Largest chunk of [`Order`]; a chunk that grows past it splits in two.
/// Small under test, so that the unit tests split and merge a lot.
const CHUNK_MAX: usize = if cfg!(test) { 4 } else { 256 };
/// A chunk that shrinks below this merges with a neighbour when they fit in
/// one chunk, so that deletions cannot leave many tiny chunks.
const CHUNK_MIN: usize = CHUNK_MAX / 4;

type Item = (Score, Bytes);

/// How a stored item compares with the key `(s, m)`.
fn cmp_key(item: &Item, s: Score, m: &[u8]) -> Ordering {
    item.0.cmp(&s).then_with(|| item.1[..].cmp(m))
}

/// Members in (score, member) order with O(log n) rank and select.
#[derive(Debug, Clone, Default)]
struct Order {
    chunks: Vec<Vec<Item>>,
    /// Fenwick tree (1-based, stored from index 0) over the chunk lengths.
    fenwick: Vec<usize>,
    len: usize,
}

impl PartialEq for Order {
    fn eq(&self, other: &Self) -> bool {
        // Chunk boundaries are an accident of history: compare the sequence.
        self.len == other.len && self.range(0, self.len).eq(other.range(0, other.len))
    }
}

impl Order {
    fn len(&self) -> usize {
        self.len
    }

    /// Number of members in chunks `0..ci`.
    fn prefix(&self, ci: usize) -> usize {
        let (mut sum, mut i) = (0, ci);
        while i > 0 {
            sum += self.fenwick[i - 1];
            i &= i - 1;
        }
        sum
    }

    fn fenwick_add(&mut self, ci: usize, up: bool) {
        let mut i = ci + 1;
        while i <= self.fenwick.len() {
            if up {
                self.fenwick[i - 1] += 1;
            } else {
                self.fenwick[i - 1] -= 1;
            }
            i += i & i.wrapping_neg();
        }
    }

    /// Rebuilds the Fenwick tree after chunks were split, merged or dropped.
    fn rebuild(&mut self) {
        let n = self.chunks.len();
        self.fenwick.clear();
        self.fenwick.extend(self.chunks.iter().map(Vec::len));
        for i in 1..=n {
            let j = i + (i & i.wrapping_neg());
            if j <= n {
                self.fenwick[j - 1] += self.fenwick[i - 1];
            }
        }
        debug_assert!(self.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK_MAX));
        debug_assert_eq!(self.prefix(n), self.len);
    }

    /// (chunk, offset) of the member at `rank` (< len).
    fn select(&self, rank: usize) -> (usize, usize) {
        debug_assert!(rank < self.len);
        let n = self.fenwick.len();
        let (mut pos, mut rem) = (0, rank);
        let mut step = if n == 0 { 0 } else { 1 << n.ilog2() };
        while step > 0 {
            if pos + step <= n && self.fenwick[pos + step - 1] <= rem {
                pos += step;
                rem -= self.fenwick[pos - 1];
            }
            step >>= 1;
        }
        (pos, rem)
    }

    /// Position just past `rank - 1`, i.e. where the member at `rank` is,
    /// or the end position for `rank == len`.
    fn position(&self, rank: usize) -> (usize, usize) {
        if rank >= self.len {
            (self.chunks.len(), 0)
        } else {
            self.select(rank)
        }
    }

    /// Number of members before `(s, m)` (`or_equal`: up to and including it).
    fn bound(&self, s: Score, m: &[u8], or_equal: bool) -> usize {
        let before = |item: &Item| match cmp_key(item, s, m) {
            Ordering::Less => true,
            Ordering::Equal => or_equal,
            Ordering::Greater => false,
        };
        let ci = self.chunks.partition_point(|c| before(c.last().expect("no empty chunk")));
        match self.chunks.get(ci) {
            Some(chunk) => self.prefix(ci) + chunk.partition_point(before),
            None => self.len,
        }
    }

    /// Number of members strictly before `(s, m)`.
    fn lower_bound(&self, s: Score, m: &[u8]) -> usize {
        self.bound(s, m, false)
    }

    /// Number of members up to and including `(s, m)`.
    fn upper_bound(&self, s: Score, m: &[u8]) -> usize {
        self.bound(s, m, true)
    }

    /// Where `(s, m)` is or would go: its chunk and offset there.
    fn locate(&self, s: Score, m: &[u8]) -> (usize, usize) {
        let ci = self.chunks.partition_point(|c| cmp_key(c.last().expect("no empty chunk"), s, m) == Ordering::Less);
        match self.chunks.get(ci) {
            Some(chunk) => (ci, chunk.partition_point(|x| cmp_key(x, s, m) == Ordering::Less)),
            None => (ci, 0),
        }
    }

    /// Inserts `(s, m)`, which must not be present.
    fn insert(&mut self, s: Score, m: Bytes) {
        if self.chunks.is_empty() {
            self.chunks.push(vec![(s, m)]);
            self.len = 1;
            self.rebuild();
            return;
        }
        let (mut ci, mut off) = self.locate(s, &m);
        if ci == self.chunks.len() {
            // Past every member: append to the last chunk.
            ci -= 1;
            off = self.chunks[ci].len();
        }
        debug_assert!(self.chunks[ci].get(off).is_none_or(|x| cmp_key(x, s, &m) == Ordering::Greater));
        self.chunks[ci].insert(off, (s, m));
        self.len += 1;
        if self.chunks[ci].len() > CHUNK_MAX {
            let upper = self.chunks[ci].split_off(CHUNK_MAX / 2);
            self.chunks.insert(ci + 1, upper);
            self.rebuild();
        } else {
            self.fenwick_add(ci, true);
        }
    }

    /// Removes `(s, m)`, returning the stored member bytes.
    fn remove(&mut self, s: Score, m: &[u8]) -> Option<Bytes> {
        let (ci, off) = self.locate(s, m);
        let chunk = self.chunks.get_mut(ci)?;
        if chunk.get(off).is_none_or(|x| cmp_key(x, s, m) != Ordering::Equal) {
            return None;
        }
        Some(self.remove_at(ci, off).1)
    }

    fn remove_at(&mut self, ci: usize, off: usize) -> Item {
        let item = self.chunks[ci].remove(off);
        self.len -= 1;
        let left = self.chunks[ci].len();
        if left == 0 {
            self.chunks.remove(ci);
            self.rebuild();
        } else if left < CHUNK_MIN && self.merge_around(ci) {
            self.rebuild();
        } else {
            self.fenwick_add(ci, false);
        }
        item
    }

    /// Merges the small chunk `ci` into a neighbour if they fit in one.
    fn merge_around(&mut self, ci: usize) -> bool {
        let len = self.chunks[ci].len();
        if ci + 1 < self.chunks.len() && len + self.chunks[ci + 1].len() <= CHUNK_MAX {
            let next = self.chunks.remove(ci + 1);
            self.chunks[ci].extend(next);
            return true;
        }
        if ci > 0 && len + self.chunks[ci - 1].len() <= CHUNK_MAX {
            let this = self.chunks.remove(ci);
            self.chunks[ci - 1].extend(this);
            return true;
        }
        false
    }

    fn first(&self) -> Option<&Item> {
        self.chunks.first().and_then(|c| c.first())
    }

    fn last(&self) -> Option<&Item> {
        self.chunks.last().and_then(|c| c.last())
    }

    fn pop(&mut self, last: bool) -> Option<Item> {
        if self.len == 0 {
            return None;
        }
        let (ci, off) = if last {
            let ci = self.chunks.len() - 1;
            (ci, self.chunks[ci].len() - 1)
        } else {
            (0, 0)
        };
        Some(self.remove_at(ci, off))
    }

    /// Members at ranks `start..end`, in order (`.rev()` for descending).
    fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len);
        let start = start.min(end);
        Iter { chunks: &self.chunks, front: self.position(start), back: self.position(end), remaining: end - start }
    }
}

/// An in-order walk over a rank range of an [`Order`].
#[derive(Debug, Clone)]
struct Iter<'a> {
    chunks: &'a [Vec<Item>],
    /// Position of the next member from the front.
    front: (usize, usize),
    /// Position just past the next member from the back.
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Item;

    fn next(&mut self) -> Option<&'a Item> {
        if self.remaining == 0 {
            return None;
        }
        let (ci, off) = self.front;
        let item = &self.chunks[ci][off];
        self.front = if off + 1 == self.chunks[ci].len() { (ci + 1, 0) } else { (ci, off + 1) };
        self.remaining -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }

    fn nth(&mut self, n: usize) -> Option<&'a Item> {
        if n >= self.remaining {
            self.remaining = 0;
            return None;
        }
        // Skip whole chunks at a time: O(chunks skipped), not O(n).
        let (mut ci, mut off) = self.front;
        let mut left = n;
        while off + left >= self.chunks[ci].len() {
            left -= self.chunks[ci].len() - off;
            ci += 1;
            off = 0;
        }
        self.front = (ci, off + left);
        self.remaining -= n;
        self.next()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (mut ci, mut off) = self.back;
        if off == 0 {
            ci -= 1;
            off = self.chunks[ci].len();
        }
        off -= 1;
        self.back = (ci, off);
        self.remaining -= 1;
        Some(&self.chunks[ci][off])
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// ZADD's options that decide what each pair does (ZINCRBY is ZADD
/// INCR). CH only changes the reply, so it is not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZAddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Update only to a greater score.
    pub gt: bool,
    /// Update only to a lower score.
    pub lt: bool,
    /// The score is an increment of the current one.
    pub incr: bool,
}

impl ZAddFlags {
    /// One byte: NX, XX, GT, LT, INCR from the lowest bit up.
    pub fn bits(self) -> u8 {
        [self.nx, self.xx, self.gt, self.lt, self.incr].iter().rev().fold(0, |b, &f| b << 1 | u8::from(f))
    }

    /// The flags of [`bits`](Self::bits); `None` for a byte it cannot make.
    pub fn from_bits(b: u8) -> Option<ZAddFlags> {
        (b < 1 << 5).then_some(ZAddFlags {
            nx: b & 1 != 0,
            xx: b & 2 != 0,
            gt: b & 4 != 0,
            lt: b & 8 != 0,
            incr: b & 16 != 0,
        })
    }
}

/// What [`ZSetValue::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ZAdded {
    /// New members.
    pub added: usize,
    /// Existing members whose score changed.
    pub updated: usize,
    /// Pairs the flags let through (ZADD INCR replies nil for none).
    pub processed: usize,
    /// The score of the last pair let through.
    pub last: f64,
    /// An increment made a NaN: the pairs before it were applied, the
    /// rest were not.
    pub nan: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSetValue {
    scores: IndexMap<Bytes, f64>,
    order: Order,
    bytes: usize,
}

fn pair((s, m): &Item) -> (&Bytes, f64) {
    (m, s.0)
}

impl ZSetValue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub(crate) fn mem(&self) -> usize {
        self.bytes
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score (a copy of `member` is stored if it is new),
    /// returning the old score if it was present.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        assert!(!score.is_nan(), "NaN score");
        // `-0.0 + 0.0 == +0.0`: one representation of zero.
        let score = score + 0.0;
        if let Some(old) = self.scores.get_mut(member) {
            let prev = *old;
            if prev != score {
                *old = score;
                let m = self.order.remove(Score(prev), member).expect("zset order out of sync");
                self.order.insert(Score(score), m);
            }
            return Some(prev);
        }
        let m = Bytes::copy_from_slice(member);
        // Member bytes are shared by both structures; charge them once plus
        // the second handle's overhead.
        self.bytes += m.len() + 2 * ELEMENT_OVERHEAD;
        self.scores.insert(m.clone(), score);
        self.order.insert(Score(score), m);
        None
    }

    /// Sets the score of an already-owned member (one taken from another
    /// stored value, never a slice of a client's read buffer), sharing its
    /// bytes. Returns the old score if it was present.
    pub fn insert_owned(&mut self, member: Bytes, score: f64) -> Option<f64> {
        if self.scores.contains_key(&member[..]) {
            return self.insert(&member, score);
        }
        assert!(!score.is_nan(), "NaN score");
        let score = score + 0.0;
        self.bytes += member.len() + 2 * ELEMENT_OVERHEAD;
        self.scores.insert(member.clone(), score);
        self.order.insert(Score(score), member);
        None
    }

    /// ZADD's effect: each (score, member) pair in order, as `flags` say.
    /// Both the command and a replicated delta of it run this, so that an
    /// owner applying the delta makes exactly the coordinator's value.
    pub fn add<'a>(&mut self, flags: ZAddFlags, pairs: impl IntoIterator<Item = (f64, &'a [u8])>) -> ZAdded {
        let mut done = ZAdded::default();
        for (score, member) in pairs {
            match self.score(member) {
                Some(_) if flags.nx => {}
                Some(cur) => {
                    let new = if flags.incr { score + cur } else { score };
                    if new.is_nan() {
                        done.nan = true;
                        break;
                    }
                    if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
                        continue;
                    }
                    done.processed += 1;
                    if new != cur {
                        self.insert(member, new);
                        done.updated += 1;
                    }
                    done.last = self.score(member).expect("just set");
                }
                None if flags.xx => {}
                None => {
                    self.insert(member, score);
                    done.added += 1;
                    done.processed += 1;
                    done.last = self.score(member).expect("just set");
                }
            }
        }
        done
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, m, score) = self.scores.swap_remove_full(member)?;
        let was = self.order.remove(Score(score), &m);
        debug_assert!(was.is_some(), "zset order out of sync");
        self.bytes -= m.len() + 2 * ELEMENT_OVERHEAD;
        Some(score)
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + ExactSizeIterator {
        self.order.range(0, self.order.len()).map(pair)
    }

    /// The rank range holding exactly the members with `min ≤ score ≤ max`
    /// (each end inclusive or exclusive as given).
    fn score_ranks(&self, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
        const EMPTY: (usize, usize) = (0, 0);
        if min.value.is_nan() || max.value.is_nan() {
            return EMPTY;
        }
        if min.value > max.value || (min.value == max.value && (min.exclusive || max.exclusive)) {
            return EMPTY;
        }
        // `(s, "")` sorts before every member of score `s`, so both ends are
        // "the first member of score ≥ a" and "the first of score ≥ b".
        let lo = match (min.exclusive, min.value) {
            (true, v) if v == f64::INFINITY => return EMPTY,
            (true, v) => next_up(v),
            (false, v) => v,
        };
        let hi = match (max.exclusive, max.value) {
            (false, v) if v == f64::INFINITY => self.order.len(),
            (false, v) => self.order.lower_bound(Score(next_up(v)), b""),
            (true, v) => self.order.lower_bound(Score(v), b""),
        };
        let lo = self.order.lower_bound(Score(lo), b"");
        (lo, hi.max(lo))
    }

    /// Members with `min ≤ score ≤ max` (bounds as given), ascending; use
    /// `.rev()` for descending.
    pub fn range_by_score(
        &self,
        min: ScoreBound,
        max: ScoreBound,
    ) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + ExactSizeIterator {
        let (lo, hi) = self.score_ranks(min, max);
        self.order.range(lo, hi).map(pair)
    }

    /// Number of members with a score in the range, in O(log n).
    pub fn count_by_score(&self, min: ScoreBound, max: ScoreBound) -> usize {
        let (lo, hi) = self.score_ranks(min, max);
        hi - lo
    }

    /// Members between `min` and `max` in member order, for sets whose
    /// members all have the same score (ZRANGE BYLEX); `rev` walks down from
    /// `max`. With mixed scores the result is what Redis's compact encoding
    /// gives: a walk in (score, member) order from the first member ≥ `min`
    /// while members stay ≤ `max` (from the end down, when reversed).
    pub fn range_by_lex<'a>(
        &'a self,
        min: Bound<&'a [u8]>,
        max: Bound<&'a [u8]>,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&'a Bytes, f64)> + 'a> {
        let (Some(first), Some(last)) = (self.order.first(), self.order.last()) else {
            return Box::new(std::iter::empty());
        };
        if lex_range_is_empty(min, max) || !lex_ge_min(&last.1, min) || !lex_le_max(&first.1, max) {
            return Box::new(std::iter::empty());
        }
        if first.0 == last.0 {
            // One score: member order is the stored order, seek directly.
            let s = first.0;
            let lo = match min {
                Bound::Unbounded => 0,
                Bound::Included(b) => self.order.lower_bound(s, b),
                Bound::Excluded(b) => self.order.upper_bound(s, b),
            };
            let hi = match max {
                Bound::Unbounded => self.order.len(),
                Bound::Included(b) => self.order.upper_bound(s, b),
                Bound::Excluded(b) => self.order.lower_bound(s, b),
            };
            let range = self.order.range(lo, hi.max(lo)).map(pair);
            return if rev { Box::new(range.rev()) } else { Box::new(range) };
        }
        let all = self.order.range(0, self.order.len());
        if rev {
            Box::new(
                all.rev()
                    .skip_while(move |(_, m)| !lex_le_max(m, max))
                    .take_while(move |(_, m)| lex_ge_min(m, min))
                    .map(pair),
            )
        } else {
            Box::new(
                all.skip_while(move |(_, m)| !lex_ge_min(m, min))
                    .take_while(move |(_, m)| lex_le_max(m, max))
                    .map(pair),
            )
        }
    }

    /// 0-based rank of `member` in ascending order, in O(log n).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.order.lower_bound(Score(score), member))
    }

    /// Members at ranks `start..=stop` (ascending, or descending if `rev`),
    /// which must be in range.
    pub fn range_by_rank(&self, start: usize, stop: usize, rev: bool) -> Box<dyn Iterator<Item = (&Bytes, f64)> + '_> {
        debug_assert!(start <= stop && stop < self.len());
        let n = self.len();
        if rev {
            Box::new(self.order.range(n - 1 - stop, n - start).rev().map(pair))
        } else {
            Box::new(self.order.range(start, stop + 1).map(pair))
        }
    }

    /// Removes the members at ascending ranks `start..=stop` (in range),
    /// returning how many went.
    pub fn remove_range_by_rank(&mut self, start: usize, stop: usize) -> usize {
        let doomed: Vec<Bytes> = self.range_by_rank(start, stop, false).map(|(m, _)| m.clone()).collect();
        doomed.iter().for_each(|m| {
            self.remove(m);
        });
        doomed.len()
    }

    /// Removes the members with a score in the range, returning how many went.
    pub fn remove_range_by_score(&mut self, min: ScoreBound, max: ScoreBound) -> usize {
        let doomed: Vec<Bytes> = self.range_by_score(min, max).map(|(m, _)| m.clone()).collect();
        doomed.iter().for_each(|m| {
            self.remove(m);
        });
        doomed.len()
    }

    /// The member at position `i` of the member table (not rank order), for
    /// ZSCAN cursors and random sampling.
    pub fn get_index(&self, i: usize) -> Option<(&Bytes, f64)> {
        self.scores.get_index(i).map(|(m, s)| (m, *s))
    }

    /// Removes and returns the lowest (or highest if `max`) member.
    pub fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let (s, m) = self.order.pop(max)?;
        let removed = self.scores.swap_remove(&m);
        debug_assert!(removed.is_some(), "zset order out of sync");
        self.bytes -= m.len() + 2 * ELEMENT_OVERHEAD;
        Some((m, s.0))
    }

    /// Visits up to `count` positions of the member table starting at
    /// `cursor` (0 = a fresh start), pushing the members that `keep` accepts,
    /// with their scores, into `out`. Returns the cursor to continue from,
    /// 0 when done. Positions go from the highest down, so a member present
    /// for the whole scan is never missed (see `SetValue::scan`).
    pub fn scan(
        &self,
        cursor: usize,
        count: usize,
        mut keep: impl FnMut(&[u8]) -> bool,
        out: &mut Vec<(Bytes, f64)>,
    ) -> usize {
        let mut next = if cursor == 0 { self.scores.len() } else { cursor.min(self.scores.len()) };
        let mut visited = 0;
        while next > 0 && visited < count.max(1) {
            next -= 1;
            visited += 1;
            let (m, s) = self.scores.get_index(next).expect("index in range");
            if keep(m) {
                out.push((m.clone(), *s));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: f64, exclusive: bool) -> ScoreBound {
        ScoreBound { value: v, exclusive }
    }

    fn members<'a>(it: impl Iterator<Item = (&'a Bytes, f64)>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8_lossy(m).into_owned()).collect()
    }

    fn cost(m: &[u8]) -> usize {
        m.len() + 2 * ELEMENT_OVERHEAD
    }

    #[test]
    fn owned_members_are_shared_and_accounted_once() {
        let mut z = ZSetValue::new();
        let m = Bytes::from(vec![b'x'; 100]);
        assert_eq!(z.insert_owned(m.clone(), 1.0), None);
        assert_eq!(z.insert_owned(m.clone(), -0.0), Some(1.0));
        assert_eq!(z.score(&m), Some(0.0));
        assert_eq!(z.mem(), cost(&m));
        assert_eq!(members(z.iter()), [String::from_utf8(m.to_vec()).unwrap()]);
    }

    #[test]
    fn order_rank_and_ranges() {
        let mut z = ZSetValue::new();
        assert_eq!(z.insert(b"b", 2.0), None);
        assert_eq!(z.insert(b"a", 1.0), None);
        assert_eq!(z.insert(b"c", 2.0), None);
        assert_eq!(z.insert(b"a", 3.0), Some(1.0));
        assert_eq!(members(z.iter()), ["b", "c", "a"]);
        assert_eq!(z.rank(b"a"), Some(2));
        assert_eq!(z.rank(b"b"), Some(0));
        assert_eq!(z.rank(b"zz"), None);
        assert_eq!(members(z.range_by_score(b(2.0, true), b(f64::INFINITY, false))), ["a"]);
        assert_eq!(z.range_by_score(b(3.0, false), b(1.0, false)).count(), 0);
        assert_eq!(z.pop(false), Some((Bytes::from("b"), 2.0)));
        assert_eq!(z.remove(b"a"), Some(3.0));
        assert_eq!(z.len(), 1);
        assert_eq!(z.mem(), cost(b"c"));
    }

    #[test]
    fn score_ranges_respect_every_bound_kind() {
        let mut z = ZSetValue::new();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0), ("e", f64::INFINITY), ("f", f64::NEG_INFINITY)] {
            z.insert(m.as_bytes(), s);
        }
        let inf = f64::INFINITY;
        let r = |lo, hi| members(z.range_by_score(lo, hi));
        assert_eq!(r(b(2.0, false), b(2.0, false)), ["b", "c"]);
        assert_eq!(r(b(2.0, true), b(2.0, false)), Vec::<String>::new());
        assert_eq!(r(b(1.0, true), b(3.0, true)), ["b", "c"]);
        assert_eq!(r(b(1.0, false), b(3.0, false)), ["a", "b", "c", "d"]);
        assert_eq!(r(b(-inf, false), b(inf, false)), ["f", "a", "b", "c", "d", "e"]);
        assert_eq!(r(b(-inf, true), b(inf, true)), ["a", "b", "c", "d"]);
        assert_eq!(r(b(inf, false), b(inf, false)), ["e"]);
        assert_eq!(r(b(inf, true), b(inf, false)), Vec::<String>::new());
        assert_eq!(r(b(2.5, false), b(2.6, false)), Vec::<String>::new());
        assert_eq!(members(z.range_by_score(b(1.0, false), b(2.0, false)).rev()), ["c", "b", "a"]);
        assert_eq!(z.count_by_score(b(1.5, false), b(inf, false)), 4);
        assert_eq!(z.count_by_score(b(5.0, false), b(1.0, false)), 0);
    }

    #[test]
    fn negative_zero_is_zero() {
        let mut z = ZSetValue::new();
        z.insert(b"b", -0.0);
        z.insert(b"a", 0.0);
        assert_eq!(members(z.iter()), ["a", "b"]);
        assert!(z.score(b"b").unwrap().is_sign_positive());
        assert_eq!(z.insert(b"a", -0.0), Some(0.0));
        assert_eq!(members(z.range_by_score(b(0.0, false), b(0.0, false))), ["a", "b"]);
        assert_eq!(members(z.range_by_score(b(-0.0, false), b(-0.0, false))), ["a", "b"]);
    }

    #[test]
    fn lex_ranges_like_redis() {
        let mut z = ZSetValue::new();
        for m in ["a", "b", "c", "d", "e"] {
            z.insert(m.as_bytes(), 0.0);
        }
        use Bound::{Excluded as Ex, Included as In, Unbounded as Un};
        let r = |lo, hi, rev| members(z.range_by_lex(lo, hi, rev));
        assert_eq!(r(Un, Un, false), ["a", "b", "c", "d", "e"]);
        assert_eq!(r(In(&b"b"[..]), Ex(&b"d"[..]), false), ["b", "c"]);
        assert_eq!(r(Ex(&b"b"[..]), In(&b"d"[..]), true), ["d", "c"]);
        assert_eq!(r(In(&b"bb"[..]), Un, false), ["c", "d", "e"]);
        assert_eq!(r(In(&b"c"[..]), Ex(&b"c"[..]), false), Vec::<String>::new());
        assert_eq!(r(In(&b"d"[..]), In(&b"b"[..]), false), Vec::<String>::new());
        assert_eq!(r(In(&b"c"[..]), In(&b"c"[..]), true), ["c"]);
        z.insert(b"a", 5.0);
        let r = |lo, hi, rev| members(z.range_by_lex(lo, hi, rev));
        // Mixed scores (b c d e at 0, a at 5): checked against Redis 7.
        assert_eq!(r(In(&b"b"[..]), Un, false), Vec::<String>::new(), "the last member is below min");
        assert_eq!(r(In(&b"a"[..]), Un, false), ["b", "c", "d", "e", "a"]);
        assert_eq!(r(Un, Ex(&b"d"[..]), true), ["a", "e", "d", "c", "b"]);
        assert_eq!(r(Un, Ex(&b"e"[..]), false), ["b", "c", "d"]);
    }

    #[test]
    fn rank_ranges_and_removals_keep_accounting() {
        let mut z = ZSetValue::new();
        for (i, m) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64);
        }
        assert_eq!(members(z.range_by_rank(1, 3, false)), ["b", "c", "d"]);
        assert_eq!(members(z.range_by_rank(0, 1, true)), ["e", "d"]);
        assert_eq!(z.remove_range_by_rank(0, 1), 2);
        assert_eq!(members(z.iter()), ["c", "d", "e"]);
        assert_eq!(z.remove_range_by_score(b(3.0, true), b(f64::INFINITY, false)), 1);
        assert_eq!(members(z.iter()), ["c", "d"]);
        assert_eq!(z.mem(), cost(b"c") + cost(b"d"));
        assert_eq!(z.pop(true), Some((Bytes::from("d"), 3.0)));
        assert_eq!(z.pop(true), Some((Bytes::from("c"), 2.0)));
        assert_eq!(z.pop(true), None);
        assert_eq!(z.mem(), 0);
        assert!(z.is_empty());
    }

    #[test]
    fn score_updates_move_members_and_keep_accounting() {
        let mut z = ZSetValue::new();
        z.insert(b"x", 1.0);
        z.insert(b"yy", 2.0);
        assert_eq!(z.insert(b"x", 3.0), Some(1.0));
        assert_eq!(z.insert(b"x", 3.0), Some(3.0));
        assert_eq!(members(z.iter()), ["yy", "x"]);
        assert_eq!(z.mem(), cost(b"x") + cost(b"yy"));
        assert_eq!(z.order.len(), z.scores.len());
        assert_eq!(z.order.len, z.order.range(0, usize::MAX).count());
    }

    #[test]
    fn scan_returns_members_with_scores() {
        let mut z = ZSetValue::new();
        for i in 0..12 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, 5, |_| true, &mut out);
            if cursor == 0 {
                break;
            }
        }
        out.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(out.len(), 12);
        assert_eq!(out[3], (Bytes::from("m3"), 3.0));
    }

    /// Checks `z` against a plain sorted vector, and the chunk invariants.
    fn check_against_model(z: &ZSetValue, model: &[(f64, Vec<u8>)]) {
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        let want: Vec<(Vec<u8>, f64)> = model.iter().map(|(s, m)| (m.clone(), *s)).collect();
        assert_eq!(got, want);
        assert_eq!(z.len(), model.len());
        let back: Vec<_> = z.iter().rev().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(back, want.iter().rev().map(|(m, _)| m.clone()).collect::<Vec<_>>());
        for (i, (_, m)) in model.iter().enumerate() {
            assert_eq!(z.rank(m), Some(i));
        }
        let o = &z.order;
        assert!(o.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK_MAX));
        let mut fresh = o.clone();
        fresh.rebuild();
        assert_eq!(fresh.fenwick, o.fenwick, "Fenwick tree out of date");
        assert_eq!(z.mem(), model.iter().map(|(_, m)| cost(m)).sum::<usize>());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, f64),
        Remove(u8),
        Pop(bool),
        RemoveRanks(usize, usize),
    }

    fn arb_op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let score = prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            Just(1.5),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            -3.0f64..3.0,
        ];
        prop_oneof![
            4 => (0u8..40, score).prop_map(|(m, s)| Op::Insert(m, s)),
            2 => (0u8..40).prop_map(Op::Remove),
            1 => any::<bool>().prop_map(Op::Pop),
            1 => (0usize..40, 0usize..8).prop_map(|(a, n)| Op::RemoveRanks(a, n)),
        ]
    }

    proptest::proptest! {
        /// Every operation leaves the sorted set equal to a sorted vector
        /// model, with ranks, both iteration directions, score ranges and
        /// byte accounting right, through many chunk splits and merges.
        #[test]
        fn matches_a_sorted_vector_model(
            ops in proptest::collection::vec(arb_op(), 1..300),
            ranges in proptest::collection::vec((-4.0f64..4.0, -4.0f64..4.0, proptest::bool::ANY, proptest::bool::ANY), 4),
        ) {
            let mut z = ZSetValue::new();
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            let sort = |model: &mut Vec<(f64, Vec<u8>)>| {
                model.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
            };
            for op in ops {
                match op {
                    Op::Insert(m, s) => {
                        let m = format!("m{m}").into_bytes();
                        let old = model.iter().position(|(_, x)| *x == m).map(|i| model.remove(i).0);
                        assert_eq!(z.insert(&m, s), old);
                        model.push((s + 0.0, m));
                        sort(&mut model);
                    }
                    Op::Remove(m) => {
                        let m = format!("m{m}").into_bytes();
                        let old = model.iter().position(|(_, x)| *x == m).map(|i| model.remove(i).0);
                        assert_eq!(z.remove(&m), old);
                    }
                    Op::Pop(max) => {
                        let want = if max { model.pop() } else if model.is_empty() { None } else { Some(model.remove(0)) };
                        let got = z.pop(max).map(|(m, s)| (s, m.to_vec()));
                        assert_eq!(got, want);
                    }
                    Op::RemoveRanks(start, n) => {
                        if start < model.len() {
                            let stop = (start + n).min(model.len() - 1);
                            assert_eq!(z.remove_range_by_rank(start, stop), stop - start + 1);
                            model.drain(start..=stop);
                        }
                    }
                }
                check_against_model(&z, &model);
            }
            for (lo, hi, lo_ex, hi_ex) in ranges {
                let (min, max) = (b(lo, lo_ex), b(hi, hi_ex));
                let want: Vec<Vec<u8>> = model
                    .iter()
                    .filter(|(s, _)| min.contains_as_min(*s) && max.contains_as_max(*s))
                    .map(|(_, m)| m.clone())
                    .collect();
                let got: Vec<Vec<u8>> = z.range_by_score(min, max).map(|(m, _)| m.to_vec()).collect();
                assert_eq!(&got, &want);
                assert_eq!(z.count_by_score(min, max), want.len());
                let rev: Vec<Vec<u8>> = z.range_by_score(min, max).rev().map(|(m, _)| m.to_vec()).collect();
                assert_eq!(rev, want.into_iter().rev().collect::<Vec<_>>());
            }
            if !model.is_empty() {
                let n = model.len();
                for (start, stop) in [(0, n - 1), (n / 2, n - 1), (0, n / 3), (n / 3, n / 2)] {
                    let fwd: Vec<_> = z.range_by_rank(start, stop, false).map(|(m, _)| m.to_vec()).collect();
                    let want: Vec<_> = model[start..=stop].iter().map(|(_, m)| m.clone()).collect();
                    assert_eq!(&fwd, &want);
                    let rev: Vec<_> = z.range_by_rank(start, stop, true).map(|(m, _)| m.to_vec()).collect();
                    let want_rev: Vec<_> = model.iter().rev().skip(start).take(stop - start + 1).map(|(_, m)| m.clone()).collect();
                    assert_eq!(rev, want_rev);
                }
                // Skipping (nth) jumps chunks correctly.
                for (k, (_, m)) in model.iter().enumerate() {
                    let got = z.order.range(0, n).nth(k).map(|(_, m)| m.to_vec());
                    assert_eq!(got.as_ref(), Some(m));
                }
            }
        }
    }

    proptest::proptest! {
        /// With one score for all, lex ranges seek by rank; they must agree
        /// with filtering the members.
        #[test]
        fn lex_ranges_match_a_filter(
            members in proptest::collection::btree_set("[a-e]{0,3}", 0..30),
            lo in "[a-e]{0,3}", hi in "[a-e]{0,3}",
            kinds in (0u8..3, 0u8..3),
            rev in proptest::bool::ANY,
        ) {
            let mut z = ZSetValue::new();
            for m in &members {
                z.insert(m.as_bytes(), 7.0);
            }
            fn bound(kind: u8, b: &str) -> Bound<&[u8]> {
                match kind {
                    0 => Bound::Unbounded,
                    1 => Bound::Included(b.as_bytes()),
                    _ => Bound::Excluded(b.as_bytes()),
                }
            }
            let (min, max) = (bound(kinds.0, &lo), bound(kinds.1, &hi));
            let mut want: Vec<&[u8]> = members
                .iter()
                .map(|m| m.as_bytes())
                .filter(|m| lex_ge_min(m, min) && lex_le_max(m, max))
                .collect();
            if rev {
                want.reverse();
            }
            let got: Vec<Vec<u8>> = z.range_by_lex(min, max, rev).map(|(m, _)| m.to_vec()).collect();
            let want: Vec<Vec<u8>> = want.into_iter().map(<[u8]>::to_vec).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
