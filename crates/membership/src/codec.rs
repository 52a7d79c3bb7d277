//! The wire format of gossip messages: foca's [`Header`] and [`Member`]
//! with our [`Identity`], in bytes. foca frames a message as a header, a
//! `u16` count and that many members; this module encodes the parts.
//!
//! All integers big-endian. Version 1:
//!
//! ```text
//! header   = version:u8(=1) identity(src) src_incarnation:u16 identity(dst) message
//! message  = tag:u8 [fields]   1 Ping(probe:u8)  2 Ack(probe:u8)
//!            3 PingReq(identity, probe:u8)  4 IndirectPing(identity, probe:u8)
//!            5 IndirectAck(identity, probe:u8)  6 ForwardedAck(identity, probe:u8)
//!            7 Announce  8 Feed  9 Gossip  10 Broadcast  11 TurnUndead
//! identity = id_len:u8 id:[u8; id_len] (UTF-8, not empty) generation:u64
//!            revision:u32 addr client_port:u16 phase:u8
//! addr     = 4 ip:[u8; 4] port:u16 | 6 ip:[u8; 16] port:u16
//! member   = identity incarnation:u16 state:u8 (0 alive, 1 suspect, 2 down)
//! ```
//!
//! Invariants: decoding checks every length before reading it, so no input
//! can panic it or make it read past the message (a random-bytes property
//! test holds it to that); an encoder writes nothing unless the whole item
//! fits (foca relies on it when it fills a message up to the size limit);
//! everything encoded decodes to the same value (round-trip property test).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Buf, BufMut};
use foca::{Header, Member, Message, State};
use ringcache_ring::NodeId;

use crate::error::Refusal;
use crate::identity::{Identity, NODE_ID_WIRE_MAX};
use crate::view::{NodeMeta, Phase};

pub const WIRE_VERSION: u8 = 1;

/// First byte of a member sync (ringcache's own message, not foca's): the
/// members a join's feed leaves out, dead and left ones.
///
/// ```text
/// sync = 0x81 identity(src) count:u16 member*count
/// ```
pub const SYNC_KIND: u8 = 0x81;

/// Encodes a sync from `src` with as many of `members` as fit in `max`
/// bytes; returns it and how many went in.
pub fn encode_sync(src: &Identity, members: &[Member<Identity>], max: usize) -> (Vec<u8>, usize) {
    use foca::Codec;
    let mut buf = Vec::with_capacity(max.min(4096));
    buf.put_u8(SYNC_KIND);
    put_identity(&mut buf, src);
    let count_at = buf.len();
    buf.put_u16(0);
    let mut count = 0u16;
    for m in members {
        if count == u16::MAX || buf.len() + identity_len(m.id()) + 3 > max {
            break;
        }
        WireCodec.encode_member(m, &mut buf).expect("a Vec has room");
        count += 1;
    }
    buf[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
    (buf, usize::from(count))
}

/// Decodes a sync: its sender and members. Refuses trailing bytes.
pub fn decode_sync(mut buf: &[u8]) -> R<(Identity, Vec<Member<Identity>>)> {
    use foca::Codec;
    let kind = get_u8(&mut buf)?;
    if kind != SYNC_KIND {
        return Err(Refusal::BadTag { what: "message kind", tag: kind });
    }
    let src = get_identity(&mut buf)?;
    let count = get_u16(&mut buf)?;
    // Each member takes at least 20 bytes: a count beyond what is left is a lie.
    if usize::from(count) > buf.len() / 20 {
        return Err(Refusal::Truncated);
    }
    let mut members = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        members.push(WireCodec.decode_member(&mut buf)?);
    }
    if !buf.is_empty() {
        return Err(Refusal::Truncated);
    }
    Ok((src, members))
}

/// foca's [`foca::Codec`] for ringcache's identities.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireCodec;

type R<T> = std::result::Result<T, Refusal>;

impl foca::Codec<Identity> for WireCodec {
    type Error = Refusal;

    fn encode_header(&mut self, header: &Header<Identity>, mut buf: impl BufMut) -> R<()> {
        if buf.remaining_mut() < header_len(header) {
            return Err(Refusal::NoSpace);
        }
        buf.put_u8(WIRE_VERSION);
        put_identity(&mut buf, &header.src);
        buf.put_u16(header.src_incarnation);
        put_identity(&mut buf, &header.dst);
        put_message(&mut buf, &header.message);
        Ok(())
    }

    fn decode_header(&mut self, mut buf: impl Buf) -> R<Header<Identity>> {
        decode_header(&mut buf)
    }

    fn encode_member(&mut self, member: &Member<Identity>, mut buf: impl BufMut) -> R<()> {
        if buf.remaining_mut() < identity_len(member.id()) + 3 {
            return Err(Refusal::NoSpace);
        }
        put_identity(&mut buf, member.id());
        buf.put_u16(member.incarnation());
        buf.put_u8(match member.state() {
            State::Alive => 0,
            State::Suspect => 1,
            State::Down => 2,
        });
        Ok(())
    }

    fn decode_member(&mut self, mut buf: impl Buf) -> R<Member<Identity>> {
        let id = get_identity(&mut buf)?;
        let incarnation = get_u16(&mut buf)?;
        let state = match get_u8(&mut buf)? {
            0 => State::Alive,
            1 => State::Suspect,
            2 => State::Down,
            tag => return Err(Refusal::BadTag { what: "member state", tag }),
        };
        Ok(Member::new(id, incarnation, state))
    }
}

/// Decodes a message's header alone (the state machine checks the sender
/// before handing the message to foca).
pub fn decode_header(buf: &mut impl Buf) -> R<Header<Identity>> {
    let version = get_u8(buf)?;
    if version != WIRE_VERSION {
        return Err(Refusal::BadVersion(version));
    }
    let src = get_identity(buf)?;
    let src_incarnation = get_u16(buf)?;
    let dst = get_identity(buf)?;
    let message = get_message(buf)?;
    Ok(Header { src, src_incarnation, dst, message })
}

/// Bytes that `identity` takes on the wire.
pub fn identity_len(id: &Identity) -> usize {
    let addr = if id.addr.is_ipv4() { 1 + 4 + 2 } else { 1 + 16 + 2 };
    1 + id.node_id.as_str().len() + 8 + 4 + addr + 2 + 1
}

fn header_len(h: &Header<Identity>) -> usize {
    let message = 1 + match &h.message {
        Message::Ping(_) | Message::Ack(_) => 1,
        Message::PingReq { target: id, .. }
        | Message::IndirectPing { origin: id, .. }
        | Message::IndirectAck { target: id, .. }
        | Message::ForwardedAck { origin: id, .. } => identity_len(id) + 1,
        Message::Announce | Message::Feed | Message::Gossip | Message::Broadcast | Message::TurnUndead => 0,
    };
    1 + identity_len(&h.src) + 2 + identity_len(&h.dst) + message
}

fn put_identity(buf: &mut impl BufMut, id: &Identity) {
    let node = id.node_id.as_str().as_bytes();
    assert!(!node.is_empty() && node.len() <= NODE_ID_WIRE_MAX, "identity checked when it was made");
    buf.put_u8(node.len() as u8);
    buf.put_slice(node);
    buf.put_u64(id.generation);
    buf.put_u32(id.revision);
    match id.addr.ip() {
        IpAddr::V4(ip) => {
            buf.put_u8(4);
            buf.put_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            buf.put_u8(6);
            buf.put_slice(&ip.octets());
        }
    }
    buf.put_u16(id.addr.port());
    buf.put_u16(id.meta.client_port);
    buf.put_u8(id.meta.phase.to_wire());
}

fn get_identity(buf: &mut impl Buf) -> R<Identity> {
    let len = usize::from(get_u8(buf)?);
    if len == 0 {
        return Err(Refusal::BadNodeId);
    }
    let mut node = vec![0; len];
    get_slice(buf, &mut node)?;
    let node = String::from_utf8(node).map_err(|_| Refusal::BadNodeId)?;
    let generation = get_u64(buf)?;
    let revision = get_u32(buf)?;
    let ip = match get_u8(buf)? {
        4 => {
            let mut o = [0; 4];
            get_slice(buf, &mut o)?;
            IpAddr::V4(Ipv4Addr::from(o))
        }
        6 => {
            let mut o = [0; 16];
            get_slice(buf, &mut o)?;
            IpAddr::V6(Ipv6Addr::from(o))
        }
        tag => return Err(Refusal::BadTag { what: "address family", tag }),
    };
    let port = get_u16(buf)?;
    let client_port = get_u16(buf)?;
    let phase = get_u8(buf)?;
    let phase = Phase::from_wire(phase).ok_or(Refusal::BadTag { what: "phase", tag: phase })?;
    Ok(Identity {
        node_id: NodeId::new(node),
        generation,
        revision,
        addr: SocketAddr::new(ip, port),
        meta: NodeMeta { client_port, phase },
    })
}

fn put_message(buf: &mut impl BufMut, m: &Message<Identity>) {
    let (tag, with) = match m {
        Message::Ping(p) => (1, Some((None, *p))),
        Message::Ack(p) => (2, Some((None, *p))),
        Message::PingReq { target, probe_number } => (3, Some((Some(target), *probe_number))),
        Message::IndirectPing { origin, probe_number } => (4, Some((Some(origin), *probe_number))),
        Message::IndirectAck { target, probe_number } => (5, Some((Some(target), *probe_number))),
        Message::ForwardedAck { origin, probe_number } => (6, Some((Some(origin), *probe_number))),
        Message::Announce => (7, None),
        Message::Feed => (8, None),
        Message::Gossip => (9, None),
        Message::Broadcast => (10, None),
        Message::TurnUndead => (11, None),
    };
    buf.put_u8(tag);
    if let Some((id, probe)) = with {
        if let Some(id) = id {
            put_identity(buf, id);
        }
        buf.put_u8(probe);
    }
}

fn get_message(buf: &mut impl Buf) -> R<Message<Identity>> {
    Ok(match get_u8(buf)? {
        1 => Message::Ping(get_u8(buf)?),
        2 => Message::Ack(get_u8(buf)?),
        3 => Message::PingReq { target: get_identity(buf)?, probe_number: get_u8(buf)? },
        4 => Message::IndirectPing { origin: get_identity(buf)?, probe_number: get_u8(buf)? },
        5 => Message::IndirectAck { target: get_identity(buf)?, probe_number: get_u8(buf)? },
        6 => Message::ForwardedAck { origin: get_identity(buf)?, probe_number: get_u8(buf)? },
        7 => Message::Announce,
        8 => Message::Feed,
        9 => Message::Gossip,
        10 => Message::Broadcast,
        11 => Message::TurnUndead,
        tag => return Err(Refusal::BadTag { what: "message", tag }),
    })
}

fn need(buf: &impl Buf, n: usize) -> R<()> {
    if buf.remaining() < n {
        Err(Refusal::Truncated)
    } else {
        Ok(())
    }
}

fn get_u8(buf: &mut impl Buf) -> R<u8> {
    need(buf, 1)?;
    Ok(buf.get_u8())
}

fn get_u16(buf: &mut impl Buf) -> R<u16> {
    need(buf, 2)?;
    Ok(buf.get_u16())
}

fn get_u32(buf: &mut impl Buf) -> R<u32> {
    need(buf, 4)?;
    Ok(buf.get_u32())
}

fn get_u64(buf: &mut impl Buf) -> R<u64> {
    need(buf, 8)?;
    Ok(buf.get_u64())
}

fn get_slice(buf: &mut impl Buf, out: &mut [u8]) -> R<()> {
    need(buf, out.len())?;
    buf.copy_to_slice(out);
    Ok(())
}
