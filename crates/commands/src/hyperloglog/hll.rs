//! Redis's HyperLogLog representation, ported from `src/hyperloglog.c` of
//! Redis 7.2: a string value that GET/SET/DUMP carry unchanged, so a value
//! made by redis-server counts the same here and the other way round.
//!
//! Layout: a 16-byte header (`"HYLL"`, the encoding byte, three zero
//! bytes, the cached cardinality as 8 little-endian bytes whose top bit set
//! means "stale"), then the 16384 registers of P = 14 bits of a 64-bit
//! MurmurHash64A, either
//! - dense: 6 bits per register, packed from the least significant bit of
//!   each byte (12,288 bytes), or
//! - sparse: run-length opcodes, `00xxxxxx` ZERO (1..64 zero registers),
//!   `01xxxxxx yyyyyyyy` XZERO (1..16384 zero registers), `1vvvvvxx` VAL
//!   (1..4 registers of value 1..32).
//!
//! A new HLL is sparse; it is promoted to dense when a register needs a
//! value above 32 or the sparse form would grow past
//! `hll-sparse-max-bytes`. Every function here takes bytes a client may
//! have written (SET, SETRANGE, RESTORE): corrupt input is reported as
//! [`Corrupt`], never a panic or an out-of-bounds access. Where Redis's C
//! reads the byte past the end of a string (its implicit NUL), this reads
//! zero.

use bytes::BytesMut;

/// Header bytes before the registers.
pub const HDR_SIZE: usize = 16;
pub const P: u32 = 14;
/// Hash bits left after the register index, which give the run of zeros.
const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
const P_MASK: u64 = REGISTERS as u64 - 1;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;

const SPARSE_XZERO_BIT: u8 = 0x40;
const SPARSE_VAL_BIT: u8 = 0x80;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln 2.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
/// Redis's seed for element hashes.
const SEED: u64 = 0xadc8_3b19;

/// The sparse registers do not add up to 16384, or an opcode runs past
/// them: Redis's `-INVALIDOBJ Corrupted HLL object detected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

pub type Result<T> = std::result::Result<T, Corrupt>;

/// MurmurHash64A as Redis has it (endian-neutral: blocks read little-endian).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8-byte block"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `ele` falls in and the length of its `0…01` pattern
/// (1..=Q+1): Redis's `hllPatLen`.
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & P_MASK) as usize;
    // The forced bit at Q bounds the count at Q + 1.
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- Header ----

/// Whether `s` is an HLL as Redis's `isHLLObjectOrReply` checks it: the
/// magic, a known encoding, and exactly the dense size when dense. The
/// sparse opcodes are checked only as they are read.
pub fn is_valid(s: &[u8]) -> bool {
    s.len() >= HDR_SIZE && &s[..4] == b"HYLL" && s[4] <= MAX_ENCODING && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

pub fn encoding(s: &[u8]) -> u8 {
    s[4]
}

/// The cached cardinality, if it is valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(s[8..16].try_into().expect("8 header bytes"));
    (s[15] & 0x80 == 0).then_some(card)
}

pub fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// A new, empty HLL: sparse, all registers in XZERO opcodes, the cache
/// valid at 0 (`createHLLObject`).
pub fn new_sparse() -> BytesMut {
    let mut s = BytesMut::zeroed(HDR_SIZE);
    s[..4].copy_from_slice(b"HYLL");
    s[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        s.extend_from_slice(&xzero(n));
        left -= n;
    }
    s
}

// ---- Dense registers ----

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u16::from(REGISTER_MAX)) as u8
}

fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = u16::from(val);
    let max = u16::from(REGISTER_MAX);
    regs[byte] &= !((max << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    // The last register fits in its first byte (fb = 2), so the second
    // byte, past the end, would take no bits.
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((max >> (8 - fb)) as u8);
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// Raises register `i` of a dense HLL to `count`: whether it changed.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

// ---- Sparse opcodes ----

fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}

fn is_xzero(op: u8) -> bool {
    op & 0xc0 == SPARSE_XZERO_BIT
}

fn is_val(op: u8) -> bool {
    op & SPARSE_VAL_BIT != 0
}

fn zero_len(op: u8) -> usize {
    usize::from(op & 0x3f) + 1
}

fn xzero_len(op: u8, next: u8) -> usize {
    ((usize::from(op & 0x3f) << 8) | usize::from(next)) + 1
}

fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}

fn val_len(op: u8) -> usize {
    usize::from(op & 0x3) + 1
}

fn val(value: u8, len: usize) -> u8 {
    debug_assert!((1..=SPARSE_VAL_MAX_VALUE).contains(&value) && (1..=SPARSE_VAL_MAX_LEN).contains(&len));
    ((value - 1) << 2 | (len as u8 - 1)) | SPARSE_VAL_BIT
}

fn zero(len: usize) -> u8 {
    debug_assert!((1..=SPARSE_ZERO_MAX_LEN).contains(&len));
    (len - 1) as u8
}

fn xzero(len: usize) -> [u8; 2] {
    debug_assert!((1..=SPARSE_XZERO_MAX_LEN).contains(&len));
    let l = len - 1;
    [(l >> 8) as u8 | SPARSE_XZERO_BIT, (l & 0xff) as u8]
}

/// One sparse opcode: how many registers it covers and with what value.
#[derive(Debug, Clone, Copy)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    /// Reads the opcode at `p` of `ops` (the byte after the end reads 0).
    fn at(ops: &[u8], p: usize) -> Op {
        let b = ops[p];
        if is_zero(b) {
            Op::Zero(zero_len(b))
        } else if is_xzero(b) {
            Op::XZero(xzero_len(b, ops.get(p + 1).copied().unwrap_or(0)))
        } else {
            Op::Val(val_value(b), val_len(b))
        }
    }

    fn bytes(self) -> usize {
        if let Op::XZero(_) = self {
            2
        } else {
            1
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
}

/// Calls `f(first, len, value)` for each VAL run of the sparse opcodes
/// `ops`, stopping with [`Corrupt`] at a run that goes past the registers
/// or when the opcodes do not cover exactly 16384 registers
/// (`hllSparseToDense`, `hllMerge`).
fn for_each_val(ops: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<()> {
    let (mut p, mut idx) = (0, 0usize);
    while p < ops.len() {
        let op = Op::at(ops, p);
        if let Op::Val(v, n) = op {
            if idx + n > REGISTERS {
                return Err(Corrupt);
            }
            f(idx, n, v);
        }
        idx += op.span();
        p += op.bytes();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Rewrites a sparse HLL as dense, keeping the header but the encoding
/// (`hllSparseToDense`); a dense one is left alone.
pub fn to_dense(s: &mut BytesMut) -> Result<()> {
    if s[4] == DENSE {
        return Ok(());
    }
    let mut dense = BytesMut::zeroed(DENSE_SIZE);
    dense[..HDR_SIZE].copy_from_slice(&s[..HDR_SIZE]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR_SIZE..];
    for_each_val(&s[HDR_SIZE..], |first, n, v| {
        for i in first..first + n {
            dense_put(regs, i, v);
        }
    })?;
    *s = dense;
    Ok(())
}

/// Raises register `index` of a sparse HLL to `count` (`hllSparseSet`):
/// whether it changed. Splits the opcode covering the register, merges
/// equal neighbours, and promotes the HLL to dense when `count` is above
/// what VAL holds or the string would grow past `max_bytes`.
fn sparse_set(s: &mut BytesMut, index: usize, count: u8, max_bytes: usize) -> Result<bool> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = s.len();
    let (mut p, mut first, mut prev) = (HDR_SIZE, 0usize, None);
    let mut found = None;
    while p < end {
        let op = Op::at(s, p);
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.bytes();
        first += op.span();
    }
    let Some(op) = found else { return Err(Corrupt) };

    // Step 2: the cases that need no split.
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            s[p] = val(count, 1);
            merge_vals(s, prev.unwrap_or(HDR_SIZE));
            invalidate_cache(s);
            return Ok(true);
        }
        _ => {}
    }

    // The general case: the opcode becomes up to three (the worst is an
    // XZERO split into XZERO VAL XZERO, 5 bytes).
    let last = first + op.span() - 1;
    let mut seq = [0u8; 5];
    let mut n = 0;
    let zeros = |seq: &mut [u8; 5], n: &mut usize, len: usize| {
        if len > SPARSE_ZERO_MAX_LEN {
            seq[*n..*n + 2].copy_from_slice(&xzero(len));
            *n += 2;
        } else {
            seq[*n] = zero(len);
            *n += 1;
        }
    };
    match op {
        Op::Zero(_) | Op::XZero(_) => {
            if index != first {
                zeros(&mut seq, &mut n, index - first);
            }
            seq[n] = val(count, 1);
            n += 1;
            if index != last {
                zeros(&mut seq, &mut n, last - index);
            }
        }
        Op::Val(cur, _) => {
            if index != first {
                seq[n] = val(cur, index - first);
                n += 1;
            }
            seq[n] = val(count, 1);
            n += 1;
            if index != last {
                seq[n] = val(cur, last - index);
                n += 1;
            }
        }
    }

    // Step 3: put the new sequence in place of the old opcode, or promote
    // if that would pass the limit.
    let old_len = op.bytes();
    if n > old_len && end + (n - old_len) > max_bytes {
        return promote(s, index, count);
    }
    // An XZERO cut short by the end of the string covers only what is there.
    let tail = (p + old_len).min(end);
    let rest = s[tail..].to_vec();
    s.truncate(p);
    s.extend_from_slice(&seq[..n]);
    s.extend_from_slice(&rest);

    // Step 4: merge adjacent VALs of equal value.
    merge_vals(s, prev.unwrap_or(HDR_SIZE));
    invalidate_cache(s);
    Ok(true)
}

/// Merges adjacent VAL opcodes of the same value, scanning up to five
/// opcodes from `p` (step 4 of `hllSparseSet`).
fn merge_vals(s: &mut BytesMut, mut p: usize) {
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if is_xzero(b) {
            p += 2;
            continue;
        } else if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < s.len() && is_val(s[p + 1]) {
            let (v1, v2) = (val_value(b), val_value(s[p + 1]));
            let len = val_len(b) + val_len(s[p + 1]);
            if v1 == v2 && len <= SPARSE_VAL_MAX_LEN {
                s[p + 1] = val(v1, len);
                let end = s.len();
                s.copy_within(p + 1..end, p);
                s.truncate(end - 1);
                // Stay at `p`: the merged opcode may merge with the next.
                continue;
            }
        }
        p += 1;
    }
}

fn promote(s: &mut BytesMut, index: usize, count: u8) -> Result<bool> {
    to_dense(s)?;
    // The register needed raising, or the sparse form would not have been
    // left: the dense one raises it.
    let changed = dense_set(&mut s[HDR_SIZE..], index, count);
    debug_assert!(changed);
    Ok(true)
}

/// Adds `ele` (`hllAdd`): whether a register changed. The cache is left
/// to the caller, as PFADD invalidates it once.
pub fn add(s: &mut BytesMut, ele: &[u8], sparse_max_bytes: usize) -> Result<bool> {
    let (index, count) = pat_len(ele);
    set_register(s, index, count, sparse_max_bytes)
}

/// Raises register `index` to `count` in either encoding.
pub fn set_register(s: &mut BytesMut, index: usize, count: u8, sparse_max_bytes: usize) -> Result<bool> {
    match s[4] {
        DENSE => Ok(dense_set(&mut s[HDR_SIZE..], index, count)),
        SPARSE => sparse_set(s, index, count, sparse_max_bytes),
        _ => Err(Corrupt),
    }
}

/// Raises each of `max` to the matching register of `s` (`hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<()> {
    if s[4] == DENSE {
        let regs = &s[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    for_each_val(&s[HDR_SIZE..], |first, n, v| {
        for m in &mut max[first..first + n] {
            *m = (*m).max(v);
        }
    })
}

// ---- Estimation ----

/// The registers' histogram (`hllDenseRegHisto`, `hllSparseRegHisto`);
/// sparse opcodes that do not cover exactly the registers are corrupt.
fn histogram(s: &[u8]) -> Result<[u64; 64]> {
    let mut h = [0u64; 64];
    let regs = &s[HDR_SIZE..];
    if s[4] == DENSE {
        for i in 0..REGISTERS {
            h[usize::from(dense_get(regs, i))] += 1;
        }
        return Ok(h);
    }
    let (mut p, mut idx) = (0, 0usize);
    while p < regs.len() {
        let op = Op::at(regs, p);
        let v = if let Op::Val(v, _) = op { usize::from(v) } else { 0 };
        h[v] += op.span() as u64;
        idx += op.span();
        p += op.bytes();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// Ertl's σ ("New cardinality estimation algorithms for HyperLogLog
/// sketches", arXiv:1702.01284), as Redis computes it.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let z_prev = z;
        z += x * y;
        y += y;
        if z_prev == z {
            return z;
        }
    }
}

/// Ertl's τ, as Redis computes it.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let z_prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z_prev == z {
            return z / 3.0;
        }
    }
}

/// The estimate from a register histogram (`hllCount`).
fn estimate(h: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - h[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    // `llroundl`: half away from zero, as `f64::round`.
    (ALPHA_INF * m * m / z).round() as u64
}

/// The cardinality of an HLL, ignoring its cache.
pub fn count(s: &[u8]) -> Result<u64> {
    Ok(estimate(&histogram(s)?))
}

/// The cardinality of merged registers, one byte each (the `HLL_RAW` path
/// of a PFCOUNT over several keys).
pub fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut h = [0u64; 64];
    for &r in regs.iter() {
        h[usize::from(r & 63)] += 1;
    }
    estimate(&h)
}

/// PFSELFTEST's two checks (`pfselftestCommand`): the dense register
/// accessors keep what they set without touching neighbours, and over up
/// to 10 million elements the estimate stays within six standard errors,
/// with sparse and dense agreeing. `Err` carries Redis's TESTFAILED text.
pub fn self_test(rng: &mut impl rand::Rng, sparse_max_bytes: usize) -> std::result::Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = rng.gen::<u8>() & REGISTER_MAX;
            dense_put(&mut regs, i, *b);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let got = dense_get(&regs, i);
            if got != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {got}"));
            }
        }
    }
    let mut dense = BytesMut::zeroed(DENSE_SIZE);
    dense[..4].copy_from_slice(b"HYLL");
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.gen();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let (index, c) = pat_len(&ele);
        dense_set(&mut dense[HDR_SIZE..], index, c);
        set_register(&mut sparse, index, c, sparse_max_bytes).map_err(|_| "TESTFAILED sparse corrupted".to_owned())?;
        if j != checkpoint {
            continue;
        }
        if j < sparse_max_bytes as u64 / 2 && sparse[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".to_owned());
        }
        let est = count(&dense).expect("a dense HLL is never corrupt");
        if Ok(est) != count(&sparse) {
            return Err("TESTFAILED dense/sparse disagree".to_owned());
        }
        // Cardinality 10 gets a tighter bound, as in Redis.
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        let abserr = checkpoint.abs_diff(est);
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{rngs::SmallRng, Rng, SeedableRng};

    fn add_all(s: &mut BytesMut, elements: impl IntoIterator<Item = Vec<u8>>, max: usize) {
        for e in elements {
            add(s, &e, max).unwrap();
        }
    }

    fn dense_of(s: &BytesMut) -> BytesMut {
        let mut d = s.clone();
        to_dense(&mut d).unwrap();
        d
    }

    #[test]
    fn murmur_matches_redis() {
        // From Redis's C `MurmurHash64A` with its seed: empty, tail only,
        // one block, a block and a tail, several blocks.
        let cases: [(&[u8], u64); 5] = [
            (b"", 0xd8df_ea65_85bc_9732),
            (b"a", 0x53d2_470a_9b43_b1a7),
            (b"abcdefgh", 0xf3a6_5df5_5991_4567),
            (b"abcdefghi", 0x834f_ba4d_9152_daf7),
            (b"hello world, this is redis", 0x13ea_3d21_686b_0718),
        ];
        for (key, want) in cases {
            assert_eq!(murmur64a(key, SEED), want, "{key:?}");
        }
    }

    #[test]
    fn a_new_hll_is_sparse_xzero() {
        let s = new_sparse();
        assert_eq!(&s[..], b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert!(is_valid(&s));
        assert_eq!(cached(&s), Some(0));
        assert_eq!(count(&s), Ok(0));
    }

    #[test]
    fn dense_registers_keep_their_neighbours() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        let want: Vec<u8> = (0..REGISTERS).map(|_| rng.gen::<u8>() & 63).collect();
        for (i, &v) in want.iter().enumerate() {
            dense_put(&mut regs, i, v);
        }
        for (i, &v) in want.iter().enumerate() {
            assert_eq!(dense_get(&regs, i), v, "register {i}");
        }
    }

    #[test]
    fn sparse_promotes_past_the_limit() {
        for max in [100usize, 500, 3000] {
            let mut s = new_sparse();
            let mut n = 0u64;
            while s[4] == SPARSE {
                assert!(s.len() <= max, "sparse at {} bytes with limit {max}", s.len());
                add(&mut s, &n.to_le_bytes(), max).unwrap();
                n += 1;
            }
            assert_eq!(s.len(), DENSE_SIZE);
        }
    }

    #[test]
    fn a_run_above_32_promotes() {
        let mut s = new_sparse();
        assert_eq!(set_register(&mut s, 5, 33, 3000), Ok(true));
        assert_eq!(s[4], DENSE);
        assert_eq!(dense_get(&s[HDR_SIZE..], 5), 33);
    }

    #[test]
    fn corrupt_sparse_is_detected_not_trusted() {
        let mut s = new_sparse();
        add_all(&mut s, [b"a".to_vec(), b"b".to_vec()], 3000);
        let mut tail = s.clone();
        tail.extend_from_slice(b"hello");
        assert_eq!(count(&tail), Err(Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &tail), Err(Corrupt));
        // Truncated: the opcodes stop short of the registers.
        let short = BytesMut::from(&s[..s.len() - 1]);
        assert_eq!(count(&short), Err(Corrupt));
        // A header alone has nothing to set.
        let mut bare = BytesMut::from(&s[..HDR_SIZE]);
        assert_eq!(add(&mut bare, b"x", 3000), Err(Corrupt));
    }

    #[test]
    fn the_estimate_stays_within_redis_bound() {
        // Deterministic elements, so this either always passes or always
        // fails: six standard errors (1.04/sqrt(m) = 0.81 %) as PFSELFTEST.
        let relerr = 1.04 / (REGISTERS as f64).sqrt();
        let mut s = new_sparse();
        let mut errs = Vec::new();
        for n in 1..=1_000_000u64 {
            add(&mut s, format!("element:{n}").as_bytes(), 3000).unwrap();
            if n % 100_000 == 0 {
                let est = count(&s).unwrap();
                let err = (est as f64 - n as f64).abs() / n as f64;
                assert!(err < 6.0 * relerr, "n={n} est={est}");
                errs.push(err);
            }
        }
        // And on average within about one standard error.
        let mean = errs.iter().sum::<f64>() / errs.len() as f64;
        assert!(mean < 2.0 * relerr, "mean relative error {mean}");
    }

    #[test]
    fn self_test_passes() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(self_test(&mut rng, 3000), Ok(()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Sparse and dense forms of the same elements count the same, and
        /// converting the sparse one gives exactly the dense bytes.
        #[test]
        fn sparse_and_dense_agree(elements in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..400)) {
            let mut sparse = new_sparse();
            let mut dense = dense_of(&new_sparse());
            for e in &elements {
                let a = add(&mut sparse, e, 3000).unwrap();
                let b = add(&mut dense, e, 3000).unwrap();
                prop_assert_eq!(a, b);
            }
            prop_assert_eq!(count(&sparse), count(&dense));
            let mut converted = dense_of(&sparse);
            // The stale bit differs: PFADD sets it, the caller here did not.
            converted[8..16].copy_from_slice(&dense[8..16]);
            prop_assert_eq!(&converted[..], &dense[..]);
            // The opcodes cover exactly the registers.
            prop_assert!(histogram(&sparse).is_ok());
        }

        /// Merging is the register-wise max: the count of a merge equals
        /// that of one HLL holding both sets.
        #[test]
        fn merge_is_union(a in proptest::collection::vec(any::<u32>(), 0..300), b in proptest::collection::vec(any::<u32>(), 0..300)) {
            let (mut x, mut y, mut both) = (new_sparse(), new_sparse(), new_sparse());
            add_all(&mut x, a.iter().map(|v| v.to_le_bytes().to_vec()), 3000);
            add_all(&mut y, b.iter().map(|v| v.to_le_bytes().to_vec()), 3000);
            add_all(&mut both, a.iter().chain(&b).map(|v| v.to_le_bytes().to_vec()), 3000);
            let mut max = [0u8; REGISTERS];
            merge_into(&mut max, &x).unwrap();
            merge_into(&mut max, &dense_of(&y)).unwrap();
            prop_assert_eq!(count_raw(&max), count(&both).unwrap());
        }

        /// Whatever bytes follow a valid header, reading and writing them
        /// never panics.
        #[test]
        fn arbitrary_sparse_bytes_never_panic(ops in proptest::collection::vec(any::<u8>(), 0..64), ele in any::<u64>()) {
            let mut s = BytesMut::from(&new_sparse()[..HDR_SIZE]);
            s.extend_from_slice(&ops);
            let _ = count(&s);
            let mut max = [0u8; REGISTERS];
            let _ = merge_into(&mut max, &s);
            let _ = add(&mut s.clone(), &ele.to_le_bytes(), 3000);
            let _ = add(&mut s.clone(), &ele.to_le_bytes(), 20);
            let _ = to_dense(&mut s);
        }
    }
}
