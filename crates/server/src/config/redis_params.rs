//! Redis 7.2's configuration parameters that ringcache has no use for.
//!
//! Applications and tools set Redis's parameters (`save ""`,
//! `appendonly no`, `hash-max-listpack-entries 128`, ...) and read them
//! back; ringcache accepts every parameter Redis 7.2 has, checks its value
//! as Redis does (type, range, enum words), stores it and reports it with
//! `CONFIG GET`, so that nothing fails with "Unknown option". Most of the
//! parameters here change nothing in ringcache: they tune internals it does
//! not have (persistence, encodings, threads, TLS, replication of Redis's
//! kind ...). A few are read where they mean something: `crate::observe`
//! follows `slowlog-*`, `latency-monitor-threshold` and `latency-tracking*`,
//! and OBJECT ENCODING the `*-max-listpack-*` ones. The parameters ringcache does implement are the options of
//! [`super::OPTIONS`], which win over a namesake here.
//!
//! The table is Redis 7.2.6's `static_configs` (src/config.c): names,
//! aliases, mutability, types, ranges and defaults as Redis has them.

use std::collections::BTreeMap;

/// Refused by CONFIG SET: "can't set immutable config".
pub const IMMUTABLE: u8 = 1;
/// Refused by CONFIG SET while `enable-protected-configs` is `no` (its
/// default, and here it can't change): "can't set protected config".
pub const PROTECTED: u8 = 2;
/// Left out of `CONFIG GET` glob matches; an exact name still finds it.
pub const HIDDEN: u8 = 4;
/// A value of several words (`save "3600 1"`).
pub const MULTI_ARG: u8 = 8;

/// How an integer parameter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Plain,
    /// Accepts Redis's units (`64mb`); reported in bytes.
    Memory,
    /// A memory value or a percentage (`10%`, kept as -10).
    Percent,
    /// Written in octal (`unixsocketperm 700`).
    Octal,
}

/// A parameter's type, with its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Bool(bool),
    Int {
        min: i128,
        max: i128,
        default: i128,
        form: Form,
    },
    /// One of the words (several with [`MULTI_ARG`]), then the default.
    Enum(&'static [&'static str], &'static str),
    Str(&'static str),
    /// A parameter of its own syntax (`save`, `client-output-buffer-limit`
    /// ...), stored as given once it has the right shape.
    Special(&'static str),
    /// `dir`: the working directory.
    Dir,
}

/// One Redis parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub flags: u8,
    pub kind: Kind,
}

impl Param {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The default value, as CONFIG GET prints it.
    pub fn default_value(&self) -> String {
        match self.kind {
            Kind::Bool(b) => yes_no(b).to_owned(),
            Kind::Int { default, form, .. } => print_int(default, form),
            Kind::Enum(_, d) | Kind::Str(d) | Kind::Special(d) => d.to_owned(),
            Kind::Dir => std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        }
    }

    /// Checks `value` as Redis does and returns the text CONFIG GET will
    /// print, or Redis's reason for refusing it.
    pub fn parse(&self, value: &str) -> Result<String, String> {
        match self.kind {
            Kind::Bool(_) => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".to_owned()),
                "no" => Ok("no".to_owned()),
                _ => Err("argument must be 'yes' or 'no'".to_owned()),
            },
            Kind::Int { min, max, form, .. } => {
                let v = parse_int(value, form)?;
                // A percentage is kept negative (Redis's PERCENT_CONFIG).
                if form == Form::Percent && v < 0 && v < min {
                    return Err(format!("percentage argument must be less or equal to {}", -min));
                }
                if v < min || v > max {
                    return Err(format!("argument must be between {min} and {max} inclusive"));
                }
                Ok(print_int(v, form))
            }
            Kind::Enum(words, _) => {
                let given: Vec<String> = value.split_whitespace().map(str::to_ascii_lowercase).collect();
                let ok = !given.is_empty()
                    && (self.has(MULTI_ARG) || given.len() == 1)
                    && given.iter().all(|g| words.contains(&g.as_str()));
                if !ok {
                    return Err(format!("argument(s) must be one of the following: {}", words.join(", ")));
                }
                Ok(given.join(" "))
            }
            Kind::Str(_) | Kind::Dir => Ok(value.to_owned()),
            Kind::Special(_) => special(self.name, value),
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn print_int(v: i128, form: Form) -> String {
    match form {
        Form::Percent if v < 0 => format!("{}%", -v),
        Form::Octal => format!("{v:o}"),
        _ => v.to_string(),
    }
}

/// An integer as Redis reads it: `string2ll` for plain ones, `memtoull`
/// (units `b k kb m mb g gb`) for memory ones, base 8 for octal ones.
fn parse_int(value: &str, form: Form) -> Result<i128, String> {
    let not_int = || "argument couldn't be parsed into an integer".to_owned();
    match form {
        Form::Plain => value.parse::<i64>().map(i128::from).map_err(|_| not_int()),
        Form::Octal => i64::from_str_radix(value, 8).map(i128::from).map_err(|_| not_int()),
        Form::Memory | Form::Percent => {
            if form == Form::Percent {
                if let Some(p) = value.strip_suffix('%') {
                    let p: i128 =
                        p.parse::<u32>().map_err(|_| "argument must be a memory or percent value".to_owned())?.into();
                    return Ok(-p);
                }
            }
            let bad = || {
                if form == Form::Percent {
                    "argument must be a memory or percent value"
                } else {
                    "argument must be a memory value"
                }
                .to_owned()
            };
            let lower = value.to_ascii_lowercase();
            let split = lower.find(|c: char| !c.is_ascii_digit() && c != '-').unwrap_or(lower.len());
            let (num, unit) = lower.split_at(split);
            let mul: i128 = match unit {
                "" | "b" => 1,
                "k" => 1000,
                "kb" => 1024,
                "m" => 1000 * 1000,
                "mb" => 1024 * 1024,
                "g" => 1000 * 1000 * 1000,
                "gb" => 1024 * 1024 * 1024,
                _ => return Err(bad()),
            };
            let n: i64 = num.parse().map_err(|_| bad())?;
            Ok(i128::from(n) * mul)
        }
    }
}

/// The parameters of their own syntax: the shape Redis checks.
fn special(name: &str, value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    let all_ints = |w: &[&str]| w.iter().all(|x| x.parse::<i64>().is_ok_and(|v| v >= 0));
    let (ok, why) = match name {
        "save" => (words.len().is_multiple_of(2) && all_ints(&words), "Invalid save parameters"),
        "client-output-buffer-limit" => (
            words.len().is_multiple_of(4)
                && words.chunks(4).all(|c| {
                    matches!(c[0].to_ascii_lowercase().as_str(), "normal" | "slave" | "replica" | "pubsub")
                        && c[1..3].iter().all(|m| parse_int(m, Form::Memory).is_ok_and(|v| v >= 0))
                        && c[3].parse::<u32>().is_ok()
                }),
            "Wrong number of arguments in buffer limit configuration.",
        ),
        "oom-score-adj-values" => (
            words.len() == 3 && words.iter().all(|w| w.parse::<i32>().is_ok_and(|v| (-2000..=2000).contains(&v))),
            "Invalid oom-score-adj-values: must be 3 integers from -2000 to 2000",
        ),
        "notify-keyspace-events" => (
            value.chars().all(|c| "Ag$lshzxeKEtmdn".contains(c)),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
        ),
        "latency-tracking-info-percentiles" => return percentiles(&words),
        _ => (true, ""),
    };
    if !ok {
        return Err(why.to_owned());
    }
    Ok(words.join(" "))
}

/// `latency-tracking-info-percentiles`: each word a number from 0 to 100,
/// with Redis's errors, kept as Redis prints it back (`%f` with its
/// trailing zeros trimmed: `0.0 50.0 99.90` reads `0 50 99.9`).
fn percentiles(words: &[&str]) -> Result<String, String> {
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        let v = w.parse::<f64>().ok().filter(|v| !v.is_nan());
        let v = v.ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_owned())?;
        if !(0.0..=100.0).contains(&v) {
            return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".to_owned());
        }
        let printed = format!("{v:.6}");
        out.push(printed.trim_end_matches('0').trim_end_matches('.').to_owned());
    }
    Ok(out.join(" "))
}

/// The Redis parameters a node was given, by canonical name; the others
/// have their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisParams(BTreeMap<&'static str, String>);

impl RedisParams {
    pub fn get(&self, p: &Param) -> String {
        self.0.get(p.name).cloned().unwrap_or_else(|| p.default_value())
    }

    /// Stores `value` once [`Param::parse`] accepts it.
    pub fn set(&mut self, p: &'static Param, value: &str) -> Result<(), String> {
        let v = p.parse(value)?;
        self.0.insert(p.name, v);
        Ok(())
    }
}

/// The parameter called `name` (or its alias), case-insensitively.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)))
}

/// Redis 7.2.6's parameters (see the module doc), in its order.
pub static PARAMS: &[Param] = &[
    Param { name: "rdbchecksum", alias: None, flags: IMMUTABLE, kind: Kind::Bool(true) },
    Param { name: "daemonize", alias: None, flags: IMMUTABLE, kind: Kind::Bool(false) },
    Param { name: "io-threads-do-reads", alias: None, flags: IMMUTABLE, kind: Kind::Bool(false) },
    Param { name: "always-show-logo", alias: None, flags: IMMUTABLE, kind: Kind::Bool(false) },
    Param { name: "protected-mode", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "rdbcompression", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "rdb-del-sync-files", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "activerehashing", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "stop-writes-on-bgsave-error", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "set-proc-title", alias: None, flags: IMMUTABLE, kind: Kind::Bool(true) },
    Param { name: "dynamic-hz", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "lazyfree-lazy-eviction", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "lazyfree-lazy-expire", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "lazyfree-lazy-server-del", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "lazyfree-lazy-user-del", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "lazyfree-lazy-user-flush", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "repl-disable-tcp-nodelay", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "repl-diskless-sync", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "aof-rewrite-incremental-fsync", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "no-appendfsync-on-rewrite", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "cluster-require-full-coverage", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "rdb-save-incremental-fsync", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "aof-load-truncated", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "aof-use-rdb-preamble", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "aof-timestamp-enabled", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param {
        name: "cluster-replica-no-failover",
        alias: Some("cluster-slave-no-failover"),
        flags: 0,
        kind: Kind::Bool(false),
    },
    Param { name: "replica-lazy-flush", alias: Some("slave-lazy-flush"), flags: 0, kind: Kind::Bool(false) },
    Param { name: "replica-serve-stale-data", alias: Some("slave-serve-stale-data"), flags: 0, kind: Kind::Bool(true) },
    Param { name: "replica-read-only", alias: Some("slave-read-only"), flags: 0, kind: Kind::Bool(true) },
    Param { name: "replica-ignore-maxmemory", alias: Some("slave-ignore-maxmemory"), flags: 0, kind: Kind::Bool(true) },
    Param { name: "jemalloc-bg-thread", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "activedefrag", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "syslog-enabled", alias: None, flags: IMMUTABLE, kind: Kind::Bool(false) },
    Param { name: "cluster-enabled", alias: None, flags: IMMUTABLE, kind: Kind::Bool(false) },
    Param { name: "appendonly", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "cluster-allow-reads-when-down", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "cluster-allow-pubsubshard-when-down", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "crash-log-enabled", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "crash-memcheck-enabled", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "use-exit-on-panic", alias: None, flags: HIDDEN, kind: Kind::Bool(false) },
    Param { name: "disable-thp", alias: None, flags: IMMUTABLE, kind: Kind::Bool(true) },
    Param { name: "cluster-allow-replica-migration", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "replica-announced", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "latency-tracking", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "aof-disable-auto-gc", alias: None, flags: HIDDEN, kind: Kind::Bool(false) },
    Param { name: "replica-ignore-disk-write-errors", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "aclfile", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "unixsocket", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "pidfile", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "replica-announce-ip", alias: Some("slave-announce-ip"), flags: 0, kind: Kind::Str("") },
    Param { name: "masteruser", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "cluster-announce-ip", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "cluster-config-file", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "cluster-announce-hostname", alias: None, flags: 0, kind: Kind::Str("isValidAnnouncedHostname") },
    Param {
        name: "cluster-announce-human-nodename",
        alias: None,
        flags: 0,
        kind: Kind::Str("isValidAnnouncedNodename"),
    },
    Param { name: "syslog-ident", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "dbfilename", alias: None, flags: PROTECTED, kind: Kind::Str("isValidDBfilename") },
    Param { name: "appendfilename", alias: None, flags: IMMUTABLE, kind: Kind::Str("isValidAOFfilename") },
    Param { name: "appenddirname", alias: None, flags: IMMUTABLE, kind: Kind::Str("isValidAOFdirname") },
    Param { name: "server_cpulist", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "bio_cpulist", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "aof_rewrite_cpulist", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "bgsave_cpulist", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "ignore-warnings", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "proc-title-template", alias: None, flags: 0, kind: Kind::Str("isValidProcTitleTemplate") },
    Param { name: "bind-source-addr", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "logfile", alias: None, flags: IMMUTABLE, kind: Kind::Str("") },
    Param { name: "req-res-logfile", alias: None, flags: IMMUTABLE | HIDDEN, kind: Kind::Str("") },
    Param { name: "locale-collate", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "masterauth", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "requirepass", alias: None, flags: 0, kind: Kind::Str("") },
    Param {
        name: "supervised",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Enum(&["upstart", "systemd", "auto", "no"], "no"),
    },
    Param {
        name: "syslog-facility",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Enum(
            &["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"],
            "local0",
        ),
    },
    Param {
        name: "repl-diskless-load",
        alias: None,
        flags: 0,
        kind: Kind::Enum(&["disabled", "on-empty-db", "swapdb"], "disabled"),
    },
    Param {
        name: "loglevel",
        alias: None,
        flags: 0,
        kind: Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"], "notice"),
    },
    Param {
        name: "maxmemory-policy",
        alias: None,
        flags: 0,
        kind: Kind::Enum(
            &[
                "volatile-lru",
                "volatile-lfu",
                "volatile-random",
                "volatile-ttl",
                "allkeys-lru",
                "allkeys-lfu",
                "allkeys-random",
                "noeviction",
            ],
            "noeviction",
        ),
    },
    Param { name: "appendfsync", alias: None, flags: 0, kind: Kind::Enum(&["everysec", "always", "no"], "everysec") },
    Param {
        name: "oom-score-adj",
        alias: None,
        flags: 0,
        kind: Kind::Enum(&["no", "yes", "relative", "absolute"], "no"),
    },
    Param {
        name: "acl-pubsub-default",
        alias: None,
        flags: 0,
        kind: Kind::Enum(&["allchannels", "resetchannels"], "resetchannels"),
    },
    Param { name: "sanitize-dump-payload", alias: None, flags: 0, kind: Kind::Enum(&["no", "yes", "clients"], "no") },
    Param {
        name: "enable-protected-configs",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Enum(&["no", "yes", "local"], "no"),
    },
    Param {
        name: "enable-debug-command",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Enum(&["no", "yes", "local"], "no"),
    },
    Param {
        name: "enable-module-command",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Enum(&["no", "yes", "local"], "no"),
    },
    Param {
        name: "cluster-preferred-endpoint-type",
        alias: None,
        flags: 0,
        kind: Kind::Enum(&["ip", "hostname", "unknown-endpoint"], "ip"),
    },
    Param {
        name: "propagation-error-behavior",
        alias: None,
        flags: 0,
        kind: Kind::Enum(&["ignore", "panic", "panic-on-replicas"], "ignore"),
    },
    Param {
        name: "shutdown-on-sigint",
        alias: None,
        flags: MULTI_ARG,
        kind: Kind::Enum(&["default", "save", "nosave", "now", "force"], "default"),
    },
    Param {
        name: "shutdown-on-sigterm",
        alias: None,
        flags: MULTI_ARG,
        kind: Kind::Enum(&["default", "save", "nosave", "now", "force"], "default"),
    },
    Param {
        name: "databases",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Int { min: 1, max: 2147483647, default: 16, form: Form::Plain },
    },
    Param {
        name: "port",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 65535, default: 6379, form: Form::Plain },
    },
    Param {
        name: "io-threads",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Int { min: 1, max: 128, default: 1, form: Form::Plain },
    },
    Param {
        name: "auto-aof-rewrite-percentage",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 100, form: Form::Plain },
    },
    Param {
        name: "cluster-replica-validity-factor",
        alias: Some("cluster-slave-validity-factor"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 10, form: Form::Plain },
    },
    Param {
        name: "list-max-listpack-size",
        alias: Some("list-max-ziplist-size"),
        flags: 0,
        kind: Kind::Int { min: -2147483648, max: 2147483647, default: -2, form: Form::Plain },
    },
    Param {
        name: "tcp-keepalive",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 300, form: Form::Plain },
    },
    Param {
        name: "cluster-migration-barrier",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 1, form: Form::Plain },
    },
    Param {
        name: "active-defrag-cycle-min",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 99, default: 1, form: Form::Plain },
    },
    Param {
        name: "active-defrag-cycle-max",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 99, default: 25, form: Form::Plain },
    },
    Param {
        name: "active-defrag-threshold-lower",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 1000, default: 10, form: Form::Plain },
    },
    Param {
        name: "active-defrag-threshold-upper",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 1000, default: 100, form: Form::Plain },
    },
    Param {
        name: "lfu-log-factor",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 10, form: Form::Plain },
    },
    Param {
        name: "lfu-decay-time",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 1, form: Form::Plain },
    },
    Param {
        name: "replica-priority",
        alias: Some("slave-priority"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 100, form: Form::Plain },
    },
    Param {
        name: "repl-diskless-sync-delay",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 5, form: Form::Plain },
    },
    Param {
        name: "maxmemory-samples",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 2147483647, default: 5, form: Form::Plain },
    },
    Param {
        name: "maxmemory-eviction-tenacity",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 100, default: 10, form: Form::Plain },
    },
    Param {
        name: "timeout",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 0, form: Form::Plain },
    },
    Param {
        name: "replica-announce-port",
        alias: Some("slave-announce-port"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 65535, default: 0, form: Form::Plain },
    },
    Param {
        name: "tcp-backlog",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Int { min: 0, max: 2147483647, default: 511, form: Form::Plain },
    },
    Param {
        name: "cluster-port",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Int { min: 0, max: 65535, default: 0, form: Form::Plain },
    },
    Param {
        name: "cluster-announce-bus-port",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 65535, default: 0, form: Form::Plain },
    },
    Param {
        name: "cluster-announce-port",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 65535, default: 0, form: Form::Plain },
    },
    Param {
        name: "cluster-announce-tls-port",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 65535, default: 0, form: Form::Plain },
    },
    Param {
        name: "repl-timeout",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 2147483647, default: 60, form: Form::Plain },
    },
    Param {
        name: "repl-ping-replica-period",
        alias: Some("repl-ping-slave-period"),
        flags: 0,
        kind: Kind::Int { min: 1, max: 2147483647, default: 10, form: Form::Plain },
    },
    Param {
        name: "list-compress-depth",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 0, form: Form::Plain },
    },
    Param {
        name: "rdb-key-save-delay",
        alias: None,
        flags: HIDDEN,
        kind: Kind::Int { min: -2147483648, max: 2147483647, default: 0, form: Form::Plain },
    },
    Param {
        name: "key-load-delay",
        alias: None,
        flags: HIDDEN,
        kind: Kind::Int { min: -2147483648, max: 2147483647, default: 0, form: Form::Plain },
    },
    Param {
        name: "active-expire-effort",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 10, default: 1, form: Form::Plain },
    },
    Param {
        name: "min-replicas-to-write",
        alias: Some("min-slaves-to-write"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 0, form: Form::Plain },
    },
    Param {
        name: "min-replicas-max-lag",
        alias: Some("min-slaves-max-lag"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 10, form: Form::Plain },
    },
    Param {
        name: "watchdog-period",
        alias: None,
        flags: HIDDEN,
        kind: Kind::Int { min: 0, max: 2147483647, default: 0, form: Form::Plain },
    },
    Param {
        name: "shutdown-timeout",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 10, form: Form::Plain },
    },
    Param {
        name: "repl-diskless-sync-max-replicas",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 0, form: Form::Plain },
    },
    Param {
        name: "maxclients",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 4294967295, default: 10000, form: Form::Plain },
    },
    Param {
        name: "unixsocketperm",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Int { min: 0, max: 511, default: 0, form: Form::Octal },
    },
    Param {
        name: "socket-mark-id",
        alias: None,
        flags: IMMUTABLE,
        kind: Kind::Int { min: 0, max: 4294967295, default: 0, form: Form::Plain },
    },
    Param {
        name: "client-default-resp",
        alias: None,
        flags: IMMUTABLE | HIDDEN,
        kind: Kind::Int { min: 2, max: 3, default: 2, form: Form::Plain },
    },
    Param {
        name: "active-defrag-max-scan-fields",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 9223372036854775807, default: 1000, form: Form::Plain },
    },
    Param {
        name: "slowlog-max-len",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 128, form: Form::Plain },
    },
    Param {
        name: "acllog-max-len",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 128, form: Form::Plain },
    },
    Param {
        name: "busy-reply-threshold",
        alias: Some("lua-time-limit"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 5000, form: Form::Plain },
    },
    Param {
        name: "cluster-node-timeout",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 15000, form: Form::Plain },
    },
    Param {
        name: "cluster-ping-interval",
        alias: None,
        flags: HIDDEN,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 0, form: Form::Plain },
    },
    Param {
        name: "slowlog-log-slower-than",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: -1, max: 9223372036854775807, default: 10000, form: Form::Plain },
    },
    Param {
        name: "latency-monitor-threshold",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 0, form: Form::Plain },
    },
    Param {
        name: "proto-max-bulk-len",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1048576, max: 9223372036854775807, default: 536870912, form: Form::Memory },
    },
    Param {
        name: "stream-node-max-entries",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 100, form: Form::Plain },
    },
    Param {
        name: "repl-backlog-size",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 9223372036854775807, default: 1048576, form: Form::Memory },
    },
    Param {
        name: "maxmemory",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 18446744073709551615, default: 0, form: Form::Memory },
    },
    Param {
        name: "cluster-link-sendbuf-limit",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 18446744073709551615, default: 0, form: Form::Memory },
    },
    Param {
        name: "hash-max-listpack-entries",
        alias: Some("hash-max-ziplist-entries"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 512, form: Form::Plain },
    },
    Param {
        name: "set-max-intset-entries",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 512, form: Form::Plain },
    },
    Param {
        name: "set-max-listpack-entries",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 128, form: Form::Plain },
    },
    Param {
        name: "set-max-listpack-value",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 64, form: Form::Plain },
    },
    Param {
        name: "zset-max-listpack-entries",
        alias: Some("zset-max-ziplist-entries"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 128, form: Form::Plain },
    },
    Param {
        name: "active-defrag-ignore-bytes",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1, max: 9223372036854775807, default: 104857600, form: Form::Memory },
    },
    Param {
        name: "hash-max-listpack-value",
        alias: Some("hash-max-ziplist-value"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 64, form: Form::Memory },
    },
    Param {
        name: "stream-node-max-bytes",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 4096, form: Form::Memory },
    },
    Param {
        name: "zset-max-listpack-value",
        alias: Some("zset-max-ziplist-value"),
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 64, form: Form::Memory },
    },
    Param {
        name: "hll-sparse-max-bytes",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 3000, form: Form::Memory },
    },
    Param {
        name: "tracking-table-max-keys",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 1000000, form: Form::Plain },
    },
    Param {
        name: "client-query-buffer-limit",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 1048576, max: 9223372036854775807, default: 1073741824, form: Form::Memory },
    },
    Param {
        name: "maxmemory-clients",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: -100, max: 9223372036854775807, default: 0, form: Form::Percent },
    },
    Param {
        name: "repl-backlog-ttl",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 3600, form: Form::Plain },
    },
    Param {
        name: "auto-aof-rewrite-min-size",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 9223372036854775807, default: 67108864, form: Form::Memory },
    },
    Param {
        name: "loading-process-events-interval-bytes",
        alias: None,
        flags: HIDDEN,
        kind: Kind::Int { min: 1024, max: 2147483647, default: 2097152, form: Form::Plain },
    },
    Param {
        name: "tls-port",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 65535, default: 0, form: Form::Plain },
    },
    Param {
        name: "tls-session-cache-size",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 20480, form: Form::Plain },
    },
    Param {
        name: "tls-session-cache-timeout",
        alias: None,
        flags: 0,
        kind: Kind::Int { min: 0, max: 2147483647, default: 300, form: Form::Plain },
    },
    Param { name: "tls-cluster", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "tls-replication", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "tls-auth-clients", alias: None, flags: 0, kind: Kind::Enum(&["no", "yes", "optional"], "yes") },
    Param { name: "tls-prefer-server-ciphers", alias: None, flags: 0, kind: Kind::Bool(false) },
    Param { name: "tls-session-caching", alias: None, flags: 0, kind: Kind::Bool(true) },
    Param { name: "tls-cert-file", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-key-file", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-key-file-pass", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-client-cert-file", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-client-key-file", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-client-key-file-pass", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-dh-params-file", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-ca-cert-file", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-ca-cert-dir", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-protocols", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-ciphers", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "tls-ciphersuites", alias: None, flags: 0, kind: Kind::Str("") },
    Param { name: "save", alias: None, flags: MULTI_ARG, kind: Kind::Special("3600 1 300 100 60 10000") },
    Param {
        name: "client-output-buffer-limit",
        alias: None,
        flags: MULTI_ARG,
        kind: Kind::Special("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    },
    Param { name: "oom-score-adj-values", alias: None, flags: MULTI_ARG, kind: Kind::Special("0 200 800") },
    Param { name: "notify-keyspace-events", alias: None, flags: 0, kind: Kind::Special("") },
    Param { name: "replicaof", alias: Some("slaveof"), flags: IMMUTABLE | MULTI_ARG, kind: Kind::Special("") },
    Param {
        name: "latency-tracking-info-percentiles",
        alias: None,
        flags: MULTI_ARG,
        kind: Kind::Special("50 99 99.9"),
    },
    Param { name: "dir", alias: None, flags: PROTECTED, kind: Kind::Dir },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_accepted() {
        for p in PARAMS {
            assert_eq!(p.parse(&p.default_value()), Ok(p.default_value()), "{}", p.name);
        }
    }

    #[test]
    fn values_are_checked_as_redis_checks_them() {
        let p = find("hash-max-ziplist-entries").unwrap();
        assert_eq!(p.name, "hash-max-listpack-entries");
        assert_eq!(p.parse("16"), Ok("16".to_owned()));
        assert_eq!(p.parse("-1"), Err("argument must be between 0 and 9223372036854775807 inclusive".to_owned()));
        let clients = find("maxmemory-clients").unwrap();
        assert_eq!(clients.parse("50%"), Ok("50%".to_owned()));
        assert_eq!(clients.parse("200%"), Err("percentage argument must be less or equal to 100".to_owned()));
        assert!(p.parse("x").is_err());
        let mem = find("hash-max-listpack-value").unwrap();
        assert_eq!(mem.parse("1kb"), Ok("1024".to_owned()));
        assert_eq!(find("appendonly").unwrap().parse("YES"), Ok("yes".to_owned()));
        assert!(find("appendonly").unwrap().parse("maybe").is_err());
        let save = find("save").unwrap();
        assert_eq!(save.parse(""), Ok(String::new()));
        assert_eq!(save.parse("900 1  300 10"), Ok("900 1 300 10".to_owned()));
        assert!(save.parse("900").is_err());
        let sig = find("shutdown-on-sigterm").unwrap();
        assert_eq!(sig.parse("nosave NOW"), Ok("nosave now".to_owned()));
        assert!(find("appendfsync").unwrap().parse("always no").is_err());
        let clients = find("maxmemory-clients").unwrap();
        assert_eq!(clients.parse("10%"), Ok("10%".to_owned()));
        assert_eq!(clients.parse("1mb"), Ok("1048576".to_owned()));
        assert_eq!(find("unixsocketperm").unwrap().parse("700"), Ok("700".to_owned()));
        assert!(find("list-max-listpack-size").unwrap().parse("-2").is_ok());
        assert!(find("nosuch").is_none());
    }

    #[test]
    fn percentiles_read_back_as_redis_prints_them() {
        let p = find("latency-tracking-info-percentiles").unwrap();
        assert_eq!(p.parse("0.0 50.0 100.0"), Ok("0 50 100".to_owned()));
        assert_eq!(p.parse("99.90 99.999"), Ok("99.9 99.999".to_owned()));
        assert_eq!(p.parse(""), Ok(String::new()));
        assert_eq!(p.parse("10.0 50.0 a"), Err("Invalid latency-tracking-info-percentiles parameters".to_owned()));
        assert_eq!(p.parse("nan"), Err("Invalid latency-tracking-info-percentiles parameters".to_owned()));
        assert_eq!(
            p.parse("50 101.0"),
            Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".to_owned())
        );
    }
}
