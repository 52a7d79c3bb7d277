//! The libraries Redis gives scripts besides the standard ones: the
//! `redis` table's helpers, `math.random` as Redis makes it (its own
//! lrand48, so every node draws the same numbers from the same seed),
//! `bit` (LuaBitOp's API), `cjson` and `cmsgpack`.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, Value, Variadic};
use parking_lot::Mutex;

use crate::convert::push_error_table;

pub const REDIS_VERSION: &str = "7.2.6";
pub const REDIS_VERSION_NUM: i64 = 0x0007_0206;

fn raise(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.to_owned())
}

/// The `redis` table's helpers; `call` and `pcall` are added by the
/// prelude (engine.rs).
pub fn redis_table(lua: &Lua, resp: Arc<AtomicU8>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise("wrong number of arguments"));
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(n) => crate::convert::number_arg(*n),
                Value::Integer(n) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            Ok(crate::engine::sha1_hex(&bytes))
        })?,
    )?;
    t.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| match args.iter().collect::<Vec<_>>()[..] {
            [Value::String(s)] => {
                let s = s.as_bytes();
                let text = if s.first() == Some(&b'-') { s.to_vec() } else { [&b"-"[..], &s].concat() };
                push_error_table(lua, &text)
            }
            _ => push_error_table(lua, b"wrong number or type of arguments"),
        })?,
    )?;
    t.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| match args.iter().collect::<Vec<_>>()[..] {
            [Value::String(s)] => {
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(t)
            }
            _ => push_error_table(lua, b"wrong number or type of arguments"),
        })?,
    )?;
    t.raw_set(
        "setresp",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise("redis.setresp() requires one argument."));
            }
            let v = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(n) => *n,
                Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()).unwrap_or(0.0) as i64,
                _ => 0,
            };
            if v != 2 && v != 3 {
                return Err(raise("RESP version must be 2 or 3."));
            }
            resp.store(v as u8, Relaxed);
            Ok(())
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise("redis.set_repl() requires one argument."));
            }
            let flags = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(n) => *n,
                _ => 0,
            };
            if flags & !3 != 0 {
                return Err(raise("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."));
            }
            // Accepted: a script's writes always replicate as their
            // effects (there is no AOF here).
            Ok(())
        })?,
    )?;
    t.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    for (name, v) in [("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3)] {
        t.raw_set(name, v)?;
    }
    for (name, v) in [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)] {
        t.raw_set(name, v)?;
    }
    t.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return Err(raise("redis.log() requires two arguments or more."));
            }
            let level = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(n) => *n,
                Value::String(s) => match s.to_str().ok().and_then(|s| s.parse::<f64>().ok()) {
                    Some(n) => n as i64,
                    None => return Err(raise("First argument must be a number (log level).")),
                },
                _ => return Err(raise("First argument must be a number (log level).")),
            };
            if !(0..=3).contains(&level) {
                return Err(raise("Invalid debug level."));
            }
            let parts: Vec<String> = args
                .iter()
                .skip(1)
                .filter_map(|v| match v {
                    Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
                    Value::Number(n) => Some(crate::convert::lua_number_text(*n)),
                    Value::Integer(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            let line = parts.join(" ");
            match level {
                0 => tracing::debug!(target: "script", "{line}"),
                1 => tracing::debug!(target: "script", "{line}"),
                2 => tracing::info!(target: "script", "{line}"),
                _ => tracing::warn!(target: "script", "{line}"),
            }
            Ok(())
        })?,
    )?;
    t.raw_set("REDIS_VERSION", REDIS_VERSION)?;
    t.raw_set("REDIS_VERSION_NUM", REDIS_VERSION_NUM)?;
    // Debugging (LDB) is not supported: these do nothing, as outside it.
    t.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    t.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    Ok(t)
}

/// lrand48, as Redis's rand.c: a 48-bit LCG, 31 bits out.
#[derive(Debug)]
struct Rand48(u64);

impl Rand48 {
    const A: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn next(&mut self) -> i32 {
        self.0 = (Self::A.wrapping_mul(self.0).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> 17) as i32
    }

    fn seed(&mut self, s: i32) {
        self.0 = ((s as u32 as u64) << 16) | 0x330E;
    }
}

fn check_int(v: &Value, arg: usize, fname: &str) -> mlua::Result<i32> {
    match v {
        Value::Number(n) => Ok(*n as i64 as i32),
        Value::Integer(n) => Ok(*n as i32),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(|n| n as i64 as i32)
            .ok_or_else(|| raise(&format!("bad argument #{arg} to '{fname}' (number expected, got string)"))),
        other => Err(raise(&format!("bad argument #{arg} to '{fname}' (number expected, got {})", other.type_name()))),
    }
}

/// Installs math.random/randomseed, bit, cjson and cmsgpack.
pub fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let math: Table = globals.raw_get("math")?;
    let state = Arc::new(Mutex::new(Rand48(0x1234_ABCD_330E)));
    let s = state.clone();
    math.raw_set(
        "random",
        lua.create_function(move |_, args: MultiValue| {
            let r = f64::from(s.lock().next() % i32::MAX) / f64::from(i32::MAX);
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = check_int(&args[0], 1, "random")?;
                    if u < 1 {
                        return Err(raise("bad argument #1 to 'random' (interval is empty)"));
                    }
                    Ok((r * f64::from(u)).floor() + 1.0)
                }
                2 => {
                    let l = check_int(&args[0], 1, "random")?;
                    let u = check_int(&args[1], 2, "random")?;
                    if l > u {
                        return Err(raise("bad argument #2 to 'random' (interval is empty)"));
                    }
                    Ok((r * (f64::from(u) - f64::from(l) + 1.0)).floor() + f64::from(l))
                }
                _ => Err(raise("wrong number of arguments")),
            }
        })?,
    )?;
    math.raw_set(
        "randomseed",
        lua.create_function(move |_, args: MultiValue| {
            let seed = check_int(args.front().unwrap_or(&Value::Nil), 1, "randomseed")?;
            state.lock().seed(seed);
            Ok(())
        })?,
    )?;
    globals.raw_set("bit", bit_table(lua)?)?;
    globals.raw_set("cjson", cjson_table(lua)?)?;
    globals.raw_set("cmsgpack", crate::libs::msgpack::table(lua)?)?;
    Ok(())
}

/// A number as LuaBitOp reads it: rounded, then taken modulo 2^32.
fn tobit(v: &Value, arg: usize, fname: &str) -> mlua::Result<i32> {
    let n = match v {
        Value::Number(n) => *n,
        Value::Integer(n) => *n as f64,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| raise(&format!("bad argument #{arg} to '{fname}' (number expected, got string)")))?,
        other => {
            return Err(raise(&format!(
                "bad argument #{arg} to '{fname}' (number expected, got {})",
                other.type_name()
            )))
        }
    };
    let r = n.round_ties_even().rem_euclid(4_294_967_296.0);
    Ok(r as u64 as u32 as i32)
}

fn bit_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [("band", |a, b| a & b), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)];
    for (name, op) in folds {
        t.raw_set(
            name,
            lua.create_function(move |_, args: Variadic<Value>| {
                let mut acc = tobit(args.first().unwrap_or(&Value::Nil), 1, name)?;
                for (i, v) in args.iter().enumerate().skip(1) {
                    acc = op(acc, tobit(v, i + 1, name)?);
                }
                Ok(acc)
            })?,
        )?;
    }
    t.raw_set("tobit", lua.create_function(|_, v: Value| tobit(&v, 1, "tobit"))?)?;
    t.raw_set("bnot", lua.create_function(|_, v: Value| Ok(!tobit(&v, 1, "bnot")?))?)?;
    t.raw_set("bswap", lua.create_function(|_, v: Value| Ok(tobit(&v, 1, "bswap")?.swap_bytes()))?)?;
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |a, n| ((a as u32) << n) as i32),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ];
    for (name, op) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |_, (a, n): (Value, Value)| {
                let a = tobit(&a, 1, name)?;
                let n = tobit(&n, 2, name)? as u32 & 31;
                Ok(op(a, n))
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|_, (v, n): (Value, Option<Value>)| {
            let b = tobit(&v, 1, "tohex")? as u32;
            let mut n = match n {
                Some(n) => tobit(&n, 2, "tohex")?,
                None => 8,
            };
            let upper = n < 0;
            if upper {
                // Redis's fixed LuaBitOp: INT_MIN counts as -8.
                n = n.checked_neg().unwrap_or(8);
            }
            let n = n.clamp(1, 8) as usize;
            let hex = if upper { format!("{b:08X}") } else { format!("{b:08x}") };
            Ok(hex[8 - n..].to_owned())
        })?,
    )?;
    Ok(t)
}

/// `%.14g`, as lua-cjson prints numbers.
pub fn fmt_g14(n: f64) -> String {
    if n == 0.0 {
        return if n.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    let exp = n.abs().log10().floor() as i32;
    // Rounding may carry into the next power of ten: format, then check.
    let sci = format!("{:.13e}", n);
    let (mantissa, e) = sci.split_once('e').expect("exponent form");
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..14).contains(&e) {
        let m = trim_zeros(mantissa);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (13 - e).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, n)).to_owned()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

const CJSON_DEPTH_MAX: usize = 1000;

/// lua-cjson's settings that scripts may change (and Redis's tests do).
#[derive(Debug, Clone, Copy)]
struct CjsonConfig {
    encode_max_depth: usize,
    decode_max_depth: usize,
    encode_invalid_numbers: bool,
}

fn cjson_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg = Arc::new(Mutex::new(CjsonConfig {
        encode_max_depth: CJSON_DEPTH_MAX,
        decode_max_depth: CJSON_DEPTH_MAX,
        encode_invalid_numbers: false,
    }));
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise("bad argument #1 to 'encode' (expected 1 argument)"));
            }
            let mut out = Vec::new();
            let cfg = *c.lock();
            json_encode(&args[0], 1, &cfg, &mut out)?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::String| {
            let v: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| raise(&format!("Expected value but found invalid token: {e}")))?;
            let max = c.lock().decode_max_depth;
            json_to_lua(lua, &v, 1, max)
        })?,
    )?;
    t.raw_set("null", Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())))?;
    type Knob = fn(&mut CjsonConfig, &Value) -> mlua::Result<()>;
    let knobs: [(&str, Knob); 3] = [
        ("encode_max_depth", |c, v| {
            c.encode_max_depth = match v {
                Value::Nil => c.encode_max_depth,
                v => depth_of(v)?,
            };
            Ok(())
        }),
        ("decode_max_depth", |c, v| {
            c.decode_max_depth = match v {
                Value::Nil => c.decode_max_depth,
                v => depth_of(v)?,
            };
            Ok(())
        }),
        ("encode_invalid_numbers", |c, v| {
            if let Value::Boolean(b) = v {
                c.encode_invalid_numbers = *b;
            }
            Ok(())
        }),
    ];
    for (name, set) in knobs {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, v: Option<Value>| {
                let mut cfg = c.lock();
                set(&mut cfg, &v.unwrap_or(Value::Nil))?;
                Ok(())
            })?,
        )?;
    }
    // The buffer and precision knobs: accepted, no effect.
    for knob in ["encode_keep_buffer", "encode_number_precision", "decode_invalid_numbers", "encode_sparse_array"] {
        t.raw_set(knob, lua.create_function(|_, a: MultiValue| Ok(a))?)?;
    }
    Ok(t)
}

fn depth_of(v: &Value) -> mlua::Result<usize> {
    match v {
        Value::Number(n) if *n >= 1.0 => Ok(*n as usize),
        Value::Integer(n) if *n >= 1 => Ok(*n as usize),
        _ => Err(raise("bad argument #1 (expected integer between 1 and 2147483647)")),
    }
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

fn json_number(n: f64, allow_invalid: bool, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        if !allow_invalid {
            return Err(raise("Cannot serialise number: must not be NaN or Inf"));
        }
        out.extend_from_slice(if n.is_nan() {
            b"nan"
        } else if n > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return Ok(());
    }
    out.extend_from_slice(fmt_g14(n).as_bytes());
    Ok(())
}

/// Whether a table is an array for cjson, and its length: every key a
/// positive integer, and not too sparse.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut count = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let idx = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(idx);
        count += 1;
    }
    if max > 10 && max > count * 2 {
        return Err(raise("Cannot serialise table: excessively sparse array"));
    }
    Ok(Some(max))
}

fn json_encode(v: &Value, depth: usize, cfg: &CjsonConfig, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => json_number(*n, cfg.encode_invalid_numbers, out)?,
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth > cfg.encode_max_depth {
                return Err(raise(&format!("Cannot serialise, excessive nesting ({depth})")));
            }
            match array_len(t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        json_encode(&t.raw_get::<Value>(i)?, depth + 1, cfg, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => json_string(&s.as_bytes(), out),
                            Value::Number(n) => {
                                let mut key = Vec::new();
                                json_number(*n, cfg.encode_invalid_numbers, &mut key)?;
                                json_string(&key, out);
                            }
                            Value::Integer(i) => json_string(i.to_string().as_bytes(), out),
                            _ => return Err(raise("Cannot serialise table: table key must be a number or string")),
                        }
                        out.push(b':');
                        json_encode(&val, depth + 1, cfg, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(raise(&format!("Cannot serialise {}: type not supported", other.type_name()))),
    }
    Ok(())
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value, depth: usize, max: usize) -> mlua::Result<Value> {
    use serde_json::Value as J;
    let nested = matches!(v, J::Array(_) | J::Object(_));
    if nested && depth > max {
        return Err(raise(&format!("Found too many nested data structures ({depth})")));
    }
    Ok(match v {
        J::Null => Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item, depth + 1, max)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(lua.create_string(k)?, json_to_lua(lua, item, depth + 1, max)?)?;
            }
            Value::Table(t)
        }
    })
}

pub mod msgpack {
    //! `cmsgpack.pack(...)` / `cmsgpack.unpack(s)`, as lua-cmsgpack: a
    //! table whose keys are 1..n is an array, any other a map; integral
    //! numbers are integers, others floats (32 bits when exact).

    use mlua::{Lua, MultiValue, Table, Value};

    use super::raise;

    const DEPTH_MAX: usize = 16;

    pub fn table(lua: &Lua) -> mlua::Result<Table> {
        let t = lua.create_table()?;
        t.raw_set(
            "pack",
            lua.create_function(|_, args: MultiValue| {
                if args.is_empty() {
                    return Err(raise("MessagePack pack needs input."));
                }
                let mut out = Vec::new();
                for a in args.iter() {
                    encode(a, 0, &mut out)?;
                }
                Ok(mlua::BString::from(out))
            })?,
        )?;
        t.raw_set("unpack", lua.create_function(|lua, s: mlua::String| unpack_full(lua, &s.as_bytes(), 0, 0))?)?;
        t.raw_set(
            "unpack_one",
            lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| {
                unpack_full(lua, &s.as_bytes(), 1, offset.unwrap_or(0))
            })?,
        )?;
        t.raw_set(
            "unpack_limit",
            lua.create_function(|lua, (s, limit, offset): (mlua::String, i64, Option<i64>)| {
                unpack_full(lua, &s.as_bytes(), limit, offset.unwrap_or(0))
            })?,
        )?;
        Ok(t)
    }

    /// lua-cmsgpack's mp_unpack_full: everything (limit and offset 0), or
    /// up to `limit` objects from `offset`, preceded by the next offset
    /// (-1 at the end of the input).
    fn unpack_full(lua: &Lua, b: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
        let all = limit == 0 && offset == 0;
        if offset < 0 || limit < 0 {
            return Err(raise(&format!("Invalid request to unpack with offset of {offset} and limit of {limit}.")));
        }
        if offset as usize > b.len() {
            return Err(raise(&format!("Start offset {offset} greater than input length {}.", b.len())));
        }
        let limit = if all { i64::MAX } else { limit };
        let mut at = offset as usize;
        let mut out = Vec::new();
        let mut n = 0;
        while at < b.len() && n < limit {
            out.push(decode(lua, b, &mut at, 0)?);
            n += 1;
        }
        if !all {
            let next = if at >= b.len() { -1 } else { at as i64 };
            out.insert(0, Value::Integer(next));
        }
        Ok(MultiValue::from_iter(out))
    }

    fn len_header(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, c16: u8, c32: u8) {
        if len <= fix_max {
            out.push(fix | len as u8);
        } else if len <= 0xffff {
            out.push(c16);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(c32);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }

    fn encode_int(i: i64, out: &mut Vec<u8>) {
        if i >= 0 {
            match i {
                0..=127 => out.push(i as u8),
                128..=0xff => out.extend_from_slice(&[0xcc, i as u8]),
                0x100..=0xffff => {
                    out.push(0xcd);
                    out.extend_from_slice(&(i as u16).to_be_bytes())
                }
                0x1_0000..=0xffff_ffff => {
                    out.push(0xce);
                    out.extend_from_slice(&(i as u32).to_be_bytes())
                }
                _ => {
                    out.push(0xcf);
                    out.extend_from_slice(&(i as u64).to_be_bytes())
                }
            }
        } else if i >= -32 {
            out.push(i as i8 as u8);
        } else if i >= -128 {
            out.extend_from_slice(&[0xd0, i as i8 as u8]);
        } else if i >= -32768 {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        } else if i >= -(1 << 31) {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    }

    fn encode(v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
        match v {
            Value::Nil => out.push(0xc0),
            Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Integer(i) => encode_int(*i, out),
            Value::Number(n) => {
                if n.fract() == 0.0 && n.is_finite() && n.abs() < 9.2e18 {
                    encode_int(*n as i64, out)
                } else if (*n as f32) as f64 == *n || n.is_nan() {
                    out.push(0xca);
                    out.extend_from_slice(&(*n as f32).to_be_bytes());
                } else {
                    out.push(0xcb);
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
            Value::String(s) => {
                let b = s.as_bytes();
                if b.len() <= 31 {
                    out.push(0xa0 | b.len() as u8);
                } else if b.len() <= 0xff {
                    out.extend_from_slice(&[0xd9, b.len() as u8]);
                } else {
                    len_header(out, b.len(), 0xa0, 31, 0xda, 0xdb);
                }
                out.extend_from_slice(&b);
            }
            Value::Table(t) if depth < DEPTH_MAX => {
                let mut n = 0usize;
                let mut is_array = true;
                let mut count = 0usize;
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, _) = pair?;
                    count += 1;
                    match k {
                        Value::Integer(i) if i >= 1 => n = n.max(i as usize),
                        Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => n = n.max(f as usize),
                        _ => is_array = false,
                    }
                }
                if is_array && n == count {
                    len_header(out, n, 0x90, 15, 0xdc, 0xdd);
                    for i in 1..=n {
                        encode(&t.raw_get::<Value>(i)?, depth + 1, out)?;
                    }
                } else {
                    len_header(out, count, 0x80, 15, 0xde, 0xdf);
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        encode(&k, depth + 1, out)?;
                        encode(&val, depth + 1, out)?;
                    }
                }
            }
            // Too deep, or a type msgpack has no form for: nil.
            _ => out.push(0xc0),
        }
        Ok(())
    }

    fn take<'a>(b: &'a [u8], at: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
        let s = b.get(*at..*at + n).ok_or_else(|| raise("Missing bytes in input."))?;
        *at += n;
        Ok(s)
    }

    fn be(b: &[u8]) -> u64 {
        b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x))
    }

    fn decode(lua: &Lua, b: &[u8], at: &mut usize, depth: usize) -> mlua::Result<Value> {
        if depth > 1000 {
            return Err(raise("Bad data format in input."));
        }
        let c = take(b, at, 1)?[0];
        let num = |v: f64| Ok(Value::Number(v));
        match c {
            0x00..=0x7f => num(f64::from(c)),
            0xe0..=0xff => num(f64::from(c as i8)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xcc => num(be(take(b, at, 1)?) as f64),
            0xcd => num(be(take(b, at, 2)?) as f64),
            0xce => num(be(take(b, at, 4)?) as f64),
            0xcf => num(be(take(b, at, 8)?) as f64),
            0xd0 => num(f64::from(take(b, at, 1)?[0] as i8)),
            0xd1 => num(f64::from(be(take(b, at, 2)?) as u16 as i16)),
            0xd2 => num(f64::from(be(take(b, at, 4)?) as u32 as i32)),
            0xd3 => num(be(take(b, at, 8)?) as i64 as f64),
            0xca => num(f64::from(f32::from_bits(be(take(b, at, 4)?) as u32))),
            0xcb => num(f64::from_bits(be(take(b, at, 8)?))),
            0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
                let len = match c {
                    0xa0..=0xbf => usize::from(c & 0x1f),
                    0xd9 | 0xc4 => be(take(b, at, 1)?) as usize,
                    0xda | 0xc5 => be(take(b, at, 2)?) as usize,
                    _ => be(take(b, at, 4)?) as usize,
                };
                Ok(Value::String(lua.create_string(take(b, at, len)?)?))
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let len = match c {
                    0xdc => be(take(b, at, 2)?) as usize,
                    0xdd => be(take(b, at, 4)?) as usize,
                    _ => usize::from(c & 0x0f),
                };
                let t = lua.create_table_with_capacity(len.min(1024), 0)?;
                for i in 1..=len {
                    t.raw_set(i, decode(lua, b, at, depth + 1)?)?;
                }
                Ok(Value::Table(t))
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let len = match c {
                    0xde => be(take(b, at, 2)?) as usize,
                    0xdf => be(take(b, at, 4)?) as usize,
                    _ => usize::from(c & 0x0f),
                };
                let t = lua.create_table()?;
                for _ in 0..len {
                    let k = decode(lua, b, at, depth + 1)?;
                    let v = decode(lua, b, at, depth + 1)?;
                    if !k.is_nil() {
                        t.raw_set(k, v)?;
                    }
                }
                Ok(Value::Table(t))
            }
            _ => Err(raise("Bad data format in input.")),
        }
    }
}
