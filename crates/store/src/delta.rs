//! Deltas: a small change to a big collection, as replication ships it
//! instead of the collection's whole state (docs/replication.md,
//! "Deltas").
//!
//! A delta is what one command did to the value it found: push these
//! elements, set these fields, add or remove these members. It travels
//! with the stamp of the value it was made on (its *base*), and an owner
//! applies it only on exactly that value ([`Shard::apply_delta`]); an
//! owner holding anything else answers that it needs the whole value,
//! which the coordinator then sends. So a delta is never applied on a
//! value it was not made for, and owners converge whatever the order.
//!
//! Invariant: applying a [`DeltaOp`] to a value does exactly what the
//! command it was made from did to it (same elements, same order), so
//! that both values are equal under the same version. Only commands whose
//! effect is a function of their arguments and the value are made into
//! deltas ([`DeltaOp::of_command`]); a command with randomness, a time, a
//! second key or a reply-dependent effect never is.
//!
//! [`Shard::apply_delta`]: crate::Shard::apply_delta

use bytes::Bytes;

use crate::codec::{CodecError, DecodeLimits};
use crate::value::{NodeLimits, StreamId, Trim, TrimBy, Value, ZAddFlags};

/// What a command did to a collection.
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaOp {
    /// LPUSH / LPUSHX: each element pushed at the head, in order.
    PushFront(Vec<Bytes>),
    /// RPUSH / RPUSHX: each element pushed at the tail, in order.
    PushBack(Vec<Bytes>),
    /// HSET / HMSET: each field set to its value, in order.
    HashSet(Vec<(Bytes, Bytes)>),
    /// HDEL: each field removed.
    HashDel(Vec<Bytes>),
    /// SADD: each member added.
    SetAdd(Vec<Bytes>),
    /// SREM: each member removed.
    SetRem(Vec<Bytes>),
    /// ZADD / ZINCRBY: the pairs, in order, through [`ZSetValue::add`]
    /// with the command's flags (scores as the coordinator parsed them).
    ///
    /// [`ZSetValue::add`]: crate::value::ZSetValue::add
    ZAdd(ZAddFlags, Vec<(f64, Bytes)>),
    /// ZREM: each member removed.
    ZRem(Vec<Bytes>),
    /// XADD: the entry as the coordinator added it (its id, whatever the
    /// command asked: `*` is a time), then, if the command trimmed, every
    /// entry before `trim_before` removed. An approximate trim (`~`)
    /// removes what the coordinator's node boundaries allowed; as an
    /// exact cut at the first entry it kept, it removes the same entries on
    /// an owner whose nodes are laid out otherwise.
    XAdd { id: StreamId, fields: Vec<Bytes>, trim_before: Option<StreamId> },
}

// `ZAdd`'s scores are never NaN (the parser refuses one), so equality
// is reflexive.
impl Eq for DeltaOp {}

const PUSH_FRONT: u8 = 1;
const PUSH_BACK: u8 = 2;
const HASH_SET: u8 = 3;
const HASH_DEL: u8 = 4;
const SET_ADD: u8 = 5;
const SET_REM: u8 = 6;
const ZSET_ADD: u8 = 7;
const ZSET_REM: u8 = 8;
const STREAM_ADD: u8 = 9;

fn id_bytes(id: StreamId) -> Bytes {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&id.ms.to_be_bytes());
    b.extend_from_slice(&id.seq.to_be_bytes());
    Bytes::from(b)
}

fn id_of(b: &[u8]) -> Option<StreamId> {
    let (ms, seq) = b.split_first_chunk::<8>()?;
    Some(StreamId::new(u64::from_be_bytes(*ms), u64::from_be_bytes(seq.try_into().ok()?)))
}

impl DeltaOp {
    /// The delta of a command that changed its key (`args[1]`) in place,
    /// from its arguments (`args[0]` the name, in any case); `None` for
    /// every other command.
    pub fn of_command(args: &[&[u8]]) -> Option<DeltaOp> {
        let (name, rest) = (args.first()?, args.get(2..)?);
        let items = || rest.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let op = match name.to_ascii_lowercase().as_slice() {
            b"lpush" | b"lpushx" => DeltaOp::PushFront(items()),
            b"rpush" | b"rpushx" => DeltaOp::PushBack(items()),
            b"hset" | b"hmset" if rest.len() % 2 == 0 => DeltaOp::HashSet(
                rest.chunks_exact(2).map(|p| (Bytes::copy_from_slice(p[0]), Bytes::copy_from_slice(p[1]))).collect(),
            ),
            b"hdel" => DeltaOp::HashDel(items()),
            b"sadd" => DeltaOp::SetAdd(items()),
            b"srem" => DeltaOp::SetRem(items()),
            b"zrem" => DeltaOp::ZRem(items()),
            // ZADD and ZINCRBY: their options and scores are parsed where
            // the command is (`ringcache_commands`), which builds `ZAdd`.
            _ => return None,
        };
        Some(op)
    }

    /// Appends the encoding: a kind byte, a u32 count of byte strings, and
    /// each as a u32 length and its bytes (big endian). `ZAdd`'s strings
    /// are its flags byte, then each pair's score (the f64's bits, 8 bytes)
    /// and member.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let DeltaOp::XAdd { id, fields, trim_before } = self {
            let head = [id_bytes(*id), trim_before.map_or_else(Bytes::new, id_bytes)];
            return encode_items(STREAM_ADD, head.iter().chain(fields).collect(), out);
        }
        if let DeltaOp::ZAdd(flags, pairs) = self {
            let flags = Bytes::copy_from_slice(&[flags.bits()]);
            let scores: Vec<Bytes> =
                pairs.iter().map(|(s, _)| Bytes::copy_from_slice(&s.to_bits().to_be_bytes())).collect();
            let items = std::iter::once(&flags).chain(scores.iter().zip(pairs).flat_map(|(s, (_, m))| [s, m]));
            return encode_items(ZSET_ADD, items.collect(), out);
        }
        let (kind, items): (u8, Vec<&Bytes>) = match self {
            DeltaOp::PushFront(v) => (PUSH_FRONT, v.iter().collect()),
            DeltaOp::PushBack(v) => (PUSH_BACK, v.iter().collect()),
            DeltaOp::HashSet(v) => (HASH_SET, v.iter().flat_map(|(f, x)| [f, x]).collect()),
            DeltaOp::HashDel(v) => (HASH_DEL, v.iter().collect()),
            DeltaOp::SetAdd(v) => (SET_ADD, v.iter().collect()),
            DeltaOp::SetRem(v) => (SET_REM, v.iter().collect()),
            DeltaOp::ZRem(v) => (ZSET_REM, v.iter().collect()),
            DeltaOp::ZAdd(..) | DeltaOp::XAdd { .. } => unreachable!("encoded above"),
        };
        encode_items(kind, items, out);
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.encode(&mut out);
        Bytes::from(out)
    }

    /// Decodes one whole encoding (a peer's input: every length checked
    /// against `b` and `limits` before anything is reserved).
    pub fn decode(b: &[u8], limits: &DecodeLimits) -> Result<DeltaOp, CodecError> {
        let (&kind, mut rest) = b.split_first().ok_or(CodecError::Truncated)?;
        let u32_at = |rest: &mut &[u8]| -> Result<usize, CodecError> {
            let (n, tail) = rest.split_first_chunk::<4>().ok_or(CodecError::Truncated)?;
            *rest = tail;
            Ok(u32::from_be_bytes(*n) as usize)
        };
        let count = u32_at(&mut rest)?;
        // Every item takes at least its 4-byte length.
        if count > limits.elements_max.saturating_mul(2) || count > rest.len() / 4 {
            return Err(CodecError::TooManyElements(count));
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u32_at(&mut rest)?;
            if len > limits.bulk_len_max {
                return Err(CodecError::BulkTooLong(len));
            }
            if len > rest.len() {
                return Err(CodecError::Truncated);
            }
            let (item, tail) = rest.split_at(len);
            items.push(Bytes::copy_from_slice(item));
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(CodecError::Trailing);
        }
        Ok(match kind {
            PUSH_FRONT => DeltaOp::PushFront(items),
            PUSH_BACK => DeltaOp::PushBack(items),
            HASH_SET if items.len() % 2 == 0 => {
                let mut it = items.into_iter();
                let mut pairs = Vec::with_capacity(count / 2);
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    pairs.push((f, v));
                }
                DeltaOp::HashSet(pairs)
            }
            HASH_SET => return Err(CodecError::Truncated),
            HASH_DEL => DeltaOp::HashDel(items),
            SET_ADD => DeltaOp::SetAdd(items),
            SET_REM => DeltaOp::SetRem(items),
            ZSET_REM => DeltaOp::ZRem(items),
            ZSET_ADD => {
                let mut it = items.into_iter();
                let flags = it.next().filter(|f| f.len() == 1).and_then(|f| ZAddFlags::from_bits(f[0]));
                let flags = flags.ok_or(CodecError::Kind(ZSET_ADD))?;
                let mut pairs = Vec::with_capacity(count / 2);
                while let Some(score) = it.next() {
                    let (Ok(bits), Some(member)) = (<[u8; 8]>::try_from(&score[..]), it.next()) else {
                        return Err(CodecError::Kind(ZSET_ADD));
                    };
                    let score = f64::from_bits(u64::from_be_bytes(bits));
                    if score.is_nan() {
                        return Err(CodecError::Kind(ZSET_ADD));
                    }
                    pairs.push((score, member));
                }
                if pairs.is_empty() || (flags.incr && pairs.len() > 1) {
                    return Err(CodecError::Kind(ZSET_ADD));
                }
                DeltaOp::ZAdd(flags, pairs)
            }
            STREAM_ADD => {
                let mut it = items.into_iter();
                let (Some(id), Some(trim)) = (it.next(), it.next()) else { return Err(CodecError::Kind(STREAM_ADD)) };
                let id = id_of(&id).filter(|id| *id > StreamId::MIN).ok_or(CodecError::Kind(STREAM_ADD))?;
                let trim_before = match trim.len() {
                    0 => None,
                    _ => Some(id_of(&trim).ok_or(CodecError::Kind(STREAM_ADD))?),
                };
                let fields: Vec<Bytes> = it.collect();
                if fields.len() < 2 || fields.len() % 2 == 1 {
                    return Err(CodecError::Kind(STREAM_ADD));
                }
                DeltaOp::XAdd { id, fields, trim_before }
            }
            other => return Err(CodecError::Kind(other)),
        })
    }

    /// Does to `value` what the command did; `false` (and `value`
    /// unchanged) if it is not of the command's type.
    pub(crate) fn apply(&self, value: &mut Value) -> bool {
        match self {
            DeltaOp::PushFront(items) | DeltaOp::PushBack(items) => {
                let Ok(list) = value.as_list_mut() else { return false };
                let front = matches!(self, DeltaOp::PushFront(_));
                for item in items {
                    if front {
                        list.push_front(item);
                    } else {
                        list.push_back(item);
                    }
                }
            }
            DeltaOp::HashSet(pairs) => {
                let Ok(hash) = value.as_hash_mut() else { return false };
                for (field, v) in pairs {
                    hash.insert(field, v);
                }
            }
            DeltaOp::HashDel(fields) => {
                let Ok(hash) = value.as_hash_mut() else { return false };
                for field in fields {
                    hash.remove(field);
                }
            }
            DeltaOp::SetAdd(members) | DeltaOp::SetRem(members) => {
                let Ok(set) = value.as_set_mut() else { return false };
                let add = matches!(self, DeltaOp::SetAdd(_));
                for m in members {
                    if add {
                        set.insert(m);
                    } else {
                        set.remove(m);
                    }
                }
            }
            DeltaOp::ZAdd(flags, pairs) => {
                let Ok(z) = value.as_zset_mut() else { return false };
                z.add(*flags, pairs.iter().map(|(s, m)| (*s, &m[..])));
            }
            DeltaOp::ZRem(members) => {
                let Ok(z) = value.as_zset_mut() else { return false };
                for m in members {
                    z.remove(m);
                }
            }
            DeltaOp::XAdd { id, fields, trim_before } => {
                let Ok(s) = value.as_stream_mut() else { return false };
                if *id <= s.last_id {
                    return false;
                }
                // Node boundaries are each owner's own (this one's default
                // limits); the entries are the coordinator's.
                s.append(*id, fields, NodeLimits::default());
                if let Some(min) = trim_before {
                    s.trim(Trim { by: TrimBy::MinId(*min), approx: false, limit: 0 });
                }
            }
        }
        true
    }
}

fn encode_items(kind: u8, items: Vec<&Bytes>, out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(&(items.len() as u32).to_be_bytes());
    for item in items {
        out.extend_from_slice(&(item.len() as u32).to_be_bytes());
        out.extend_from_slice(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args<'a>(a: &'a [&'a str]) -> Vec<&'a [u8]> {
        a.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn only_commands_whose_effect_is_their_arguments_make_deltas() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert_eq!(
            DeltaOp::of_command(&args(&["LPUSH", "k", "a", "b"])),
            Some(DeltaOp::PushFront(vec![b("a"), b("b")]))
        );
        assert_eq!(
            DeltaOp::of_command(&args(&["hset", "k", "f", "v"])),
            Some(DeltaOp::HashSet(vec![(b("f"), b("v"))]))
        );
        for other in
            [&["SPOP", "k"][..], &["LPOP", "k"], &["HINCRBYFLOAT", "k", "f", "1"], &["SET", "k", "v"], &["LPUSH"]]
        {
            assert_eq!(DeltaOp::of_command(&args(other)), None, "{other:?}");
        }
        assert_eq!(DeltaOp::of_command(&args(&["HSET", "k", "f"])), None, "odd pairs");
    }

    #[test]
    fn a_delta_on_the_wrong_type_changes_nothing() {
        let mut v = Value::string(b"x");
        assert!(!DeltaOp::PushFront(vec![Bytes::from_static(b"a")]).apply(&mut v));
        assert_eq!(v, Value::string(b"x"));
    }

    #[test]
    fn hostile_encodings_are_refused_without_reserving() {
        let limits = DecodeLimits::default();
        for bad in [
            &[][..],
            &[1],
            &[1, 0, 0, 0],
            &[1, 0xff, 0xff, 0xff, 0xff],
            &[1, 0, 0, 0, 1, 0, 0, 0, 9, 1],
            &[9, 0, 0, 0, 0],
        ] {
            assert!(DeltaOp::decode(bad, &limits).is_err(), "{bad:?}");
        }
        let mut ok = DeltaOp::SetAdd(vec![Bytes::from_static(b"m")]).to_bytes().to_vec();
        ok.push(0);
        assert_eq!(DeltaOp::decode(&ok, &limits), Err(CodecError::Trailing));
    }

    #[test]
    fn a_sorted_set_delta_does_what_zadd_did() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let mut z = crate::value::ZSetValue::new();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64);
        }
        let mut value = Value::ZSet(Box::new(z));
        let gt = ZAddFlags { xx: true, gt: true, ..ZAddFlags::default() };
        assert!(DeltaOp::ZAdd(gt, vec![(5.0, b("a")), (0.5, b("c")), (9.0, b("new"))]).apply(&mut value));
        let incr = ZAddFlags { incr: true, ..ZAddFlags::default() };
        assert!(DeltaOp::ZAdd(incr, vec![(f64::NEG_INFINITY, b("b"))]).apply(&mut value));
        assert!(DeltaOp::ZRem(vec![b("c"), b("absent")]).apply(&mut value));
        let z = value.as_zset_mut().unwrap();
        let all: Vec<(Bytes, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
        assert_eq!(all, vec![(b("b"), f64::NEG_INFINITY), (b("a"), 5.0)], "XX kept `new` out, GT kept c's 2");
        assert!(!DeltaOp::ZRem(vec![b("a")]).apply(&mut Value::string(b"x")), "not a sorted set");
    }

    #[test]
    fn a_sorted_set_delta_with_a_nan_or_bad_flags_is_refused() {
        let limits = DecodeLimits::default();
        let good = DeltaOp::ZAdd(ZAddFlags::default(), vec![(1.0, Bytes::from_static(b"m"))]).to_bytes().to_vec();
        assert!(DeltaOp::decode(&good, &limits).is_ok());
        let mut nan = good.clone();
        // kind, count, flags (4 + 1), then the score's length and bits.
        let at = 1 + 4 + 5 + 4;
        nan[at..at + 8].copy_from_slice(&f64::NAN.to_bits().to_be_bytes());
        assert_eq!(DeltaOp::decode(&nan, &limits), Err(CodecError::Kind(ZSET_ADD)));
        let mut flags = good.clone();
        flags[9] = 0xff;
        assert_eq!(DeltaOp::decode(&flags, &limits), Err(CodecError::Kind(ZSET_ADD)));
        let two = DeltaOp::ZAdd(
            ZAddFlags { incr: true, ..ZAddFlags::default() },
            vec![(1.0, Bytes::from_static(b"m")), (2.0, Bytes::from_static(b"n"))],
        );
        assert!(DeltaOp::decode(&two.to_bytes(), &limits).is_err(), "INCR takes one pair");
    }

    #[test]
    fn a_stream_delta_adds_the_entry_and_cuts_where_the_coordinator_did() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let mut s = crate::value::StreamValue::default();
        for i in 1..=10 {
            s.append(StreamId::new(i, 0), &[b"f", b"v"], NodeLimits::default());
        }
        let mut value = Value::Stream(Box::new(s));
        let op = DeltaOp::XAdd {
            id: StreamId::new(20, 3),
            fields: vec![b("f"), b("new")],
            trim_before: Some(StreamId::new(4, 0)),
        };
        assert!(DeltaOp::decode(&op.to_bytes(), &DecodeLimits::default()).is_ok_and(|d| d == op));
        assert!(op.apply(&mut value));
        let s = value.as_stream_mut().unwrap();
        let ids: Vec<StreamId> = s.range(StreamId::MIN, StreamId::MAX, false).map(|e| e.id).collect();
        assert_eq!(ids.first(), Some(&StreamId::new(4, 0)));
        assert_eq!(ids.last(), Some(&StreamId::new(20, 3)));
        assert_eq!((ids.len(), s.last_id, s.meta().entries_added), (8, StreamId::new(20, 3), 11));
        // An id at or below the top is not this value's delta.
        assert!(!op.apply(&mut value));
        let bad = DeltaOp::XAdd { id: StreamId::new(30, 0), fields: vec![b("odd")], trim_before: None };
        assert!(DeltaOp::decode(&bad.to_bytes(), &DecodeLimits::default()).is_err(), "fields come in pairs");
    }

    fn op() -> impl Strategy<Value = DeltaOp> {
        let items = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from), 0..6);
        let pairs = prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..8), prop::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(f, v)| (Bytes::from(f), Bytes::from(v))),
            0..6,
        );
        let flags = (0u8..32).prop_map(|b| ZAddFlags::from_bits(b).expect("five bits"));
        let scored = prop::collection::vec(
            (
                any::<f64>().prop_filter("a score is never NaN", |s| !s.is_nan()),
                prop::collection::vec(any::<u8>(), 0..8),
            )
                .prop_map(|(s, m)| (s, Bytes::from(m))),
            1..6,
        );
        let zadd = (flags, scored).prop_map(|(f, mut pairs)| {
            if f.incr {
                pairs.truncate(1);
            }
            DeltaOp::ZAdd(f, pairs)
        });
        let id = (1u64..u64::MAX, any::<u64>()).prop_map(|(ms, seq)| StreamId::new(ms, seq));
        let fields = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from), 1..4)
            .prop_map(|mut v| {
                let again = v.clone();
                v.extend(again);
                v
            });
        let xadd =
            (id, fields, prop::option::of((0u64..u64::MAX, any::<u64>()).prop_map(|(ms, seq)| StreamId::new(ms, seq))))
                .prop_map(|(id, fields, trim_before)| DeltaOp::XAdd { id, fields, trim_before });
        prop_oneof![
            zadd,
            xadd,
            items.clone().prop_map(DeltaOp::ZRem),
            items.clone().prop_map(DeltaOp::PushFront),
            items.clone().prop_map(DeltaOp::PushBack),
            pairs.prop_map(DeltaOp::HashSet),
            items.clone().prop_map(DeltaOp::HashDel),
            items.clone().prop_map(DeltaOp::SetAdd),
            items.prop_map(DeltaOp::SetRem),
        ]
    }

    proptest! {
        #[test]
        fn encoding_round_trips(op in op()) {
            prop_assert_eq!(DeltaOp::decode(&op.to_bytes(), &DecodeLimits::default()), Ok(op));
        }
    }
}
