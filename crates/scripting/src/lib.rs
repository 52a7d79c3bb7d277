//! Lua scripting as Redis 7.2 runs it: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO,
//! SCRIPT, FUNCTION, FCALL and FCALL_RO, over the command layer.
//!
//! One Lua 5.1 state per node ([`Scripting`]), behind a mutex: scripts
//! run one at a time, as in Redis. A script runs inside its command's
//! dispatch, holding the shards of the keys it declared (`numkeys`) for
//! its whole run, so no other command sees or changes them half-way; a
//! key it did not declare is taken only if its shard is free at once
//! (never waiting while holding others, which could deadlock), and
//! refused otherwise. `redis.call` runs the node's own command table with
//! Redis's rules for scripts; every write lands in the caller's journal,
//! so a script replicates as its effects, all in one unit.
//!
//! While a script runs, other connections ask the [gate](Scripting::admit)
//! before each command: one that needs what the script holds waits (with
//! no lock and no thread held), and once the script has run past
//! `busy-reply-threshold` every command but the `allow-busy` ones is
//! answered `-BUSY`, until SCRIPT KILL (or FUNCTION KILL) stops a script
//! that has not written. docs/scripting.md has the whole design.
//!
//! Invariants: the engine mutex is only taken inside a script command's
//! handler, and the gate makes every other script command wait while a
//! script runs; a script never waits for a shard lock while it holds one.

mod commands;
mod convert;
mod engine;
mod functions;
mod libs;
mod run;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use ringcache_commands::{flag, CommandSpec, Env, Keys};
use ringcache_store::Db;

pub use commands::{commands, subcommands_of};
use engine::Engine;

/// What scripting needs from the node beyond the command layer's [`Env`].
pub trait ScriptHost: Env {
    /// The node's Lua state and the state of the script running now.
    fn scripting(&self) -> &Scripting;

    /// Whether the keys of `slot` are served here: always on a standalone
    /// node; in a cluster, on the slot's coordinator only.
    fn slot_is_local(&self, slot: u16) -> bool;

    /// Whether the node is a cluster member (a script's keys must then
    /// share one slot).
    fn in_cluster(&self) -> bool;

    /// Runs `f`, which may take as long as a script does, without holding
    /// up the other connections served by this thread (the server hands
    /// its async worker over meanwhile).
    fn run_blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// `SHARDS_MAX` shard indices fit the gate's bitmap (the store has at most
/// one shard per slot).
const SHARDS_MAX: usize = 16384;

/// The node's scripting: the Lua state, and what other connections may
/// read of the script running now.
pub struct Scripting {
    engine: Mutex<Engine>,
    run: Arc<RunState>,
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripting").field("running", &self.run.running.load(Relaxed)).finish_non_exhaustive()
    }
}

/// The running script, as seen from other connections (all atomics, so
/// reading it never waits for the script).
struct RunState {
    running: AtomicBool,
    /// The run is EVAL (else FCALL): which KILL stops it, which BUSY text.
    eval: AtomicBool,
    killed: AtomicBool,
    /// It has run a write command: SCRIPT KILL cannot stop it any more.
    wrote: AtomicBool,
    /// Microseconds since `epoch` when the run started.
    started_us: AtomicU64,
    epoch: Instant,
    /// `busy-reply-threshold` in milliseconds (0: never busy).
    threshold_ms: AtomicU64,
    /// The shards the script holds (bit per shard index), and whether it
    /// holds them all.
    held: Box<[AtomicU64]>,
    held_all: AtomicBool,
    /// Name and command of the running script or function (FUNCTION STATS).
    current: Mutex<(String, Vec<Vec<u8>>)>,
    libraries: AtomicUsize,
    functions: AtomicUsize,
    /// While FUNCTION LOAD runs a library's code: when it must stop.
    load_deadline_us: AtomicU64,
}

/// The gate's answer for one command while a script may be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Run,
    /// Answer this error (`BUSY ...`) instead.
    Busy(&'static str),
    /// It needs what the running script holds: try again shortly.
    Wait,
}

pub const BUSY_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}

impl Scripting {
    pub fn new() -> Scripting {
        let run = Arc::new(RunState {
            running: AtomicBool::new(false),
            eval: AtomicBool::new(true),
            killed: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            started_us: AtomicU64::new(0),
            epoch: Instant::now(),
            threshold_ms: AtomicU64::new(5000),
            held: (0..SHARDS_MAX / 64).map(|_| AtomicU64::new(0)).collect(),
            held_all: AtomicBool::new(false),
            current: Mutex::new((String::new(), Vec::new())),
            libraries: AtomicUsize::new(0),
            functions: AtomicUsize::new(0),
            load_deadline_us: AtomicU64::new(0),
        });
        let engine = Engine::new(run.clone()).expect("the Lua state and its libraries load");
        Scripting { engine: Mutex::new(engine), run }
    }

    /// Sets `busy-reply-threshold` (alias `lua-time-limit`), in ms.
    pub fn set_busy_threshold_ms(&self, ms: u64) {
        self.run.threshold_ms.store(ms, Relaxed);
    }

    /// Bytes the Lua state uses (INFO `used_memory_lua`). Waits for a
    /// running script.
    pub fn lua_memory(&self) -> usize {
        self.engine.lock().memory()
    }

    /// Scripts in the cache (INFO `number_of_cached_scripts`).
    pub fn cached_scripts(&self) -> usize {
        self.engine.lock().scripts.len()
    }

    /// Whether a script is running now.
    pub fn is_running(&self) -> bool {
        self.run.running.load(Relaxed)
    }

    /// Whether the running script has passed the busy threshold.
    pub fn is_busy(&self) -> bool {
        self.run.is_busy()
    }

    /// Decides whether another connection's command may run now. One
    /// relaxed load when no script runs.
    pub fn admit<E: Env>(&self, db: &Db, spec: Option<&CommandSpec<E>>, args: &[&[u8]]) -> Admit {
        if !self.run.running.load(Relaxed) {
            return Admit::Run;
        }
        // An unknown command fails the same way at any time.
        let Some(spec) = spec else { return Admit::Run };
        if spec.has(flag::ALLOW_BUSY) && !is_script_command(spec.name, args) {
            return Admit::Run;
        }
        if self.run.is_busy() {
            return Admit::Busy(if self.run.eval.load(Relaxed) { BUSY_EVAL } else { BUSY_FUNCTION });
        }
        if spec.has(flag::ALLOW_BUSY) {
            return Admit::Run;
        }
        let conflict = match spec.keys {
            _ if is_script_command(spec.name, args) => true,
            Keys::All => true,
            _ if self.run.held_all.load(Relaxed) => spec.keys != Keys::None,
            keys => keys.of(args).any(|k| self.run.holds(db.shard_index(k))),
        };
        if conflict {
            Admit::Wait
        } else {
            Admit::Run
        }
    }
}

impl Scripting {
    /// Whether a script command may write, as CLIENT PAUSE WRITE decides
    /// which scripts wait (Redis's "may-replicate"): the `_RO` forms
    /// never; a script or function flagged `no-writes` never; any other
    /// may. A script or function that cannot be looked up without waiting
    /// for a running script counts as one that may write (it waits for the
    /// pause, as it would for that script).
    pub fn may_write(&self, name: &str, args: &[&[u8]]) -> bool {
        let no_writes = |flags: u32| flags & engine::sflag::NO_WRITES != 0;
        match (name, args.get(1)) {
            ("eval_ro" | "evalsha_ro" | "fcall_ro", _) => false,
            ("eval", Some(body)) => !engine::parse_shebang(body).is_ok_and(|(flags, _)| no_writes(flags)),
            ("evalsha", Some(sha)) => self.engine.try_lock().is_none_or(|engine| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                engine.scripts.get(&sha).is_none_or(|s| !no_writes(s.flags))
            }),
            ("fcall", Some(function)) => self.engine.try_lock().is_none_or(|engine| {
                let function = String::from_utf8_lossy(function).to_ascii_lowercase();
                engine.libraries.functions.get(&function).is_none_or(|f| !no_writes(f.flags))
            }),
            _ => true,
        }
    }
}

/// Whether a command runs a script (EVAL and FCALL, read-only or not):
/// the server runs those off its connection threads.
pub fn runs_script(name: &str) -> bool {
    matches!(name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro")
}

/// Whether a command needs the Lua state (waits for a running script).
/// FUNCTION STATS and the KILLs do not.
fn is_script_command(name: &str, args: &[&[u8]]) -> bool {
    match name {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => true,
        "script" | "function" => !args.get(1).is_some_and(|s| {
            s.eq_ignore_ascii_case(b"kill") || s.eq_ignore_ascii_case(b"stats") || s.eq_ignore_ascii_case(b"help")
        }),
        _ => false,
    }
}

impl RunState {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn elapsed_ms(&self) -> u64 {
        self.now_us().saturating_sub(self.started_us.load(Relaxed)) / 1000
    }

    fn is_busy(&self) -> bool {
        let threshold = self.threshold_ms.load(Relaxed);
        self.running.load(Relaxed) && threshold > 0 && self.elapsed_ms() >= threshold
    }

    fn holds(&self, shard: usize) -> bool {
        shard < SHARDS_MAX && self.held[shard / 64].load(Relaxed) & (1 << (shard % 64)) != 0
    }

    fn hold(&self, shard: usize) {
        if shard < SHARDS_MAX {
            self.held[shard / 64].fetch_or(1 << (shard % 64), Relaxed);
        }
    }

    /// Marks a run as started. Its shards are published before it runs
    /// anything, so that other connections wait rather than block.
    fn begin(&self, eval: bool, name: &str, command: &[&[u8]], shards: impl Iterator<Item = usize>) {
        for s in shards {
            self.hold(s);
        }
        *self.current.lock() = (name.to_owned(), command.iter().map(|a| a.to_vec()).collect());
        self.eval.store(eval, Relaxed);
        self.killed.store(false, Relaxed);
        self.wrote.store(false, Relaxed);
        self.started_us.store(self.now_us(), Relaxed);
        self.running.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn end(&self) {
        self.running.store(false, std::sync::atomic::Ordering::SeqCst);
        self.held_all.store(false, Relaxed);
        for w in self.held.iter() {
            if w.load(Relaxed) != 0 {
                w.store(0, Relaxed);
            }
        }
        self.killed.store(false, Relaxed);
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL.
    fn kill(&self, eval: bool) -> Result<(), &'static str> {
        if !self.running.load(Relaxed) {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        if self.wrote.load(Relaxed) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        match (eval, self.eval.load(Relaxed)) {
            (true, false) => Err(BUSY_FUNCTION),
            (false, true) => Err(BUSY_EVAL),
            _ => {
                self.killed.store(true, Relaxed);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
