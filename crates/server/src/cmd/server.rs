//! Server commands: COMMAND, INFO, DBSIZE, FLUSHDB, FLUSHALL, CONFIG, TIME,
//! SHUTDOWN; and the subcommand machinery that CLIENT, CONFIG and COMMAND
//! share.
//!
//! A container command (CLIENT, CONFIG, COMMAND) has a table of
//! [`SubCommand`]s with their own arity, flags and summary, so that the
//! errors (`'config|set'`), `CLIENT LIST`'s `cmd=` field and COMMAND
//! INFO/DOCS all name subcommands the way Redis 7 does.
//!
//! What COMMAND reports that the command table does not hold is derived, and
//! approximate where Redis keeps hand-written metadata: ACL categories come
//! from the flags and the group (plus a few explicit ones below), key-spec
//! flags from write/readonly, and `since` from a table of Redis's own
//! versions (omitted for commands Redis does not have, as Redis omits it for
//! module commands).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::{glob_match, Stats};

use super::args::is;
use super::{
    all_commands, cluster, connection, flag, lookup, printable, CmdError, CmdResult, CommandSpec, Ctx, Handler, Keys,
};
use crate::config::{Config, ConfigError, Setting};
use ringcache_commands::SubSpec;

/// A subcommand of a container command (`CLIENT LIST`, `CONFIG GET`, ...).
pub(super) struct SubCommand {
    /// Full lowercase name, `container|sub`, as Redis 7 names it.
    pub name: &'static str,
    /// Redis arity, counting the container and the subcommand.
    pub arity: i32,
    pub flags: u32,
    pub summary: &'static str,
    pub handler: Handler,
}

impl SubCommand {
    /// The part after `|`.
    fn short(&self) -> &'static str {
        self.name.split_once('|').map_or(self.name, |(_, s)| s)
    }

    fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// Runs the subcommand of `table` that `args[1]` names, with Redis's errors
/// for an unknown subcommand and a wrong number of arguments.
pub(super) fn run_subcommand(ctx: &mut Ctx<'_>, args: &[&[u8]], table: &'static [SubCommand]) -> CmdResult {
    debug_assert!(args.len() >= 2, "containers have arity -2 or check it");
    let Some(sub) = table.iter().find(|s| is(args[1], s.short())) else {
        return Err(CmdError::other(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            printable(args[1], 128),
            String::from_utf8_lossy(args[0]).to_ascii_uppercase()
        )));
    };
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::WrongArity(sub.name.to_owned()));
    }
    // CLIENT LIST shows the subcommand, as Redis 7 does (`cmd=client|list`),
    // the calling client's own line included.
    ctx.client.state.last_cmd = sub.name;
    *ctx.client.info.last_cmd.lock() = sub.name;
    (sub.handler)(ctx, args)
}

/// A container's HELP reply: Redis's header line, `lines`, then HELP itself.
pub(super) fn help_reply(args: &[&[u8]], lines: &[&'static str]) -> Reply {
    let cmd = String::from_utf8_lossy(args[0]).to_ascii_uppercase();
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Simple(Bytes::from(format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))));
    out.extend(lines.iter().map(|l| Reply::simple(l)));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Prints this help."));
    Reply::Array(out)
}

/// The subcommands of container `name` (empty for other commands).
pub(super) fn subcommands_of(name: &str) -> &'static [SubCommand] {
    match name {
        "slowlog" => super::observe::SLOWLOG_SUBCOMMANDS,
        "latency" => super::observe::LATENCY_SUBCOMMANDS,
        "client" => connection::CLIENT_SUBCOMMANDS,
        "cluster" => cluster::CLUSTER_SUBCOMMANDS,
        "pubsub" => super::pubsub::PUBSUB_SUBCOMMANDS,
        "config" => CONFIG_SUBCOMMANDS,
        "command" => COMMAND_SUBCOMMANDS,
        "module" => super::module::MODULE_SUBCOMMANDS,
        _ => &[],
    }
}

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "command",
        arity: -1,
        flags: flag::LOADING | flag::STALE,
        keys: Keys::None,
        group: "server",
        summary: "Returns detailed information about all commands.",
        handler: command,
    },
    CommandSpec {
        name: "info",
        arity: -1,
        flags: flag::LOADING | flag::STALE,
        // For the keyspace and memory figures.
        keys: Keys::All,
        group: "server",
        summary: "Returns information and statistics about the server.",
        handler: info,
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::All,
        group: "server",
        summary: "Returns the number of keys in the database.",
        handler: dbsize,
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: flag::WRITE,
        keys: Keys::All,
        group: "server",
        summary: "Remove all keys from the current database.",
        handler: flush,
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: flag::WRITE,
        keys: Keys::All,
        group: "server",
        summary: "Removes all keys from all databases.",
        handler: flush,
    },
    CommandSpec {
        name: "config",
        arity: -2,
        flags: 0,
        // CONFIG RESETSTAT resets every shard's counters.
        keys: Keys::All,
        group: "server",
        summary: "A container for server configuration commands.",
        handler: config,
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        keys: Keys::None,
        group: "server",
        summary: "Returns the server time.",
        handler: time,
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_MULTI | flag::ALLOW_BUSY,
        keys: Keys::None,
        group: "server",
        summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        handler: shutdown,
    },
];

// ---------------------------------------------------------------- COMMAND

const COMMAND_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "command|count",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns a count of commands.",
        handler: command_count,
    },
    SubCommand {
        name: "command|docs",
        arity: -2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns documentary information about one, multiple or all commands.",
        handler: command_docs,
    },
    SubCommand {
        name: "command|info",
        arity: -2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns information about one, multiple or all commands.",
        handler: command_info,
    },
    SubCommand {
        name: "command|list",
        arity: -2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns a list of command names.",
        handler: command_list,
    },
    SubCommand {
        name: "command|getkeys",
        arity: -3,
        flags: flag::LOADING | flag::STALE,
        summary: "Extracts the key names from an arbitrary command.",
        handler: super::key_specs::command_getkeys,
    },
    SubCommand {
        name: "command|getkeysandflags",
        arity: -3,
        flags: flag::LOADING | flag::STALE,
        summary: "Extracts the key names and access flags for an arbitrary command.",
        handler: super::key_specs::command_getkeysandflags,
    },
    SubCommand {
        name: "command|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
        handler: command_help,
    },
];

/// A command or subcommand, as COMMAND INFO/DOCS/LIST report them.
#[derive(Clone, Copy)]
enum Found {
    Top(&'static CommandSpec),
    Sub(&'static CommandSpec, &'static SubSpec),
}

/// The subcommands of `spec` as COMMAND reports them: every container's,
/// the command layer's and the scripting crate's included.
fn subs(spec: &'static CommandSpec) -> &'static [SubSpec] {
    super::stat_names().subcommands_at(super::TABLE.position(spec))
}

/// Looks up `name` or `container|sub`, case-insensitively.
fn find(name: &[u8]) -> Option<Found> {
    match name.iter().position(|&b| b == b'|') {
        None => lookup(name).map(Found::Top),
        Some(i) => {
            let parent = lookup(&name[..i])?;
            let sub = subs(parent).iter().find(|s| is(&name[i + 1..], s.short()))?;
            Some(Found::Sub(parent, sub))
        }
    }
}

/// Every command, sorted by name (the registry's order is a hash order).
fn sorted_commands() -> Vec<&'static CommandSpec> {
    let mut all: Vec<_> = all_commands().collect();
    all.sort_unstable_by_key(|s| s.name);
    all
}

fn command(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    if args.len() == 1 {
        return Ok(Reply::Array(sorted_commands().into_iter().map(|s| info_entry(Found::Top(s))).collect()));
    }
    run_subcommand(ctx, args, COMMAND_SUBCOMMANDS)
}

fn command_count(_ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(all_commands().count() as i64))
}

fn command_info(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 {
        return Ok(Reply::Array(sorted_commands().into_iter().map(|s| info_entry(Found::Top(s))).collect()));
    }
    Ok(Reply::Array(args[2..].iter().map(|name| find(name).map_or(Reply::Null, info_entry)).collect()))
}

fn command_docs(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let found: Vec<Found> = if args.len() == 2 {
        sorted_commands().into_iter().map(Found::Top).collect()
    } else {
        // Unknown names are left out, as Redis does.
        args[2..].iter().filter_map(|n| find(n)).collect()
    };
    Ok(Reply::Map(found.into_iter().map(|f| (Reply::bulk(full_name(f)), docs_entry(f))).collect()))
}

fn command_list(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    enum Filter {
        None,
        Module,
        AclCat(String),
        Pattern(Bytes),
    }
    let filter = match args.len() {
        2 => Filter::None,
        5 if is(args[2], "FILTERBY") => {
            let value = &args[4];
            if is(args[3], "MODULE") {
                Filter::Module
            } else if is(args[3], "ACLCAT") {
                Filter::AclCat(String::from_utf8_lossy(value).to_ascii_lowercase())
            } else if is(args[3], "PATTERN") {
                Filter::Pattern(Bytes::copy_from_slice(&value.to_ascii_lowercase()))
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let mut names = Vec::new();
    for spec in sorted_commands() {
        let entries = std::iter::once(Found::Top(spec)).chain(subs(spec).iter().map(move |sub| Found::Sub(spec, sub)));
        for f in entries {
            let keep = match &filter {
                Filter::None => true,
                // ringcache loads no modules.
                Filter::Module => false,
                Filter::AclCat(cat) => acl_categories(f).contains(&cat.as_str()),
                Filter::Pattern(p) => glob_match(p, full_name(f).as_bytes()),
            };
            if keep {
                names.push(Reply::bulk(full_name(f)));
            }
        }
    }
    Ok(Reply::Array(names))
}

fn command_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args,
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    ))
}

fn full_name(f: Found) -> &'static str {
    match f {
        Found::Top(spec) => spec.name,
        Found::Sub(_, sub) => sub.name,
    }
}

/// One COMMAND INFO entry, in Redis 7's ten-field format.
fn info_entry(f: Found) -> Reply {
    let name = full_name(f);
    let (arity, flags, keys, subs) = match f {
        Found::Top(spec) => (spec.arity, spec.flags, spec.keys, subs(spec)),
        Found::Sub(_, sub) => (sub.arity, sub.flags, Keys::None, &[][..]),
    };
    // The legacy key range and `movablekeys` as Redis derives them from
    // its key specs; a command Redis has without specs (a container, PING)
    // has no keys there, whatever ringcache routes by; ringcache's own
    // commands have theirs from their key positions.
    let redis = super::docs::is_redis(name);
    let (first, last, step, movable) = super::key_specs::legacy_range(name).unwrap_or_else(|| {
        if redis {
            (0, 0, 0, false)
        } else {
            let (first, last, step) = keys.legacy_range();
            (first, last, step, !matches!(keys, Keys::None | Keys::All | Keys::Range { .. }))
        }
    });
    // Redis's own flags for its commands (which the node's behaviour flags
    // only approximate: no `skip_monitor`, `pubsub` or `no_async_loading`
    // bits here); ours for ringcache's own.
    let mut flag_names: Vec<Reply> = match super::docs::info_flags(name) {
        Some(names) => names.iter().map(|n| Reply::simple(n)).collect(),
        None => flag::NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, name)| Reply::simple(name)).collect(),
    };
    // Redis lists `movablekeys` after every flag but `allow_busy`.
    if movable {
        let busy = flag_names.last().is_some_and(|f| matches!(f, Reply::Simple(s) if &s[..] == b"allow_busy"));
        let at = flag_names.len() - usize::from(busy);
        flag_names.insert(at, Reply::simple("movablekeys"));
    }
    let categories = acl_categories(f).into_iter().map(|c| Reply::Simple(Bytes::from(format!("@{c}")))).collect();
    // Redis replies with an empty *set* when there are no subcommands, and
    // an array otherwise.
    let subcommands = if subs.is_empty() {
        Reply::Set(Vec::new())
    } else {
        let Found::Top(parent) = f else { unreachable!("only top-level commands have subcommands") };
        Reply::Array(subs.iter().map(|s| info_entry(Found::Sub(parent, s))).collect())
    };
    Reply::Array(vec![
        Reply::bulk(full_name(f)),
        Reply::Integer(arity.into()),
        Reply::Set(flag_names),
        Reply::Integer(first),
        Reply::Integer(last),
        Reply::Integer(step),
        Reply::Set(categories),
        Reply::Set(super::docs::tips(name).iter().map(|t| Reply::bulk(*t)).collect()),
        // Redis's own key specs for its commands (none for a container);
        // ours, from the key positions, for ringcache's own.
        super::key_specs::info_reply(name).unwrap_or_else(|| {
            if redis {
                Reply::Set(Vec::new())
            } else {
                key_specs(flags, keys)
            }
        }),
        subcommands,
    ])
}

/// Redis 7 key specs: for a legacy key range, begin at an index, then a
/// range (`lastkey` relative to the first key, or negative from the end);
/// for a `numkeys` command, its fixed keys as a range, then the counted
/// keys as a `keynum` spec.
fn key_specs(flags: u32, keys: Keys) -> Reply {
    let write = flags & flag::WRITE != 0;
    let specs = match keys {
        Keys::Range { first, last, step } => {
            let lastkey = if last < 0 { last as i64 } else { last as i64 - first as i64 };
            let spec_flags: &[&str] = if write { &["RW", "access", "update"] } else { &["RO", "access"] };
            vec![key_spec(spec_flags, first, range_find(lastkey, step as i64))]
        }
        Keys::Numkeys { at } => {
            let mut specs = Vec::new();
            if at > 1 {
                // The destination of a *STORE: written over, not read.
                specs.push(key_spec(&["OW", "update"], 1, range_find(at as i64 - 2, 1)));
            }
            let spec_flags: &[&str] = match (write, at > 1) {
                (true, false) => &["RW", "access", "delete"],
                _ => &["RO", "access"],
            };
            let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
            let keynum = Reply::Map(vec![
                kv("type", Reply::bulk("keynum")),
                kv(
                    "spec",
                    Reply::Map(vec![
                        kv("keynumidx", Reply::Integer(0)),
                        kv("firstkey", Reply::Integer(1)),
                        kv("keystep", Reply::Integer(1)),
                    ]),
                ),
            ]);
            specs.push(key_spec(spec_flags, at, keynum));
            specs
        }
        Keys::Store { from } => {
            // Redis's GEORADIUS: the source, then each keyword's destination.
            let mut specs = vec![key_spec(&["RO", "access"], 1, range_find(0, 1))];
            for word in ["STORE", "STOREDIST"] {
                specs.push(keyword_key_spec(&["OW", "update"], word, from, range_find(0, 1)));
            }
            specs
        }
        Keys::Sort { store } => {
            // Redis's: the sorted key, then STORE's destination, which
            // only the arguments tell (begin_search and find_keys unknown).
            let mut specs = vec![key_spec(&["RO", "access"], 1, range_find(0, 1))];
            if store {
                let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
                let unknown = || Reply::Map(vec![kv("type", Reply::bulk("unknown")), kv("spec", Reply::Map(vec![]))]);
                specs.push(Reply::Map(vec![
                    kv("notes", Reply::bulk("For the STORE option.")),
                    kv("flags", Reply::Set(["OW", "update"].iter().map(|f| Reply::simple(f)).collect())),
                    kv("begin_search", unknown()),
                    kv("find_keys", unknown()),
                ]));
            }
            specs
        }
        Keys::Counted { at } => {
            // Scripts: what they do with their keys is unknown.
            let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
            let keynum = Reply::Map(vec![
                kv("type", Reply::bulk("keynum")),
                kv(
                    "spec",
                    Reply::Map(vec![
                        kv("keynumidx", Reply::Integer(0)),
                        kv("firstkey", Reply::Integer(1)),
                        kv("keystep", Reply::Integer(1)),
                    ]),
                ),
            ]);
            let spec_flags: &[&str] = if write { &["RW", "access", "update"] } else { &["RO", "access"] };
            vec![key_spec(spec_flags, at, keynum)]
        }
        Keys::Streams => {
            // Redis's: after the STREAMS keyword, the first half of the rest.
            let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
            let half = Reply::Map(vec![
                kv("type", Reply::bulk("range")),
                kv(
                    "spec",
                    Reply::Map(vec![
                        kv("lastkey", Reply::Integer(-1)),
                        kv("keystep", Reply::Integer(1)),
                        kv("limit", Reply::Integer(2)),
                    ]),
                ),
            ]);
            let spec_flags: &[&str] = if write { &["RW", "update"] } else { &["RO", "access"] };
            vec![keyword_key_spec(spec_flags, "STREAMS", 1, half)]
        }
        Keys::None | Keys::All => Vec::new(),
    };
    Reply::Set(specs)
}

fn range_find(lastkey: i64, keystep: i64) -> Reply {
    let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
    Reply::Map(vec![
        kv("type", Reply::bulk("range")),
        kv(
            "spec",
            Reply::Map(vec![
                kv("lastkey", Reply::Integer(lastkey)),
                kv("keystep", Reply::Integer(keystep)),
                kv("limit", Reply::Integer(0)),
            ]),
        ),
    ])
}

fn key_spec(spec_flags: &[&'static str], index: usize, find_keys: Reply) -> Reply {
    let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
    Reply::Map(vec![
        kv("flags", Reply::Set(spec_flags.iter().map(|f| Reply::simple(f)).collect())),
        kv(
            "begin_search",
            Reply::Map(vec![
                kv("type", Reply::bulk("index")),
                kv("spec", Reply::Map(vec![kv("index", Reply::Integer(index as i64))])),
            ]),
        ),
        kv("find_keys", find_keys),
    ])
}

/// A key spec whose key follows `keyword`, searched from `startfrom`.
fn keyword_key_spec(spec_flags: &[&'static str], keyword: &'static str, startfrom: usize, find_keys: Reply) -> Reply {
    let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
    Reply::Map(vec![
        kv("flags", Reply::Set(spec_flags.iter().map(|f| Reply::simple(f)).collect())),
        kv(
            "begin_search",
            Reply::Map(vec![
                kv("type", Reply::bulk("keyword")),
                kv(
                    "spec",
                    Reply::Map(vec![
                        kv("keyword", Reply::bulk(keyword)),
                        kv("startfrom", Reply::Integer(startfrom as i64)),
                    ]),
                ),
            ]),
        ),
        kv("find_keys", find_keys),
    ])
}

/// ACL categories in Redis's order (the order COMMAND INFO lists them).
const ACL_CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Categories Redis gives these commands (and their subcommands) beyond
/// what their flags and group imply.
const EXPLICIT_CATEGORIES: &[(&str, &[&str])] = &[
    ("asking", &["connection"]),
    ("command", &["connection"]),
    ("dbsize", &["keyspace"]),
    ("flushall", &["keyspace", "dangerous"]),
    ("flushdb", &["keyspace", "dangerous"]),
    ("info", &["dangerous"]),
    ("keys", &["dangerous"]),
    ("readonly", &["connection"]),
    ("readwrite", &["connection"]),
];

/// A command's ACL categories: Redis 7.2's for its commands; for
/// ringcache's own, derived as Redis's `setImplicitACLCategories` does from
/// the flags, plus the group's data-type category.
fn acl_categories(f: Found) -> Vec<&'static str> {
    if let Some(categories) = super::docs::acl_categories(full_name(f)) {
        return categories.to_vec();
    }
    let (parent, flags) = match f {
        Found::Top(spec) => (spec, spec.flags),
        Found::Sub(parent, sub) => (parent, sub.flags),
    };
    let group_cat = match parent.group {
        "generic" => Some("keyspace"),
        "sorted-set" => Some("sortedset"),
        "transactions" => Some("transaction"),
        g @ ("string" | "list" | "hash" | "set" | "bitmap" | "hyperloglog" | "geo" | "stream" | "pubsub"
        | "connection" | "scripting") => Some(g),
        _ => None,
    };
    let explicit = EXPLICIT_CATEGORIES.iter().find(|(n, _)| *n == parent.name).map_or(&[][..], |(_, c)| c);
    let has = |c: &str| -> bool {
        match c {
            "write" => flags & flag::WRITE != 0,
            "read" => flags & flag::READONLY != 0,
            "admin" => flags & flag::ADMIN != 0,
            "dangerous" => flags & flag::ADMIN != 0 || explicit.contains(&c),
            "fast" => flags & flag::FAST != 0,
            "slow" => flags & flag::FAST == 0,
            "blocking" => flags & flag::BLOCKING != 0,
            _ => group_cat == Some(c) || explicit.contains(&c),
        }
    };
    ACL_CATEGORIES.into_iter().filter(|c| has(c)).collect()
}

/// One COMMAND DOCS entry, Redis 7.2's for a command Redis has (what
/// redis-cli builds its help and hints from), and summary, since and group
/// for ringcache's own; a container's `subcommands` are the ones this node
/// has.
fn docs_entry(f: Found) -> Reply {
    let name = full_name(f);
    let mut fields = super::docs::of(name).unwrap_or_else(|| {
        let (group, summary) = match f {
            Found::Top(spec) => (spec.group, spec.summary),
            Found::Sub(parent, sub) => (parent.group, sub.summary),
        };
        let mut fields = vec![(Reply::bulk("summary"), Reply::bulk(summary))];
        if let Some(since) = since(name) {
            fields.push((Reply::bulk("since"), Reply::bulk(since)));
        }
        fields.push((Reply::bulk("group"), Reply::bulk(group)));
        fields
    });
    if let Found::Top(spec) = f {
        let subs = subs(spec);
        if !subs.is_empty() {
            let docs = subs.iter().map(|s| (Reply::bulk(s.name), docs_entry(Found::Sub(spec, s)))).collect();
            fields.push((Reply::bulk("subcommands"), Reply::Map(docs)));
        }
    }
    Reply::Map(fields)
}

/// The ringcache version that added `name`, for the commands Redis does
/// not have (whose docs are not Redis's).
fn since(name: &str) -> Option<&'static str> {
    OWN_SINCE.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// ringcache's own commands and subcommands, with their version.
const OWN_SINCE: &[(&str, &str)] = &[("cluster|leave", "0.1.0")];

// ------------------------------------------------------------------- INFO

/// INFO's sections, in the order Redis prints them.
const INFO_SECTIONS: [&str; 13] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// The sections INFO leaves out unless asked for by name, `all` or
/// `everything` (as Redis does: they are long).
fn not_default(section: &str) -> bool {
    matches!(section, "commandstats" | "latencystats")
}

fn info(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let mut wanted = INFO_SECTIONS.map(|s| args.len() == 1 && !not_default(s));
    for arg in &args[1..] {
        if is(arg, "all") || is(arg, "everything") {
            wanted = [true; INFO_SECTIONS.len()];
        } else if is(arg, "default") {
            for (w, s) in wanted.iter_mut().zip(INFO_SECTIONS) {
                *w |= !not_default(s);
            }
        } else if let Some(i) = INFO_SECTIONS.iter().position(|s| is(arg, s)) {
            wanted[i] = true;
        } else if is(arg, "module_list") {
            // Redis's other name for the list of modules.
            wanted[INFO_SECTIONS.iter().position(|s| *s == "modules").expect("INFO has a modules section")] = true;
        }
        // Sections ringcache does not have are left out, as Redis leaves
        // out sections it does not know.
    }
    // Only the stats section needs the shards' counters (a walk, one shard
    // at a time); the rest reads what each shard published at its unlock.
    let stats_section = INFO_SECTIONS.iter().position(|s| *s == "stats").expect("INFO has a stats section");
    let stats = if wanted[stats_section] { ctx.db.stats() } else { Stats::default() };
    let keyspace_section = INFO_SECTIONS.iter().position(|s| *s == "keyspace").expect("INFO has a keyspace section");
    let databases = if wanted[keyspace_section] { ctx.db.database_counts(ctx.now_ms) } else { Vec::new() };
    let used_memory = ctx.db.db().used_memory();
    let shared = ctx.shared;
    let wants = |name: &str| INFO_SECTIONS.iter().zip(wanted).any(|(s, w)| w && *s == name);
    let observed = if ["stats", "commandstats", "errorstats", "latencystats", "persistence"].into_iter().any(wants) {
        shared.observe.stats.snapshot()
    } else {
        Default::default()
    };
    let config = shared.config();
    let mut out = String::new();
    for (section, _) in INFO_SECTIONS.iter().zip(wanted).filter(|(_, w)| *w) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        // Capitalised, but for Redis's one title in capitals.
        let mut title = (*section).to_owned();
        if title == "cpu" {
            title.make_ascii_uppercase();
        } else {
            title[..1].make_ascii_uppercase();
        }
        let _ = write!(out, "# {title}\r\n");
        match *section {
            "server" => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                let uptime = shared.uptime_secs();
                field(&mut out, "redis_version", &crate::REDIS_VERSION);
                field(&mut out, "ringcache_version", &crate::VERSION);
                field(&mut out, "redis_mode", &if shared.cluster.is_some() { "cluster" } else { "standalone" });
                field(&mut out, "os", &os_name());
                field(&mut out, "arch_bits", &usize::BITS);
                field(&mut out, "process_id", &std::process::id());
                field(&mut out, "run_id", &shared.run_id);
                field(&mut out, "tcp_port", &shared.local_addr.get().map_or(config.port, |a| a.port()));
                field(&mut out, "server_time_usec", &now.as_micros());
                field(&mut out, "uptime_in_seconds", &uptime);
                field(&mut out, "uptime_in_days", &(uptime / 86_400));
                field(&mut out, "hz", &config.hz);
                field(&mut out, "configured_hz", &config.hz);
                if let Ok(exe) = std::env::current_exe() {
                    field(&mut out, "executable", &exe.display());
                }
            }
            "clients" => {
                field(&mut out, "connected_clients", &shared.clients.len());
                field(&mut out, "maxclients", &config.maxclients);
                field(&mut out, "blocked_clients", &(shared.blocked.len() + shared.pause.waiting()));
                field(&mut out, "tracking_clients", &shared.tracking.clients());
                let (keys, on_nokey) = shared.blocked.blocking_keys();
                field(&mut out, "total_blocking_keys", &keys);
                field(&mut out, "total_blocking_keys_on_nokey", &on_nokey);
            }
            "memory" => {
                field(&mut out, "used_memory", &used_memory);
                field(&mut out, "used_memory_human", &bytes_to_human(used_memory as u64));
                if let Some(rss) = rss_bytes() {
                    field(&mut out, "used_memory_rss", &rss);
                    field(&mut out, "used_memory_rss_human", &bytes_to_human(rss));
                }
                field(&mut out, "maxmemory", &config.maxmemory);
                field(&mut out, "maxmemory_human", &bytes_to_human(config.maxmemory));
                field(&mut out, "maxmemory_policy", &config.maxmemory_policy.name());
                // The allocator the ringcache binary installs (DESIGN.md).
                field(&mut out, "mem_allocator", &"mimalloc");
                // What Redis leaves out of used_memory for eviction
                // (replica and AOF buffers): used_memory here counts only
                // keys and values, every byte of which eviction may free.
                field(&mut out, "mem_not_counted_for_evict", &0);
                let lazyfree = ctx.db.db().lazyfree();
                field(&mut out, "lazyfree_pending_objects", &lazyfree.pending());
                field(&mut out, "lazyfreed_objects", &lazyfree.freed());
            }
            "persistence" => {
                // A cache: nothing is ever loaded or saved.
                field(&mut out, "loading", &0);
                field(&mut out, "async_loading", &0);
                // Nothing is saved: every change since the start counts.
                field(&mut out, "rdb_changes_since_last_save", &observed.changes);
                field(&mut out, "rdb_bgsave_in_progress", &0);
                field(&mut out, "aof_enabled", &0);
            }
            "stats" => {
                let s = &shared.stats;
                field(&mut out, "total_connections_received", &s.connections_received.load(Relaxed));
                field(&mut out, "total_commands_processed", &s.commands_processed.load(Relaxed));
                field(&mut out, "total_net_input_bytes", &s.net_input_bytes.load(Relaxed));
                field(&mut out, "total_net_output_bytes", &s.net_output_bytes.load(Relaxed));
                field(&mut out, "rejected_connections", &s.connections_rejected.load(Relaxed));
                field(&mut out, "expired_keys", &stats.expired);
                field(&mut out, "evicted_keys", &stats.evicted);
                field(&mut out, "keyspace_hits", &stats.hits);
                field(&mut out, "keyspace_misses", &stats.misses);
                field(&mut out, "tracking_total_keys", &shared.tracking.keys());
                field(&mut out, "tracking_total_items", &shared.tracking.items());
                field(&mut out, "tracking_total_prefixes", &shared.tracking.prefixes());
                field(&mut out, "total_error_replies", &observed.total_errors);
            }
            "cpu" => {
                let cpu = cpu_times();
                field(&mut out, "used_cpu_sys", &Seconds(cpu.sys_us));
                field(&mut out, "used_cpu_user", &Seconds(cpu.user_us));
                field(&mut out, "used_cpu_sys_children", &Seconds(cpu.children_sys_us));
                field(&mut out, "used_cpu_user_children", &Seconds(cpu.children_user_us));
                // Redis's `used_cpu_*_main_thread` are left out: ringcache
                // runs commands on every worker thread, none of them main.
            }
            // No modules can be loaded (MODULE LOAD is refused): the
            // section is its title alone, as in a Redis with none loaded.
            "modules" => {}
            "commandstats" => {
                let names = super::stat_names();
                for (slot, c) in observed.used() {
                    let per_call = if c.calls == 0 { 0.0 } else { c.usec as f64 / c.calls as f64 };
                    let _ = write!(
                        out,
                        "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                        names.name(slot),
                        c.calls,
                        c.usec,
                        c.rejected,
                        c.failed
                    );
                }
            }
            "errorstats" => {
                for (prefix, n) in &observed.errors {
                    let _ = write!(out, "errorstat_{prefix}:count={n}\r\n");
                }
            }
            "latencystats" => {
                let names = super::stat_names();
                let percentiles = shared.observe.percentiles();
                for (slot, c) in observed.used() {
                    if let Some(h) = c.histogram.as_deref().filter(|h| !h.is_empty()) {
                        let line = crate::observe::stats::percentiles_line(h, &percentiles);
                        let _ = write!(out, "latency_percentiles_usec_{}:{line}\r\n", names.name(slot));
                    }
                }
            }
            "replication" => {
                field(&mut out, "role", &"master");
                field(&mut out, "connected_slaves", &0);
                // What a Redis master that no replica has ever attached to
                // reports: no backlog, and an offset that has not moved
                // (ringcache's own replication is in the fields after).
                field(&mut out, "master_failover_state", &"no-failover");
                field(&mut out, "master_replid", &shared.repl_id);
                field(&mut out, "master_replid2", &"0000000000000000000000000000000000000000");
                field(&mut out, "master_repl_offset", &0);
                field(&mut out, "second_repl_offset", &-1);
                field(&mut out, "repl_backlog_active", &0);
                field(&mut out, "repl_backlog_size", &config.get("repl-backlog-size").unwrap_or_default());
                field(&mut out, "repl_backlog_first_byte_offset", &0);
                field(&mut out, "repl_backlog_histlen", &0);
                if let Some(cluster) = &shared.cluster {
                    replication_info(&mut out, &mut ctx.db, cluster);
                }
            }
            "cluster" => {
                field(&mut out, "cluster_enabled", &u8::from(shared.cluster.is_some()));
                if let Some(cluster) = &shared.cluster {
                    membership_info(&mut out, cluster);
                }
            }
            "keyspace" => {
                // One line per database holding keys, as Redis prints them.
                for &(db, keys, expires, avg_ttl) in &databases {
                    let v = format!("keys={keys},expires={expires},avg_ttl={avg_ttl}");
                    field(&mut out, &format!("db{db}"), &v);
                }
            }
            other => unreachable!("section {other} has no printer"),
        }
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// INFO replication of a cluster member: settings, this node's slots, and
/// the state machine's counters (ringcache's own fields; Redis has no
/// quorum replication to report).
fn replication_info(out: &mut String, db: &mut ringcache_store::Locked<'_>, cluster: &crate::cluster::Cluster) {
    let Some(r) = &cluster.replication else {
        field(out, "replicas_per_slot", &1);
        return;
    };
    let view = cluster.view();
    let me = view.me;
    let (mut owned, mut coordinated, mut digest) = (0usize, 0usize, 0u64);
    for s in 0..ringcache_ring::SLOTS as u16 {
        if view.owners_of(s).contains(&me) {
            owned += 1;
            digest ^= db.with_slot_shard(s, |shard| shard.slot_digest(s));
        }
        coordinated += usize::from(cluster.coordinator(&view, s) == me);
    }
    let report = r.report();
    let st = &report.stats;
    field(out, "replicas_per_slot", &view.owners);
    field(out, "write_quorum", &r.write_quorum(&view));
    field(out, "read_quorum", &r.read_quorum().clamp(1, view.owners.max(1)));
    field(out, "owned_slots", &owned);
    field(out, "coordinated_slots", &coordinated);
    field(out, "owned_slots_digest", &format_args!("{digest:016x}"));
    field(out, "catching_up", &u8::from(report.catching_up));
    field(out, "catch_up_slots_ready", &if report.catching_up { report.slots_ready } else { ringcache_ring::SLOTS });
    field(out, "writes_in_flight", &report.writes_in_flight);
    field(out, "writes_replicated", &st.writes);
    field(out, "writes_acked", &st.writes_acked);
    field(out, "writes_failed", &st.writes_failed);
    field(out, "writes_refused", &(st.writes_busy + r.counters.writes_refused.load(Relaxed)));
    field(out, "write_retries", &st.write_retries);
    field(out, "effects_applied", &st.effects_applied);
    field(out, "quorum_reads", &st.reads);
    field(out, "quorum_reads_failed", &st.reads_failed);
    field(out, "read_repairs", &st.read_repairs);
    field(out, "hints_pending", &report.hints);
    field(out, "hints_pending_bytes", &report.hint_bytes);
    field(out, "hints_stored", &st.hints_stored);
    field(out, "hints_delivered", &st.hints_delivered);
    field(out, "hints_dropped", &st.hints_dropped);
    field(out, "anti_entropy_rounds", &st.ae_rounds);
    field(out, "anti_entropy_slots_differing", &st.ae_slots_differing);
    field(out, "anti_entropy_slots_put_off", &st.ae_slots_put_off);
    field(out, "entries_repaired", &st.entries_repaired);
    field(out, "sync_chunks_received", &st.sync_chunks_received);
    field(out, "messages_received", &st.messages_in);
    let malformed =
        st.refused_malformed + r.counters.states_refused.load(Relaxed) + r.counters.batches_refused.load(Relaxed);
    field(out, "messages_refused_malformed", &malformed);
    field(out, "messages_refused_over_limit", &st.refused_over_limit);
    field(out, "messages_refused_unknown_node", &st.refused_unknown_node);
    field(out, "messages_dropped_queue_full", &r.counters.sends_dropped.load(Relaxed));
    field(out, "deltas_sent", &r.counters.deltas_sent.load(Relaxed));
    field(out, "deltas_applied", &r.counters.deltas_applied.load(Relaxed));
    field(out, "deltas_need_full", &r.counters.deltas_need_full.load(Relaxed));
    // A need-full answer is met by one message of whole values, or waits
    // for the write's retry when they are already on their way.
    field(out, "deltas_refills_sent", &(st.need_full - st.need_full_waited));
    field(out, "deltas_refills_waited", &st.need_full_waited);
}

/// INFO cluster of a member, after Redis's `cluster_enabled`: the view
/// (as CLUSTER INFO has it) and the gossip counters (ringcache's own).
fn membership_info(out: &mut String, cluster: &crate::cluster::Cluster) {
    let view = cluster.view();
    field(out, "cluster_state", &if cluster.state_ok(&view) { "ok" } else { "fail" });
    field(out, "cluster_known_nodes", &(view.nodes.len() + view.gone.len()));
    field(out, "cluster_current_epoch", &view.epoch);
    field(out, "cluster_members_alive", &view.nodes.iter().filter(|n| n.state.is_live()).count());
    field(out, "cluster_members_dead", &view.gone.len());
    field(out, "cluster_view_digest", &format_args!("{:016x}", view.digest));
    field(out, "cluster_joined", &u8::from(cluster.joined()));
    let members: Vec<String> = view
        .nodes
        .iter()
        .chain(view.gone.iter())
        .map(|n| format!("{}={:?}/{:?}/g{}", n.id, n.state, n.phase, n.generation).to_ascii_lowercase())
        .collect();
    field(out, "cluster_members", &members.join(","));
    field(out, "cluster_phase", &format_args!("{:?}", cluster.gossip.phase()).to_string().to_ascii_lowercase());
    field(out, "cluster_forwards_rerouted", &cluster.stats.rerouted.load(std::sync::atomic::Ordering::Relaxed));
    field(out, "cluster_handoff_keys", &cluster.leave.keys_handed.load(std::sync::atomic::Ordering::Relaxed));
    field(
        out,
        "cluster_unowned_slots_dropped",
        &cluster.unowned.slots_dropped.load(std::sync::atomic::Ordering::Relaxed),
    );
    field(
        out,
        "cluster_unowned_keys_dropped",
        &cluster.unowned.entries_dropped.load(std::sync::atomic::Ordering::Relaxed),
    );
    let st = cluster.gossip.stats();
    field(out, "gossip_messages_sent", &st.messages_sent);
    field(out, "gossip_bytes_sent", &st.bytes_sent);
    field(out, "gossip_messages_received", &st.messages_received);
    field(out, "gossip_bytes_received", &st.bytes_received);
    let refused = st.refused_decode + st.refused_too_long + st.refused_wrong_sender + st.refused_engine;
    field(out, "gossip_messages_refused", &refused);
}

/// Appends one `name:value\r\n` line.
fn field(out: &mut String, name: &str, value: &dyn std::fmt::Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

/// Like Redis's `bytesToHuman`: `512B`, `1.50K`, `10.00M`, ...
fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [(1 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    match UNITS.iter().find(|(size, _)| n >= *size) {
        Some((size, unit)) => format!("{:.2}{unit}", n as f64 / *size as f64),
        None => format!("{n}B"),
    }
}

/// `uname -s -r -m`, read from /proc where there is one.
fn os_name() -> String {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    match (read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease")) {
        (Some(os), Some(release)) => format!("{os} {release} {}", std::env::consts::ARCH),
        _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// The CPU time the process and its waited-for children used, in
/// microseconds (what Redis reads with `getrusage`).
#[derive(Debug, Default, Clone, Copy)]
struct CpuTimes {
    user_us: u64,
    sys_us: u64,
    children_user_us: u64,
    children_sys_us: u64,
}

/// From /proc/self/stat (Linux only; zeros elsewhere): `utime`, `stime`,
/// `cutime` and `cstime`, the 14th to 17th fields, in clock ticks of
/// USER_HZ, which Linux fixes at 100 a second for this interface.
fn cpu_times() -> CpuTimes {
    const TICK_US: u64 = 1_000_000 / 100;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return CpuTimes::default();
    };
    // The command name (2nd field) is in parentheses and may hold spaces:
    // count from the last `)`, after which the 3rd field comes.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().skip(11).take(4).map_while(|f| f.parse().ok()).collect())
        .unwrap_or_default();
    match fields[..] {
        [user, sys, children_user, children_sys] => CpuTimes {
            user_us: user * TICK_US,
            sys_us: sys * TICK_US,
            children_user_us: children_user * TICK_US,
            children_sys_us: children_sys * TICK_US,
        },
        _ => CpuTimes::default(),
    }
}

/// Microseconds written as Redis writes a `timeval`: `%ld.%06ld` seconds.
struct Seconds(u64);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Resident set size, from /proc/self/status (Linux only).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

// ------------------------------------------------- DBSIZE, FLUSH*, TIME

fn dbsize(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let n = match ctx.client.state.scope.clone() {
        Some(slots) => ctx.db.count_where(ctx.now_ms, |k| slots[usize::from(ringcache_ring::slot(k))]),
        None => ctx.db.len(),
    };
    Ok(Reply::Integer(n as i64))
}

/// FLUSHDB (the client's database) and FLUSHALL (every database). ASYNC
/// leaves the removed keys to the background freer
/// (`ringcache_store::lazyfree`), SYNC drops them here, and neither does
/// as `lazyfree-lazy-user-flush` says, as in Redis.
fn flush(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let lazy = match args {
        [_] => ringcache_commands::Env::lazyfree_lazy_user_flush(ctx.shared),
        [_, mode] if is(mode, "ASYNC") => true,
        [_, mode] if is(mode, "SYNC") => false,
        _ => return Err(CmdError::Syntax),
    };
    let all = is(args[0], "FLUSHALL");
    match (all, lazy) {
        (_, true) => ctx.db.flush_async_at(all, ctx.now_ms),
        (true, false) => ctx.db.flush_all_at(ctx.now_ms),
        (false, false) => ctx.db.flush_at(ctx.now_ms),
    }
    let dbs = if all {
        0..ctx.shared.databases as u16
    } else {
        let db = ctx.state().dbid;
        db..db + 1
    };
    // XREADGROUP waiting on a flushed key fails (its group is gone), as
    // Redis's `signalFlushedDb` has it.
    for dbid in dbs {
        ringcache_commands::blocking::note_awaited(ctx, dbid);
    }
    Ok(Reply::ok())
}

fn time(_ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Reply::Array(vec![Reply::bulk(now.as_secs().to_string()), Reply::bulk(now.subsec_micros().to_string())]))
}

// ------------------------------------------------------------------ CONFIG

const CONFIG_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "config|get",
        arity: -3,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Returns the effective values of configuration parameters.",
        handler: config_get,
    },
    SubCommand {
        name: "config|set",
        arity: -4,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Sets configuration parameters in-flight.",
        handler: config_set,
    },
    SubCommand {
        name: "config|resetstat",
        arity: 2,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Resets the server's statistics.",
        handler: config_resetstat,
    },
    SubCommand {
        name: "config|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
        handler: config_help,
    },
];

fn config(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, args, CONFIG_SUBCOMMANDS)
}

/// `CONFIG GET pattern [pattern ...]`: a map of every matching option. An
/// exact name (or alias) is echoed as given; glob patterns match
/// case-insensitively against names and aliases, and a setting matched by
/// both its name and an alias is listed under both, as Redis 7.2 lists
/// `replicaof` and `slaveof` for `*of`. No name is listed twice.
fn config_get(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let config = ctx.shared.config();
    let mut found: Vec<(String, &'static str)> = Vec::new();
    for arg in &args[2..] {
        let pattern = String::from_utf8_lossy(arg);
        if !pattern.contains(['*', '?', '[']) {
            if let Some(setting) = Config::lookup(&pattern) {
                if !found.iter().any(|(shown, _)| shown.eq_ignore_ascii_case(&pattern)) {
                    found.push((pattern.into_owned(), setting.name()));
                }
            }
            continue;
        }
        let lower = pattern.to_ascii_lowercase();
        for (name, setting) in Config::names() {
            if glob_match(lower.as_bytes(), name.as_bytes())
                && !found.iter().any(|(shown, _)| shown.eq_ignore_ascii_case(name))
            {
                found.push((name.to_owned(), setting.name()));
            }
        }
    }
    Ok(Reply::Map(
        found
            .into_iter()
            .map(|(shown, name)| {
                let value = config.get(name).expect("found options exist");
                (Reply::bulk(shown), Reply::bulk(value))
            })
            .collect(),
    ))
}

/// `CONFIG SET name value [name value ...]`: all or nothing. The first
/// problem found is reported, in Redis's words.
fn config_set(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    if !(args.len() - 2).is_multiple_of(2) {
        return Err(CmdError::WrongArity("config|set".to_owned()));
    }
    let failed = |name: &str, why: &str| {
        CmdError::other(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"))
    };
    let mut pairs: Vec<(String, String)> = Vec::with_capacity((args.len() - 2) / 2);
    let mut seen: Vec<&'static str> = Vec::with_capacity(pairs.capacity());
    let mut config = None;
    for pair in args[2..].chunks_exact(2) {
        let given = String::from_utf8_lossy(pair[0]);
        let Some(setting) = Config::lookup(&given) else {
            return Err(CmdError::other(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                printable(pair[0], 128)
            )));
        };
        if seen.contains(&setting.name()) {
            return Err(failed(&given, "duplicate parameter"));
        }
        seen.push(setting.name());
        if !setting.mutable() {
            // One of ringcache's options fixed at start (`port`, `bind`,
            // `node-id` ...) may be "set" to the value it has, a change of
            // nothing, as tools that write back what CONFIG GET read do
            // (Redis can change `port` and `bind` at run time). Redis's own
            // immutable parameters are refused whatever the value, as there.
            let current = config.get_or_insert_with(|| ctx.shared.config()).get(setting.name());
            let unchanged =
                matches!(setting, Setting::Own(_)) && current.as_deref() == Some(&*String::from_utf8_lossy(pair[1]));
            if !unchanged {
                return Err(failed(&given, "can't set immutable config"));
            }
            continue;
        }
        if setting.protected() {
            return Err(failed(&given, "can't set protected config"));
        }
        pairs.push((setting.name().to_owned(), String::from_utf8_lossy(pair[1]).into_owned()));
    }
    ctx.shared.set_config(&pairs).map_err(|(name, e)| match e {
        ConfigError::Invalid { reason, .. } => failed(&name, &reason),
        ConfigError::Immutable(_) => failed(&name, "can't set immutable config"),
        ConfigError::Unknown(_) => {
            CmdError::other(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"))
        }
    })?;
    Ok(Reply::ok())
}

fn config_resetstat(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    ctx.db.reset_stats();
    ctx.db.db().lazyfree().reset_stats();
    ctx.shared.stats.reset();
    ctx.shared.observe.reset_stats();
    Ok(Reply::ok())
}

fn config_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args,
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
        ],
    ))
}

// ---------------------------------------------------------------- SHUTDOWN

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: stops the node. The
/// client gets no reply: its connection closes, as with Redis.
///
/// ringcache keeps nothing on disk, so NOSAVE and NOW change nothing, and
/// SAVE fails the shutdown (as a failed save does in Redis) unless FORCE.
fn shutdown(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    if let Some(m) = ctx.client.state.multi.as_mut() {
        m.dirty = true;
        return Err(CmdError::other("ERR Command not allowed inside a transaction"));
    }
    let (mut nosave, mut save, mut force, mut abort, mut now) = (false, false, false, false, false);
    for arg in &args[1..] {
        if is(arg, "NOSAVE") {
            nosave = true;
        } else if is(arg, "SAVE") {
            save = true;
        } else if is(arg, "NOW") {
            now = true;
        } else if is(arg, "FORCE") {
            force = true;
        } else if is(arg, "ABORT") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        return Err(CmdError::Syntax);
    }
    if abort {
        // A shutdown here is immediate: there is never one to abort.
        return Err(CmdError::other("ERR No shutdown in progress."));
    }
    if save && !force {
        tracing::warn!(
            "SHUTDOWN SAVE refused: ringcache has no persistence to save to (use FORCE to shut down anyway)"
        );
        return Err(CmdError::other("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    tracing::warn!(client = ctx.client.id, "user requested shutdown");
    ctx.shared.request_shutdown();
    ctx.client.close_after_reply = true;
    // Nothing is written back: the client sees the connection close.
    Ok(Reply::Raw(Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(10 << 20), "10.00M");
        assert_eq!(bytes_to_human(3 << 30), "3.00G");
    }

    #[test]
    fn every_command_has_docs() {
        assert_eq!(since("cluster|leave"), Some("0.1.0"));
        assert_eq!(since("get"), None, "Redis's commands have Redis's docs");
        for spec in all_commands() {
            let entries = std::iter::once(Found::Top(spec)).chain(subs(spec).iter().map(|s| Found::Sub(spec, s)));
            for f in entries {
                let name = full_name(f);
                assert!(super::super::docs::of(name).is_some() || since(name).is_some(), "{name} has no docs");
                assert_eq!(name, name.to_ascii_lowercase());
                if let Found::Sub(parent, _) = f {
                    assert!(name.starts_with(&format!("{}|", parent.name)), "{name}");
                }
            }
        }
    }

    #[test]
    fn acl_categories_follow_flags_and_group() {
        let get = lookup(b"get").unwrap();
        assert_eq!(acl_categories(Found::Top(get)), ["read", "string", "fast"]);
        let flushall = lookup(b"flushall").unwrap();
        assert_eq!(acl_categories(Found::Top(flushall)), ["keyspace", "write", "slow", "dangerous"]);
        let Some(Found::Sub(_, sub)) = find(b"CONFIG|get") else { panic!("config|get not found") };
        assert_eq!(sub.name, "config|get");
        let config = lookup(b"config").unwrap();
        assert_eq!(acl_categories(Found::Sub(config, sub)), ["admin", "slow", "dangerous"]);
        assert!(find(b"config|nope").is_none());
        assert!(find(b"get|x").is_none());
    }

    #[test]
    fn key_specs_for_ranges() {
        let Reply::Set(specs) = key_specs(flag::WRITE, Keys::Range { first: 1, last: -1, step: 2 }) else {
            panic!("not a set")
        };
        assert_eq!(specs.len(), 1);
        let text = format!("{:?}", specs[0]);
        assert!(text.contains("Integer(-1)") && text.contains("\"RW\""), "{text}");
        assert_eq!(key_specs(0, Keys::All), Reply::Set(Vec::new()));
        let Reply::Set(specs) = key_specs(flag::WRITE, Keys::Numkeys { at: 2 }) else { panic!("not a set") };
        assert_eq!(specs.len(), 2, "the destination, then the counted keys");
        assert!(format!("{:?}", specs[1]).contains("keynum"));
    }
}
