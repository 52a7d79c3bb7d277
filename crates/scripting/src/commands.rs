//! The scripting commands: parse, run through the engine, reply.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use ringcache_commands::args::{is, parse_i64};
use ringcache_commands::{flag, printable, CmdError, CmdResult, CommandSpec, Ctx, Keys, SubSpec};
use ringcache_resp::Reply;
use ringcache_store::glob_match;

use crate::engine::{sflag, Engine};
use crate::functions::{self, Restore};
use crate::run::Mode;
use crate::ScriptHost;

const HELP_SUMMARY: &str = "Returns helpful text about the different subcommands.";

/// SCRIPT's subcommands that ringcache has, Redis 7.2's
/// (`src/commands/script-*.json`; not DEBUG: no Lua debugger here).
const SCRIPT_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "script|exists",
        arity: -3,
        flags: flag::NOSCRIPT,
        summary: "Determines whether server-side Lua scripts exist in the script cache.",
    },
    SubSpec {
        name: "script|flush",
        arity: -2,
        flags: flag::NOSCRIPT,
        summary: "Removes all server-side Lua scripts from the script cache.",
    },
    SubSpec { name: "script|help", arity: 2, flags: flag::LOADING | flag::STALE, summary: HELP_SUMMARY },
    SubSpec {
        name: "script|kill",
        arity: 2,
        flags: flag::NOSCRIPT | flag::ALLOW_BUSY,
        summary: "Terminates a server-side Lua script during execution.",
    },
    SubSpec {
        name: "script|load",
        arity: 3,
        flags: flag::NOSCRIPT | flag::STALE,
        summary: "Loads a server-side Lua script to the script cache.",
    },
];

/// FUNCTION's subcommands, Redis 7.2's (`src/commands/function-*.json`).
const FUNCTION_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "function|delete",
        arity: 3,
        flags: flag::NOSCRIPT | flag::WRITE,
        summary: "Deletes a library and its functions.",
    },
    SubSpec {
        name: "function|dump",
        arity: 2,
        flags: flag::NOSCRIPT,
        summary: "Dumps all libraries into a serialized binary payload.",
    },
    SubSpec {
        name: "function|flush",
        arity: -2,
        flags: flag::NOSCRIPT | flag::WRITE,
        summary: "Deletes all libraries and functions.",
    },
    SubSpec { name: "function|help", arity: 2, flags: flag::LOADING | flag::STALE, summary: HELP_SUMMARY },
    SubSpec {
        name: "function|kill",
        arity: 2,
        flags: flag::NOSCRIPT | flag::ALLOW_BUSY,
        summary: "Terminates a function during execution.",
    },
    SubSpec {
        name: "function|list",
        arity: -2,
        flags: flag::NOSCRIPT,
        summary: "Returns information about all libraries.",
    },
    SubSpec {
        name: "function|load",
        arity: -3,
        flags: flag::NOSCRIPT | flag::WRITE | flag::DENYOOM,
        summary: "Creates a library.",
    },
    SubSpec {
        name: "function|restore",
        arity: -3,
        flags: flag::NOSCRIPT | flag::WRITE | flag::DENYOOM,
        summary: "Restores all libraries from a payload.",
    },
    SubSpec {
        name: "function|stats",
        arity: 2,
        flags: flag::NOSCRIPT | flag::ALLOW_BUSY,
        summary: "Returns information about a function during execution.",
    },
];

/// The subcommands of SCRIPT and FUNCTION; empty for any other command.
pub fn subcommands_of(name: &str) -> &'static [SubSpec] {
    match name {
        "script" => SCRIPT_SUBCOMMANDS,
        "function" => FUNCTION_SUBCOMMANDS,
        _ => &[],
    }
}

pub fn commands<E: ScriptHost>() -> Vec<CommandSpec<E>> {
    let script = |name, flags, summary, handler| CommandSpec {
        name,
        arity: -3,
        flags: flags | flag::NOSCRIPT | flag::STALE,
        keys: Keys::Counted { at: 2 },
        group: "scripting",
        summary,
        handler,
    };
    vec![
        script("eval", 0, "Executes a server-side Lua script.", eval::<E>),
        script("evalsha", 0, "Executes a server-side Lua script by SHA1 digest.", evalsha::<E>),
        script("eval_ro", flag::READONLY, "Executes a read-only server-side Lua script.", eval_ro::<E>),
        script(
            "evalsha_ro",
            flag::READONLY,
            "Executes a read-only server-side Lua script by SHA1 digest.",
            evalsha_ro::<E>,
        ),
        script("fcall", 0, "Invokes a function.", fcall::<E>),
        script("fcall_ro", flag::READONLY, "Invokes a read-only function.", fcall_ro::<E>),
        CommandSpec {
            name: "script",
            arity: -2,
            flags: flag::NOSCRIPT | flag::ALLOW_BUSY,
            keys: Keys::None,
            group: "scripting",
            summary: "A container for Lua scripts management commands.",
            handler: script_cmd::<E>,
        },
        CommandSpec {
            name: "function",
            arity: -2,
            flags: flag::NOSCRIPT | flag::ALLOW_BUSY,
            keys: Keys::None,
            group: "scripting",
            summary: "A container for function commands.",
            handler: function_cmd::<E>,
        },
    ]
}

fn err(text: impl Into<String>) -> CmdError {
    CmdError::other(text)
}

/// `numkeys` of EVAL / FCALL, checked against the arguments.
fn numkeys(args: &[&[u8]], bad: &str) -> Result<usize, CmdError> {
    let Some(n) = parse_i64(args[2]) else { return Err(err(bad)) };
    if n > (args.len() - 3) as i64 {
        return Err(err("ERR Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(err("ERR Number of keys can't be negative"));
    }
    Ok(n as usize)
}

fn eval<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, false, false)
}

fn evalsha<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, true, false)
}

fn eval_ro<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, false, true)
}

fn evalsha_ro<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, true, true)
}

pub(crate) const NOSCRIPT_TEXT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// Redis's scriptPrepareForRun checks of a script's flags.
fn prepare<E: ScriptHost>(ctx: &Ctx<'_, E>, flags: u32, ro: bool) -> Result<Mode, CmdError> {
    let compat = flags & sflag::EVAL_COMPAT != 0;
    if !compat {
        if flags & sflag::NO_CLUSTER != 0 && ctx.shared.in_cluster() {
            return Err(err("ERR Can not run script on cluster, 'no-cluster' flag is set."));
        }
        if flags & sflag::NO_WRITES == 0 {
            if ro {
                return Err(err("ERR Can not execute a script with write flag using *_ro command."));
            }
            if flags & sflag::ALLOW_OOM == 0 && ctx.shared.db().ensure_memory(ctx.now_ms).is_err() {
                return Err(err(
                    "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
                ));
            }
        }
    }
    Ok(Mode { eval: true, read_only: ro || (!compat && flags & sflag::NO_WRITES != 0), flags })
}

fn eval_generic<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], by_sha: bool, ro: bool) -> CmdResult {
    let n = numkeys(args, "ERR value is not an integer or out of range")?;
    let (keys, argv) = args[3..].split_at(n);
    let scripting = ctx.shared.scripting();
    let mut engine = scripting.engine.lock();
    let sha = if by_sha {
        if args[1].len() != 40 {
            return Err(err(NOSCRIPT_TEXT));
        }
        String::from_utf8_lossy(args[1]).to_ascii_lowercase()
    } else {
        engine.load_script(args[1]).map_err(err)?
    };
    let Some(script) = engine.scripts.get(&sha) else {
        return Err(err(NOSCRIPT_TEXT));
    };
    let (func, flags) = (script.func.clone(), script.flags);
    let mode = prepare(ctx, flags, ro)?;
    engine.set_keys_argv(keys, argv).map_err(|e| err(format!("ERR {e}")))?;
    Ok(run_script(ctx, &mut engine, func, mode, &sha, args, keys))
}

/// Runs a prepared script with the gate told what it holds.
fn run_script<E: ScriptHost>(
    ctx: &mut Ctx<'_, E>,
    engine: &mut Engine,
    func: mlua::Function,
    mode: Mode,
    name: &str,
    args: &[&[u8]],
    keys: &[&[u8]],
) -> Reply {
    let shared = ctx.shared;
    let run = &*shared.scripting().run;
    let db = shared.db();
    run.begin(mode.eval, name, args, keys.iter().map(|k| db.shard_index(k)));
    let reply = shared.run_blocking(|| engine.run(ctx, run, &func, mode, name, keys));
    run.end();
    reply
}

fn fcall<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, args, false)
}

fn fcall_ro<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, args, true)
}

fn fcall_generic<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], ro: bool) -> CmdResult {
    let scripting = ctx.shared.scripting();
    let mut engine = scripting.engine.lock();
    let name = String::from_utf8_lossy(args[1]).into_owned();
    let Some(info) = engine.libraries.functions.get(&name.to_ascii_lowercase()) else {
        return Err(err("ERR Function not found"));
    };
    let (callback, flags) = (info.func.clone(), info.flags);
    let n = numkeys(args, "ERR Bad number of keys provided")?;
    let (keys, argv) = args[3..].split_at(n);
    let mut mode = prepare(ctx, flags, ro)?;
    mode.eval = false;
    let wrapped = (|| {
        let k = engine.array(keys)?;
        let a = engine.array(argv)?;
        engine.wrap.call::<mlua::Function>((callback, k, a))
    })()
    .map_err(|e| err(format!("ERR {e}")))?;
    Ok(run_script(ctx, &mut engine, wrapped, mode, &name, args, keys))
}

fn unknown_subcommand(args: &[&[u8]]) -> CmdError {
    err(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        printable(args[1], 128),
        String::from_utf8_lossy(args[0]).to_ascii_uppercase()
    ))
}

fn help(args: &[&[u8]], lines: &[&'static str]) -> Reply {
    let cmd = String::from_utf8_lossy(args[0]).to_ascii_uppercase();
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Simple(Bytes::from(format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))));
    out.extend(lines.iter().map(|l| Reply::simple(l)));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Prints this help."));
    Reply::Array(out)
}

/// Checks a subcommand's arity (Redis's: N exact, -N at least), with
/// Redis's text for a container's subcommand.
fn arity(args: &[&[u8]], name: &str, arity: i32) -> Result<(), CmdError> {
    let n = args.len() as i32;
    if (arity >= 0 && n != arity) || (arity < 0 && n < -arity) {
        let sub = name.split('|').nth(1).unwrap_or(name);
        let cmd = name.split('|').next().unwrap_or(name).to_ascii_uppercase();
        return Err(err(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP.")));
    }
    Ok(())
}

fn flush_mode(args: &[&[u8]], text: &str) -> Result<(), CmdError> {
    match args.get(2) {
        None => Ok(()),
        Some(a) if args.len() == 3 && (is(a, "sync") || is(a, "async")) => Ok(()),
        Some(_) => Err(err(text)),
    }
}

fn script_cmd<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let scripting = ctx.shared.scripting();
    let sub = args[1];
    if is(sub, "help") {
        arity(args, "script|help", 2)?;
        return Ok(help(
            args,
            &[
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
            ],
        ));
    }
    if is(sub, "kill") {
        arity(args, "script|kill", 2)?;
        return scripting.run.kill(true).map(|()| Reply::ok()).map_err(err);
    }
    if is(sub, "load") {
        arity(args, "script|load", 3)?;
        let sha = scripting.engine.lock().load_script(args[2]).map_err(err)?;
        return Ok(Reply::bulk(Bytes::from(sha)));
    }
    if is(sub, "exists") {
        arity(args, "script|exists", -3)?;
        let engine = scripting.engine.lock();
        let found = args[2..]
            .iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Integer(i64::from(engine.scripts.contains_key(&sha)))
            })
            .collect();
        return Ok(Reply::Array(found));
    }
    if is(sub, "flush") {
        arity(args, "script|flush", -2)?;
        flush_mode(args, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
        scripting.engine.lock().flush_scripts();
        return Ok(Reply::ok());
    }
    Err(unknown_subcommand(args))
}

fn function_cmd<E: ScriptHost>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let scripting = ctx.shared.scripting();
    let run = &*scripting.run;
    let sub = args[1];
    let publish = |engine: &Engine| {
        let (l, f) = engine.counts();
        run.libraries.store(l, Relaxed);
        run.functions.store(f, Relaxed);
    };
    // FUNCTION LOAD and RESTORE add code: refused over maxmemory, as
    // Redis's denyoom subcommands are (the container itself is not).
    if (is(sub, "load") || is(sub, "restore")) && ctx.shared.db().ensure_memory(ctx.now_ms).is_err() {
        return Err(CmdError::Oom);
    }
    if is(sub, "help") {
        arity(args, "function|help", 2)?;
        return Ok(help(
            args,
            &[
                "LOAD [REPLACE] <FUNCTION CODE>",
                "    Create a new library with the given library name and code.",
                "DELETE <LIBRARY NAME>",
                "    Delete the given library.",
                "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                "    Return general information on all the libraries:",
                "    * Library name",
                "    * The engine used to run the Library",
                "    * Library description",
                "    * Functions list",
                "    * Library code (if WITHCODE is given)",
                "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                "STATS",
                "    Return information about the current function running:",
                "    * Function name",
                "    * Command used to run the function",
                "    * Duration in MS that the function is running",
                "    If no function is running, return nil",
                "    In addition, returns a list of available engines.",
                "KILL",
                "    Kill the current running function.",
                "FLUSH [ASYNC|SYNC]",
                "    Delete all the libraries.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the libraries.",
                "    * SYNC: Synchronously flush the libraries.",
                "DUMP",
                "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                "    control how to handle existing libraries (default APPEND):",
                "    * FLUSH: delete all existing libraries.",
                "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                "      in case of functions name collision with another library).",
            ],
        ));
    }
    if is(sub, "kill") {
        arity(args, "function|kill", 2)?;
        return run.kill(false).map(|()| Reply::ok()).map_err(err);
    }
    if is(sub, "stats") {
        arity(args, "function|stats", 2)?;
        return Ok(function_stats(run));
    }
    if is(sub, "load") {
        arity(args, "function|load", -3)?;
        let mut replace = false;
        for a in &args[2..args.len() - 1] {
            if is(a, "replace") {
                replace = true;
            } else {
                return Err(err(format!("ERR Unknown option given: {}", String::from_utf8_lossy(a))));
            }
        }
        let mut engine = scripting.engine.lock();
        let name = engine.load_library(run, args[args.len() - 1], replace).map_err(err)?;
        publish(&engine);
        return Ok(Reply::bulk(Bytes::from(name)));
    }
    if is(sub, "delete") {
        arity(args, "function|delete", 3)?;
        let mut engine = scripting.engine.lock();
        if !engine.delete_library(&String::from_utf8_lossy(args[2])) {
            return Err(err("ERR Library not found"));
        }
        publish(&engine);
        return Ok(Reply::ok());
    }
    if is(sub, "flush") {
        arity(args, "function|flush", -2)?;
        if args.len() > 3 {
            return Err(err("ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP."));
        }
        flush_mode(args, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
        let mut engine = scripting.engine.lock();
        engine.flush_libraries();
        publish(&engine);
        return Ok(Reply::ok());
    }
    if is(sub, "list") {
        arity(args, "function|list", -2)?;
        return function_list(&scripting.engine.lock(), args);
    }
    if is(sub, "dump") {
        arity(args, "function|dump", 2)?;
        return Ok(Reply::bulk(functions::dump(&scripting.engine.lock().libraries.libs)));
    }
    if is(sub, "restore") {
        arity(args, "function|restore", -3)?;
        if args.len() > 4 {
            return Err(err("ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP."));
        }
        let policy = match args.get(3) {
            None => Restore::Append,
            Some(p) if args.len() == 4 && is(p, "append") => Restore::Append,
            Some(p) if args.len() == 4 && is(p, "replace") => Restore::Replace,
            Some(p) if args.len() == 4 && is(p, "flush") => Restore::Flush,
            Some(_) => {
                return Err(err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."))
            }
        };
        let Some(codes) = functions::undump(args[2]) else {
            return Err(err("ERR DUMP payload version or checksum are wrong"));
        };
        let mut engine = scripting.engine.lock();
        let outcome = engine.restore_libraries(run, codes, policy);
        publish(&engine);
        outcome.map_err(err)?;
        return Ok(Reply::ok());
    }
    Err(unknown_subcommand(args))
}

fn function_list(engine: &Engine, args: &[&[u8]]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if !with_code && is(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(a, "libraryname") {
            i += 1;
            let Some(p) = args.get(i) else {
                return Err(err("ERR library name argument was not given"));
            };
            pattern = Some(p);
        } else {
            return Err(err(format!("ERR Unknown argument {}", String::from_utf8_lossy(a))));
        }
        i += 1;
    }
    let kv = |k: &'static str, v: Reply| (Reply::bulk(Bytes::from_static(k.as_bytes())), v);
    let mut out = Vec::new();
    for (name, lib) in &engine.libraries.libs {
        if pattern.is_some_and(|p| !glob_match(p, name.as_bytes())) {
            continue;
        }
        let funcs = lib
            .functions
            .iter()
            .filter_map(|f| engine.libraries.functions.get(&f.to_ascii_lowercase()).map(|info| (f, info)))
            .map(|(f, info)| {
                let flags = sflag::NAMES
                    .iter()
                    .filter(|(bit, _)| info.flags & bit != 0)
                    .map(|(_, n)| Reply::bulk(Bytes::from_static(n.as_bytes())))
                    .collect();
                Reply::Map(vec![
                    kv("name", Reply::bulk(Bytes::from(f.clone()))),
                    kv("description", info.description.clone().map_or(Reply::Null, |d| Reply::bulk(Bytes::from(d)))),
                    kv("flags", Reply::Set(flags)),
                ])
            })
            .collect();
        let mut entry = vec![
            kv("library_name", Reply::bulk(Bytes::from(name.clone()))),
            kv("engine", Reply::bulk(Bytes::from_static(b"LUA"))),
            kv("functions", Reply::Array(funcs)),
        ];
        if with_code {
            entry.push(kv("library_code", Reply::bulk(lib.code.clone())));
        }
        out.push(Reply::Map(entry));
    }
    Ok(Reply::Array(out))
}

fn function_stats(run: &crate::RunState) -> Reply {
    let kv = |k: &'static str, v: Reply| (Reply::bulk(Bytes::from_static(k.as_bytes())), v);
    let running = if run.running.load(Relaxed) && !run.eval.load(Relaxed) {
        let (name, command) = run.current.lock().clone();
        Reply::Map(vec![
            kv("name", Reply::bulk(Bytes::from(name))),
            kv("command", Reply::Array(command.into_iter().map(|a| Reply::bulk(Bytes::from(a))).collect())),
            kv("duration_ms", Reply::Integer(run.elapsed_ms() as i64)),
        ])
    } else {
        Reply::Null
    };
    let lua = Reply::Map(vec![
        kv("libraries_count", Reply::Integer(run.libraries.load(Relaxed) as i64)),
        kv("functions_count", Reply::Integer(run.functions.load(Relaxed) as i64)),
    ]);
    Reply::Map(vec![kv("running_script", running), kv("engines", Reply::Map(vec![kv("LUA", lua)]))])
}
