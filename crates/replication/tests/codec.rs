//! Property tests of the message codec: random messages round-trip; random
//! and corrupted bytes never panic and never decode past the limits.

use bytes::Bytes;
use proptest::prelude::*;
use ringcache_replication::{
    Change, Config, DbKey, Effect, Entry, Message, NodeId, Outcome, ReadId, State, SyncPos, WriteId, RANGES, SLOTS,
};
use ringcache_version::{Hlc, NodeTag, Stamp, Version};

fn tag() -> impl Strategy<Value = NodeTag> {
    (1u32..=NodeTag::MAX).prop_map(|t| NodeTag::new(t).unwrap())
}

fn stamp() -> impl Strategy<Value = Stamp> {
    (any::<u64>(), tag()).prop_map(|(h, writer)| Stamp { hlc: Hlc::from_u64(h), writer })
}

/// Versions with some history: a first write, then writes and merges by a
/// few writers.
fn version() -> impl Strategy<Value = Version> {
    (tag(), 1u64..1 << 40, prop::collection::vec((tag(), 0u64..10_000, any::<bool>()), 0..6)).prop_map(
        |(first, ms, steps)| {
            let mut v = Version::first(first, ms);
            for (writer, dt, merge) in steps {
                let next = v.next(writer, ms + dt, 1 << 40);
                v = if merge { v.merge(&next) } else { next };
            }
            v
        },
    )
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// A key of one of the 16 databases `Config::for_test` allows.
fn key(max: usize) -> impl Strategy<Value = DbKey> {
    (0..16u16, bytes(max)).prop_map(|(db, name)| DbKey { db, name })
}

fn state() -> impl Strategy<Value = State> {
    prop_oneof![Just(State::Tombstone), bytes(64).prop_map(State::Value)]
}

fn effect() -> impl Strategy<Value = Effect> {
    let change = prop_oneof![
        state().prop_map(Change::Full),
        (stamp(), bytes(16)).prop_map(|(base, op)| Change::Delta { base, op }),
    ];
    (key(24), version(), change).prop_map(|(key, version, change)| Effect { key, version, change })
}

fn entry() -> impl Strategy<Value = Entry> {
    (key(24), version(), state()).prop_map(|(key, version, state)| Entry { key, version, state })
}

fn slot() -> impl Strategy<Value = u16> {
    0..SLOTS as u16
}

fn node() -> impl Strategy<Value = NodeId> {
    "[a-z0-9:.-]{1,24}".prop_map(NodeId::from)
}

fn pos() -> impl Strategy<Value = SyncPos> {
    (slot(), prop::option::of(bytes(16))).prop_map(|(slot, after)| SyncPos { slot, after })
}

fn message() -> impl Strategy<Value = Message> {
    let outcome = prop_oneof![Just(Outcome::Applied), Just(Outcome::Had), Just(Outcome::NeedFull)];
    prop_oneof![
        (any::<u64>(), slot(), prop::collection::vec(effect(), 0..8)).prop_map(|(w, slot, effects)| Message::Apply {
            write: WriteId(w),
            slot,
            effects
        }),
        (any::<u64>(), prop::collection::vec(outcome, 0..8))
            .prop_map(|(w, outcomes)| Message::Ack { write: WriteId(w), outcomes }),
        prop::collection::vec(any::<u64>().prop_map(WriteId), 0..16).prop_map(|writes| Message::Acked { writes }),
        (node(), any::<u64>(), slot(), prop::collection::vec(effect(), 0..4))
            .prop_map(|(owner, w, slot, effects)| Message::Hint { owner, write: WriteId(w), slot, effects }),
        (any::<u64>(), node()).prop_map(|(w, owner)| Message::HintAck { write: WriteId(w), owner }),
        (any::<u64>(), slot(), prop::collection::vec(effect(), 0..4))
            .prop_map(|(id, slot, effects)| Message::HintDeliver { id, slot, effects }),
        any::<u64>().prop_map(|id| Message::HintDelivered { id }),
        prop::collection::vec(any::<u64>(), RANGES).prop_map(|digests| Message::Ranges { digests }),
        prop::collection::vec((slot(), any::<u64>()), 0..64).prop_map(|digests| Message::Slots { digests }),
        (slot(), any::<u64>(), prop::option::of(any::<u64>()), prop::collection::vec((any::<u64>(), stamp()), 0..16))
            .prop_map(|(slot, lo, hi, keys)| Message::Keys { slot, lo, hi, keys }),
        (slot(), prop::collection::vec(any::<u64>(), 0..16)).prop_map(|(slot, hashes)| Message::Fetch { slot, hashes }),
        (slot(), prop::collection::vec(entry(), 0..8)).prop_map(|(slot, entries)| Message::Repair { slot, entries }),
        pos().prop_map(|at| Message::Sync { at }),
        (pos(), prop::collection::vec((slot(), entry()), 0..8), prop::option::of(pos()))
            .prop_map(|(at, entries, next)| Message::SyncChunk { at, entries, next }),
        (any::<u64>(), slot(), key(16)).prop_map(|(id, slot, key)| Message::Read { id: ReadId(id), slot, key }),
        (any::<u64>(), prop::option::of((version(), state())))
            .prop_map(|(id, found)| Message::ReadReply { id: ReadId(id), found }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_messages_round_trip(msg in message()) {
        let limits = Config::default().limits();
        prop_assert!(msg.check(&limits).is_ok());
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), msg.encoded_len());
        prop_assert_eq!(Message::decode(&bytes, &limits), Ok(msg));
    }

    #[test]
    fn random_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..512)) {
        let limits = Config::for_test().limits();
        let _ = Message::decode(&Bytes::from(raw.clone()), &limits);
        // With a valid header, the body is exercised too.
        for kind in 1..=16u8 {
            let mut framed = vec![ringcache_replication::CODEC_VERSION, kind];
            framed.extend_from_slice(&raw);
            let _ = Message::decode(&Bytes::from(framed), &limits);
        }
    }

    #[test]
    fn corrupted_and_cut_messages_never_panic(msg in message(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let limits = Config::for_test().limits();
        let bytes = msg.to_bytes().to_vec();
        let i = at.index(bytes.len());
        let mut corrupt = bytes.clone();
        corrupt[i] = byte;
        if let Ok(decoded) = Message::decode(&Bytes::from(corrupt), &limits) {
            prop_assert!(decoded.check(&limits).is_ok(), "decoded past the limits");
        }
        prop_assert!(Message::decode(&Bytes::from(bytes[..i].to_vec()), &limits).is_err(), "a cut message is refused");
    }
}

#[test]
fn limits_are_enforced_on_both_sides() {
    let limits = Config::for_test().limits();
    let fetch = Message::Fetch { slot: 1, hashes: vec![7; limits.hashes_per_message_max + 1] };
    assert!(fetch.check(&limits).is_err());
    assert!(Message::decode(&fetch.to_bytes(), &limits).unwrap_err().is_over_limit());
    // A count that claims more items than the bytes left is refused before
    // anything is reserved.
    let mut lie = vec![ringcache_replication::CODEC_VERSION, 10, 0, 1];
    lie.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(Message::decode(&Bytes::from(lie), &Config::default().limits()).is_err());
    // An older node's format (codec 2 named keys in anti-entropy lists).
    let wrong_version = Bytes::from_static(&[2, 6, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(Message::decode(&wrong_version, &limits), Err(ringcache_replication::DecodeError::CodecVersion(2)));
}

#[test]
fn a_key_of_a_database_out_of_range_is_refused() {
    let limits = Config::for_test().limits();
    for (db, ok) in [(0, true), (15, true), (16, false), (u16::MAX, false)] {
        let read = Message::Read { id: ReadId(1), slot: 0, key: DbKey::new(db, &b"k"[..]) };
        match Message::decode(&read.to_bytes(), &limits) {
            Ok(m) => assert!(ok && m == read, "database {db}"),
            Err(e) => {
                assert!(!ok, "database {db}: {e}");
                assert_eq!(e, ringcache_replication::DecodeError::BadDatabase { db, databases: 16 });
                assert!(e.is_over_limit(), "counted with the limits");
            }
        }
    }
}
