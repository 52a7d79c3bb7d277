//! Bitmap commands over string values: SETBIT GETBIT BITCOUNT BITPOS
//! BITOP BITFIELD BITFIELD_RO.
//!
//! Bits are numbered from the most significant bit of the first byte, as
//! in Redis: bit `n` is bit `7 - n % 8` of byte `n / 8`. A string is an
//! endless run of zero bits past its end; a write grows it with zero bytes
//! up to the byte it touches, never past `proto-max-bulk-len` (an offset
//! beyond is refused with Redis's "bit offset is not an integer or out of
//! range"). Writes that change nothing (a SETBIT or BITFIELD SET of the
//! value already there, on a key that neither appears nor grows) report
//! nothing, as in Redis 7.2; the others go through `Shard::set` or
//! `Shard::written`, so a replicated cluster ships them.
//!
//! Arguments are checked in Redis 7.2's order: BITCOUNT and BITPOS parse
//! every argument before they look the key up.

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::Value;

use crate::args::{int, is, parse_i64};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const BIT_ERR: &str = "ERR bit is not an integer or out of range";
const TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "setbit",
            arity: 4,
            flags: flag::WRITE | flag::DENYOOM,
            keys: Keys::ONE,
            group: "bitmap",
            summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
            handler: setbit,
        },
        CommandSpec {
            name: "getbit",
            arity: 3,
            flags: flag::READONLY | flag::FAST,
            keys: Keys::ONE,
            group: "bitmap",
            summary: "Returns a bit value by offset.",
            handler: getbit,
        },
        CommandSpec {
            name: "bitcount",
            arity: -2,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "bitmap",
            summary: "Counts the number of set bits (population counting) in a string.",
            handler: bitcount,
        },
        CommandSpec {
            name: "bitpos",
            arity: -3,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "bitmap",
            summary: "Finds the first set (1) or clear (0) bit in a string.",
            handler: bitpos,
        },
        CommandSpec {
            name: "bitop",
            arity: -4,
            flags: flag::WRITE | flag::DENYOOM,
            keys: Keys::Range { first: 2, last: -1, step: 1 },
            group: "bitmap",
            summary: "Performs bitwise operations on multiple strings, and stores the result.",
            handler: bitop,
        },
        CommandSpec {
            name: "bitfield",
            arity: -2,
            flags: flag::WRITE | flag::DENYOOM,
            keys: Keys::ONE,
            group: "bitmap",
            summary: "Performs arbitrary bitfield integer operations on strings.",
            handler: bitfield,
        },
        CommandSpec {
            name: "bitfield_ro",
            arity: -2,
            flags: flag::READONLY | flag::FAST,
            keys: Keys::ONE,
            group: "bitmap",
            summary: "Performs arbitrary read-only bitfield integer operations on strings.",
            handler: bitfield_ro,
        },
    ]
}

/// A bit offset (`getBitOffsetFromArgument`): a non-negative integer whose
/// byte is below `proto-max-bulk-len`; with `width` (BITFIELD), `#n` means
/// `n · width`.
fn bit_offset(arg: &[u8], width: Option<u32>, max_len: u64) -> Result<u64, CmdError> {
    let err = || CmdError::other(OFFSET_ERR);
    let (num, mul) = match (arg.strip_prefix(b"#"), width) {
        (Some(rest), Some(w)) => (rest, i64::from(w)),
        _ => (arg, 1),
    };
    let v = parse_i64(num).and_then(|v| v.checked_mul(mul)).ok_or_else(err)?;
    let v = u64::try_from(v).map_err(|_| err())?;
    if v >> 3 >= max_len {
        return Err(err());
    }
    Ok(v)
}

fn get_bit(s: &[u8], bit: u64) -> bool {
    usize::try_from(bit >> 3).ok().and_then(|i| s.get(i)).is_some_and(|b| b & (0x80 >> (bit & 7)) != 0)
}

/// Makes room for bit `last` in the string at `key`, creating it (all
/// zeros) if absent, and hands the bytes to `f`. Reports the write when
/// the key appeared, grew, or `f` says it changed something.
fn edit_bits<E: Env, R>(
    ctx: &mut Ctx<'_, E>,
    key: &[u8],
    last: u64,
    f: impl FnOnce(&mut [u8]) -> (R, bool),
) -> Result<R, CmdError> {
    let now = ctx.now_ms;
    let need = usize::try_from((last >> 3) + 1).map_err(|_| CmdError::other(OFFSET_ERR))?;
    let shard = ctx.shard(key);
    let Some(entry) = shard.get(key, now) else {
        let mut buf = vec![0u8; need];
        let (r, _) = f(&mut buf);
        shard.set(key, Value::string_owned(Bytes::from(buf)), 0, now);
        return Ok(r);
    };
    let s = entry.value_mut().as_str_mut()?;
    let grows = s.len() < need;
    // `edit` works in place on a buffer nothing else holds; an edit that
    // changes nothing leaves the same bytes, so it needs no report.
    let (r, changed) = s.edit(|buf| {
        if buf.len() < need {
            buf.resize(need, 0);
        }
        f(buf)
    });
    if grows || changed {
        shard.written(key);
    }
    Ok(r)
}

fn setbit<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(args[2], None, ctx.shared.proto_max_bulk_len())?;
    let on = match parse_i64(args[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(CmdError::other(BIT_ERR)),
    };
    let old = edit_bits(ctx, args[1], offset, |buf| {
        let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
        let old = buf[byte] & mask != 0;
        if on {
            buf[byte] |= mask;
        } else {
            buf[byte] &= !mask;
        }
        (old, old != on)
    })?;
    Ok(Reply::Integer(i64::from(old)))
}

fn getbit<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(args[2], None, ctx.shared.proto_max_bulk_len())?;
    let now = ctx.now_ms;
    let bit = match ctx.shard(args[1]).get_read(args[1], now) {
        Some(e) => get_bit(e.value().as_str()?, offset),
        None => false,
    };
    Ok(Reply::Integer(i64::from(bit)))
}

/// `BYTE` or `BIT`: whether the range is in bits.
fn unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// A `start end` range of a string of `len` bytes resolved as Redis's
/// BITCOUNT and BITPOS resolve it, in bits (`None` when empty): negative
/// ends count from the end, both are clamped, a byte range covers whole
/// bytes.
fn bit_range(start: i64, end: i64, bits: bool, len: usize) -> Option<(u64, u64)> {
    let total = if bits { len as i64 * 8 } else { len as i64 };
    let fix = |v: i64| if v < 0 { (total + v).max(0) } else { v };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if bits { (start, end) } else { (start * 8, end * 8 + 7) })
}

/// Set bits in bit positions `start..=end` of `s` (in range).
fn count_bits(s: &[u8], start: u64, end: u64) -> u64 {
    let (first, last) = ((start >> 3) as usize, (end >> 3) as usize);
    let mut n: u64 = s[first..=last].iter().map(|b| u64::from(b.count_ones())).sum();
    // Take back the bits of the edge bytes outside the range.
    n -= u64::from((s[first] & !(0xffu8 >> (start & 7))).count_ones());
    n -= u64::from((s[last] & (0x7fu8 >> (end & 7))).count_ones());
    n
}

fn bitcount<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let (start, end) = (int(args[2])?, int(args[3])?);
            let bits = match args.get(4) {
                Some(u) => unit(u)?,
                None => false,
            };
            Some((start, end, bits))
        }
        _ => return Err(CmdError::Syntax),
    };
    let now = ctx.now_ms;
    let Some(e) = ctx.shard(args[1]).get_read(args[1], now) else {
        return Ok(Reply::Integer(0));
    };
    let s = e.value().as_str()?.as_bytes();
    let (start, end, bits) = range.unwrap_or((0, -1, false));
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::Integer(0));
    }
    let n = match bit_range(start, end, bits, s.len()) {
        Some((start, end)) => count_bits(s, start, end),
        None => 0,
    };
    Ok(Reply::Integer(n as i64))
}

fn bitpos<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let want = match int(args[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::other("ERR The bit argument must be 1 or 0.")),
    };
    if args.len() > 6 {
        return Err(CmdError::Syntax);
    }
    let start = args.get(3).map(|a| int(a)).transpose()?.unwrap_or(0);
    let bits = match args.get(5) {
        Some(u) => unit(u)?,
        None => false,
    };
    let end = args.get(4).map(|a| int(a)).transpose()?;
    let now = ctx.now_ms;
    let Some(e) = ctx.shard(args[1]).get_read(args[1], now) else {
        // An endless run of zeros.
        return Ok(Reply::Integer(if want { -1 } else { 0 }));
    };
    let s = e.value().as_str()?.as_bytes();
    let Some((from, to)) = bit_range(start, end.unwrap_or(-1), bits, s.len()) else {
        return Ok(Reply::Integer(-1));
    };
    if let Some(pos) = (from..=to).find(|&b| get_bit(s, b) == want) {
        return Ok(Reply::Integer(pos as i64));
    }
    // No clear bit: without an explicit end, the zeros after the string
    // count, so the answer is the first bit past it.
    Ok(Reply::Integer(if !want && end.is_none() { (s.len() * 8) as i64 } else { -1 }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let op = match () {
        _ if is(args[1], "AND") => BitOp::And,
        _ if is(args[1], "OR") => BitOp::Or,
        _ if is(args[1], "XOR") => BitOp::Xor,
        _ if is(args[1], "NOT") => BitOp::Not,
        _ => return Err(CmdError::Syntax),
    };
    let (dst, srcs) = (args[2], &args[3..]);
    if op == BitOp::Not && srcs.len() != 1 {
        return Err(CmdError::other("ERR BITOP NOT must be called with a single source key."));
    }
    let now = ctx.now_ms;
    let mut values = Vec::with_capacity(srcs.len());
    for key in srcs {
        values.push(match ctx.shard(key).get_read(key, now) {
            Some(e) => e.value().as_str()?.to_bytes(),
            None => Bytes::new(),
        });
    }
    let len = values.iter().map(Bytes::len).max().unwrap_or(0);
    let shard = ctx.shard(dst);
    if len == 0 {
        shard.remove(dst, now);
        return Ok(Reply::Integer(0));
    }
    let byte = |v: &Bytes, i: usize| v.get(i).copied().unwrap_or(0);
    let out: Vec<u8> = (0..len)
        .map(|i| {
            let mut it = values.iter().map(|v| byte(v, i));
            let first = it.next().unwrap_or(0);
            match op {
                BitOp::And => it.fold(first, |a, b| a & b),
                BitOp::Or => it.fold(first, |a, b| a | b),
                BitOp::Xor => it.fold(first, |a, b| a ^ b),
                BitOp::Not => !first,
            }
        })
        .collect();
    shard.set(dst, Value::string_owned(Bytes::from(out)), 0, now);
    Ok(Reply::Integer(len as i64))
}

// ---------------------------------------------------------------- BITFIELD

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

/// One BITFIELD operation: an integer of `bits` bits (signed or not) at
/// bit `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63` (lowercase, as Redis reads them).
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || CmdError::other(TYPE_ERR);
    let (signed, max) = match arg.first() {
        Some(b'i') => (true, 64),
        Some(b'u') => (false, 63),
        _ => return Err(err()),
    };
    let bits = parse_i64(&arg[1..]).filter(|b| (1..=max).contains(b)).ok_or_else(err)?;
    Ok((signed, bits as u32))
}

/// Parses every operation, in Redis's order of checks.
fn parse_fields(args: &[&[u8]], max_len: u64) -> Result<Vec<Field>, CmdError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let sub = args[j];
        let op = if is(sub, "GET") && left >= 2 {
            FieldOp::Get
        } else if is(sub, "SET") && left >= 3 {
            FieldOp::Set(0)
        } else if is(sub, "INCRBY") && left >= 3 {
            FieldOp::Incr(0)
        } else if is(sub, "OVERFLOW") && left >= 1 {
            let kind = args[j + 1];
            overflow = match () {
                _ if is(kind, "WRAP") => Overflow::Wrap,
                _ if is(kind, "SAT") => Overflow::Sat,
                _ if is(kind, "FAIL") => Overflow::Fail,
                _ => return Err(CmdError::other("ERR Invalid OVERFLOW type specified")),
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(args[j + 1])?;
        let offset = bit_offset(args[j + 2], Some(bits), max_len)?;
        let op = match op {
            FieldOp::Get => FieldOp::Get,
            FieldOp::Set(_) => FieldOp::Set(int(args[j + 3])?),
            FieldOp::Incr(_) => FieldOp::Incr(int(args[j + 3])?),
        };
        fields.push(Field { op, signed, bits, offset, overflow });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(fields)
}

/// The `bits`-bit field at bit `offset` of `s` as an unsigned number;
/// bits past the end of `s` are zeros.
fn read_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    (offset..offset + u64::from(bits)).fold(0, |v, b| (v << 1) | u64::from(get_bit(s, b)))
}

/// Writes the low `bits` bits of `v` at bit `offset` of `s` (which holds
/// them).
fn write_field(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..u64::from(bits) {
        let b = offset + i;
        let (byte, mask) = ((b >> 3) as usize, 0x80u8 >> (b & 7));
        if v >> (u64::from(bits) - 1 - i) & 1 == 1 {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
    }
}

/// A field's raw bits as the number it holds.
fn field_value(raw: u64, signed: bool, bits: u32) -> i128 {
    if signed && bits < 64 && raw >> (bits - 1) & 1 == 1 {
        i128::from(raw) - (1i128 << bits)
    } else if signed {
        i128::from(raw as i64)
    } else {
        i128::from(raw)
    }
}

/// What `value` becomes in a field of the given type under `overflow`:
/// `None` when it overflows and the policy is FAIL. Computed exactly in
/// 128 bits, which gives Redis's results (wrap is modulo 2^bits).
fn fit(value: i128, signed: bool, bits: u32, overflow: Overflow) -> Option<i128> {
    let (min, max) =
        if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
    if (min..=max).contains(&value) {
        return Some(value);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if value > max { max } else { min }),
        Overflow::Wrap => {
            let m = value.rem_euclid(1i128 << bits);
            Some(if signed && m > max { m - (1i128 << bits) } else { m })
        }
    }
}

/// The reply for a field value (at most 64 bits, signed, or 63 unsigned).
fn int_reply(v: i128) -> Reply {
    Reply::Integer(i64::try_from(v).expect("fits a field type"))
}

fn bitfield<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], ro: bool) -> CmdResult {
    let fields = parse_fields(args, ctx.shared.proto_max_bulk_len())?;
    let key = args[1];
    let writes = fields.iter().filter(|f| f.op != FieldOp::Get);
    let Some(last) = writes.map(|f| f.offset + u64::from(f.bits) - 1).max() else {
        // Only GETs: a read, of zeros if the key is absent.
        let now = ctx.now_ms;
        let s = match ctx.shard(key).get_read(key, now) {
            Some(e) => e.value().as_str()?.to_bytes(),
            None => Bytes::new(),
        };
        let replies = fields.iter().map(|f| int_reply(field_value(read_field(&s, f.offset, f.bits), f.signed, f.bits)));
        return Ok(Reply::Array(replies.collect()));
    };
    if ro {
        return Err(CmdError::other("ERR BITFIELD_RO only supports the GET subcommand"));
    }
    edit_bits(ctx, key, last, |buf| {
        let mut changed = false;
        let mut replies = Vec::with_capacity(fields.len());
        for f in &fields {
            let old = field_value(read_field(buf, f.offset, f.bits), f.signed, f.bits);
            let (new, reply_new) = match f.op {
                FieldOp::Get => {
                    replies.push(int_reply(old));
                    continue;
                }
                FieldOp::Set(v) => {
                    // An unsigned field takes the value's two's-complement bits.
                    let v = if f.signed { i128::from(v) } else { i128::from(v as u64) };
                    (fit(v, f.signed, f.bits, f.overflow), false)
                }
                FieldOp::Incr(by) => (fit(old + i128::from(by), f.signed, f.bits, f.overflow), true),
            };
            match new {
                None => replies.push(Reply::Null),
                Some(new) => {
                    replies.push(int_reply(if reply_new { new } else { old }));
                    write_field(buf, f.offset, f.bits, new as u64);
                    changed |= new != old;
                }
            }
        }
        (Reply::Array(replies), changed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, err, wrongtype, Node};

    #[test]
    fn fields_fit_like_redis() {
        assert_eq!(fit(300, false, 8, Overflow::Wrap), Some(44));
        assert_eq!(fit(300, false, 8, Overflow::Sat), Some(255));
        assert_eq!(fit(-1, false, 8, Overflow::Sat), Some(0));
        assert_eq!(fit(-1, false, 8, Overflow::Wrap), Some(255));
        assert_eq!(fit(128, true, 8, Overflow::Wrap), Some(-128));
        assert_eq!(fit(-129, true, 8, Overflow::Sat), Some(-128));
        assert_eq!(fit(128, true, 8, Overflow::Fail), None);
        assert_eq!(fit(i128::from(i64::MAX) + 1, true, 64, Overflow::Wrap), Some(i128::from(i64::MIN)));
        assert_eq!(field_value(0xff, true, 8), -1);
        assert_eq!(field_value(u64::MAX, true, 64), -1);
        let mut s = [0u8; 2];
        write_field(&mut s, 4, 8, 0xab);
        assert_eq!(s, [0x0a, 0xb0]);
        assert_eq!(read_field(&s, 4, 8), 0xab);
        assert_eq!(read_field(&s, 12, 8), 0, "past the end is zeros");
    }

    #[test]
    fn ranges_and_counts() {
        assert_eq!(bit_range(0, -1, false, 3), Some((0, 23)));
        assert_eq!(bit_range(-2, -1, true, 1), Some((6, 7)));
        assert_eq!(bit_range(5, 1, false, 3), None);
        assert_eq!(bit_range(0, -1, false, 0), None);
        assert_eq!(count_bits(&[0xff, 0xff], 3, 12), 10);
        assert_eq!(count_bits(&[0xff], 0, 7), 8);
        assert_eq!(count_bits(&[0x81], 1, 6), 0);
    }

    #[test]
    fn bit_commands_on_a_node() {
        let mut n = Node::with_journal(true);
        assert_eq!(n.run(&["setbit", "k", "7", "1"]), Reply::Integer(0));
        assert_eq!(n.run(&["get", "k"]), bulk("\x01"));
        n.client.changes.clear();
        assert_eq!(n.run(&["setbit", "k", "7", "1"]), Reply::Integer(1));
        assert!(n.client.changes.is_empty(), "nothing changed, nothing to replicate");
        assert_eq!(n.run(&["setbit", "k", "7", "0"]), Reply::Integer(1));
        assert_eq!(n.client.changes.len(), 1);
        assert_eq!(n.run(&["setbit", "k", "-1", "0"]), err(OFFSET_ERR));
        assert_eq!(n.run(&["setbit", "k", "4294967296", "0"]), err(OFFSET_ERR));
        assert_eq!(n.run(&["setbit", "k", "0", "2"]), err(BIT_ERR));
        n.run(&["set", "s", "foobar"]);
        assert_eq!(n.run(&["bitcount", "s"]), Reply::Integer(26));
        assert_eq!(n.run(&["bitcount", "s", "1", "1"]), Reply::Integer(6));
        assert_eq!(n.run(&["bitcount", "s", "5", "30", "BIT"]), Reply::Integer(17));
        assert_eq!(n.run(&["bitcount", "s", "0"]), err("ERR syntax error"));
        n.put("p", Value::string(b"\x00\xff\xf0"));
        assert_eq!(n.run(&["bitpos", "p", "1"]), Reply::Integer(8));
        assert_eq!(n.run(&["bitpos", "p", "1", "2"]), Reply::Integer(16));
        assert_eq!(n.run(&["bitpos", "p", "0", "1", "1"]), Reply::Integer(-1));
        assert_eq!(n.run(&["bitpos", "p", "0", "1"]), Reply::Integer(20));
        assert_eq!(n.run(&["bitpos", "p", "1", "7", "15", "BIT"]), Reply::Integer(8));
        assert_eq!(n.run(&["bitpos", "none", "0"]), Reply::Integer(0));
        assert_eq!(n.run(&["bitpos", "p", "2"]), err("ERR The bit argument must be 1 or 0."));
        n.put_hash("h");
        assert_eq!(n.run(&["getbit", "h", "0"]), wrongtype());
        assert_eq!(n.run(&["bitop", "or", "d", "p", "h"]), wrongtype());
        assert_eq!(
            n.run(&["bitop", "not", "d", "p", "s"]),
            err("ERR BITOP NOT must be called with a single source key.")
        );
        assert_eq!(n.run(&["bitop", "xor", "d", "p", "none"]), Reply::Integer(3));
        assert_eq!(n.run(&["get", "d"]), Reply::Bulk(Bytes::from_static(b"\x00\xff\xf0")));
        assert_eq!(n.run(&["bitop", "and", "d", "none"]), Reply::Integer(0));
        assert_eq!(n.run(&["exists", "d"]), Reply::Integer(0));
    }

    #[test]
    fn bitfield_operations() {
        let mut n = Node::new();
        let got = n.run(&["bitfield", "b", "SET", "u8", "#1", "255", "GET", "u8", "8", "INCRBY", "i8", "8", "1"]);
        assert_eq!(got, Reply::Array(vec![Reply::Integer(0), Reply::Integer(255), Reply::Integer(0)]));
        let got = n.run(&[
            "bitfield", "b", "OVERFLOW", "FAIL", "INCRBY", "u8", "8", "300", "OVERFLOW", "SAT", "INCRBY", "u8", "8",
            "300",
        ]);
        assert_eq!(got, Reply::Array(vec![Reply::Null, Reply::Integer(255)]));
        assert_eq!(n.run(&["bitfield_ro", "b", "GET", "i4", "8"]), Reply::Array(vec![Reply::Integer(-1)]));
        assert_eq!(
            n.run(&["bitfield_ro", "b", "SET", "i4", "8", "1"]),
            err("ERR BITFIELD_RO only supports the GET subcommand")
        );
        assert_eq!(n.run(&["bitfield", "b", "GET", "u64", "0"]), err(TYPE_ERR));
        assert_eq!(n.run(&["bitfield", "b", "GET", "U8", "0"]), err(TYPE_ERR));
        assert_eq!(n.run(&["bitfield", "b", "OVERFLOW", "x"]), err("ERR Invalid OVERFLOW type specified"));
        assert_eq!(n.run(&["bitfield", "b", "GET", "u8"]), err("ERR syntax error"));
        assert_eq!(n.run(&["bitfield", "b"]), Reply::Array(Vec::new()));
        assert_eq!(n.run(&["bitfield", "none", "GET", "i8", "0"]), Reply::Array(vec![Reply::Integer(0)]));
        assert_eq!(n.run(&["exists", "none"]), Reply::Integer(0));
    }
}
