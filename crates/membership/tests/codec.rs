//! The wire codec: random round trips, and random or corrupted bytes that
//! must be refused without a panic, both by the codec and by
//! `Membership::handle` (which also hands them to foca).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, BytesMut};
use proptest::prelude::*;
use ringcache_membership::foca::{Codec, Header, Member, Message, State};
use ringcache_membership::{
    decode_header, decode_sync, encode_sync, identity_len, Config, Identity, Membership, NodeId, NodeMeta, Output,
    Phase, WireCodec,
};

fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![Just(Phase::Joining), Just(Phase::Serving), Just(Phase::Leaving), Just(Phase::Left)]
}

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), p)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), p)),
    ]
}

fn identity() -> impl Strategy<Value = Identity> {
    ("[a-z0-9é-]{1,60}", any::<u64>(), any::<u32>(), addr(), any::<u16>(), phase()).prop_map(
        |(id, generation, revision, addr, client_port, phase)| Identity {
            node_id: NodeId::new(id),
            generation,
            revision,
            addr,
            meta: NodeMeta { client_port, phase },
        },
    )
}

fn message() -> impl Strategy<Value = Message<Identity>> {
    prop_oneof![
        any::<u8>().prop_map(Message::Ping),
        any::<u8>().prop_map(Message::Ack),
        (identity(), any::<u8>()).prop_map(|(target, probe_number)| Message::PingReq { target, probe_number }),
        (identity(), any::<u8>()).prop_map(|(origin, probe_number)| Message::IndirectPing { origin, probe_number }),
        (identity(), any::<u8>()).prop_map(|(target, probe_number)| Message::IndirectAck { target, probe_number }),
        (identity(), any::<u8>()).prop_map(|(origin, probe_number)| Message::ForwardedAck { origin, probe_number }),
        Just(Message::Announce),
        Just(Message::Feed),
        Just(Message::Gossip),
        Just(Message::Broadcast),
        Just(Message::TurnUndead),
    ]
}

fn member() -> impl Strategy<Value = Member<Identity>> {
    (identity(), any::<u16>(), prop_oneof![Just(State::Alive), Just(State::Suspect), Just(State::Down)])
        .prop_map(|(id, inc, state)| Member::new(id, inc, state))
}

fn node(name: &str) -> Membership {
    let id = Identity {
        node_id: NodeId::new(name),
        generation: 1,
        revision: 0,
        addr: "10.0.0.1:7000".parse().unwrap(),
        meta: NodeMeta::default(),
    };
    Membership::new(id, Config::for_test(), 7).unwrap()
}

proptest! {
    #[test]
    fn headers_and_members_round_trip(src in identity(), inc in any::<u16>(), dst in identity(), msg in message(), members in prop::collection::vec(member(), 0..8)) {
        let header = Header { src, src_incarnation: inc, dst, message: msg };
        let mut buf = BytesMut::new();
        WireCodec.encode_header(&header, &mut buf).unwrap();
        for m in &members {
            let before = buf.len();
            WireCodec.encode_member(m, &mut buf).unwrap();
            prop_assert_eq!(buf.len() - before, identity_len(m.id()) + 3);
        }
        let mut read = &buf[..];
        prop_assert_eq!(decode_header(&mut read).unwrap(), header);
        for m in &members {
            prop_assert_eq!(&WireCodec.decode_member(&mut read).unwrap(), m);
        }
        prop_assert!(read.is_empty());
    }

    #[test]
    fn syncs_round_trip_and_keep_to_the_limit(src in identity(), members in prop::collection::vec(member(), 0..40), max in 60usize..3000) {
        let (bytes, count) = encode_sync(&src, &members, max);
        prop_assert!(bytes.len() <= max.max(1 + ringcache_membership::identity_len(&src) + 2));
        let (got_src, got) = decode_sync(&bytes).unwrap();
        prop_assert_eq!(&got_src, &src);
        prop_assert_eq!(&got[..], &members[..count]);
        let mut n = node("a");
        let mut out = Output::new();
        for cut in [0, 1, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            prop_assert!(decode_sync(&bytes[..cut]).is_err() || cut == bytes.len());
            let _ = n.handle(&got_src.node_id, &bytes[..cut], 1, &mut out);
        }
    }

    #[test]
    fn random_syncs_are_refused_without_a_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        bytes.insert(0, ringcache_membership::SYNC_KIND);
        let _ = decode_sync(&bytes);
        let mut n = node("a");
        let mut out = Output::new();
        let _ = n.handle(&NodeId::new("b"), &bytes, 1, &mut out);
    }

    #[test]
    fn an_encoder_writes_nothing_when_the_item_does_not_fit(m in member(), room in 0usize..40) {
        let mut backing = Vec::new();
        let mut limited = (&mut backing).limit(room);
        let fits = identity_len(m.id()) + 3 <= room;
        prop_assert_eq!(WireCodec.encode_member(&m, &mut limited).is_ok(), fits);
        prop_assert_eq!(backing.is_empty(), !fits);
    }

    #[test]
    fn random_bytes_are_refused_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_header(&mut &bytes[..]);
        let _ = WireCodec.decode_member(&mut &bytes[..]);
        let mut n = node("a");
        let mut out = Output::new();
        let _ = n.handle(&NodeId::new("b"), &bytes, 1, &mut out);
        n.tick(10_000, &mut out);
    }

    #[test]
    fn corrupted_messages_are_refused_without_a_panic(
        src in identity(), dst in identity(), msg in message(), members in prop::collection::vec(member(), 0..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let header = Header { src: src.clone(), src_incarnation: 0, dst, message: msg };
        let mut buf = BytesMut::new();
        WireCodec.encode_header(&header, &mut buf).unwrap();
        buf.extend_from_slice(&(members.len() as u16).to_be_bytes());
        for m in &members {
            WireCodec.encode_member(m, &mut buf).unwrap();
        }
        let mut bytes = buf.to_vec();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        let mut n = node("a");
        let mut out = Output::new();
        let _ = n.handle(&src.node_id, &bytes, 1, &mut out);
        let _ = n.handle(&src.node_id, &bytes[..cut.index(bytes.len() + 1)], 2, &mut out);
        n.tick(10_000, &mut out);
    }
}
