//! One script run: `redis.call` over the caller's locked shards, the
//! time-limit hook, and the error texts Redis gives a failed script.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, VmState};
use ringcache_commands::{flag, CmdError, CommandSpec, Ctx, Keys};
use ringcache_resp::{Proto, Reply};

use std::cell::RefCell;

use crate::convert::{error_text, lua_to_reply, number_arg, reply_to_lua};
use crate::engine::{lua_error_text, sflag, Engine};
use crate::{RunState, ScriptHost};

/// How a script runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    /// EVAL (else FCALL): which KILL, which error source.
    pub eval: bool,
    /// EVAL_RO / FCALL_RO, or a `no-writes` script.
    pub read_only: bool,
    pub flags: u32,
}

/// Instructions between two looks at the clock and the kill flag.
const HOOK_EVERY: u32 = 100_000;
/// How long `redis.call` tries for the free shard of an undeclared key.
const UNDECLARED_WAIT: Duration = Duration::from_millis(50);

/// What one run tracks besides the Lua state.
struct Call<'r> {
    run: &'r RunState,
    mode: Mode,
    /// The slot the script's keys share (in a cluster).
    slot: Option<u16>,
    wrote: bool,
}

/// Installs the hook that stops a killed script (once per state).
pub(crate) fn install_hook(lua: &Lua, run: std::sync::Arc<RunState>) {
    lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
        if run.killed.load(Relaxed) {
            return Err(mlua::Error::RuntimeError(KILLED.to_owned()));
        }
        let deadline = run.load_deadline_us.load(Relaxed);
        if deadline != 0 && run.now_us() > deadline {
            return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".to_owned()));
        }
        Ok(VmState::Continue)
    });
}

pub(crate) const KILLED: &str = "Script killed by user with SCRIPT KILL...";

impl Engine {
    /// Runs `func` (an EVAL script, or a function wrapped to take its
    /// keys and arguments) for the client of `ctx`, and returns the reply.
    /// `name` is the script's SHA1 or the function's name, for errors.
    pub(crate) fn run<E: ScriptHost>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        run: &RunState,
        func: &Function,
        mode: Mode,
        name: &str,
        declared: &[&[u8]],
    ) -> Reply {
        self.resp.store(2, Relaxed);
        let slot = declared.first().map(|k| ringcache_ring::slot(k));
        let mut call = Call { run, mode, slot, wrote: false };
        let handler = match self.error_handler(mode.eval) {
            Ok(h) => h,
            Err(e) => return Reply::error(format!("ERR {}", lua_error_text(&e))),
        };
        let redis = self.redis.clone();
        let xpcall = self.xpcall.clone();
        let resp = self.resp.clone();
        let cell = RefCell::new((ctx, &mut call));
        let result = self.lua.scope(|scope| {
            let raising = scope.create_function(|lua, args: MultiValue| {
                let mut guard = cell.borrow_mut();
                let (ctx, call) = &mut *guard;
                match redis_call(lua, ctx, call, args, resp.load(Relaxed) == 3)? {
                    Ok(v) => Ok(v),
                    Err(e) => Err(mlua::Error::external(e)),
                }
            })?;
            let trapping = scope.create_function(|lua, args: MultiValue| {
                let mut guard = cell.borrow_mut();
                let (ctx, call) = &mut *guard;
                match redis_call(lua, ctx, call, args, resp.load(Relaxed) == 3)? {
                    Ok(v) => Ok(v),
                    Err(e) => Ok(Value::Table(e.table(lua)?)),
                }
            })?;
            redis.raw_set("call", raising)?;
            redis.raw_set("pcall", trapping)?;
            let out: MultiValue = xpcall.call((func.clone(), handler))?;
            redis.raw_set("call", Value::Nil)?;
            redis.raw_set("pcall", Value::Nil)?;
            let resp3 = resp.load(Relaxed) == 3;
            let mut it = out.into_iter();
            let ok = matches!(it.next(), Some(Value::Boolean(true)));
            let value = it.next().unwrap_or(Value::Nil);
            let reply = if ok { lua_to_reply(&value, resp3) } else { error_reply(&value, name) };
            Ok((reply, counted(&value)))
        });
        self.after_run();
        match result {
            Ok((reply, counted)) => {
                if counted && matches!(reply, Reply::Error(_)) {
                    // The error a command of the script answered (or its
                    // refusal), counted in errorstats when it arose: the
                    // script's reply only fails the script's call.
                    cell.into_inner().0.state().error_counted = true;
                }
                reply
            }
            Err(e) => Reply::error(format!("ERR Error running script {name}, {:.100}", lua_error_text(&e))),
        }
    }

    /// The xpcall handler: turns whatever was raised into an error table
    /// with the source and line of the user code that raised it (Redis's
    /// `__redis__err__handler`).
    fn error_handler(&self, eval: bool) -> mlua::Result<Function> {
        let source = if eval { "@user_script" } else { "@user_function" };
        self.lua.create_function(move |lua, err: Value| {
            let t = match err {
                Value::Table(t) => t,
                Value::String(s) => {
                    let t = lua.create_table()?;
                    t.raw_set("err", lua.create_string([&b"ERR "[..], &s.as_bytes()].concat())?)?;
                    t
                }
                Value::Error(e) => error_table(lua, &e)?,
                other => {
                    let t = lua.create_table()?;
                    let text = lua.coerce_string(other.clone())?.map(|s| s.to_string_lossy()).unwrap_or_default();
                    t.raw_set("err", format!("ERR {text}"))?;
                    t
                }
            };
            // The innermost frame of user code.
            for level in 1..64 {
                let Some(d) = lua.inspect_stack(level) else { break };
                let src = d.source();
                if src.source.as_deref() == Some(source) {
                    t.raw_set("source", source)?;
                    t.raw_set("line", d.curr_line())?;
                    break;
                }
            }
            Ok(t)
        })
    }
}

/// The error `redis.call` raises (and `redis.pcall` returns as a table):
/// the failed command's error text (`CODE message`), which becomes the
/// script's error table.
#[derive(Debug)]
pub(crate) struct ScriptError {
    pub text: Vec<u8>,
    /// Whether the node counted it already (INFO errorstats,
    /// `total_error_replies`): the command's own error reply, or its
    /// refusal by the script's checks. Its table then carries Redis's
    /// `ignore_error_stats_update`, so that a script answering with it
    /// does not count it twice.
    pub counted: bool,
}

impl ScriptError {
    fn new(text: Vec<u8>, counted: bool) -> ScriptError {
        ScriptError { text, counted }
    }

    /// Its `{err=...}` table.
    fn table(&self, lua: &Lua) -> mlua::Result<Table> {
        let t = lua.create_table()?;
        t.raw_set("err", lua.create_string(&self.text)?)?;
        if self.counted {
            t.raw_set(IGNORE_STATS, true)?;
        }
        Ok(t)
    }
}

/// The field Redis's script_lua.c sets on the error table of a command's
/// error, already counted when the command answered it.
const IGNORE_STATS: &str = "ignore_error_stats_update";

/// Whether `value`, a script's result or what it raised, is an error
/// table the node has counted already (see [`ScriptError::counted`]).
fn counted(value: &Value) -> bool {
    matches!(value, Value::Table(t) if matches!(t.raw_get::<Value>(IGNORE_STATS), Ok(Value::Boolean(true))))
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

impl std::error::Error for ScriptError {}

fn find_script_error(e: &mlua::Error) -> Option<&ScriptError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => find_script_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<ScriptError>(),
        _ => None,
    }
}

/// The error table for an error raised from Rust: `redis.call`'s own
/// text, or `ERR` and the message.
pub(crate) fn error_table(lua: &Lua, e: &mlua::Error) -> mlua::Result<Table> {
    if let Some(se) = find_script_error(e) {
        return se.table(lua);
    }
    let t = lua.create_table()?;
    t.raw_set("err", format!("ERR {}", lua_error_text(e)))?;
    Ok(t)
}

/// The reply of a script that raised `err` (an error table).
fn error_reply(err: &Value, name: &str) -> Reply {
    let Value::Table(t) = err else {
        return Reply::error(format!("ERR Error running script {name}, execution failure"));
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        _ => b"ERR unknown error".to_vec(),
    };
    let mut text = msg;
    if let (Ok(Value::String(src)), Ok(line)) = (t.raw_get::<Value>("source"), t.raw_get::<Value>("line")) {
        let line = match line {
            Value::Integer(l) => l.to_string(),
            Value::Number(l) => (l as i64).to_string(),
            _ => String::new(),
        };
        if !line.is_empty() {
            text.extend_from_slice(format!(" script: {name}, on {}:{line}.", src.to_string_lossy()).as_bytes());
        }
    }
    Reply::error_bytes(text)
}

/// `redis.call` / `redis.pcall`: `Ok(value)` or `Err(what failed)`.
/// Errors of the arguments, found before any command is looked up, are
/// not counted here (Redis's `luaRedisGenericCommand` neither): a script
/// answering with one counts it.
fn redis_call<E: ScriptHost>(
    lua: &Lua,
    ctx: &mut Ctx<'_, E>,
    call: &mut Call<'_>,
    args: MultiValue,
    resp3: bool,
) -> mlua::Result<Result<Value, ScriptError>> {
    let uncounted = |text: &[u8]| Ok(Err(ScriptError::new(error_text(text), false)));
    if args.is_empty() {
        return uncounted(b"Please specify at least one argument for this redis lib call");
    }
    let mut argv: Vec<Bytes> = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(n) => argv.push(Bytes::from(number_arg(*n))),
            Value::Integer(n) => argv.push(Bytes::from(n.to_string())),
            _ => return uncounted(b"Lua redis lib command arguments must be strings or integers"),
        }
    }
    let views: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    match execute(ctx, call, &views, resp3) {
        // Counted by the command's call (`Env::command_ran`).
        Ok(Reply::Error(e)) => Ok(Err(ScriptError::new(error_text(&[&b"-"[..], &e].concat()), true))),
        Ok(reply) => Ok(Ok(reply_to_lua(lua, reply, resp3)?)),
        Err(text) => Ok(Err(ScriptError::new(text, true))),
    }
}

/// Runs one command from a script, with Redis's checks for scripts, under
/// the script's locks. `Err` is a refusal (no command ran), with its
/// error text, counted as the command's rejected call as Redis's
/// `scriptCall` counts it (`Env::command_refused`).
fn execute<E: ScriptHost>(
    ctx: &mut Ctx<'_, E>,
    call: &mut Call<'_>,
    argv: &[&[u8]],
    resp3: bool,
) -> Result<Reply, Vec<u8>> {
    let Some(spec) = ctx.shared.table().lookup(argv[0]) else {
        return Err(refuse(ctx, None, "Unknown Redis command called from script"));
    };
    check(ctx, call, spec, argv).map_err(|text| refuse(ctx, Some(spec), &text))?;
    let write = spec.has(flag::WRITE);
    if write {
        call.wrote = true;
        call.run.wrote.store(true, Relaxed);
    }
    let state = ctx.state();
    let proto = state.proto;
    state.proto = if resp3 { Proto::Resp3 } else { Proto::Resp2 };
    state.last_cmd = spec.name;
    // A blocking command answers at once from a script (as on a
    // timeout), and what the script writes wakes the clients waiting on
    // it once the script is done.
    let may_block = std::mem::replace(&mut ctx.state().may_block, false);
    let reply = ringcache_commands::blocking::call(ctx, spec, argv, ringcache_commands::Caller::Script);
    let state = ctx.state();
    state.proto = proto;
    state.may_block = may_block;
    Ok(reply)
}

/// Reports a refusal of a script's command to the node and gives its
/// error text (`CODE message`).
#[cold]
fn refuse<E: ScriptHost>(ctx: &mut Ctx<'_, E>, spec: Option<&'static CommandSpec<E>>, text: &str) -> Vec<u8> {
    let text = error_text(text.as_bytes());
    ctx.shared.command_refused(ctx.client, spec, &Reply::error_bytes(text.clone()));
    text
}

/// Redis's checks of a command a script calls (`scriptCall`), taking the
/// shards of the keys it names: `Err` with the refusal's text.
fn check<E: ScriptHost>(
    ctx: &mut Ctx<'_, E>,
    call: &mut Call<'_>,
    spec: &'static CommandSpec<E>,
    argv: &[&[u8]],
) -> Result<(), String> {
    let shared = ctx.shared;
    if !spec.arity_ok(argv.len()) {
        return Err("Wrong number of args calling Redis command from script".to_owned());
    }
    if spec.has(flag::NOSCRIPT) {
        return Err("This Redis command is not allowed from script".to_owned());
    }
    let write = spec.has(flag::WRITE);
    // Redis counts its "may-replicate" commands as writes here, so that a
    // read-only script never needs to wait for CLIENT PAUSE WRITE.
    if call.mode.read_only && (write || ringcache_commands::may_replicate(spec.name)) {
        return Err("Write commands are not allowed from read-only scripts.".to_owned());
    }
    let allow_oom = call.mode.flags & sflag::ALLOW_OOM != 0 && call.mode.flags & sflag::EVAL_COMPAT == 0;
    if !allow_oom && !call.wrote && spec.has(flag::DENYOOM) && shared.db().ensure_memory(ctx.now_ms).is_err() {
        return Err(format!("-{}", CmdError::Oom));
    }
    match spec.keys {
        Keys::None => {}
        Keys::All if ctx.db.holds_all() => {}
        Keys::All if ctx.db.holds_none() && !write => {}
        Keys::All if ctx.db.holds_none() => {
            ctx.db = shared.db().lock_all();
            call.run.held_all.store(true, Relaxed);
        }
        Keys::All => {
            return Err("This command spans the keyspace: not allowed from a script that holds keys".to_owned());
        }
        keys => {
            for key in keys.of(argv) {
                let slot = ringcache_ring::slot(key);
                if shared.in_cluster() {
                    if !shared.slot_is_local(slot) {
                        return Err("Script attempted to access a non local key in a cluster node".to_owned());
                    }
                    let cross = call.mode.flags & (sflag::ALLOW_CROSS_SLOT | sflag::EVAL_COMPAT) != 0;
                    match call.slot {
                        None => call.slot = Some(slot),
                        Some(s) if s != slot && !cross => {
                            return Err("Script attempted to access keys that do not hash to the same slot".to_owned());
                        }
                        Some(_) => {}
                    }
                }
                if !take_shard(ctx, call.run, key) {
                    return Err("Script attempted to access a key it did not declare, whose shard another command holds: declare it among the script's keys".to_owned());
                }
            }
        }
    }
    Ok(())
}

/// Holds `key`'s shard for the rest of the run: already held, or free
/// within [`UNDECLARED_WAIT`] (never waiting on a lock while holding
/// others).
fn take_shard<E: ScriptHost>(ctx: &mut Ctx<'_, E>, run: &RunState, key: &[u8]) -> bool {
    if ctx.db.holds_key(key) {
        return true;
    }
    let shard = ctx.shared.db().shard_index(key);
    // Published first, so that other connections wait for it instead of
    // taking it meanwhile.
    run.hold(shard);
    let deadline = Instant::now() + UNDECLARED_WAIT;
    loop {
        if ctx.db.try_lock_key(key) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
}
