//! The wire form of one key's state: its value (any type) with absolute
//! expiry, or a tombstone, and its version. What replication, repair and
//! slot streaming carry between owners.
//!
//! ```text
//! record := FORMAT u8 | key_len u32 | key | version | kind u8 | body
//! body   := (tombstone, kind 0) nothing
//!         | expire_at_ms u64 | payload          (kinds 1..=5)
//! string := len u32 | bytes                      (kind 1)
//! hash   := n u32 | n × (field, value)           (kind 2, each len u32 | bytes)
//! list   := n u32 | n × (len u32 | bytes)        (kind 3, head first)
//! set    := n u32 | n × (len u32 | bytes)        (kind 4)
//! zset   := n u32 | n × (member, score f64 bits u64)   (kind 5)
//! stream := last_id | max_deleted_id | entries_added u64      (kind 6)
//!           | nodes u32 | nodes × (key id | deleted u64 | lp_bytes u64 | n u32
//!                                  | n × (id | k u32 | k × bulk))
//!           | groups u32 | groups × (name | last_id | entries_read i64
//!                 | c u32 | c × (name | seen i64 | active i64)
//!                 | p u32 | p × (id | delivery_time i64 | count u64 | owner))
//! id     := ms u64 | seq u64
//! ```
//!
//! A stream carries its node boundaries (so that an owner that takes over
//! trims as the coordinator would) and its consumer groups whole: every
//! pending entry with its owner, so a replica holds an identical stream.
//! A stream may be empty (Redis keeps an empty stream); its nodes, groups,
//! consumers and pending entries are each bounded by the element limit.
//!
//! Integers are big-endian, as in the version's own form
//! (`ringcache_version`'s codec). Invariants, checked on both sides: no
//! bulk (key, string, element) is longer than the limit, no collection is
//! empty or holds more elements than the limit, no collection repeats a
//! member or field, no score is NaN. The decoder never reads past its
//! input, never allocates more than its input could fill, and never
//! panics: a peer is input too. A record that fails to decode is refused
//! whole, never half-applied.

use bytes::Bytes;
use ringcache_version::Version;

use crate::value::{HashValue, ListValue, Pending, SetValue, StreamEntry, StreamId, StreamValue, ZSetValue};
use crate::Value;

/// The format byte every record starts with.
pub const FORMAT: u8 = 1;

const KIND_TOMBSTONE: u8 = 0;
const KIND_STRING: u8 = 1;
const KIND_HASH: u8 = 2;
const KIND_LIST: u8 = 3;
const KIND_SET: u8 = 4;
const KIND_ZSET: u8 = 5;
const KIND_STREAM: u8 = 6;

/// What the decoder accepts: the node's `proto-max-bulk-len` and a bound on
/// a collection's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The longest key, string or element, in bytes.
    pub bulk_len_max: usize,
    /// The most elements (fields, members) of one collection.
    pub elements_max: usize,
}

impl Default for DecodeLimits {
    /// Redis's `proto-max-bulk-len` (512 MiB) and 2^24 elements.
    fn default() -> Self {
        DecodeLimits { bulk_len_max: 512 << 20, elements_max: 1 << 24 }
    }
}

/// A key's state as it arrives from another owner (or is streamed).
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A value, with its absolute expiry (0 = none).
    Value { value: Value, expire_at_ms: u64 },
    /// The key was deleted.
    Tombstone,
}

/// A key's state to encode: [`Incoming`] by reference.
#[derive(Debug, Clone, Copy)]
pub enum StateRef<'a> {
    Value { value: &'a Value, expire_at_ms: u64 },
    Tombstone,
}

impl Incoming {
    pub fn as_ref(&self) -> StateRef<'_> {
        match self {
            Incoming::Value { value, expire_at_ms } => StateRef::Value { value, expire_at_ms: *expire_at_ms },
            Incoming::Tombstone => StateRef::Tombstone,
        }
    }
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: Bytes,
    pub version: Version,
    pub state: Incoming,
}

/// Why a record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("truncated record")]
    Truncated,
    #[error("bytes after the end of the state")]
    Trailing,
    #[error("unknown record format {0}")]
    Format(u8),
    #[error("unknown value kind {0}")]
    Kind(u8),
    #[error("bulk of {0} bytes is over the limit")]
    BulkTooLong(usize),
    #[error("collection of {0} elements is over the limit")]
    TooManyElements(usize),
    #[error("empty collection")]
    EmptyCollection,
    #[error("repeated member or field")]
    Duplicate,
    #[error("NaN score")]
    NanScore,
    #[error("inconsistent stream")]
    BadStream,
    #[error("bad version: {0}")]
    Version(#[from] ringcache_version::DecodeError),
}

pub type Result<T, E = CodecError> = std::result::Result<T, E>;

fn put_bulk(out: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).expect("bulks are under 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    debug_assert!(n > 0, "collections are never empty");
    out.extend_from_slice(&u32::try_from(n).expect("fewer than 2^32 elements").to_be_bytes());
}

/// Appends the record of `key` with `version` and `state` to `out`.
pub fn encode(key: &[u8], version: &Version, state: StateRef<'_>, out: &mut Vec<u8>) {
    out.push(FORMAT);
    put_bulk(out, key);
    version.encode(out);
    encode_state(state, out);
}

/// Appends the `kind | body` part of a record alone: what a replicated
/// write carries beside its key and version, which travel on their own.
pub fn encode_state(state: StateRef<'_>, out: &mut Vec<u8>) {
    let (value, expire_at_ms) = match state {
        StateRef::Tombstone => {
            out.push(KIND_TOMBSTONE);
            return;
        }
        StateRef::Value { value, expire_at_ms } => (value, expire_at_ms),
    };
    let kind = match value {
        Value::Str(_) => KIND_STRING,
        Value::Hash(_) => KIND_HASH,
        Value::List(_) => KIND_LIST,
        Value::Set(_) => KIND_SET,
        Value::ZSet(_) => KIND_ZSET,
        Value::Stream(_) => KIND_STREAM,
    };
    out.push(kind);
    out.extend_from_slice(&expire_at_ms.to_be_bytes());
    match value {
        Value::Str(s) => put_bulk(out, s),
        Value::Hash(h) => {
            put_count(out, h.len());
            for (f, v) in h.iter() {
                put_bulk(out, f);
                put_bulk(out, v);
            }
        }
        Value::List(l) => {
            put_count(out, l.len());
            l.iter().for_each(|e| put_bulk(out, e));
        }
        Value::Set(s) => {
            put_count(out, s.len());
            s.iter().for_each(|m| put_bulk(out, m));
        }
        Value::ZSet(z) => {
            put_count(out, z.len());
            for (m, score) in z.iter() {
                put_bulk(out, m);
                out.extend_from_slice(&score.to_bits().to_be_bytes());
            }
        }
        Value::Stream(st) => encode_stream(st, out),
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).expect("fewer than 2^32 elements").to_be_bytes());
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

fn encode_stream(st: &StreamValue, out: &mut Vec<u8>) {
    put_id(out, st.last_id);
    put_id(out, st.max_deleted_id);
    out.extend_from_slice(&st.entries_added.to_be_bytes());
    put_len(out, st.nodes_len());
    for (key, deleted, lp_bytes, entries) in st.nodes() {
        put_id(out, key);
        out.extend_from_slice(&deleted.to_be_bytes());
        out.extend_from_slice(&lp_bytes.to_be_bytes());
        put_len(out, entries.len());
        for e in entries {
            put_id(out, e.id);
            put_len(out, e.elements());
            e.pairs().for_each(|b| put_bulk(out, b));
        }
    }
    put_len(out, st.groups().len());
    for (name, g) in st.groups() {
        put_bulk(out, name);
        put_id(out, g.last_id);
        out.extend_from_slice(&g.entries_read.to_be_bytes());
        put_len(out, g.consumers().len());
        for (cname, c) in g.consumers() {
            put_bulk(out, cname);
            out.extend_from_slice(&c.seen_time_ms.to_be_bytes());
            out.extend_from_slice(&c.active_time_ms.to_be_bytes());
        }
        put_len(out, g.pel().len());
        for (id, p) in g.pel() {
            put_id(out, *id);
            out.extend_from_slice(&p.delivery_time_ms.to_be_bytes());
            out.extend_from_slice(&p.delivery_count.to_be_bytes());
            put_bulk(out, &p.consumer);
        }
    }
}

/// Reads from a byte slice, never past its end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: DecodeLimits,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Truncated)?;
        let b = self.buf.get(self.pos..end).ok_or(CodecError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn bulk(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > self.limits.bulk_len_max {
            return Err(CodecError::BulkTooLong(len));
        }
        self.take(len)
    }

    /// A collection's element count, each element taking at least
    /// `min_len` bytes: refused when the input cannot hold that many.
    fn count(&mut self, min_len: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n == 0 {
            return Err(CodecError::EmptyCollection);
        }
        if n > self.limits.elements_max {
            return Err(CodecError::TooManyElements(n));
        }
        if n.saturating_mul(min_len) > self.buf.len() - self.pos {
            return Err(CodecError::Truncated);
        }
        Ok(n)
    }

    /// A count that may be zero (stream parts), each taking at least
    /// `min_len` bytes.
    fn len(&mut self, min_len: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n > self.limits.elements_max {
            return Err(CodecError::TooManyElements(n));
        }
        if n.saturating_mul(min_len) > self.buf.len() - self.pos {
            return Err(CodecError::Truncated);
        }
        Ok(n)
    }

    fn id(&mut self) -> Result<StreamId> {
        Ok(StreamId::new(self.u64()?, self.u64()?))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }

    fn score(&mut self) -> Result<f64> {
        let score = f64::from_bits(self.u64()?);
        if score.is_nan() {
            return Err(CodecError::NanScore);
        }
        Ok(score)
    }
}

/// Decodes one record from the start of `buf` under `limits`: the record
/// and the bytes it took.
pub fn decode(buf: &[u8], limits: &DecodeLimits) -> Result<(Record, usize)> {
    let mut r = Reader { buf, pos: 0, limits: *limits };
    let format = r.u8()?;
    if format != FORMAT {
        return Err(CodecError::Format(format));
    }
    let key = Bytes::copy_from_slice(r.bulk()?);
    let (version, used) = Version::decode(&buf[r.pos..])?;
    r.pos += used;
    let state = read_state(&mut r)?;
    Ok((Record { key, version, state }, r.pos))
}

/// Decodes what [`encode_state`] wrote, which must be all of `buf`.
pub fn decode_state(buf: &[u8], limits: &DecodeLimits) -> Result<Incoming> {
    let mut r = Reader { buf, pos: 0, limits: *limits };
    let state = read_state(&mut r)?;
    if r.pos != buf.len() {
        return Err(CodecError::Trailing);
    }
    Ok(state)
}

fn read_state(r: &mut Reader<'_>) -> Result<Incoming> {
    let kind = r.u8()?;
    if kind == KIND_TOMBSTONE {
        return Ok(Incoming::Tombstone);
    }
    let expire_at_ms = r.u64()?;
    let value = decode_value(r, kind)?;
    Ok(Incoming::Value { value, expire_at_ms })
}

fn decode_value(r: &mut Reader<'_>, kind: u8) -> Result<Value> {
    Ok(match kind {
        KIND_STRING => Value::string(r.bulk()?),
        KIND_HASH => {
            let n = r.count(8)?;
            let mut h = HashValue::new();
            for _ in 0..n {
                let (f, v) = (r.bulk()?, r.bulk()?);
                if !h.insert(f, v) {
                    return Err(CodecError::Duplicate);
                }
            }
            Value::Hash(Box::new(h))
        }
        KIND_LIST => {
            let n = r.count(4)?;
            let mut l = ListValue::new();
            for _ in 0..n {
                l.push_back(r.bulk()?);
            }
            Value::List(Box::new(l))
        }
        KIND_SET => {
            let n = r.count(4)?;
            let mut s = SetValue::new();
            for _ in 0..n {
                if !s.insert(r.bulk()?) {
                    return Err(CodecError::Duplicate);
                }
            }
            Value::Set(Box::new(s))
        }
        KIND_ZSET => {
            let n = r.count(12)?;
            let mut z = ZSetValue::new();
            for _ in 0..n {
                let (m, score) = (r.bulk()?, r.score()?);
                if z.insert(m, score).is_some() {
                    return Err(CodecError::Duplicate);
                }
            }
            Value::ZSet(Box::new(z))
        }
        KIND_STREAM => Value::Stream(Box::new(decode_stream(r)?)),
        other => return Err(CodecError::Kind(other)),
    })
}

fn decode_stream(r: &mut Reader<'_>) -> Result<StreamValue> {
    let (last_id, max_deleted_id, entries_added) = (r.id()?, r.id()?, r.u64()?);
    let n = r.len(36)?;
    let mut nodes = Vec::with_capacity(n);
    let mut total = 0usize;
    for _ in 0..n {
        let (key, deleted, lp_bytes) = (r.id()?, r.u64()?, r.u64()?);
        let m = r.count(20)?;
        total += m;
        if total > r.limits.elements_max {
            return Err(CodecError::TooManyElements(total));
        }
        let mut entries = Vec::with_capacity(m);
        for _ in 0..m {
            let id = r.id()?;
            let k = r.count(4)?;
            if k % 2 != 0 {
                return Err(CodecError::BadStream);
            }
            let pairs = (0..k).map(|_| r.bulk()).collect::<Result<Vec<_>>>()?;
            entries.push(StreamEntry::new(id, &pairs));
        }
        nodes.push((key, deleted, lp_bytes, entries));
    }
    let n = r.len(36)?;
    let mut groups = Vec::with_capacity(n);
    for _ in 0..n {
        let name = Bytes::copy_from_slice(r.bulk()?);
        let (last, read) = (r.id()?, r.i64()?);
        let c = r.len(20)?;
        let consumers =
            (0..c).map(|_| Ok((Bytes::copy_from_slice(r.bulk()?), r.i64()?, r.i64()?))).collect::<Result<Vec<_>>>()?;
        let p = r.len(36)?;
        let pel = (0..p)
            .map(|_| {
                let (id, time, count) = (r.id()?, r.i64()?, r.u64()?);
                Ok((
                    id,
                    Pending {
                        delivery_time_ms: time,
                        delivery_count: count,
                        consumer: Bytes::copy_from_slice(r.bulk()?),
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        groups.push((name, last, read, consumers, pel));
    }
    StreamValue::from_parts(nodes, last_id, max_deleted_id, entries_added, groups).ok_or(CodecError::BadStream)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use ringcache_version::{Dot, Hlc, NodeTag, Stamp};

    use super::*;

    fn bulk() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..60)
    }

    fn value() -> impl Strategy<Value = Value> {
        let elems = || proptest::collection::vec(bulk(), 1..20);
        prop_oneof![
            bulk().prop_map(|b| Value::string(&b)),
            proptest::collection::vec((bulk(), bulk()), 1..20).prop_map(|fv| {
                let mut h = HashValue::new();
                fv.iter().for_each(|(f, v)| {
                    h.insert(f, v);
                });
                Value::Hash(Box::new(h))
            }),
            elems().prop_map(|es| {
                let mut l = ListValue::new();
                es.iter().for_each(|e| l.push_back(e));
                Value::List(Box::new(l))
            }),
            elems().prop_map(|es| {
                let mut s = SetValue::new();
                es.iter().for_each(|e| {
                    s.insert(e);
                });
                Value::Set(Box::new(s))
            }),
            proptest::collection::vec((bulk(), any::<f64>().prop_filter("not NaN", |f| !f.is_nan())), 1..20).prop_map(
                |ms| {
                    let mut z = ZSetValue::new();
                    ms.iter().for_each(|(m, s)| {
                        z.insert(m, *s);
                    });
                    Value::ZSet(Box::new(z))
                }
            ),
            (proptest::collection::vec((1..4u64, proptest::collection::vec(bulk(), 1..3)), 0..30), 0..4usize, 1..5u64)
                .prop_map(|(adds, nconsumers, node_max)| {
                    use crate::value::{NodeLimits, StreamId, StreamValue};
                    let mut st = StreamValue::new();
                    let limits = NodeLimits { max_bytes: 0, max_entries: node_max };
                    let mut ms = 0;
                    for (step, fields) in &adds {
                        ms += step;
                        let mut pairs = fields.clone();
                        pairs.push(b"v".to_vec());
                        if pairs.len() % 2 == 1 {
                            pairs.push(Vec::new());
                        }
                        st.append(StreamId::new(ms, 0), &pairs, limits);
                    }
                    if adds.len() > 2 {
                        st.delete(StreamId::new(adds[0].0 + adds[1].0, 0));
                    }
                    if nconsumers > 0 {
                        st.create_group(b"g", StreamId::MIN, 0);
                        let ids: Vec<_> = st.range(StreamId::MIN, StreamId::MAX, false).map(|e| e.id).collect();
                        let (g, _) = st.group_mut(b"g").unwrap();
                        for c in 0..nconsumers {
                            g.create_consumer(format!("c{c}").as_bytes(), 7);
                        }
                        for (i, id) in ids.iter().enumerate() {
                            g.deliver(*id, format!("c{}", i % nconsumers).as_bytes(), 9);
                        }
                    }
                    Value::Stream(Box::new(st))
                }),
        ]
    }

    fn version() -> impl Strategy<Value = Version> {
        (1..1000u32, 1u64 << 39..1u64 << 40, proptest::collection::btree_map(1000..2000u32, 0..1u64 << 39, 0..4))
            .prop_map(|(w, hlc, past)| {
                let stamp = Stamp { hlc: Hlc::from_u64(hlc), writer: NodeTag::new(w).unwrap() };
                let past = past
                    .into_iter()
                    .map(|(n, h)| Dot { node: NodeTag::new(n).unwrap(), hlc: Hlc::from_u64(h) })
                    .collect();
                Version::from_parts(stamp, past).unwrap()
            })
    }

    fn state() -> impl Strategy<Value = Incoming> {
        prop_oneof![
            1 => Just(Incoming::Tombstone),
            4 => (value(), any::<u64>()).prop_map(|(value, expire_at_ms)| Incoming::Value { value, expire_at_ms }),
        ]
    }

    fn encoded(key: &[u8], version: &Version, state: &Incoming) -> Vec<u8> {
        let mut out = Vec::new();
        encode(key, version, state.as_ref(), &mut out);
        out
    }

    proptest! {
        #[test]
        fn every_type_round_trips(key in bulk(), version in version(), state in state(), tail in bulk()) {
            let mut buf = encoded(&key, &version, &state);
            let len = buf.len();
            buf.extend_from_slice(&tail);
            let (r, used) = decode(&buf, &DecodeLimits::default()).unwrap();
            prop_assert_eq!(used, len);
            prop_assert_eq!(&r.key[..], &key[..]);
            prop_assert_eq!(r.version, version);
            prop_assert_eq!(r.state, state);
        }

        #[test]
        fn every_truncation_is_an_error(key in bulk(), version in version(), state in state()) {
            let buf = encoded(&key, &version, &state);
            for n in 0..buf.len() {
                prop_assert!(decode(&buf[..n], &DecodeLimits::default()).is_err(), "decoded {} of {} bytes", n, buf.len());
            }
        }

        #[test]
        fn random_and_mutated_bytes_never_panic(
            noise in proptest::collection::vec(any::<u8>(), 0..300),
            key in bulk(), version in version(), state in state(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let limits = DecodeLimits { bulk_len_max: 1 << 16, elements_max: 1 << 10 };
            let _ = decode(&noise, &limits);
            let mut with_format = vec![FORMAT];
            with_format.extend_from_slice(&noise);
            let _ = decode(&with_format, &limits);
            let mut buf = encoded(&key, &version, &state);
            for (at, x) in flips {
                let i = at % buf.len();
                buf[i] ^= x.max(1);
            }
            if let Ok((r, used)) = decode(&buf, &limits) {
                // Whatever decodes is a valid record: it round-trips.
                prop_assert!(used <= buf.len());
                let again = encoded(&r.key, &r.version, &r.state);
                prop_assert_eq!(decode(&again, &limits).unwrap().0, r);
            }
        }
    }

    #[test]
    fn limits_and_invariants_are_enforced() {
        let v = Version::first(NodeTag::new(1).unwrap(), 1000);
        let small = DecodeLimits { bulk_len_max: 4, elements_max: 2 };
        let s = Incoming::Value { value: Value::string(b"12345"), expire_at_ms: 0 };
        assert_eq!(decode(&encoded(b"k", &v, &s), &small).unwrap_err(), CodecError::BulkTooLong(5));
        assert_eq!(
            decode(&encoded(b"12345", &v, &Incoming::Tombstone), &small).unwrap_err(),
            CodecError::BulkTooLong(5)
        );
        let mut l = ListValue::new();
        (0..3).for_each(|_| l.push_back(b"x"));
        let s = Incoming::Value { value: Value::List(Box::new(l)), expire_at_ms: 0 };
        assert_eq!(decode(&encoded(b"k", &v, &s), &small).unwrap_err(), CodecError::TooManyElements(3));

        // Hand-made bodies: the encoder never writes these.
        let head = |kind: u8| {
            let mut b = encoded(b"k", &v, &Incoming::Tombstone);
            *b.last_mut().unwrap() = kind;
            b.extend_from_slice(&0u64.to_be_bytes());
            b
        };
        let mut b = head(KIND_SET);
        b.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(decode(&b, &DecodeLimits::default()).unwrap_err(), CodecError::EmptyCollection);
        let mut b = head(KIND_SET);
        b.extend_from_slice(&2u32.to_be_bytes());
        for _ in 0..2 {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.push(b'm');
        }
        assert_eq!(decode(&b, &DecodeLimits::default()).unwrap_err(), CodecError::Duplicate);
        let mut b = head(KIND_ZSET);
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        b.push(b'm');
        b.extend_from_slice(&f64::NAN.to_bits().to_be_bytes());
        assert_eq!(decode(&b, &DecodeLimits::default()).unwrap_err(), CodecError::NanScore);
        // A huge count with no bytes behind it allocates nothing.
        let mut b = head(KIND_LIST);
        b.extend_from_slice(&u32::MAX.to_be_bytes());
        let big = DecodeLimits { bulk_len_max: usize::MAX, elements_max: usize::MAX };
        assert_eq!(decode(&b, &big).unwrap_err(), CodecError::Truncated);
        assert_eq!(decode(&head(9), &big).unwrap_err(), CodecError::Kind(9));
        assert_eq!(decode(&[7], &big).unwrap_err(), CodecError::Format(7));
    }
}
