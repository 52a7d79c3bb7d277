//! MODULE: ringcache loads no Redis modules (they are shared objects
//! written against Redis's C API), so the list is always empty and a
//! load fails as it does on a Redis whose module does not load.

use ringcache_resp::Reply;

use super::server::{help_reply, run_subcommand, SubCommand};
use super::{flag, CmdError, CmdResult, CommandSpec, Ctx, Keys};

pub(super) const COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "module",
    arity: -2,
    flags: 0,
    keys: Keys::None,
    group: "server",
    summary: "A container for module commands.",
    handler: module,
}];

const ADMIN: u32 = flag::ADMIN | flag::NOSCRIPT;

pub(super) const MODULE_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "module|list",
        arity: 2,
        flags: ADMIN,
        summary: "Returns all loaded modules.",
        handler: module_list,
    },
    SubCommand { name: "module|load", arity: -3, flags: ADMIN, summary: "Loads a module.", handler: module_load },
    SubCommand {
        name: "module|loadex",
        arity: -3,
        flags: ADMIN,
        summary: "Loads a module using extended parameters.",
        handler: module_load,
    },
    SubCommand { name: "module|unload", arity: 3, flags: ADMIN, summary: "Unloads a module.", handler: module_unload },
    SubCommand {
        name: "module|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
        handler: module_help,
    },
];

fn module(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, args, MODULE_SUBCOMMANDS)
}

fn module_list(_ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Array(Vec::new()))
}

/// Redis's reply when a module fails to load; the log says why.
fn module_load(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    tracing::warn!(path = %String::from_utf8_lossy(args[2]), "MODULE LOAD refused: ringcache does not load Redis modules");
    Err(CmdError::other("ERR Error loading the extension. Please check the server logs."))
}

fn module_unload(_ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR Error unloading module: no such module with that name"))
}

fn module_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args,
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    ))
}
