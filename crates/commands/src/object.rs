//! OBJECT (ENCODING FREQ IDLETIME REFCOUNT HELP) and MEMORY (USAGE HELP).
//!
//! ringcache keeps every value in one representation per type (a string,
//! an index map, a deque, a skip list); it has no listpacks, intsets or
//! shared integers. OBJECT ENCODING reports the name Redis 7.2 would use
//! for a value of that type, size and content under the encoding limits
//! of [`EncodingLimits`] (the node's `*-max-listpack-*` parameters), so
//! that tools which look at encodings see Redis's answers; it says nothing
//! about ringcache's memory layout. REFCOUNT likewise reports Redis's
//! (shared small integers are `2147483647`, anything else `1`). MEMORY
//! USAGE is ringcache's own exact accounting of the key (what `maxmemory`
//! counts), so SAMPLES is checked but changes nothing.
//!
//! Invariants: none of these touches the key (no access time update), as
//! Redis's `LOOKUP_NOTOUCH` lookups do not.

use ringcache_resp::Reply;
use ringcache_store::Value;

use crate::args::{int, is, parse_i64};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys, SubSpec};

/// The key of `OBJECT <subcommand> key` and `MEMORY USAGE key`.
const SECOND: Keys = Keys::Range { first: 2, last: 2, step: 1 };

const HELP_SUMMARY: &str = "Returns helpful text about the different subcommands.";

/// OBJECT's subcommands, Redis 7.2's (`src/commands/object-*.json`).
pub(crate) const OBJECT_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "object|encoding",
        arity: 3,
        flags: flag::READONLY,
        summary: "Returns the internal encoding of a Redis object.",
    },
    SubSpec {
        name: "object|freq",
        arity: 3,
        flags: flag::READONLY,
        summary: "Returns the logarithmic access frequency counter of a Redis object.",
    },
    SubSpec { name: "object|help", arity: 2, flags: flag::LOADING | flag::STALE, summary: HELP_SUMMARY },
    SubSpec {
        name: "object|idletime",
        arity: 3,
        flags: flag::READONLY,
        summary: "Returns the time since the last access to a Redis object.",
    },
    SubSpec {
        name: "object|refcount",
        arity: 3,
        flags: flag::READONLY,
        summary: "Returns the reference count of a value of a key.",
    },
];

/// MEMORY's subcommands that ringcache has (not DOCTOR, MALLOC-STATS,
/// PURGE or STATS: it has no allocator of Redis's to report on).
pub(crate) const MEMORY_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec { name: "memory|help", arity: 2, flags: flag::LOADING | flag::STALE, summary: HELP_SUMMARY },
    SubSpec { name: "memory|usage", arity: -3, flags: flag::READONLY, summary: "Estimates the memory usage of a key." },
];

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "object",
            arity: -2,
            flags: flag::READONLY,
            keys: SECOND,
            group: "generic",
            summary: "A container for object introspection commands.",
            handler: object,
        },
        CommandSpec {
            name: "memory",
            arity: -2,
            flags: flag::READONLY,
            keys: SECOND,
            group: "server",
            summary: "A container for memory diagnostics commands.",
            handler: memory,
        },
    ]
}

/// The limits under which Redis 7.2 keeps a collection compact, from the
/// parameters of the same names (their defaults here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub set_max_listpack_entries: u64,
    pub set_max_listpack_value: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    /// `list-max-listpack-size`: a count if positive, else -1..-5 for
    /// 4 KB..64 KB.
    pub list_max_listpack_size: i64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
        }
    }
}

/// The bytes an element takes in a listpack (encoding, data, back-length),
/// to tell when Redis would have outgrown one.
fn listpack_entry_size(e: &[u8]) -> usize {
    let data = match parse_i64(e) {
        Some(v) if (0..128).contains(&v) => 1,
        Some(v) if (-4096..4096).contains(&v) => 2,
        Some(v) if (-32768..32768).contains(&v) => 3,
        Some(v) if (-8_388_608..8_388_608).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if e.len() < 64 => 1 + e.len(),
        None if e.len() < 4096 => 2 + e.len(),
        None => 5 + e.len(),
    };
    data + if data <= 127 {
        1
    } else if data < 16383 {
        2
    } else {
        5
    }
}

/// The name Redis 7.2 would report for `value` (see the module doc).
pub fn encoding_name(value: &Value, limits: &EncodingLimits) -> &'static str {
    let small = |len: usize, max: u64| len as u64 <= max;
    match value {
        Value::Stream(_) => "stream",
        Value::Str(s) => {
            let b = s.as_bytes();
            if b.len() <= 20 && parse_i64(b).is_some() {
                "int"
            } else if b.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Value::List(l) => {
            // A quicklist node's limit, as quicklistNodeExceedsLimit: a
            // count (with an 8 KB safety cap), or a size.
            let bytes: usize = 7 + l.iter().map(|e| listpack_entry_size(e)).sum::<usize>();
            let fits = match limits.list_max_listpack_size {
                n if n > 0 => l.len() as u64 <= n as u64 && bytes <= 8192,
                n => bytes <= 4096usize << (n.unsigned_abs().clamp(1, 5) - 1),
            };
            if fits {
                "listpack"
            } else {
                "quicklist"
            }
        }
        Value::Set(s) => {
            if small(s.len(), limits.set_max_intset_entries) && s.iter().all(|m| parse_i64(m).is_some()) {
                "intset"
            } else if small(s.len(), limits.set_max_listpack_entries)
                && s.iter().all(|m| small(m.len(), limits.set_max_listpack_value))
            {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::Hash(h) => {
            let fits = small(h.len(), limits.hash_max_listpack_entries)
                && h.iter().all(|(f, v)| {
                    small(f.len(), limits.hash_max_listpack_value) && small(v.len(), limits.hash_max_listpack_value)
                });
            if fits {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(z) => {
            let fits = small(z.len(), limits.zset_max_listpack_entries)
                && z.iter().all(|(m, _)| small(m.len(), limits.zset_max_listpack_value));
            if fits {
                "listpack"
            } else {
                "skiplist"
            }
        }
    }
}

/// Redis's refcount for a value: its shared integers (0..10000, shared
/// unless an LRU/LFU policy with a `maxmemory` needs per-key access words)
/// report `INT_MAX`.
fn refcount(value: &Value, shared_ints: bool) -> i64 {
    match value {
        Value::Str(s) if shared_ints && parse_i64(s.as_bytes()).is_some_and(|v| (0..10_000).contains(&v)) => {
            i64::from(i32::MAX)
        }
        _ => 1,
    }
}

pub(crate) fn unknown_subcommand(args: &[&[u8]], cmd: &str) -> CmdError {
    CmdError::other(format!("ERR unknown subcommand '{}'. Try {cmd} HELP.", crate::printable(args[1], 128)))
}

pub(crate) fn help(cmd: &str, lines: &[&'static str]) -> Reply {
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Simple(format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").into()));
    out.extend(lines.iter().map(|l| Reply::simple(l)));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Prints this help."));
    Reply::Array(out)
}

fn object<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let sub = args[1];
    let name = ["encoding", "freq", "idletime", "refcount", "help"].into_iter().find(|n| is(sub, n));
    let Some(name) = name else {
        return Err(unknown_subcommand(args, "OBJECT"));
    };
    if name == "help" {
        if args.len() != 2 {
            return Err(CmdError::WrongArity("object|help".to_owned()));
        }
        return Ok(help(
            "OBJECT",
            &[
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
            ],
        ));
    }
    if args.len() != 3 {
        return Err(CmdError::WrongArity(format!("object|{name}")));
    }
    let (key, now) = (args[2], ctx.now_ms);
    let limits = ctx.shared.encoding_limits();
    let db = ctx.db.db();
    let lfu = db.policy().is_lfu();
    let shared_ints = db.maxmemory() == 0 || !(lfu || db.policy().name().ends_with("lru"));
    let Some(entry) = ctx.db.shard(key).peek(key, now) else {
        return Ok(Reply::Null);
    };
    Ok(match name {
        "encoding" => Reply::bulk(encoding_name(entry.value(), &limits)),
        "refcount" => Reply::Integer(refcount(entry.value(), shared_ints)),
        "idletime" => {
            if lfu {
                return Err(CmdError::other("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
            }
            Reply::Integer(i64::from(entry.idle_ms(now)) / 1000)
        }
        _ => {
            if !lfu {
                return Err(CmdError::other("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
            }
            Reply::Integer(i64::from(entry.lfu_freq(now)))
        }
    })
}

fn memory<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    if is(args[1], "HELP") && args.len() == 2 {
        return Ok(help(
            "MEMORY",
            &[
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ],
        ));
    }
    if is(args[1], "HELP") {
        return Err(CmdError::WrongArity("memory|help".to_owned()));
    }
    if !is(args[1], "USAGE") {
        return Err(unknown_subcommand(args, "MEMORY"));
    }
    if args.len() < 3 {
        return Err(CmdError::WrongArity("memory|usage".to_owned()));
    }
    let mut j = 3;
    while j < args.len() {
        if is(args[j], "SAMPLES") && j + 1 < args.len() {
            if int(args[j + 1])? < 0 {
                return Err(CmdError::Syntax);
            }
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (key, now) = (args[2], ctx.now_ms);
    Ok(match ctx.db.shard(key).peek(key, now) {
        Some(e) => Reply::Integer(e.accounted_bytes() as i64),
        None => Reply::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, err, Node};

    #[test]
    fn encodings_follow_redis_s_rules() {
        let mut n = Node::new();
        n.run(&["set", "i", "123"]);
        n.run(&["set", "e", "hello"]);
        n.run(&["set", "r", &"x".repeat(45)]);
        n.run(&["sadd", "si", "1", "2"]);
        n.run(&["sadd", "sl", "a", "2"]);
        n.run(&["hset", "h", "f", "v"]);
        n.run(&["hset", "hb", "f", &"v".repeat(65)]);
        n.run(&["zadd", "z", "1", "a"]);
        n.run(&["rpush", "l", "a"]);
        for (k, want) in [
            ("i", "int"),
            ("e", "embstr"),
            ("r", "raw"),
            ("si", "intset"),
            ("sl", "listpack"),
            ("h", "listpack"),
            ("hb", "hashtable"),
            ("z", "listpack"),
            ("l", "listpack"),
        ] {
            assert_eq!(n.run(&["object", "encoding", k]), bulk(want), "{k}");
        }
        let big: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        let mut args = vec!["zadd", "zb"];
        for m in &big {
            args.extend(["1", m.as_str()]);
        }
        n.run(&args);
        assert_eq!(n.run(&["object", "encoding", "zb"]), bulk("skiplist"));
        let mut args = vec!["rpush", "lb"];
        let long = "y".repeat(1000);
        args.extend(std::iter::repeat_n(long.as_str(), 10));
        n.run(&args);
        assert_eq!(n.run(&["object", "encoding", "lb"]), bulk("quicklist"));
        assert_eq!(n.run(&["object", "encoding", "nosuch"]), Reply::Null);
        assert_eq!(n.run(&["object", "refcount", "i"]), Reply::Integer(i64::from(i32::MAX)));
        assert_eq!(n.run(&["object", "refcount", "e"]), Reply::Integer(1));
        assert_eq!(n.run(&["object", "idletime", "e"]), Reply::Integer(0));
        assert!(matches!(n.run(&["object", "freq", "e"]), Reply::Error(_)));
        assert_eq!(n.run(&["object", "nope", "e"]), err("ERR unknown subcommand 'nope'. Try OBJECT HELP."));
        assert_eq!(n.run(&["object", "encoding"]), err("ERR wrong number of arguments for 'object|encoding' command"));
        assert!(matches!(n.run(&["object", "help"]), Reply::Array(_)));
    }

    #[test]
    fn memory_usage_is_the_accounted_size() {
        let mut n = Node::new();
        n.run(&["set", "k", &"v".repeat(100)]);
        let Reply::Integer(used) = n.run(&["memory", "usage", "k"]) else { panic!() };
        assert!(used > 100, "{used}");
        assert_eq!(n.run(&["memory", "usage", "k", "samples", "0"]), Reply::Integer(used));
        assert_eq!(n.run(&["memory", "usage", "k", "samples", "-1"]), err("ERR syntax error"));
        assert_eq!(n.run(&["memory", "usage", "nosuch"]), Reply::Null);
        assert!(matches!(n.run(&["memory", "doctor"]), Reply::Error(_)));
    }
}
