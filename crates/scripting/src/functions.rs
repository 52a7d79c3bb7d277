//! Function libraries (FUNCTION LOAD ...): a library is Lua code whose
//! first line is `#!lua name=<lib>`; running it registers functions with
//! `redis.register_function`, which FCALL then calls as
//! `f(keys, args)`.
//!
//! Library code runs in its own environment: while loading, `redis` is
//! the loading API (register_function, log, the version), and afterwards
//! the full one, as in Redis where a function sees `redis.call` only when
//! called. A load that runs longer than [`LOAD_TIMEOUT_MS`] is stopped.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

use crate::engine::{lua_error_text, sflag, Engine};
use crate::RunState;

/// How long a FUNCTION LOAD may run its library's code.
pub const LOAD_TIMEOUT_MS: u64 = 500;
/// Most libraries held.
pub const LIBRARIES_MAX: usize = 10_000;

pub(crate) struct FunctionInfo {
    pub func: Function,
    pub flags: u32,
    pub description: Option<String>,
    pub library: String,
}

pub(crate) struct Library {
    pub code: Bytes,
    /// Its functions' names, sorted.
    pub functions: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Libraries {
    pub libs: BTreeMap<String, Library>,
    /// By lowercase name.
    pub functions: HashMap<String, FunctionInfo>,
}

/// What `redis.register_function` collected during one load.
/// `None` outside FUNCTION LOAD: a function a library kept a reference to
/// `redis.register_function` in cannot register anything when called.
pub(crate) type Registered = Arc<Mutex<Option<Vec<(String, FunctionInfo)>>>>;

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

const NAME_ERR: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// The library environment's Lua side: `fenv` reads the loading API
/// alone while `hidden.loading` is set (as Redis swaps its globals for the
/// library API during FUNCTION LOAD: no `math`, no `redis.call`), else the
/// globals.
pub(crate) const FUNCTION_PRELUDE: &str = r#"
local hidden, G, fenv, load_api = ...
local rawget, error, tostring, setmetatable = rawget, error, tostring, setmetatable
setmetatable(fenv, {
  __index = function(_, k)
    if k == '_G' then return fenv end
    local v
    if hidden.loading then v = rawget(load_api, k) else v = rawget(G, k) end
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 0)
    end
    return v
  end,
  __newindex = function() error("Attempt to modify a readonly table", 2) end,
  __metatable = hidden.marker,
})
"#;

/// The metadata line of a library: its name and where its code starts.
fn parse_metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".to_owned());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".to_owned());
    };
    let line = String::from_utf8_lossy(&code[..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().map(|p| p[2..].to_owned()).unwrap_or_default();
    let mut name = None;
    for part in parts {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err("ERR Invalid metadata value, name argument was given multiple times".to_owned());
            }
            name = Some(part[5..].to_owned());
            continue;
        }
        return Err(format!("ERR Invalid metadata value given: {part}"));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".to_owned());
    };
    if !valid_name(&name) {
        return Err(format!("ERR {NAME_ERR}"));
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok((name, end))
}

fn register_error(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.to_owned())
}

/// `redis.register_function(name, f)` or `({function_name=, callback=,
/// flags=, description=})`.
fn register(registered: &Registered, args: MultiValue) -> mlua::Result<()> {
    if registered.lock().is_none() {
        return Err(register_error("redis.register_function can only be called on FUNCTION LOAD command"));
    }
    let (name, callback, description, flags) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return Err(register_error("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
            };
            let (mut name, mut callback, mut description, mut flags) = (None, None, None, 0u32);
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Value::String(k) = k else {
                    return Err(register_error("named argument key given to redis.register_function is not a string"));
                };
                match k.to_string_lossy().to_ascii_lowercase().as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy()),
                        _ => {
                            return Err(register_error(
                                "function_name argument given to redis.register_function must be a string",
                            ))
                        }
                    },
                    "description" => match v {
                        Value::String(s) => description = Some(s.to_string_lossy()),
                        _ => {
                            return Err(register_error(
                                "description argument given to redis.register_function must be a string",
                            ))
                        }
                    },
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => {
                            return Err(register_error(
                                "callback argument given to redis.register_function must be a function",
                            ))
                        }
                    },
                    "flags" => {
                        let Value::Table(ft) = v else {
                            return Err(register_error(
                                "flags argument to redis.register_function must be a table representing function flags",
                            ));
                        };
                        for f in ft.sequence_values::<Value>() {
                            let f = match f? {
                                Value::String(s) => sflag::parse(&s.to_string_lossy()),
                                _ => None,
                            };
                            flags |= f.ok_or_else(|| register_error("unknown flag given"))?;
                        }
                    }
                    _ => return Err(register_error("unknown argument given to redis.register_function")),
                }
            }
            let name =
                name.ok_or_else(|| register_error("redis.register_function must get a function name argument"))?;
            let callback =
                callback.ok_or_else(|| register_error("redis.register_function must get a callback argument"))?;
            (name, callback, description, flags)
        }
        2 => {
            let Value::String(name) = &args[0] else {
                return Err(register_error("first argument to redis.register_function must be a string"));
            };
            let Value::Function(f) = &args[1] else {
                return Err(register_error("second argument to redis.register_function must be a function"));
            };
            (name.to_string_lossy(), f.clone(), None, 0)
        }
        _ => return Err(register_error("wrong number of arguments to redis.register_function")),
    };
    if !valid_name(&name) {
        return Err(register_error(NAME_ERR));
    }
    let mut guard = registered.lock();
    let Some(reg) = guard.as_mut() else {
        return Err(register_error("redis.register_function can only be called on FUNCTION LOAD command"));
    };
    if reg.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
        return Err(register_error("Function already exists in the library"));
    }
    reg.push((name, FunctionInfo { func: callback, flags, description, library: String::new() }));
    Ok(())
}

/// The loading API's `redis` table.
pub(crate) fn load_api(lua: &Lua, globals: &Table, registered: Registered) -> mlua::Result<Table> {
    let api = lua.create_table()?;
    let redis = lua.create_table()?;
    let full: Table = globals.raw_get("redis")?;
    redis.raw_set("register_function", lua.create_function(move |_, args: MultiValue| register(&registered, args))?)?;
    for name in ["log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"] {
        redis.raw_set(name, full.get::<Value>(name)?)?;
    }
    // A missing field of the loading API reads as a missing global, as in
    // Redis (`redis.call` while loading).
    let missing = lua.create_function(|_, (_, k): (Value, Value)| -> mlua::Result<()> {
        let k = match k {
            Value::String(s) => s.to_string_lossy(),
            other => format!("{other:?}"),
        };
        Err(mlua::Error::RuntimeError(format!("Script attempted to access nonexistent global variable '{k}'")))
    })?;
    // And it is read-only, as Redis protects its tables: a function that
    // kept a reference to it cannot graft the full API onto it.
    let readonly = lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
        Err(mlua::Error::RuntimeError("Attempt to modify a readonly table".to_owned()))
    })?;
    let mt = lua.create_table()?;
    mt.raw_set("__index", missing)?;
    mt.raw_set("__newindex", readonly)?;
    redis.set_metatable(Some(mt));
    api.raw_set("redis", redis)?;
    Ok(api)
}

impl Engine {
    /// FUNCTION LOAD: compiles and runs `code`, then links its library
    /// (replacing one of the same name with `replace`). Returns its name.
    pub(crate) fn load_library(&mut self, run: &RunState, code: &[u8], replace: bool) -> Result<String, String> {
        let (name, skip) = parse_metadata(code)?;
        if self.libraries.libs.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        if !self.libraries.libs.contains_key(&name) && self.libraries.libs.len() >= LIBRARIES_MAX {
            return Err(format!("ERR too many function libraries (at most {LIBRARIES_MAX})"));
        }
        let functions = self.compile_library(run, &code[skip..])?;
        for (f, _) in &functions {
            if let Some(other) = self.libraries.functions.get(&f.to_ascii_lowercase()) {
                if other.library != name {
                    return Err(format!("ERR Function {f} already exists"));
                }
            }
        }
        self.unlink(&name);
        self.link(&name, Bytes::copy_from_slice(code), functions);
        Ok(name)
    }

    fn compile_library(&mut self, run: &RunState, body: &[u8]) -> Result<Vec<(String, FunctionInfo)>, String> {
        let chunk = self
            .lua
            .load(body)
            .set_name("@user_function")
            .set_environment(self.fenv.clone())
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", lua_error_text(&e)))?;
        *self.registered.lock() = Some(Vec::new());
        self.hidden.raw_set("loading", true).map_err(|e| e.to_string())?;
        run.load_deadline_us.store(run.now_us() + LOAD_TIMEOUT_MS * 1000, Relaxed);
        let result = chunk.call::<()>(());
        run.load_deadline_us.store(0, Relaxed);
        self.hidden.raw_set("loading", Value::Nil).map_err(|e| e.to_string())?;
        let functions = self.registered.lock().take().unwrap_or_default();
        if let Err(e) = result {
            let text = lua_error_text(&e);
            let text = text.strip_prefix("ERR ").unwrap_or(&text).to_owned();
            return Err(format!("ERR Error registering functions: {text}"));
        }
        if functions.is_empty() {
            return Err("ERR No functions registered".to_owned());
        }
        Ok(functions)
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.libs.remove(name)?;
        for f in &lib.functions {
            self.libraries.functions.remove(&f.to_ascii_lowercase());
        }
        Some(lib)
    }

    fn link(&mut self, name: &str, code: Bytes, functions: Vec<(String, FunctionInfo)>) {
        let mut names: Vec<String> = functions.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        // Function names are case-insensitive, as in Redis.
        for (f, mut info) in functions {
            info.library = name.to_owned();
            self.libraries.functions.insert(f.to_ascii_lowercase(), info);
        }
        self.libraries.libs.insert(name.to_owned(), Library { code, functions: names });
    }

    /// FUNCTION DELETE.
    pub(crate) fn delete_library(&mut self, name: &str) -> bool {
        self.unlink(name).is_some()
    }

    /// FUNCTION FLUSH.
    pub(crate) fn flush_libraries(&mut self) {
        self.libraries = Libraries::default();
        self.lua.gc_collect().ok();
    }

    /// FUNCTION RESTORE: loads every library of `codes` under `policy`,
    /// all or none.
    pub(crate) fn restore_libraries(
        &mut self,
        run: &RunState,
        codes: Vec<Bytes>,
        policy: Restore,
    ) -> Result<(), String> {
        let saved = std::mem::take(&mut self.libraries);
        if policy != Restore::Flush {
            // Keep the current ones as the base.
            for (name, lib) in &saved.libs {
                let fs = lib
                    .functions
                    .iter()
                    .filter_map(|f| saved.functions.get(&f.to_ascii_lowercase()).map(|i| (f.clone(), i.clone_info())))
                    .collect();
                self.link(name, lib.code.clone(), fs);
            }
        }
        for code in codes {
            let outcome = match parse_metadata(&code) {
                Ok((name, _)) if policy == Restore::Append && self.libraries.libs.contains_key(&name) => {
                    Err(format!("ERR Library {name} already exists"))
                }
                Ok(_) => self.load_library(run, &code, true).map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                self.libraries = saved;
                return Err(e);
            }
        }
        Ok(())
    }

    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.libraries.libs.len(), self.libraries.functions.len())
    }
}

impl FunctionInfo {
    fn clone_info(&self) -> FunctionInfo {
        FunctionInfo {
            func: self.func.clone(),
            flags: self.flags,
            description: self.description.clone(),
            library: self.library.clone(),
        }
    }
}

/// FUNCTION RESTORE's policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restore {
    Append,
    Replace,
    Flush,
}

/// FUNCTION DUMP's payload: a magic, the libraries' codes (each with its
/// length), and a checksum over all of it (the first 8 bytes of its SHA1).
pub(crate) fn dump(libs: &BTreeMap<String, Library>) -> Bytes {
    let mut out = b"RCFN\x01".to_vec();
    for lib in libs.values() {
        out.extend_from_slice(&(lib.code.len() as u32).to_be_bytes());
        out.extend_from_slice(&lib.code);
    }
    let sum = sha1_smol::Sha1::from(&out).digest().bytes();
    out.extend_from_slice(&sum[..8]);
    Bytes::from(out)
}

/// The libraries' codes of a [`dump`] payload, or `None` if it is not one.
pub(crate) fn undump(payload: &[u8]) -> Option<Vec<Bytes>> {
    let (body, sum) = payload.split_at_checked(payload.len().checked_sub(8)?)?;
    if !body.starts_with(b"RCFN\x01") || sha1_smol::Sha1::from(body).digest().bytes()[..8] != *sum {
        return None;
    }
    let mut at = 5;
    let mut codes = Vec::new();
    while at < body.len() {
        let len = u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
        at += 4;
        codes.push(Bytes::copy_from_slice(body.get(at..at + len)?));
        at += len;
    }
    Some(codes)
}
