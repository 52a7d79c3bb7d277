//! Conversions between Redis replies and Lua values, exactly as Redis 7.2's
//! script_lua.c makes them, for RESP2 and RESP3 (`redis.setresp(3)`).
//!
//! Reply → Lua (what `redis.call` returns): integer → number, bulk →
//! string, status → `{ok=...}`, error → `{err=...}`, array → table, null
//! → `false` (RESP2) or `nil` (RESP3); RESP3 adds boolean → boolean,
//! double → `{double=n}`, map → `{map={...}}`, set → `{set={m=true}}`,
//! big number → `{big_number=s}`, verbatim → `{verbatim_string=...}`.
//! Lua → reply (what a script returns): the reverse, with a number
//! truncated to an integer, `true` → 1 and `false` → null in RESP2,
//! and a table read as an array up to its first nil.

use bytes::Bytes;
use mlua::{Lua, Table, Value};
use ringcache_resp::{decode_reply, format_double, Reply};

/// Most nesting a reply may have on its way into or out of Lua.
const DEPTH_MAX: usize = 1000;

/// The `{err=...}` table Redis's `luaPushErrorBuff` makes of an error text:
/// `-CODE msg` keeps its code, a bare text gets `ERR`; a final CR/LF goes.
pub fn push_error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(t)
}

pub fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let mut msg = msg;
    while let [rest @ .., b'\r' | b'\n'] = msg {
        msg = rest;
    }
    while let [b'\r' | b'\n', rest @ ..] = msg {
        msg = rest;
    }
    [code, b" ", msg].concat()
}

/// A Lua number as a command argument: an integer's digits, else the
/// shortest text that reads back as the same double.
pub fn number_arg(n: f64) -> Vec<u8> {
    lua_number_text(n).into_bytes()
}

pub fn lua_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        (n as i64).to_string()
    } else {
        format_double(n)
    }
}

/// A reply from `redis.call`, as Lua sees it. `Err` texts are for
/// the error table (`redis.call` raises it, `redis.pcall` returns it).
pub fn reply_to_lua(lua: &Lua, reply: Reply, resp3: bool) -> mlua::Result<Value> {
    reply_to_lua_at(lua, reply, resp3, 0)
}

fn table_with(lua: &Lua, field: &str, v: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

fn array(lua: &Lua, items: Vec<Reply>, resp3: bool, depth: usize) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, r) in items.into_iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua_at(lua, r, resp3, depth + 1)?)?;
    }
    Ok(Value::Table(t))
}

fn reply_to_lua_at(lua: &Lua, reply: Reply, resp3: bool, depth: usize) -> mlua::Result<Value> {
    if depth > DEPTH_MAX {
        return Err(mlua::Error::RuntimeError("reached lua stack limit".to_owned()));
    }
    Ok(match reply {
        Reply::Simple(s) => table_with(lua, "ok", lua.create_string(&s)?)?,
        Reply::Error(e) => Value::Table(push_error_table(lua, &[&b"-"[..], &e].concat())?),
        Reply::Integer(i) => Value::Number(i as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::SmallBulk(b) => Value::String(lua.create_string(b.as_bytes())?),
        Reply::Null | Reply::NullArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) => array(lua, items, resp3, depth)?,
        Reply::Set(items) if resp3 => {
            let t = lua.create_table()?;
            for r in items {
                let k = reply_to_lua_at(lua, r, resp3, depth + 1)?;
                if !k.is_nil() {
                    t.raw_set(k, true)?;
                }
            }
            table_with(lua, "set", t)?
        }
        Reply::Set(items) => array(lua, items, resp3, depth)?,
        Reply::Map(pairs) if resp3 => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                let k = reply_to_lua_at(lua, k, resp3, depth + 1)?;
                let v = reply_to_lua_at(lua, v, resp3, depth + 1)?;
                if !k.is_nil() {
                    t.raw_set(k, v)?;
                }
            }
            table_with(lua, "map", t)?
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (i, (k, v)) in pairs.into_iter().enumerate() {
                t.raw_set(2 * i + 1, reply_to_lua_at(lua, k, resp3, depth + 1)?)?;
                t.raw_set(2 * i + 2, reply_to_lua_at(lua, v, resp3, depth + 1)?)?;
            }
            Value::Table(t)
        }
        Reply::Double(d) if resp3 => table_with(lua, "double", d)?,
        Reply::Double(d) => Value::String(lua.create_string(format_double(d))?),
        Reply::Boolean(b) if resp3 => Value::Boolean(b),
        Reply::Boolean(b) => Value::Number(if b { 1.0 } else { 0.0 }),
        Reply::Verbatim(text) if resp3 => {
            let t = lua.create_table()?;
            t.raw_set("string", lua.create_string(&text)?)?;
            t.raw_set("format", "txt")?;
            table_with(lua, "verbatim_string", t)?
        }
        Reply::Verbatim(text) => Value::String(lua.create_string(&text)?),
        Reply::BigNumber(n) if resp3 => table_with(lua, "big_number", lua.create_string(&n)?)?,
        Reply::BigNumber(n) => Value::String(lua.create_string(&n)?),
        Reply::Raw(raw) => match decode_reply(&raw) {
            Ok(Some((r, _))) => reply_to_lua_at(lua, r, resp3, depth + 1)?,
            _ => Value::Nil,
        },
    })
}

/// A script's return value, as the reply to its caller. `resp3` is the
/// protocol the script chose (`redis.setresp`), which decides booleans.
pub fn lua_to_reply(v: &Value, resp3: bool) -> Reply {
    lua_to_reply_at(v, resp3, 0)
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

fn lua_to_reply_at(v: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > DEPTH_MAX {
        return Reply::error_static("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp3 => Reply::Boolean(*b),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Boolean(false) => Reply::Null,
        Value::Number(n) => Reply::Integer(*n as i64),
        Value::Integer(i) => Reply::Integer(*i),
        Value::Table(t) => {
            if let Value::String(e) = field(t, "err") {
                return Reply::error_bytes(e.as_bytes().to_vec());
            }
            if let Value::String(ok) = field(t, "ok") {
                let mut s = ok.as_bytes().to_vec();
                for b in &mut s {
                    if matches!(*b, b'\r' | b'\n') {
                        *b = b' ';
                    }
                }
                return Reply::Simple(Bytes::from(s));
            }
            if let Value::Number(d) = field(t, "double") {
                return Reply::Double(d);
            }
            if let Value::Integer(d) = field(t, "double") {
                return Reply::Double(d as f64);
            }
            if let Value::String(n) = field(t, "big_number") {
                let mut s = n.as_bytes().to_vec();
                for b in &mut s {
                    if matches!(*b, b'\r' | b'\n') {
                        *b = b' ';
                    }
                }
                return Reply::BigNumber(Bytes::from(s));
            }
            if let Value::Table(vt) = field(t, "verbatim_string") {
                if let (Value::String(_), Value::String(s)) = (field(&vt, "format"), field(&vt, "string")) {
                    return Reply::Verbatim(Bytes::copy_from_slice(&s.as_bytes()));
                }
            }
            if let Value::Table(m) = field(t, "map") {
                let pairs = m
                    .pairs::<Value, Value>()
                    .filter_map(Result::ok)
                    .map(|(k, v)| (lua_to_reply_at(&k, resp3, depth + 1), lua_to_reply_at(&v, resp3, depth + 1)))
                    .collect();
                return Reply::Map(pairs);
            }
            if let Value::Table(s) = field(t, "set") {
                let items = s
                    .pairs::<Value, Value>()
                    .filter_map(Result::ok)
                    .map(|(k, _)| lua_to_reply_at(&k, resp3, depth + 1))
                    .collect();
                return Reply::Set(items);
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(v) => items.push(lua_to_reply_at(&v, resp3, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Null,
    }
}
