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
use crate::value::Value;

/// What a command did to a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

const PUSH_FRONT: u8 = 1;
const PUSH_BACK: u8 = 2;
const HASH_SET: u8 = 3;
const HASH_DEL: u8 = 4;
const SET_ADD: u8 = 5;
const SET_REM: u8 = 6;

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
            _ => return None,
        };
        Some(op)
    }

    /// Appends the encoding: a kind byte, a u32 count of byte strings, and
    /// each as a u32 length and its bytes (big endian).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (kind, items): (u8, Vec<&Bytes>) = match self {
            DeltaOp::PushFront(v) => (PUSH_FRONT, v.iter().collect()),
            DeltaOp::PushBack(v) => (PUSH_BACK, v.iter().collect()),
            DeltaOp::HashSet(v) => (HASH_SET, v.iter().flat_map(|(f, x)| [f, x]).collect()),
            DeltaOp::HashDel(v) => (HASH_DEL, v.iter().collect()),
            DeltaOp::SetAdd(v) => (SET_ADD, v.iter().collect()),
            DeltaOp::SetRem(v) => (SET_REM, v.iter().collect()),
        };
        out.push(kind);
        out.extend_from_slice(&(items.len() as u32).to_be_bytes());
        for item in items {
            out.extend_from_slice(&(item.len() as u32).to_be_bytes());
            out.extend_from_slice(item);
        }
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
        }
        true
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

    fn op() -> impl Strategy<Value = DeltaOp> {
        let items = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from), 0..6);
        let pairs = prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..8), prop::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(f, v)| (Bytes::from(f), Bytes::from(v))),
            0..6,
        );
        prop_oneof![
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
