//! Node configuration: one struct, one table of options.
//!
//! Every option has one name (Redis's where Redis has it), one parser and
//! one printer, shared by the command line, the TOML file and
//! `CONFIG GET/SET`, so the three can never disagree. Sizes accept Redis's
//! units (`512mb`, `1gb`, `100k`).

use std::fmt;

use ringcache_store::Policy;

/// A configuration error, worded for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown option '{0}'")]
    Unknown(String),
    #[error("invalid value for '{name}': {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("'{0}' can't be changed while running")]
    Immutable(&'static str),
}

/// Redis's log levels, mapped onto `tracing` levels by the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    Debug,
    Verbose,
    #[default]
    Notice,
    Warning,
}

impl LogLevel {
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }
}

/// Everything a node can be configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub bind: String,
    pub port: u16,
    /// `requirepass`: clients must AUTH with it; `None` = no password.
    pub requirepass: Option<String>,
    pub maxclients: usize,
    /// `timeout`: close a client idle this many seconds; 0 = never.
    pub timeout_secs: u64,
    pub proto_max_bulk_len: u64,
    /// Most arguments in one command (ringcache's own limit; Redis caps it
    /// at 2^31-1 with no option).
    pub proto_max_multibulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: Policy,
    pub maxmemory_samples: u32,
    /// Background task frequency (active expiry), per second.
    pub hz: u32,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Keyspace shards; a power of two.
    pub shards: usize,
    pub loglevel: LogLevel,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".to_owned(),
            port: 6379,
            requirepass: None,
            maxclients: 10_000,
            timeout_secs: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            proto_max_multibulk_len: 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            maxmemory: 0,
            maxmemory_policy: Policy::NoEviction,
            maxmemory_samples: 5,
            hz: 10,
            threads: 0,
            shards: 64,
            loglevel: LogLevel::Notice,
        }
    }
}

/// One option: its name, whether CONFIG SET may change it, and how to print
/// and parse it.
pub struct OptionSpec {
    pub name: &'static str,
    pub mutable: bool,
    pub help: &'static str,
    get: fn(&Config) -> String,
    set: fn(&mut Config, &str) -> Result<(), String>,
}

impl fmt::Debug for OptionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptionSpec").field("name", &self.name).finish()
    }
}

/// Parses a size with Redis's units: `b`, `k`/`kb`, `m`/`mb`, `g`/`gb`
/// (`k` = 1000, `kb` = 1024, as in redis.conf).
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(format!("argument must be a memory value, got '{s}'")),
    };
    let n: u64 = num.parse().map_err(|_| format!("argument must be a memory value, got '{s}'"))?;
    n.checked_mul(mul).ok_or_else(|| format!("memory value '{s}' is too large"))
}

fn parse_num<T>(s: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let v: T = s.trim().parse().map_err(|_| format!("argument couldn't be parsed into an integer, got '{s}'"))?;
    if v < min || v > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(v)
}

macro_rules! opt {
    ($name:literal, $mutable:literal, $help:literal, |$c:ident| $get:expr, |$m:ident, $v:ident| $set:expr) => {
        OptionSpec {
            name: $name,
            mutable: $mutable,
            help: $help,
            get: |$c: &Config| $get,
            set: |$m: &mut Config, $v: &str| {
                $set;
                Ok(())
            },
        }
    };
}

/// Every option, in the order `config/ringcache.toml` documents them.
pub static OPTIONS: &[OptionSpec] = &[
    opt!("bind", false, "Address to listen on.", |c| c.bind.clone(), |c, v| c.bind = v.trim().to_owned()),
    opt!("port", false, "Client port.", |c| c.port.to_string(), |c, v| c.port = parse_num(v, 0, u16::MAX)?),
    opt!(
        "requirepass",
        true,
        "Password clients must AUTH with; empty = none.",
        |c| c.requirepass.clone().unwrap_or_default(),
        |c, v| c.requirepass = (!v.is_empty()).then(|| v.to_owned())
    ),
    opt!("maxclients", true, "Most simultaneous client connections.", |c| c.maxclients.to_string(), |c, v| c
        .maxclients =
        parse_num(v, 1, 1_000_000)?),
    opt!(
        "timeout",
        true,
        "Close clients idle this many seconds (0 = never).",
        |c| c.timeout_secs.to_string(),
        |c, v| c.timeout_secs = parse_num(v, 0, i32::MAX as u64)?
    ),
    opt!(
        "proto-max-bulk-len",
        true,
        "Largest single argument, in bytes.",
        |c| c.proto_max_bulk_len.to_string(),
        |c, v| c.proto_max_bulk_len = at_least(parse_memory(v)?, 1024 * 1024)?
    ),
    opt!(
        "proto-max-multibulk-len",
        true,
        "Most arguments in one command.",
        |c| c.proto_max_multibulk_len.to_string(),
        |c, v| c.proto_max_multibulk_len = parse_num(v, 1024, i32::MAX as u64)?
    ),
    opt!(
        "client-query-buffer-limit",
        true,
        "Most unprocessed bytes buffered for one client before it is closed.",
        |c| c.client_query_buffer_limit.to_string(),
        |c, v| c.client_query_buffer_limit = at_least(parse_memory(v)?, 1024 * 1024)?
    ),
    opt!("maxmemory", true, "Memory limit for data, in bytes (0 = none).", |c| c.maxmemory.to_string(), |c, v| c
        .maxmemory =
        parse_memory(v)?),
    opt!("maxmemory-policy", true, "What to evict at maxmemory.", |c| c.maxmemory_policy.name().to_owned(), |c, v| c
        .maxmemory_policy =
        v.trim().parse()?),
    opt!("maxmemory-samples", true, "Keys sampled per eviction.", |c| c.maxmemory_samples.to_string(), |c, v| c
        .maxmemory_samples =
        parse_num(v, 1, 64)?),
    opt!("hz", true, "Background cycles per second (active expiry).", |c| c.hz.to_string(), |c, v| c.hz =
        parse_num(v, 1, 500)?),
    opt!("threads", false, "Worker threads (0 = one per core).", |c| c.threads.to_string(), |c, v| c.threads =
        parse_num(v, 0, 1024)?),
    opt!("shards", false, "Keyspace shards (a power of two).", |c| c.shards.to_string(), |c, v| c.shards =
        power_of_two(parse_num(v, 1, 1 << 16)?)?),
    opt!("loglevel", true, "debug, verbose, notice or warning.", |c| c.loglevel.name().to_owned(), |c, v| c.loglevel =
        match v.trim().to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "verbose" => LogLevel::Verbose,
            "notice" => LogLevel::Notice,
            "warning" => LogLevel::Warning,
            _ =>
                return Err(format!(
                    "argument(s) must be one of the following: debug, verbose, notice, warning, got '{v}'"
                )),
        }),
];

fn at_least(v: u64, min: u64) -> Result<u64, String> {
    if v < min {
        return Err(format!("argument must be at least {min}"));
    }
    Ok(v)
}

fn power_of_two(v: usize) -> Result<usize, String> {
    if !v.is_power_of_two() {
        return Err(format!("argument must be a power of two, got {v}"));
    }
    Ok(v)
}

impl Config {
    /// A config for tests: a random port chosen by the OS, small shards.
    pub fn for_test() -> Self {
        Config { port: 0, shards: 8, ..Config::default() }
    }

    pub fn option(name: &str) -> Option<&'static OptionSpec> {
        OPTIONS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// Sets option `name` from its text form (command line, file, CONFIG SET).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let opt = Config::option(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))?;
        (opt.set)(self, value).map_err(|reason| ConfigError::Invalid { name: opt.name, reason })
    }

    /// Like [`set`](Self::set), refusing options that can't change at run time.
    pub fn set_running(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let opt = Config::option(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))?;
        if !opt.mutable {
            return Err(ConfigError::Immutable(opt.name));
        }
        self.set(name, value)
    }

    /// Option `name`'s value in text form.
    pub fn get(&self, name: &str) -> Option<String> {
        Config::option(name).map(|o| (o.get)(self))
    }

    /// Checks how fields relate to each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.client_query_buffer_limit < self.proto_max_bulk_len {
            return Err(ConfigError::Invalid {
                name: "proto-max-bulk-len",
                reason: "must not exceed client-query-buffer-limit".to_owned(),
            });
        }
        if !self.shards.is_power_of_two() {
            return Err(ConfigError::Invalid { name: "shards", reason: "must be a power of two".to_owned() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_round_trips_its_default() {
        let mut c = Config::default();
        for opt in OPTIONS {
            let text = (opt.get)(&c);
            c.set(opt.name, &text).unwrap_or_else(|e| panic!("{}: {e}", opt.name));
        }
        assert_eq!(c, Config::default());
        c.validate().unwrap();
    }

    #[test]
    fn units_and_errors() {
        assert_eq!(parse_memory("512mb"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_memory("1GB"), Ok(1 << 30));
        assert_eq!(parse_memory("100k"), Ok(100_000));
        assert!(parse_memory("12xb").is_err());
        let mut c = Config::default();
        c.set("maxmemory", "10mb").unwrap();
        assert_eq!(c.maxmemory, 10 << 20);
        c.set("maxmemory-policy", "allkeys-lru").unwrap();
        assert_eq!(c.get("maxmemory-policy").as_deref(), Some("allkeys-lru"));
        assert!(matches!(c.set("nope", "1"), Err(ConfigError::Unknown(_))));
        assert!(matches!(c.set_running("port", "1"), Err(ConfigError::Immutable("port"))));
        assert!(matches!(c.set("shards", "3"), Err(ConfigError::Invalid { .. })));
    }
}
