//! Sorted sets: member → score, plus the members ordered by (score, member).
//!
//! The order is a `BTreeSet`, so rank lookups walk the tree (O(rank));
//! a skip list with spans would make them O(log n), and is the upgrade to
//! make if ZRANK on large sets ever matters.
//!
//! Invariants:
//! - `scores` and `order` hold the same members, sharing each member's bytes.
//! - No score is NaN, and no score is `-0.0` (it is stored as `0.0`, as
//!   Redis's compact encoding stores it), so that equal scores are equal bits.
//! - Members with equal scores are ordered by their bytes (`memcmp`), as in
//!   Redis.

use std::cmp::Ordering;
use std::collections::BTreeSet;
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSetValue {
    scores: IndexMap<Bytes, f64>,
    order: BTreeSet<(Score, Bytes)>,
    bytes: usize,
}

type OrderIter<'a> = std::collections::btree_set::Range<'a, (Score, Bytes)>;

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
        if let Some((_, m, old)) = self.scores.get_full_mut(member) {
            let prev = *old;
            if prev != score {
                *old = score;
                let m = m.clone();
                let was = self.order.remove(&(Score(prev), m.clone()));
                debug_assert!(was, "zset order out of sync");
                self.order.insert((Score(score), m));
            }
            return Some(prev);
        }
        let m = Bytes::copy_from_slice(member);
        // Member bytes are shared by both structures; charge them once plus
        // the second handle's overhead.
        self.bytes += m.len() + 2 * ELEMENT_OVERHEAD;
        self.scores.insert(m.clone(), score);
        self.order.insert((Score(score), m));
        None
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, m, score) = self.scores.swap_remove_full(member)?;
        let was = self.order.remove(&(Score(score), m.clone()));
        debug_assert!(was, "zset order out of sync");
        self.bytes -= m.len() + 2 * ELEMENT_OVERHEAD;
        Some(score)
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + ExactSizeIterator {
        self.order.iter().map(|(s, m)| (m, s.0))
    }

    /// The tree range holding exactly the members with `min ≤ score ≤ max`
    /// (each end inclusive or exclusive as given); `None` if it is empty
    /// whatever the members.
    fn score_range(&self, min: ScoreBound, max: ScoreBound) -> Option<OrderIter<'_>> {
        if min.value.is_nan() || max.value.is_nan() {
            return None;
        }
        if min.value > max.value || (min.value == max.value && (min.exclusive || max.exclusive)) {
            return None;
        }
        // `(s, "")` sorts before every member of score `s`, so both ends can
        // be written as "from score a" and "before score b".
        let lo = match (min.exclusive, min.value) {
            (true, v) if v == f64::INFINITY => return None,
            (true, v) => next_up(v),
            (false, v) => v,
        };
        let hi = match (max.exclusive, max.value) {
            (false, v) if v == f64::INFINITY => None,
            (false, v) => Some(next_up(v)),
            (true, v) => Some(v),
        };
        if hi.is_some_and(|hi| lo > hi) {
            return None;
        }
        let lo = Bound::Included((Score(lo), Bytes::new()));
        let hi = hi.map_or(Bound::Unbounded, |hi| Bound::Excluded((Score(hi), Bytes::new())));
        Some(self.order.range((lo, hi)))
    }

    /// Members with `min ≤ score ≤ max` (bounds as given), ascending; use
    /// `.rev()` for descending.
    pub fn range_by_score(&self, min: ScoreBound, max: ScoreBound) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.score_range(min, max).into_iter().flatten().map(|(s, m)| (m, s.0))
    }

    /// Number of members with a score in the range.
    pub fn count_by_score(&self, min: ScoreBound, max: ScoreBound) -> usize {
        self.score_range(min, max).map_or(0, |r| r.count())
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
        let pair = |(s, m): &'a (Score, Bytes)| (m, s.0);
        if first.0 == last.0 {
            // One score: the member order is the tree order, seek directly.
            let s = first.0;
            let key = |b: &[u8]| (s, Bytes::copy_from_slice(b));
            let lo = match min {
                Bound::Unbounded => Bound::Unbounded,
                Bound::Included(b) => Bound::Included(key(b)),
                Bound::Excluded(b) => Bound::Excluded(key(b)),
            };
            let hi = match max {
                Bound::Unbounded => Bound::Unbounded,
                Bound::Included(b) => Bound::Included(key(b)),
                Bound::Excluded(b) => Bound::Excluded(key(b)),
            };
            let range = self.order.range((lo, hi)).map(pair);
            return if rev { Box::new(range.rev()) } else { Box::new(range) };
        }
        if rev {
            Box::new(
                self.order
                    .iter()
                    .rev()
                    .skip_while(move |(_, m)| !lex_le_max(m, max))
                    .take_while(move |(_, m)| lex_ge_min(m, min))
                    .map(pair),
            )
        } else {
            Box::new(
                self.order
                    .iter()
                    .skip_while(move |(_, m)| !lex_ge_min(m, min))
                    .take_while(move |(_, m)| lex_le_max(m, max))
                    .map(pair),
            )
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let (_, m, score) = self.scores.get_full(member)?;
        Some(self.order.range(..(Score(*score), m.clone())).count())
    }

    /// Members at ranks `start..=stop` (ascending, or descending if `rev`),
    /// which must be in range.
    pub fn range_by_rank(&self, start: usize, stop: usize, rev: bool) -> Box<dyn Iterator<Item = (&Bytes, f64)> + '_> {
        debug_assert!(start <= stop && stop < self.len());
        let n = stop - start + 1;
        if rev {
            Box::new(self.iter().rev().skip(start).take(n))
        } else {
            Box::new(self.iter().skip(start).take(n))
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
        let (s, m) = if max { self.order.pop_last()? } else { self.order.pop_first()? };
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
}
