//! Redis's RDB encoding of one value, as DUMP writes it and RESTORE reads
//! it: the type byte, the value, then a footer of the RDB version (2 bytes,
//! little-endian) and a CRC64 (Jones, reflected, as Redis's crc64.c) of
//! everything before it.
//!
//! Written: the plain encodings every Redis since 2.x loads (string with
//! Redis's integer encoding, list, set, hash, binary-scored sorted set),
//! under RDB version 10, so that both Redis 7.0 and 7.2 take them; and
//! streams as Redis 7.2 writes them (`RDB_TYPE_STREAM_LISTPACKS_3`: one
//! listpack per node with its master entry, then the counters, the
//! consumer groups with their PELs and consumers), under RDB version 11,
//! which only Redis 7.2 loads. Read: those, plus what Redis 7.x writes
//! (LZF-compressed strings, intsets, listpacks, quicklist 2, and the
//! stream encodings of Redis 5 to 7.2). The ziplist encodings of Redis 6
//! and older and modules are refused as "Bad data format".
//!
//! Invariants: nothing in a payload can make the decoder allocate much
//! more than the payload's own size (counts are checked against the bytes
//! left, LZF output against its best ratio), and every read is
//! bounds-checked: a bad payload is an error, never a panic.
//!
//! CRC64 and LZF are written out here (a few lines each, checked against
//! Redis's test vectors and real redis-server payloads) rather than pulled
//! in as crates for one function each.

use bytes::Bytes;
use ringcache_store::value::{DecodedGroup, Pending};
use ringcache_store::{HashValue, ListValue, SetValue, StreamEntry, StreamId, StreamValue, Value, ZSetValue};

/// The RDB version DUMP writes (Redis 7.0's; 7.2 writes 11, with the same
/// encodings for what we write).
pub const WRITE_VERSION: u16 = 10;
/// The newest RDB version RESTORE accepts (Redis 7.2's).
pub const READ_VERSION: u16 = 11;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_SET_LISTPACK: u8 = 20;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;
const TYPE_STREAM_LISTPACKS_3: u8 = 21;
/// The RDB version of a stream payload (`RDB_TYPE_STREAM_LISTPACKS_3`
/// came with it).
const STREAM_WRITE_VERSION: u16 = 11;
/// A stream listpack entry's flags.
const STREAM_ITEM_DELETED: i64 = 1;
const STREAM_ITEM_SAMEFIELDS: i64 = 2;

/// Why a payload was refused, in RESTORE's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// "DUMP payload version or checksum are wrong"
    Footer,
    /// "Bad data format"
    Format,
}

// ------------------------------------------------------------------ CRC64

const CRC64_POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

static CRC64_TABLE: std::sync::LazyLock<[u64; 256]> = std::sync::LazyLock::new(|| {
    let mut t = [0u64; 256];
    for (i, slot) in t.iter_mut().enumerate() {
        let mut c = i as u64;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ CRC64_POLY_REFLECTED } else { c >> 1 };
        }
        *slot = c;
    }
    t
});

/// Redis's `crc64(0, data)`.
pub fn crc64(data: &[u8]) -> u64 {
    let t = &*CRC64_TABLE;
    data.iter().fold(0u64, |crc, &b| t[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8))
}

// ------------------------------------------------------------------ write

/// DUMP's payload for `value`.
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + value.mem());
    let mut version = WRITE_VERSION;
    match value {
        Value::Stream(st) => {
            out.push(TYPE_STREAM_LISTPACKS_3);
            put_stream(&mut out, st);
            version = STREAM_WRITE_VERSION;
        }
        Value::Str(s) => {
            out.push(TYPE_STRING);
            put_string(&mut out, s.as_bytes());
        }
        Value::List(l) => {
            out.push(TYPE_LIST);
            put_len(&mut out, l.len() as u64);
            for e in l.iter() {
                put_string(&mut out, e);
            }
        }
        Value::Set(s) => {
            out.push(TYPE_SET);
            put_len(&mut out, s.len() as u64);
            for m in s.iter() {
                put_string(&mut out, m);
            }
        }
        Value::Hash(h) => {
            out.push(TYPE_HASH);
            put_len(&mut out, h.len() as u64);
            for (f, v) in h.iter() {
                put_string(&mut out, f);
                put_string(&mut out, v);
            }
        }
        Value::ZSet(z) => {
            out.push(TYPE_ZSET_2);
            put_len(&mut out, z.len() as u64);
            for (m, score) in z.iter() {
                put_string(&mut out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn put_raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

/// `rdbSaveObject` of a stream, as Redis 7.2 writes it.
fn put_stream(out: &mut Vec<u8>, st: &StreamValue) {
    put_len(out, st.nodes_len() as u64);
    for (key, entries) in st.node_entries() {
        let mut raw = Vec::with_capacity(16);
        put_raw_id(&mut raw, key);
        put_string_raw(out, &raw);
        put_string_raw(out, &stream_listpack(key, entries));
    }
    put_len(out, st.len());
    for id in [st.last_id, st.first_id(), st.max_deleted_id] {
        put_len(out, id.ms);
        put_len(out, id.seq);
    }
    put_len(out, st.entries_added);
    put_len(out, st.groups().len() as u64);
    for (name, g) in st.groups() {
        put_string_raw(out, name);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel().len() as u64);
        for (id, p) in g.pel() {
            put_raw_id(out, *id);
            out.extend_from_slice(&p.delivery_time_ms.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        put_len(out, g.consumers().len() as u64);
        for (cname, c) in g.consumers() {
            put_string_raw(out, cname);
            out.extend_from_slice(&c.seen_time_ms.to_le_bytes());
            out.extend_from_slice(&c.active_time_ms.to_le_bytes());
            put_len(out, c.pending().len() as u64);
            c.pending().iter().for_each(|id| put_raw_id(out, *id));
        }
    }
}

/// A length and the bytes, never an integer encoding (node keys and
/// listpacks are binary).
fn put_string_raw(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// One node as Redis's listpack: the master entry (live count, deleted
/// count, the first entry's fields, a 0 terminator), then each entry as
/// flags, id deltas from the node's key, its fields unless they are the
/// master's, its values, and its element count.
fn stream_listpack(key: StreamId, entries: &[StreamEntry]) -> Vec<u8> {
    let mut lp = Listpack::new();
    let master: Vec<&[u8]> = entries.first().map_or(Vec::new(), |e| e.pairs().step_by(2).collect());
    lp.int(entries.len() as i64);
    lp.int(0);
    lp.int(master.len() as i64);
    master.iter().for_each(|f| lp.str(f));
    lp.int(0);
    for e in entries {
        let pairs: Vec<&[u8]> = e.pairs().collect();
        let n = pairs.len() / 2;
        let same = n == master.len() && pairs.iter().step_by(2).zip(&master).all(|(a, b)| a == b);
        lp.int(if same { STREAM_ITEM_SAMEFIELDS } else { 0 });
        lp.int(e.id.ms.wrapping_sub(key.ms) as i64);
        lp.int(e.id.seq.wrapping_sub(key.seq) as i64);
        if same {
            pairs.iter().skip(1).step_by(2).for_each(|v| lp.str(v));
            lp.int(n as i64 + 3);
        } else {
            lp.int(n as i64);
            pairs.iter().for_each(|b| lp.str(b));
            lp.int(2 * n as i64 + 4);
        }
    }
    lp.finish()
}

/// A listpack being written: elements as Redis's `lpAppend` encodes them
/// (canonical integers in the integer encodings), each with its
/// back-length.
struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Listpack {
    fn new() -> Listpack {
        Listpack { buf: vec![0; 6], count: 0 }
    }

    fn backlen(&mut self, l: usize) {
        let l = l as u64;
        let bytes: &[u8] = match l {
            0..=127 => &[l as u8],
            128..=16382 => &[(l >> 7) as u8, (l & 127) as u8 | 128],
            16383..=2_097_150 => &[(l >> 14) as u8, ((l >> 7) & 127) as u8 | 128, (l & 127) as u8 | 128],
            2_097_151..=268_435_454 => {
                &[(l >> 21) as u8, ((l >> 14) & 127) as u8 | 128, ((l >> 7) & 127) as u8 | 128, (l & 127) as u8 | 128]
            }
            _ => &[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ],
        };
        let owned = bytes.to_vec();
        self.buf.extend_from_slice(&owned);
        self.count += 1;
    }

    fn int(&mut self, v: i64) {
        let start = self.buf.len();
        match v {
            0..=127 => self.buf.push(v as u8),
            -4096..=4095 => {
                let u = (v as u16) & 0x1fff;
                self.buf.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
            }
            _ if i16::try_from(v).is_ok() => {
                self.buf.push(0xf1);
                self.buf.extend_from_slice(&(v as i16).to_le_bytes());
            }
            _ if (-(1 << 23)..(1 << 23)).contains(&v) => {
                self.buf.push(0xf2);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            _ if i32::try_from(v).is_ok() => {
                self.buf.push(0xf3);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                self.buf.push(0xf4);
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        let len = self.buf.len() - start;
        self.backlen(len);
    }

    fn str(&mut self, s: &[u8]) {
        if let Some(v) = crate::args::parse_i64(s) {
            return self.int(v);
        }
        let start = self.buf.len();
        match s.len() {
            n if n < 64 => self.buf.push(0x80 | n as u8),
            n if n < 4096 => self.buf.extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]),
            n => {
                self.buf.push(0xf0);
                self.buf.extend_from_slice(&(n as u32).to_le_bytes());
            }
        }
        self.buf.extend_from_slice(s);
        let len = self.buf.len() - start;
        self.backlen(len);
    }

    fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = u32::try_from(self.buf.len()).expect("a node is under 4 GiB");
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Redis's `rdbSaveLen`.
fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Redis's `rdbSaveRawString` without compression: short canonical
/// integers in the integer encodings, anything else as length and bytes.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = crate::args::parse_i64(s) {
            if let Ok(v) = i8::try_from(v) {
                out.extend_from_slice(&[0xc0, v as u8]);
                return;
            }
            if let Ok(v) = i16::try_from(v) {
                out.push(0xc1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
            if let Ok(v) = i32::try_from(v) {
                out.push(0xc2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

// ------------------------------------------------------------------- read

/// Checks the footer as Redis's `verifyDumpPayload` does.
pub fn verify(payload: &[u8]) -> Result<(), Refused> {
    if payload.len() < 10 {
        return Err(Refused::Footer);
    }
    let footer = &payload[payload.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > READ_VERSION {
        return Err(Refused::Footer);
    }
    let crc = u64::from_le_bytes(footer[2..10].try_into().expect("8 bytes"));
    if crc64(&payload[..payload.len() - 8]) != crc {
        return Err(Refused::Footer);
    }
    Ok(())
}

/// The value of a payload that [`verify`] accepted.
pub fn restore(payload: &[u8]) -> Result<Value, Refused> {
    verify(payload)?;
    let mut r = Reader { buf: &payload[..payload.len() - 10], pos: 0 };
    let value = r.value()?;
    if value.is_empty_collection() {
        // Redis refuses empty keys in a payload.
        return Err(Refused::Format);
    }
    Ok(value)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// One element of a listpack or intset.
enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    fn to_bytes(&self) -> Bytes {
        match self {
            Elem::Str(s) => Bytes::copy_from_slice(s),
            Elem::Int(v) => Bytes::copy_from_slice(itoa::Buffer::new().format(*v).as_bytes()),
        }
    }

    fn to_score(&self) -> Result<f64, Refused> {
        let v = match self {
            Elem::Int(v) => *v as f64,
            Elem::Str(s) => std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).ok_or(Refused::Format)?,
        };
        if f64::is_nan(v) {
            return Err(Refused::Format);
        }
        Ok(v)
    }
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Refused> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(Refused::Format)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, Refused> {
        Ok(self.take(1)?[0])
    }

    /// `rdbLoadLen`; `Err(Some(enc))` for the encoded-string marker.
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, Refused> {
        let t = self.byte()?;
        Ok(match t >> 6 {
            0 => Ok(u64::from(t & 0x3f)),
            1 => Ok((u64::from(t & 0x3f) << 8) | u64::from(self.byte()?)),
            2 if t == 0x80 => Ok(u64::from(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))),
            2 if t == 0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
            2 => return Err(Refused::Format),
            _ => Err(t & 0x3f),
        })
    }

    /// A count of items of at least `min_size` bytes each: never more than
    /// the bytes left could hold.
    fn count(&mut self, min_size: usize) -> Result<usize, Refused> {
        let n = self.len_or_enc()?.map_err(|_| Refused::Format)?;
        let n = usize::try_from(n).map_err(|_| Refused::Format)?;
        if n.saturating_mul(min_size) > self.left() {
            return Err(Refused::Format);
        }
        Ok(n)
    }

    /// `rdbGenericLoadStringObject`: plain, integer-encoded or LZF.
    fn string(&mut self) -> Result<Bytes, Refused> {
        match self.len_or_enc()? {
            Ok(len) => {
                let len = usize::try_from(len).map_err(|_| Refused::Format)?;
                Ok(Bytes::copy_from_slice(self.take(len)?))
            }
            Err(0) => Ok(Elem::Int(i64::from(self.byte()? as i8)).to_bytes()),
            Err(1) => Ok(Elem::Int(i64::from(i16::from_le_bytes(self.take(2)?.try_into().expect("2")))).to_bytes()),
            Err(2) => Ok(Elem::Int(i64::from(i32::from_le_bytes(self.take(4)?.try_into().expect("4")))).to_bytes()),
            Err(3) => {
                let clen = self.len_or_enc()?.map_err(|_| Refused::Format)?;
                let len = self.len_or_enc()?.map_err(|_| Refused::Format)?;
                let clen = usize::try_from(clen).map_err(|_| Refused::Format)?;
                let len = usize::try_from(len).map_err(|_| Refused::Format)?;
                let input = self.take(clen)?;
                lzf_decompress(input, len).map(Bytes::from)
            }
            Err(_) => Err(Refused::Format),
        }
    }

    /// The score of an RDB_TYPE_ZSET member: a length byte (253 NaN,
    /// 254 +inf, 255 -inf) then the number as text.
    fn text_score(&mut self) -> Result<f64, Refused> {
        let v = match self.byte()? {
            253 => return Err(Refused::Format),
            254 => f64::INFINITY,
            255 => f64::NEG_INFINITY,
            n => Elem::Str(self.take(usize::from(n))?).to_score()?,
        };
        Ok(v)
    }

    fn value(&mut self) -> Result<Value, Refused> {
        let t = self.byte()?;
        Ok(match t {
            TYPE_STRING => Value::string_owned(self.string()?),
            TYPE_LIST => {
                let mut l = ListValue::new();
                for _ in 0..self.count(1)? {
                    l.push_back_owned(self.string()?);
                }
                Value::List(Box::new(l))
            }
            TYPE_SET => {
                let mut s = SetValue::new();
                for _ in 0..self.count(1)? {
                    if !s.insert_owned(self.string()?) {
                        return Err(Refused::Format);
                    }
                }
                Value::Set(Box::new(s))
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let mut z = ZSetValue::new();
                for _ in 0..self.count(2)? {
                    let m = self.string()?;
                    let score = if t == TYPE_ZSET_2 {
                        f64::from_le_bytes(self.take(8)?.try_into().expect("8"))
                    } else {
                        self.text_score()?
                    };
                    if score.is_nan() || z.insert_owned(m, score).is_some() {
                        return Err(Refused::Format);
                    }
                }
                Value::ZSet(Box::new(z))
            }
            TYPE_HASH => {
                let mut h = HashValue::new();
                for _ in 0..self.count(2)? {
                    let (f, v) = (self.string()?, self.string()?);
                    if !h.insert(&f, &v) {
                        return Err(Refused::Format);
                    }
                }
                Value::Hash(Box::new(h))
            }
            TYPE_SET_INTSET => {
                let blob = self.string()?;
                let mut s = SetValue::new();
                for v in intset(&blob)? {
                    if !s.insert_owned(Elem::Int(v).to_bytes()) {
                        return Err(Refused::Format);
                    }
                }
                Value::Set(Box::new(s))
            }
            TYPE_SET_LISTPACK => {
                let blob = self.string()?;
                let mut s = SetValue::new();
                for e in listpack(&blob)? {
                    if !s.insert_owned(e.to_bytes()) {
                        return Err(Refused::Format);
                    }
                }
                Value::Set(Box::new(s))
            }
            TYPE_HASH_LISTPACK => {
                let blob = self.string()?;
                let items = listpack(&blob)?;
                if items.len() % 2 != 0 {
                    return Err(Refused::Format);
                }
                let mut h = HashValue::new();
                for pair in items.chunks_exact(2) {
                    if !h.insert(&pair[0].to_bytes(), &pair[1].to_bytes()) {
                        return Err(Refused::Format);
                    }
                }
                Value::Hash(Box::new(h))
            }
            TYPE_ZSET_LISTPACK => {
                let blob = self.string()?;
                let items = listpack(&blob)?;
                if items.len() % 2 != 0 {
                    return Err(Refused::Format);
                }
                let mut z = ZSetValue::new();
                for pair in items.chunks_exact(2) {
                    if z.insert_owned(pair[0].to_bytes(), pair[1].to_score()?).is_some() {
                        return Err(Refused::Format);
                    }
                }
                Value::ZSet(Box::new(z))
            }
            TYPE_LIST_QUICKLIST_2 => {
                let mut l = ListValue::new();
                for _ in 0..self.count(2)? {
                    let container = self.len_or_enc()?.map_err(|_| Refused::Format)?;
                    let blob = self.string()?;
                    match container {
                        // A plain node: one big element.
                        1 => l.push_back_owned(blob),
                        2 => {
                            for e in listpack(&blob)? {
                                l.push_back_owned(e.to_bytes());
                            }
                        }
                        _ => return Err(Refused::Format),
                    }
                }
                Value::List(Box::new(l))
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
                Value::Stream(Box::new(self.stream(t)?))
            }
            _ => return Err(Refused::Format),
        })
    }

    fn len(&mut self) -> Result<u64, Refused> {
        self.len_or_enc()?.map_err(|_| Refused::Format)
    }

    fn raw_id(&mut self) -> Result<StreamId, Refused> {
        let b = self.take(16)?;
        Ok(StreamId::new(
            u64::from_be_bytes(b[..8].try_into().expect("8")),
            u64::from_be_bytes(b[8..].try_into().expect("8")),
        ))
    }

    fn ms_time(&mut self) -> Result<i64, Refused> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// `rdbLoadObject` of a stream of RDB type `t` (15, 19 or 21).
    fn stream(&mut self, t: u8) -> Result<StreamValue, Refused> {
        let n = self.count(2)?;
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            let key = self.string()?;
            let key: [u8; 16] = key[..].try_into().map_err(|_| Refused::Format)?;
            let key = StreamId::new(
                u64::from_be_bytes(key[..8].try_into().expect("8")),
                u64::from_be_bytes(key[8..].try_into().expect("8")),
            );
            let blob = self.string()?;
            let (deleted, entries) = stream_node(key, &blob)?;
            nodes.push((key, deleted, blob.len() as u64, entries));
        }
        let length = self.len()?;
        let last_id = StreamId::new(self.len()?, self.len()?);
        let (max_deleted, entries_added) = if t >= TYPE_STREAM_LISTPACKS_2 {
            let _first = StreamId::new(self.len()?, self.len()?);
            (StreamId::new(self.len()?, self.len()?), self.len()?)
        } else {
            (StreamId::MIN, length)
        };
        let ngroups = self.count(4)?;
        let mut groups: Vec<DecodedGroup> = Vec::with_capacity(ngroups);
        for _ in 0..ngroups {
            let name = self.string()?;
            let last = StreamId::new(self.len()?, self.len()?);
            let read = if t >= TYPE_STREAM_LISTPACKS_2 { self.len()? as i64 } else { -1 };
            let npel = self.count(17)?;
            let mut pel = Vec::with_capacity(npel);
            for _ in 0..npel {
                let id = self.raw_id()?;
                let time = self.ms_time()?;
                let count = self.len()?;
                pel.push((id, time, count));
            }
            let nconsumers = self.count(9)?;
            let mut consumers = Vec::with_capacity(nconsumers);
            let mut owners = std::collections::HashMap::with_capacity(npel);
            for _ in 0..nconsumers {
                let cname = self.string()?;
                let seen = self.ms_time()?;
                let active = if t >= TYPE_STREAM_LISTPACKS_3 { self.ms_time()? } else { seen };
                for _ in 0..self.count(16)? {
                    if owners.insert(self.raw_id()?, cname.clone()).is_some() {
                        return Err(Refused::Format);
                    }
                }
                consumers.push((cname, seen, active));
            }
            // Every pending entry has an owner, as Redis's deep check asks.
            let pel = pel
                .into_iter()
                .map(|(id, time, count)| {
                    let consumer = owners.remove(&id).ok_or(Refused::Format)?;
                    Ok((id, Pending { delivery_time_ms: time, delivery_count: count, consumer }))
                })
                .collect::<Result<Vec<_>, Refused>>()?;
            if !owners.is_empty() {
                return Err(Refused::Format);
            }
            groups.push((name, last, read, consumers, pel));
        }
        let names: Vec<Bytes> = groups.iter().map(|g| g.0.clone()).collect();
        let mut st =
            StreamValue::from_parts(nodes, last_id, max_deleted, entries_added, groups).ok_or(Refused::Format)?;
        if st.len() != length {
            return Err(Refused::Format);
        }
        if t < TYPE_STREAM_LISTPACKS_2 {
            // Redis 6 kept no read counters: estimated, as Redis loads them.
            let meta = st.meta();
            for name in names {
                if let Some((g, _)) = st.group_mut(&name) {
                    g.entries_read = meta.estimate_distance(g.last_id);
                }
            }
        }
        Ok(st)
    }
}

/// The live entries of one stream node's listpack (see
/// [`stream_listpack`]) and how many are flagged deleted.
fn stream_node(key: StreamId, blob: &[u8]) -> Result<(u64, Vec<StreamEntry>), Refused> {
    let items = listpack(blob)?;
    let as_int = |e: &Elem<'_>| match e {
        Elem::Int(v) => Ok(*v),
        Elem::Str(s) => crate::args::parse_i64(s).ok_or(Refused::Format),
    };
    let header = |i: usize| -> Result<usize, Refused> {
        let v = as_int(items.get(i).ok_or(Refused::Format)?)?;
        usize::try_from(v).map_err(|_| Refused::Format)
    };
    let (count, deleted, nmaster) = (header(0)?, header(1)?, header(2)?);
    let mut it = items.iter();
    let mut next = || it.next().ok_or(Refused::Format);
    for _ in 0..3 {
        next()?;
    }
    let mut master = Vec::with_capacity(nmaster.min(items.len()));
    for _ in 0..nmaster {
        master.push(next()?.to_bytes());
    }
    if as_int(next()?)? != 0 {
        return Err(Refused::Format);
    }
    let mut entries = Vec::with_capacity(count.min(items.len()));
    let mut flagged = 0usize;
    for _ in 0..count + deleted {
        let flags = as_int(next()?)?;
        let ms = key.ms.wrapping_add(as_int(next()?)? as u64);
        let seq = key.seq.wrapping_add(as_int(next()?)? as u64);
        let mut pairs = Vec::new();
        if flags & STREAM_ITEM_SAMEFIELDS != 0 {
            for f in &master {
                pairs.push(f.clone());
                pairs.push(next()?.to_bytes());
            }
        } else {
            let n = usize::try_from(as_int(next()?)?).map_err(|_| Refused::Format)?;
            if n > items.len() {
                return Err(Refused::Format);
            }
            for _ in 0..2 * n {
                pairs.push(next()?.to_bytes());
            }
        }
        next()?; // lp-count
        if pairs.is_empty() {
            return Err(Refused::Format);
        }
        if flags & STREAM_ITEM_DELETED != 0 {
            flagged += 1;
        } else {
            entries.push(StreamEntry::new(StreamId::new(ms, seq), &pairs));
        }
    }
    if next().is_ok() || flagged != deleted || entries.len() != count {
        return Err(Refused::Format);
    }
    Ok((deleted as u64, entries))
}

/// The integers of an intset: encoding (2, 4 or 8 bytes), count, values,
/// little-endian.
fn intset(b: &[u8]) -> Result<Vec<i64>, Refused> {
    if b.len() < 8 {
        return Err(Refused::Format);
    }
    let width = u32::from_le_bytes(b[0..4].try_into().expect("4")) as usize;
    let n = u32::from_le_bytes(b[4..8].try_into().expect("4")) as usize;
    if !matches!(width, 2 | 4 | 8) || b.len() != 8 + n.saturating_mul(width) {
        return Err(Refused::Format);
    }
    Ok(b[8..]
        .chunks_exact(width)
        .map(|c| match width {
            2 => i64::from(i16::from_le_bytes(c.try_into().expect("2"))),
            4 => i64::from(i32::from_le_bytes(c.try_into().expect("4"))),
            _ => i64::from_le_bytes(c.try_into().expect("8")),
        })
        .collect())
}

/// The elements of a listpack: a 6-byte header (total bytes, count), the
/// entries, each followed by its back-length, and a 0xFF terminator.
fn listpack(b: &[u8]) -> Result<Vec<Elem<'_>>, Refused> {
    if b.len() < 7 || u32::from_le_bytes(b[0..4].try_into().expect("4")) as usize != b.len() {
        return Err(Refused::Format);
    }
    let mut r = Reader { buf: b, pos: 6 };
    let mut out = Vec::new();
    loop {
        let start = r.pos;
        let enc = r.byte()?;
        let elem = match enc {
            0xff => break,
            e if e & 0x80 == 0 => Elem::Int(i64::from(e & 0x7f)),
            e if e & 0xc0 == 0x80 => Elem::Str(r.take(usize::from(e & 0x3f))?),
            e if e & 0xe0 == 0xc0 => {
                let v = (i64::from(e & 0x1f) << 8) | i64::from(r.byte()?);
                Elem::Int(if v >= 1 << 12 { v - (1 << 13) } else { v })
            }
            e if e & 0xf0 == 0xe0 => {
                let n = (usize::from(e & 0x0f) << 8) | usize::from(r.byte()?);
                Elem::Str(r.take(n)?)
            }
            0xf0 => {
                let n = u32::from_le_bytes(r.take(4)?.try_into().expect("4")) as usize;
                Elem::Str(r.take(n)?)
            }
            0xf1 => Elem::Int(i64::from(i16::from_le_bytes(r.take(2)?.try_into().expect("2")))),
            0xf2 => {
                let c = r.take(3)?;
                let v = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
                Elem::Int(i64::from(v))
            }
            0xf3 => Elem::Int(i64::from(i32::from_le_bytes(r.take(4)?.try_into().expect("4")))),
            0xf4 => Elem::Int(i64::from_le_bytes(r.take(8)?.try_into().expect("8"))),
            _ => return Err(Refused::Format),
        };
        let entry_len = r.pos - start;
        let backlen = match entry_len {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2_097_150 => 3,
            2_097_151..=268_435_454 => 4,
            _ => 5,
        };
        r.take(backlen)?;
        out.push(elem);
    }
    if r.pos != b.len() {
        return Err(Refused::Format);
    }
    Ok(out)
}

/// liblzf's `lzf_decompress` into exactly `len` bytes. LZF expands at most
/// about 88 times (a 3-byte back-reference copies 264), so a claimed size
/// beyond that is refused before anything is allocated.
fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>, Refused> {
    if len > input.len().saturating_mul(90) + 64 {
        return Err(Refused::Format);
    }
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(Refused::Format)?;
            if out.len() + run > len {
                return Err(Refused::Format);
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i).ok_or(Refused::Format)?);
                i += 1;
            }
            n += 2;
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i).ok_or(Refused::Format)?) + 1;
            i += 1;
            if back > out.len() || out.len() + n > len {
                return Err(Refused::Format);
            }
            let from = out.len() - back;
            for k in 0..n {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    if out.len() != len {
        return Err(Refused::Format);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_redis_s() {
        // Redis's crc64.c test vector.
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    /// DUMP of a value on redis-server 7.0.15: what its payloads decode to.
    fn from_redis(p: &[u8]) -> Value {
        restore(p).unwrap_or_else(|e| panic!("{e:?}: {p:?}"))
    }

    #[test]
    fn redis_5_stream_payload_gets_estimated_read_counters() {
        // From Redis's stream-cgroups.tcl: XADD x 1-0..6-0, XDEL x 3-0,
        // groups g1 and g2 at 0, XREADGROUP GROUP g1 c11 COUNT 4, XTRIM x
        // MAXLEN = 2 (RDB_TYPE_STREAM_LISTPACKS, no counters).
        let p = b"\x0F\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\xC3\x40\x4A\x40\x57\x16\x57\x00\x00\x00\x23\x00\x02\x01\x04\x01\x01\x01\x84\x64\x61\x74\x61\x05\x00\x01\x03\x01\x00\x20\x01\x03\x81\x61\x02\x04\x20\x0A\x00\x01\x40\x0A\x00\x62\x60\x0A\x00\x02\x40\x0A\x00\x63\x60\x0A\x40\x22\x01\x81\x64\x20\x0A\x40\x39\x20\x0A\x00\x65\x60\x0A\x00\x05\x40\x0A\x00\x66\x20\x0A\x00\xFF\x02\x06\x00\x02\x02\x67\x31\x05\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x01\x03\x63\x31\x31\x3E\xF7\x83\x43\x7A\x01\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x02\x67\x32\x00\x00\x00\x00\x09\x00\x3D\x52\xEF\x68\x67\x52\x1D\xFA";
        let v = from_redis(p);
        let st = v.as_stream().unwrap();
        assert_eq!((st.len(), st.entries_added, st.max_deleted_id), (2, 2, StreamId::MIN));
        assert_eq!(st.group(b"g1").unwrap().entries_read, 1);
        assert_eq!(st.group(b"g2").unwrap().entries_read, 0);
        assert_eq!(st.meta().lag(st.group(b"g1").unwrap()), Some(1));
    }

    #[test]
    fn redis_7_0_stream_payload_restores_with_its_group() {
        // XADD s 1-1 name ada n 12; 1-2 name bob n -70000; 2-0 other x;
        // 3-0 name cy n 5; XDEL s 1-2; XGROUP CREATE s g 0; XREADGROUP
        // GROUP g alice COUNT 2 STREAMS s >; XGROUP CREATECONSUMER s g bob
        // (redis-server 7.0.15: RDB_TYPE_STREAM_LISTPACKS_2).
        let p = b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01@]]\x00\x00\x00\x1f\x00\x03\x01\x01\x01\x02\x01\x84name\x05\x81n\x02\x00\x01\x02\x01\x00\x01\x00\x01\x83ada\x04\x0c\x01\x05\x01\x03\x01\x00\x01\x01\x01\x83bob\x04\xf2\x90\xee\xfe\x04\x05\x01\x00\x01\x01\x01\xdf\xff\x02\x01\x01\x85other\x06\x81x\x02\x06\x01\x02\x01\x02\x01\xdf\xff\x02\x82cy\x03\x05\x01\x05\x01\xff\x03\x03\x00\x01\x01\x01\x02\x04\x01\x01g\x02\x00\x81\xff\xff\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01W~S<\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00W~S<\xa2\x01\x00\x00\x01\x02\x05aliceW~S<\xa2\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x03bobi~S<\xa2\x01\x00\x00\x00\n\x00\x1e\x8c\x06U\x03\x8aZ\xb9";
        let v = from_redis(p);
        let st = v.as_stream().unwrap();
        let got: Vec<(String, Vec<Bytes>)> = st
            .range(StreamId::MIN, StreamId::MAX, false)
            .map(|e| (e.id.to_string(), e.pairs().map(Bytes::copy_from_slice).collect()))
            .collect();
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert_eq!(
            got,
            vec![
                ("1-1".to_owned(), vec![b("name"), b("ada"), b("n"), b("12")]),
                ("2-0".to_owned(), vec![b("other"), b("x")]),
                ("3-0".to_owned(), vec![b("name"), b("cy"), b("n"), b("5")]),
            ]
        );
        assert_eq!((st.last_id, st.max_deleted_id, st.entries_added), (StreamId::new(3, 0), StreamId::new(1, 2), 4));
        let g = st.group(b"g").unwrap();
        assert_eq!(g.last_id, StreamId::new(2, 0));
        assert_eq!(g.entries_read, -1);
        let pel: Vec<_> =
            g.pel().iter().map(|(id, p)| (id.to_string(), p.consumer.clone(), p.delivery_count)).collect();
        assert_eq!(pel, vec![("1-1".to_owned(), b("alice"), 1), ("2-0".to_owned(), b("alice"), 1)]);
        assert_eq!(g.consumers().keys().cloned().collect::<Vec<_>>(), vec![b("alice"), b("bob")]);
        // And what we write of it reads back the same.
        assert_eq!(stream_parts(&restore(&dump(&v)).unwrap()), stream_parts(&v));
    }

    /// What DUMP keeps of a stream: its nodes' entries, its counters and
    /// its groups (not the nodes' deleted counts or sizes).
    #[allow(clippy::type_complexity)]
    fn stream_parts(
        v: &Value,
    ) -> (
        Vec<(StreamId, Vec<StreamEntry>)>,
        ringcache_store::value::StreamMeta,
        Vec<(Bytes, ringcache_store::value::ConsumerGroup)>,
    ) {
        let st = v.as_stream().unwrap();
        (
            st.node_entries().map(|(k, e)| (k, e.to_vec())).collect(),
            st.meta(),
            st.groups().iter().map(|(n, g)| (n.clone(), g.clone())).collect(),
        )
    }

    #[test]
    fn streams_round_trip_with_groups_and_big_nodes() {
        use ringcache_store::value::NodeLimits;
        let mut st = StreamValue::new();
        let long = vec![b'x'; 5000];
        for i in 1..=250u64 {
            let v = if i % 50 == 0 { long.clone() } else { format!("{}", i as i64 * -977).into_bytes() };
            let pairs: Vec<&[u8]> = if i % 3 == 0 { vec![b"a", &v, b"b", b"01"] } else { vec![b"a", &v] };
            st.append(StreamId::new(1_700_000_000_000 + i, i), &pairs, NodeLimits::default());
        }
        st.delete(StreamId::new(1_700_000_000_010, 10));
        st.create_group(b"g", StreamId::new(1_700_000_000_005, 5), 5);
        let (g, _) = st.group_mut(b"g").unwrap();
        g.create_consumer(b"c1", 123);
        g.deliver(StreamId::new(1_700_000_000_003, 3), b"c1", 456);
        let v = Value::Stream(Box::new(st));
        let payload = dump(&v);
        assert_eq!(payload[0], TYPE_STREAM_LISTPACKS_3);
        assert_eq!(stream_parts(&restore(&payload).unwrap()), stream_parts(&v));
        // Truncations are refused, never a panic.
        for n in (0..payload.len() - 10).step_by(37).chain(payload.len() - 400..payload.len() - 10) {
            let mut cut = payload[..n].to_vec();
            cut.extend_from_slice(&STREAM_WRITE_VERSION.to_le_bytes());
            let crc = crc64(&cut);
            cut.extend_from_slice(&crc.to_le_bytes());
            assert!(restore(&cut).is_err(), "{n}");
        }
    }

    #[test]
    fn redis_server_payloads_restore() {
        // SET foo bar
        let p = b"\x00\x03\x62\x61\x72\x0a\x00\xe6\xbe\x49\x60\xee\x66\xfd\x17";
        assert_eq!(from_redis(p), Value::string(b"bar"));
        assert_eq!(dump(&Value::string(b"bar")), p, "byte for byte what Redis 7.0 writes");
        // RPUSH l a 12 -70000: a quicklist of one listpack (a 24-bit int).
        let l = from_redis(b"\x12\x01\x02\x11\x11\x00\x00\x00\x03\x00\x81\x61\x02\x0c\x01\xf2\x90\xee\xfe\x04\xff\x0a\x00\x95\xd2\xe6\xc4\x37\x19\xf0\x39");
        let got: Vec<&[u8]> = l.as_list().unwrap().iter().map(|b| &b[..]).collect();
        assert_eq!(got, [&b"a"[..], b"12", b"-70000"]);
        // SADD si 1 2 3: an intset.
        let si = from_redis(
            b"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\x0a\x00\xa5\x02\x5c\xe2\x6d\x6e\x4d\x1b",
        );
        assert!(["1", "2", "3"].iter().all(|m| si.as_set().unwrap().contains(m.as_bytes())));
        // SADD ss a b: Redis 7.0's plain set.
        let ss = from_redis(b"\x02\x02\x01\x62\x01\x61\x0a\x00\x75\xd9\x9d\x83\x5e\xf8\x5f\x65");
        assert_eq!(ss.as_set().unwrap().len(), 2);
        // HSET h f v n 100: a listpack hash.
        let h = from_redis(b"\x10\x12\x12\x00\x00\x00\x04\x00\x81\x66\x02\x81\x76\x02\x81\x6e\x02\x64\x01\xff\x0a\x00\x54\x14\xca\xec\x75\xfc\x29\x1a");
        assert_eq!(h.as_hash().unwrap().get(b"n").map(|v| &v[..]), Some(&b"100"[..]));
        // ZADD z 1.5 m 2 n: a listpack sorted set.
        let z = from_redis(b"\x11\x14\x14\x00\x00\x00\x04\x00\x81\x6d\x02\x83\x31\x2e\x35\x04\x81\x6e\x02\x02\x01\xff\x0a\x00\xf1\xb0\x3a\x6d\x58\x5f\x69\x38");
        assert_eq!((z.as_zset().unwrap().score(b"m"), z.as_zset().unwrap().score(b"n")), (Some(1.5), Some(2.0)));
        // SET big abc*100: an LZF-compressed string.
        let big = from_redis(b"\x00\xc3\x0e\x41\x2c\x03\x61\x62\x63\x61\xe0\xff\x02\xe1\x15\x07\x01\x62\x63\x0a\x00\xd2\x57\x33\xce\xc0\x44\xe1\x2b");
        assert_eq!(big.as_str().unwrap().as_bytes(), "abc".repeat(100).as_bytes());

        let mut bad = p.to_vec();
        bad[2] ^= 1;
        assert_eq!(restore(&bad), Err(Refused::Footer));
        let mut newer = dump(&Value::string(b"x"));
        let n = newer.len();
        newer[n - 10] = 12;
        let crc = crc64(&newer[..n - 8]);
        newer[n - 8..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(verify(&newer), Err(Refused::Footer), "a version newer than 7.2's");
    }

    #[test]
    fn every_type_round_trips() {
        let mut l = ListValue::new();
        for e in [&b"a"[..], b"12", b"-70000", b"12345678901", &[0u8; 300]] {
            l.push_back(e);
        }
        let mut s = SetValue::new();
        s.insert(b"x");
        s.insert(b"5");
        let mut h = HashValue::new();
        h.insert(b"f", b"v");
        h.insert(b"n", b"100");
        let mut z = ZSetValue::new();
        z.insert(b"m", 1.5);
        z.insert(b"inf", f64::INFINITY);
        let values = [
            Value::string(b"hello"),
            Value::string(b"-3"),
            Value::string(&[7u8; 20_000]),
            Value::List(Box::new(l)),
            Value::Set(Box::new(s)),
            Value::Hash(Box::new(h)),
            Value::ZSet(Box::new(z)),
        ];
        for v in values {
            assert_eq!(restore(&dump(&v)).as_ref(), Ok(&v));
        }
    }

    #[test]
    fn compact_encodings_decode() {
        // A listpack of "a", 5, -2, 1000: header, entries with back-lengths, end.
        let entries: &[u8] = &[0x81, b'a', 2, 0x05, 1, 0xdf, 0xfe, 2, 0xc3, 0xe8, 2];
        let mut lp = ((6 + entries.len() + 1) as u32).to_le_bytes().to_vec();
        lp.extend_from_slice(&4u16.to_le_bytes());
        lp.extend_from_slice(entries);
        lp.push(0xff);
        let got: Vec<Bytes> = listpack(&lp).unwrap().iter().map(Elem::to_bytes).collect();
        assert_eq!(got, [&b"a"[..], b"5", b"-2", b"1000"]);
        let mut is = 2u32.to_le_bytes().to_vec();
        is.extend_from_slice(&2u32.to_le_bytes());
        is.extend_from_slice(&(-1i16).to_le_bytes());
        is.extend_from_slice(&7i16.to_le_bytes());
        assert_eq!(intset(&is).unwrap(), [-1, 7]);
        // LZF: a literal "ab", then a back-reference copying 4 more.
        assert_eq!(lzf_decompress(&[1, b'a', b'b', 0x40, 1], 6).unwrap(), b"ababab");
        assert!(lzf_decompress(&[1, b'a', b'b', 0x40, 9], 6).is_err(), "reference before the start");
        assert!(lzf_decompress(&[0, b'a'], 1 << 40).is_err(), "claimed size too large");
    }

    #[test]
    fn bad_payloads_are_refused_not_panics() {
        let good = dump(&Value::string(b"some value that is long enough"));
        for cut in 0..good.len() {
            let mut p = good[..cut].to_vec();
            p.extend_from_slice(&WRITE_VERSION.to_le_bytes());
            let crc = crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            let _ = restore(&p);
        }
        // A count far beyond the payload.
        let mut p = vec![TYPE_LIST, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        p.extend_from_slice(&WRITE_VERSION.to_le_bytes());
        let crc = crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&p), Err(Refused::Format));
    }
}
