//! The Lua state: its sandbox, the `redis` library, and the script cache.
//!
//! Scripts run in an environment table that reads through to the globals
//! and refuses writes, with an error for a global that does not exist, as
//! Redis's read-only globals do. The libraries scripts see (`redis`,
//! `string`, `math`, `table`, `cjson`, `cmsgpack`, `bit`) are read-only
//! proxies, so one script cannot change what the next one runs with.

use std::collections::HashMap;
use std::sync::atomic::AtomicU8;
use std::sync::Arc;

use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};

use crate::functions::Libraries;
use crate::libs;

/// Script flags (the `#!lua flags=...` shebang, and functions' flags).
pub mod sflag {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// A script without a shebang: Redis 6 semantics.
    pub const EVAL_COMPAT: u32 = 1 << 5;

    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    pub fn parse(name: &str) -> Option<u32> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }
}

/// A cached EVAL script.
pub(crate) struct Script {
    pub func: Function,
    pub flags: u32,
}

/// Most scripts the cache holds; past it SCRIPT LOAD and EVAL of a new
/// body are refused until SCRIPT FLUSH (Redis has no bound; a cache node
/// must have one).
pub const SCRIPTS_MAX: usize = 100_000;

pub(crate) struct Engine {
    pub lua: Lua,
    /// The environment of user code.
    pub env: Table,
    /// The real globals, where KEYS and ARGV go.
    pub globals: Table,
    pub hidden: Table,
    /// The real `redis` table, where each run puts its `call` and `pcall`.
    pub redis: Table,
    pub xpcall: Function,
    /// `wrap(f, a, b)` returns a function of no arguments calling `f(a, b)`
    /// (xpcall in Lua 5.1 passes no arguments).
    pub wrap: Function,
    pub scripts: HashMap<String, Script>,
    pub libraries: Libraries,
    /// The RESP version `redis.setresp` chose for this run.
    pub resp: Arc<AtomicU8>,
    pub calls: u64,
    /// The environment of function libraries (see functions.rs).
    pub fenv: Table,
    pub registered: crate::functions::Registered,
}

/// The Lua half of the `redis` library and the sandbox, run once at start.
const PRELUDE: &str = r#"
local hidden, G, env, protect_names = ...
local error, type, rawget, rawset, select, unpack, tostring, setmetatable, getfenv, setfenv, loadstring =
      error, type, rawget, rawset, select, unpack, tostring, setmetatable, getfenv, setfenv, loadstring
local lua_pcall = pcall
local to_err = hidden.to_err
local killed = hidden.killed

-- Redis's pcall hands back an error table's text, not the table; what
-- redis.call raised (from Rust) is such a table too.
local function pack(...) return {n = select('#', ...), ...} end
G.pcall = function(f, ...)
  local res = pack(lua_pcall(f, ...))
  -- SCRIPT KILL is not an error a script may catch.
  if not res[1] and killed() then error(res[2], 0) end
  if not res[1] then
    local e = to_err(res[2])
    if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then
      return false, rawget(e, 'err')
    end
    res[2] = e
  end
  return unpack(res, 1, res.n)
end
-- Code loaded at run time gets the sandbox too; bytecode is refused.
G.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  local f, e = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end
G.getfenv = function(f)
  local e = getfenv(f)
  if e == G then return env end
  return e
end
G.setfenv = nil

-- What getmetatable shows of a protected table: itself read-only, and
-- what setmetatable refuses to replace.
local marker = {}
setmetatable(marker, {
  __newindex = function() error("Attempt to modify a readonly table", 2) end,
  __metatable = marker,
})
hidden.marker = marker
local lua_setmetatable, lua_getmetatable = setmetatable, getmetatable
G.setmetatable = function(t, mt)
  if lua_getmetatable(t) == marker then error("Attempt to modify a readonly table", 2) end
  return lua_setmetatable(t, mt)
end
local function readonly(t)
  local p = {}
  setmetatable(p, {
    __index = t,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
    __metatable = marker,
  })
  return p
end
for _, name in ipairs(protect_names) do
  rawset(G, name, readonly(rawget(G, name)))
end
setmetatable(env, {
  __index = function(_, k)
    if k == '_G' then return env end
    local v = rawget(G, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 0)
    end
    return v
  end,
  __newindex = function() error("Attempt to modify a readonly table", 2) end,
  __metatable = marker,
})
"#;

const WRAP: &str = "local f, a, b = ... return function() return f(a, b) end";

impl Engine {
    pub fn new(run: Arc<crate::RunState>) -> mlua::Result<Engine> {
        let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::default())?;
        let globals = lua.globals();
        // What Redis removes from the base library.
        for name in ["dofile", "loadfile", "print", "collectgarbage", "module", "require", "newproxy", "gcinfo"] {
            globals.raw_set(name, Value::Nil)?;
        }
        let resp = Arc::new(AtomicU8::new(2));
        let redis = libs::redis_table(&lua, resp.clone())?;
        globals.raw_set("redis", redis.clone())?;
        libs::install(&lua, &globals)?;
        let hidden = lua.create_table()?;
        let run_state = run.clone();
        hidden.raw_set(
            "killed",
            lua.create_function(move |_, ()| Ok(run_state.killed.load(std::sync::atomic::Ordering::Relaxed)))?,
        )?;
        hidden.raw_set(
            "to_err",
            lua.create_function(|lua, v: Value| match v {
                Value::Error(e) => Ok(Value::Table(crate::run::error_table(lua, &e)?)),
                other => Ok(other),
            })?,
        )?;
        let env = lua.create_table()?;
        let protect: Vec<&str> = vec!["redis", "string", "math", "table", "cjson", "bit", "cmsgpack", "struct"];
        let protect: Vec<&str> =
            protect.into_iter().filter(|n| globals.raw_get::<Value>(*n).is_ok_and(|v| !v.is_nil())).collect();
        lua.load(PRELUDE).set_name("=redis_prelude").call::<()>((
            hidden.clone(),
            globals.clone(),
            env.clone(),
            protect,
        ))?;
        let xpcall: Function = globals.raw_get("xpcall")?;
        let fenv = lua.create_table()?;
        let registered = Arc::new(parking_lot::Mutex::new(None));
        let load_api = crate::functions::load_api(&lua, &globals, registered.clone())?;
        lua.load(crate::functions::FUNCTION_PRELUDE).set_name("=redis_functions").call::<()>((
            hidden.clone(),
            globals.clone(),
            fenv.clone(),
            load_api,
        ))?;
        crate::run::install_hook(&lua, run);
        let wrap = lua.load(WRAP).set_name("=redis_wrap").into_function()?;
        Ok(Engine {
            lua,
            env,
            globals,
            hidden,
            redis,
            xpcall,
            wrap,
            scripts: HashMap::new(),
            libraries: Libraries::default(),
            resp,
            calls: 0,
            fenv,
            registered,
        })
    }

    /// Compiles `body` as an EVAL script (if it is not cached yet) and
    /// returns its SHA1. Errors are the reply text.
    pub fn load_script(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        if self.scripts.len() >= SCRIPTS_MAX {
            return Err(format!("ERR the script cache is full ({SCRIPTS_MAX} scripts): SCRIPT FLUSH it"));
        }
        let (flags, skip) = parse_shebang(body)?;
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| format!("ERR Error compiling script (new function): {}", lua_error_text(&e)))?;
        self.scripts.insert(sha.clone(), Script { func, flags });
        Ok(sha)
    }

    /// SCRIPT FLUSH: forgets every script and gives their memory back.
    pub fn flush_scripts(&mut self) {
        self.scripts.clear();
        self.lua.gc_collect().ok();
    }

    /// Sets KEYS and ARGV for an EVAL.
    pub fn set_keys_argv(&self, keys: &[&[u8]], argv: &[&[u8]]) -> mlua::Result<()> {
        self.globals.raw_set("KEYS", self.array(keys)?)?;
        self.globals.raw_set("ARGV", self.array(argv)?)
    }

    pub fn array(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, a) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(a)?)?;
        }
        Ok(t)
    }

    /// A step of garbage collection every 50 runs, as Redis does.
    pub fn after_run(&mut self) {
        self.calls += 1;
        if self.calls.is_multiple_of(50) {
            let _ = self.lua.gc_step_kbytes(50);
        }
    }

    pub fn memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// Lua's message for an error, without mlua's decorations.
pub(crate) fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        // mlua appends a traceback to errors raised through it: not part
        // of Redis's message.
        mlua::Error::RuntimeError(m) => m.split("\nstack traceback:").next().unwrap_or(m).to_owned(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// The flags of a script's `#!lua ...` first line and how many bytes to
/// skip before compiling it (the line feed stays, so line numbers hold).
pub(crate) fn parse_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((sflag::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".to_owned());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    match parts.next() {
        Some("#!lua") => {}
        Some(other) => return Err(format!("ERR Unexpected engine in script shebang: {other}")),
        None => return Err("ERR Invalid engine in script shebang".to_owned()),
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            flags |= sflag::parse(f).ok_or_else(|| format!("ERR Unexpected flag in script shebang: {f}"))?;
        }
    }
    Ok((flags, end))
}
