//! Node configuration: one struct, one table of options.
//!
//! Every option has one name (Redis's where Redis has it), one parser and
//! one printer, shared by the command line, the TOML file and
//! `CONFIG GET/SET`, so the three can never disagree. Sizes accept Redis's
//! units (`512mb`, `1gb`, `100k`).

use std::fmt;

use ringcache_store::Policy;

mod redis_params;
pub use redis_params::{Param as RedisParam, RedisParams, PARAMS as REDIS_PARAMS};

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
    /// `busy-reply-threshold` (alias `lua-time-limit`): after a script has
    /// run this long, other clients get `-BUSY`; 0 = never.
    pub busy_reply_threshold_ms: u64,
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
    /// Numbered databases (SELECT 0 .. databases - 1).
    pub databases: u32,
    pub loglevel: LogLevel,
    /// `hll-sparse-max-bytes`: the longest a sparse HyperLogLog grows
    /// before it is made dense.
    pub hll_sparse_max_bytes: u64,
    /// This node's id in the cluster (required in a cluster).
    pub node_id: String,
    /// Port for node-to-node traffic; 0 = the client port + 10000.
    pub cluster_port: u16,
    /// Known members with their ids: seeds whose address is pinned (this
    /// node always reaches them there). This one may be listed too.
    pub peers: Vec<Peer>,
    /// `seeds`: members to join through, by cluster address only.
    pub seeds: Vec<Seed>,
    /// `cluster-enabled`: a cluster member even with no peers or seeds
    /// (a cluster of one that others can CLUSTER MEET).
    pub cluster_enabled: bool,
    /// `cluster-announce-ip`: the IP other nodes reach this one at
    /// (empty = `bind`).
    pub cluster_announce_ip: String,
    /// The failure detector (docs/membership.md): SWIM's protocol period,
    /// the wait for a direct ack, the time a suspect has to refute, and
    /// the period of gossip pushes.
    pub gossip_probe_interval_ms: u64,
    pub gossip_probe_rtt_ms: u64,
    pub gossip_suspect_timeout_ms: u64,
    pub gossip_interval_ms: u64,
    pub cluster_mode: ClusterMode,
    /// In `redis-cluster` mode, answer `-MOVED` for keys this node does not
    /// coordinate instead of forwarding them.
    pub cluster_strict: bool,
    /// On SHUTDOWN and SIGTERM, leave the cluster first (hand this node's
    /// data to the members that take its slots over).
    pub leave_on_shutdown: bool,
    /// How long the ring must stay unchanged before this node hands the
    /// copies of slots it no longer owns to their owners and drops them,
    /// in milliseconds; 0 keeps them.
    pub unowned_grace_ms: u64,
    /// Shared secret that nodes prove to each other; required with peers.
    pub cluster_secret: Option<String>,
    /// How long a forwarded command may take before the client gets
    /// `-TRYAGAIN`, in milliseconds.
    pub cluster_timeout_ms: u64,
    /// Virtual nodes per cluster member on the ring.
    pub vnodes: u32,
    /// `replicas` (N): owners of each slot, the coordinator included;
    /// never more than the members.
    pub replicas: usize,
    /// `write-quorum` (W): owners that must hold a write before it is
    /// acknowledged, the coordinator included. At most N: a larger value
    /// acts as N (so `replicas 1` needs no other change).
    pub write_quorum: usize,
    /// `read-quorum` (R): owners a read consults. Only 1 is accepted for
    /// now (quorum reads exist in `ringcache-replication`, not yet wired).
    pub read_quorum: usize,
    /// `sloppy-quorum`: whether a hint kept for a down owner counts toward W.
    pub sloppy_quorum: bool,
    /// How long a delete's tombstone is kept, so a stale owner cannot bring
    /// the key back; must be longer than any partition anti-entropy is
    /// expected to heal.
    pub tombstone_grace_ms: u64,
    /// How often anti-entropy compares digests with one other owner.
    pub anti_entropy_interval_ms: u64,
    /// Hints kept for one down owner.
    pub hints_max_per_node: usize,
    /// Writes waiting for their quorum at once; one more gets -TRYAGAIN.
    pub replication_writes_max: usize,
    /// Redis's parameters that mean nothing here, as CONFIG SET left them
    /// (see `config/redis_params.rs`).
    pub redis: RedisParams,
    /// `client-output-buffer-limit`, per client class.
    pub client_output_buffer_limit: OutputBufferLimits,
    /// `notify-keyspace-events`, as `crate::pubsub::notify` flags (0: off).
    pub notify_keyspace_events: u32,
}

/// One class's `client-output-buffer-limit <class> <hard> <soft> <seconds>`;
/// 0 = no such limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_secs: u64,
}

impl BufferLimit {
    /// Redis's defaults for the pubsub class.
    pub const PUBSUB_DEFAULT: BufferLimit =
        BufferLimit { hard_bytes: 32 * 1024 * 1024, soft_bytes: 8 * 1024 * 1024, soft_secs: 60 };
}

/// `client-output-buffer-limit` of Redis's three classes. Only `pubsub` is
/// enforced (on what waits for a subscriber, see `crate::pubsub`); a
/// `normal` client's replies are bounded by flushing as they are made, and
/// there are no replica clients: those two are kept for CONFIG GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    pub normal: BufferLimit,
    pub replica: BufferLimit,
    pub pubsub: BufferLimit,
}

impl Default for OutputBufferLimits {
    fn default() -> OutputBufferLimits {
        OutputBufferLimits {
            normal: BufferLimit { hard_bytes: 0, soft_bytes: 0, soft_secs: 0 },
            replica: BufferLimit { hard_bytes: 256 << 20, soft_bytes: 64 << 20, soft_secs: 60 },
            pubsub: BufferLimit::PUBSUB_DEFAULT,
        }
    }
}

impl fmt::Display for OutputBufferLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classes = [("normal", self.normal), ("slave", self.replica), ("pubsub", self.pubsub)];
        for (i, (name, l)) in classes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name} {} {} {}", l.hard_bytes, l.soft_bytes, l.soft_secs)?;
        }
        Ok(())
    }
}

/// Parses `<class> <hard> <soft> <seconds>` groups onto `current`, as
/// Redis's `updateClientOutputBufferLimit` does: all or nothing.
fn parse_output_buffer_limits(v: &str, current: OutputBufferLimits) -> Result<OutputBufferLimits, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".to_owned());
    }
    let mut next = current;
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => &mut next.normal,
            "slave" | "replica" => &mut next.replica,
            "pubsub" => &mut next.pubsub,
            _ => return Err("Invalid client class specified in buffer limit configuration.".to_owned()),
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_owned();
        let hard_bytes = parse_memory(group[1]).map_err(|_| bad())?;
        let soft_bytes = parse_memory(group[2]).map_err(|_| bad())?;
        let soft_secs: u64 = group[3].parse().map_err(|_| bad())?;
        *class = BufferLimit { hard_bytes, soft_bytes, soft_secs };
    }
    Ok(next)
}

/// How keyspace-wide and CLUSTER commands behave on a cluster node
/// (docs/cluster.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterMode {
    /// The cluster looks like one big Redis.
    #[default]
    Proxy,
    /// The cluster looks like a Redis Cluster to cluster-aware clients.
    RedisCluster,
}

impl ClusterMode {
    pub fn name(self) -> &'static str {
        match self {
            ClusterMode::Proxy => "proxy",
            ClusterMode::RedisCluster => "redis-cluster",
        }
    }
}

/// One cluster member as configured: `id@host:port[@cluster-port]`, where
/// `port` is its client port (Redis's own `ip:port@cport` notation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: String,
    pub host: String,
    pub port: u16,
    /// 0 = `port + 10000`.
    pub cluster_port: u16,
}

impl Peer {
    /// The port it listens on for other nodes.
    pub fn cluster_port(&self) -> u16 {
        cluster_port_for(self.port, self.cluster_port)
    }
}

/// The cluster port of a node with client port `port`: `configured`, or
/// `port + 10000` as in Redis Cluster.
pub fn cluster_port_for(port: u16, configured: u16) -> u16 {
    if configured != 0 {
        configured
    } else {
        port.wrapping_add(10_000)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.id, self.host, self.port)?;
        if self.cluster_port != 0 {
            write!(f, "@{}", self.cluster_port)?;
        }
        Ok(())
    }
}

/// A seed: a member's cluster address (`host:cluster-port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Parses `host:cluster-port,...` (spaces allowed after commas).
pub fn parse_seeds(s: &str) -> Result<Vec<Seed>, String> {
    let mut seeds: Vec<Seed> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let bad = || format!("seed '{item}' is not host:cluster-port");
        let (host, port) = item.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        let seed = Seed { host: host.to_owned(), port };
        if !seeds.contains(&seed) {
            seeds.push(seed);
        }
    }
    Ok(seeds)
}

/// Parses `id@host:port[@cport],...` (spaces allowed after commas).
pub fn parse_peers(s: &str) -> Result<Vec<Peer>, String> {
    let mut peers: Vec<Peer> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let bad = || format!("peer '{item}' is not id@host:port or id@host:port@cluster-port");
        let (id, rest) = item.split_once('@').ok_or_else(bad)?;
        let (addr, cport) = match rest.split_once('@') {
            Some((a, c)) => (a, c.parse::<u16>().map_err(|_| bad())?),
            None => (rest, 0),
        };
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if id.is_empty() || id.len() > 256 || host.is_empty() || port == 0 {
            return Err(bad());
        }
        if peers.iter().any(|p| p.id == id) {
            return Err(format!("peer id '{id}' is listed twice"));
        }
        peers.push(Peer { id: id.to_owned(), host: host.to_owned(), port, cluster_port: cport });
    }
    Ok(peers)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".to_owned(),
            port: 6379,
            requirepass: None,
            maxclients: 10_000,
            timeout_secs: 0,
            busy_reply_threshold_ms: 5000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            proto_max_multibulk_len: 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            maxmemory: 0,
            maxmemory_policy: Policy::NoEviction,
            maxmemory_samples: 5,
            hz: 10,
            threads: 0,
            shards: 1024,
            databases: 16,
            loglevel: LogLevel::Notice,
            hll_sparse_max_bytes: 3000,
            node_id: String::new(),
            cluster_port: 0,
            peers: Vec::new(),
            seeds: Vec::new(),
            cluster_enabled: false,
            cluster_announce_ip: String::new(),
            gossip_probe_interval_ms: 500,
            gossip_probe_rtt_ms: 200,
            gossip_suspect_timeout_ms: 2_000,
            gossip_interval_ms: 100,
            cluster_mode: ClusterMode::Proxy,
            cluster_strict: false,
            leave_on_shutdown: false,
            unowned_grace_ms: 30_000,
            cluster_secret: None,
            cluster_timeout_ms: 2_000,
            vnodes: 1024,
            replicas: 3,
            write_quorum: 2,
            read_quorum: 1,
            sloppy_quorum: false,
            tombstone_grace_ms: 600_000,
            anti_entropy_interval_ms: 1_000,
            hints_max_per_node: 10_000,
            replication_writes_max: 65_536,
            redis: RedisParams::default(),
            client_output_buffer_limit: OutputBufferLimits::default(),
            notify_keyspace_events: 0,
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

/// What a configuration name names: one of ringcache's options, or a
/// Redis parameter that is only stored.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    Own(&'static OptionSpec),
    Redis(&'static RedisParam),
}

impl Setting {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Own(o) => o.name,
            Setting::Redis(p) => p.name,
        }
    }

    pub fn mutable(self) -> bool {
        match self {
            Setting::Own(o) => o.mutable,
            Setting::Redis(p) => !p.has(redis_params::IMMUTABLE),
        }
    }

    /// Refused by CONFIG SET as Redis refuses its protected configs while
    /// `enable-protected-configs` is `no`.
    pub fn protected(self) -> bool {
        matches!(self, Setting::Redis(p) if p.has(redis_params::PROTECTED))
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
        "busy-reply-threshold",
        true,
        "Milliseconds a script runs before other clients get -BUSY and SCRIPT KILL may stop it (0 = never).",
        |c| c.busy_reply_threshold_ms.to_string(),
        |c, v| c.busy_reply_threshold_ms = parse_num(v, 0, i64::MAX as u64)?
    ),
    opt!(
        "lua-time-limit",
        true,
        "Alias of busy-reply-threshold.",
        |c| c.busy_reply_threshold_ms.to_string(),
        |c, v| c.busy_reply_threshold_ms = parse_num(v, 0, i64::MAX as u64)?
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
    opt!(
        "client-output-buffer-limit",
        true,
        "Output buffer limits per class: <class> <hard> <soft> <seconds> ... (pubsub enforced).",
        |c| c.client_output_buffer_limit.to_string(),
        |c, v| c.client_output_buffer_limit = parse_output_buffer_limits(v, c.client_output_buffer_limit)?
    ),
    opt!(
        "notify-keyspace-events",
        true,
        "Keyspace notification classes, Redis's letters (K E g $ l s h z x e t m d n A); empty = off.",
        |c| crate::pubsub::notify::format_flags(c.notify_keyspace_events),
        |c, v| c.notify_keyspace_events = crate::pubsub::notify::parse_flags(v.trim())?
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
    opt!(
        "databases",
        false,
        "Number of databases (SELECT 0 to databases - 1).",
        |c| c.databases.to_string(),
        |c, v| c.databases = parse_num(v, 1, ringcache_store::DATABASES_MAX)?
    ),
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
    opt!(
        "hll-sparse-max-bytes",
        true,
        "Bytes a sparse HyperLogLog may grow to before it is made dense.",
        |c| c.hll_sparse_max_bytes.to_string(),
        |c, v| c.hll_sparse_max_bytes = parse_num(&parse_memory(v)?.to_string(), 0, i64::MAX as u64)?
    ),
    opt!("node-id", false, "This node's cluster id (required with peers).", |c| c.node_id.clone(), |c, v| c.node_id =
        node_id(v)?),
    opt!(
        "cluster-port",
        false,
        "Port for node-to-node traffic (0 = client port + 10000).",
        |c| c.cluster_port.to_string(),
        |c, v| c.cluster_port = parse_num(v, 0, u16::MAX)?
    ),
    opt!(
        "peers",
        false,
        "Cluster members, id@host:port[@cluster-port],... (empty = standalone).",
        |c| c.peers.iter().map(Peer::to_string).collect::<Vec<_>>().join(","),
        |c, v| c.peers = parse_peers(v)?
    ),
    opt!(
        "seeds",
        false,
        "Members to join through, host:cluster-port,... (any few will do).",
        |c| c.seeds.iter().map(Seed::to_string).collect::<Vec<_>>().join(","),
        |c, v| c.seeds = parse_seeds(v)?
    ),
    opt!(
        "cluster-enabled",
        false,
        "A cluster member even without peers or seeds (others can CLUSTER MEET it).",
        |c| yes_no(c.cluster_enabled),
        |c, v| c.cluster_enabled = parse_yes_no(v)?
    ),
    opt!(
        "cluster-announce-ip",
        false,
        "The IP other nodes reach this one at (empty = bind).",
        |c| c.cluster_announce_ip.clone(),
        |c, v| c.cluster_announce_ip = announce_ip(v)?
    ),
    opt!(
        "gossip-probe-interval-ms",
        false,
        "Failure detector: milliseconds between probes of one member.",
        |c| c.gossip_probe_interval_ms.to_string(),
        |c, v| c.gossip_probe_interval_ms = parse_num(v, 10, 60_000)?
    ),
    opt!(
        "gossip-probe-rtt-ms",
        false,
        "Failure detector: wait for a direct ack before probing indirectly.",
        |c| c.gossip_probe_rtt_ms.to_string(),
        |c, v| c.gossip_probe_rtt_ms = parse_num(v, 1, 60_000)?
    ),
    opt!(
        "gossip-suspect-timeout-ms",
        false,
        "Failure detector: milliseconds a suspect has to refute before it is dead.",
        |c| c.gossip_suspect_timeout_ms.to_string(),
        |c, v| c.gossip_suspect_timeout_ms = parse_num(v, 10, 600_000)?
    ),
    opt!(
        "gossip-interval-ms",
        false,
        "Milliseconds between pushes of membership updates to 3 members.",
        |c| c.gossip_interval_ms.to_string(),
        |c, v| c.gossip_interval_ms = parse_num(v, 10, 60_000)?
    ),
    opt!("cluster-mode", false, "proxy or redis-cluster.", |c| c.cluster_mode.name().to_owned(), |c, v| c
        .cluster_mode =
        match v.trim().to_ascii_lowercase().as_str() {
            "proxy" => ClusterMode::Proxy,
            "redis-cluster" => ClusterMode::RedisCluster,
            _ => return Err(format!("argument must be 'proxy' or 'redis-cluster', got '{v}'")),
        }),
    opt!(
        "cluster-strict",
        true,
        "In redis-cluster mode, answer MOVED instead of forwarding.",
        |c| yes_no(c.cluster_strict),
        |c, v| c.cluster_strict = parse_yes_no(v)?
    ),
    opt!(
        "leave-on-shutdown",
        true,
        "On SHUTDOWN and SIGTERM, hand this node's data over and leave the cluster first.",
        |c| yes_no(c.leave_on_shutdown),
        |c, v| c.leave_on_shutdown = parse_yes_no(v)?
    ),
    opt!(
        "unowned-grace-ms",
        true,
        "Ring unchanged this long: copies of slots this node no longer owns go to their owners, then are dropped (0: kept).",
        |c| c.unowned_grace_ms.to_string(),
        |c, v| c.unowned_grace_ms = parse_num(v, 0, 86_400_000)?
    ),
    opt!(
        "cluster-secret",
        false,
        "Shared secret nodes authenticate each other with.",
        |c| c.cluster_secret.clone().unwrap_or_default(),
        |c, v| c.cluster_secret = (!v.is_empty()).then(|| v.to_owned())
    ),
    opt!(
        "cluster-timeout",
        false,
        "Milliseconds a forwarded command may take before -TRYAGAIN.",
        |c| c.cluster_timeout_ms.to_string(),
        |c, v| c.cluster_timeout_ms = parse_num(v, 10, 600_000)?
    ),
    opt!("vnodes", false, "Virtual nodes per member on the ring.", |c| c.vnodes.to_string(), |c, v| c.vnodes =
        parse_num(v, 1, 1 << 16)?),
    opt!("replicas", false, "Owners of each slot (N), at most the members.", |c| c.replicas.to_string(), |c, v| c
        .replicas =
        parse_num(v, 1, 16)?),
    opt!(
        "write-quorum",
        true,
        "Owners that hold a write before it is acknowledged (W).",
        |c| c.write_quorum.to_string(),
        |c, v| c.write_quorum = parse_num(v, 1, 16)?
    ),
    opt!(
        "read-quorum",
        true,
        "Owners a keyed read consults (R), with read repair when R > 1.",
        |c| c.read_quorum.to_string(),
        |c, v| c.read_quorum = parse_num(v, 1, 16)?
    ),
    opt!(
        "sloppy-quorum",
        false,
        "Count hints kept for a down owner toward the write quorum.",
        |c| yes_no(c.sloppy_quorum),
        |c, v| c.sloppy_quorum = parse_yes_no(v)?
    ),
    opt!(
        "tombstone-grace-ms",
        false,
        "Milliseconds a delete's tombstone is kept.",
        |c| c.tombstone_grace_ms.to_string(),
        |c, v| c.tombstone_grace_ms = parse_num(v, 1_000, 7 * 24 * 3_600_000)?
    ),
    opt!(
        "anti-entropy-interval-ms",
        false,
        "Milliseconds between anti-entropy rounds.",
        |c| c.anti_entropy_interval_ms.to_string(),
        |c, v| c.anti_entropy_interval_ms = parse_num(v, 10, 3_600_000)?
    ),
    opt!(
        "hints-max-per-node",
        false,
        "Hints kept for one down owner.",
        |c| c.hints_max_per_node.to_string(),
        |c, v| c.hints_max_per_node = parse_num(v, 1, 10_000_000)?
    ),
    opt!(
        "replication-writes-max",
        false,
        "Writes waiting for their quorum at once.",
        |c| c.replication_writes_max.to_string(),
        |c, v| c.replication_writes_max = parse_num(v, 1, 10_000_000)?
    ),
];

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn parse_yes_no(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("argument must be 'yes' or 'no', got '{v}'")),
    }
}

fn node_id(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.len() > 256 || v.bytes().any(|b| !b.is_ascii_graphic() || b == b'@' || b == b',') {
        return Err("a node id is up to 256 printable characters, without '@' or ','".to_owned());
    }
    Ok(v.to_owned())
}

fn announce_ip(v: &str) -> Result<String, String> {
    let v = v.trim();
    if !v.is_empty() && v.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("argument must be an IP address, got '{v}'"));
    }
    Ok(v.to_owned())
}

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

    /// The option or Redis parameter called `name` (a Redis alias too):
    /// ringcache's own options win over Redis's namesakes.
    pub fn lookup(name: &str) -> Option<Setting> {
        Config::option(name).map(Setting::Own).or_else(|| redis_params::find(name).map(Setting::Redis))
    }

    /// Sets option `name` from its text form (command line, file, CONFIG SET).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match Config::lookup(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))? {
            Setting::Own(opt) => {
                (opt.set)(self, value).map_err(|reason| ConfigError::Invalid { name: opt.name, reason })
            }
            Setting::Redis(p) => {
                self.redis.set(p, value).map_err(|reason| ConfigError::Invalid { name: p.name, reason })
            }
        }
    }

    /// Like [`set`](Self::set), refusing options that can't change at run time.
    pub fn set_running(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let found = Config::lookup(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))?;
        if !found.mutable() {
            return Err(ConfigError::Immutable(found.name()));
        }
        self.set(name, value)
    }

    /// Option `name`'s value in text form.
    pub fn get(&self, name: &str) -> Option<String> {
        Config::lookup(name).map(|s| match s {
            Setting::Own(o) => (o.get)(self),
            Setting::Redis(p) => self.redis.get(p),
        })
    }

    /// Every name CONFIG GET matches a pattern against, with what it
    /// names: ringcache's options, then Redis's parameters and their
    /// aliases (hidden ones only by their exact name, as in Redis).
    pub fn names() -> impl Iterator<Item = (&'static str, Setting)> {
        let own = OPTIONS.iter().map(|o| (o.name, Setting::Own(o)));
        let redis = REDIS_PARAMS
            .iter()
            .filter(|p| !p.has(redis_params::HIDDEN) && Config::option(p.name).is_none())
            .flat_map(|p| std::iter::once(p.name).chain(p.alias).map(move |n| (n, Setting::Redis(p))));
        own.chain(redis)
    }

    /// The port this node listens on for other nodes: `cluster-port` if
    /// set, else the one its own `peers` entry names (which is where the
    /// other nodes will dial it), else client port + 10000.
    pub fn own_cluster_port(&self, client_port: u16) -> u16 {
        if self.cluster_port != 0 {
            return self.cluster_port;
        }
        self.peers
            .iter()
            .find(|p| p.id == self.node_id)
            .map_or_else(|| cluster_port_for(client_port, 0), Peer::cluster_port)
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
        if self.is_cluster() {
            if self.cluster_secret.as_ref().is_none_or(|s| s.len() < 16) {
                return Err(ConfigError::Invalid {
                    name: "cluster-secret",
                    reason: "of at least 16 bytes is required in a cluster (peers, seeds or cluster-enabled)"
                        .to_owned(),
                });
            }
            if self.node_id.is_empty() {
                return Err(ConfigError::Invalid {
                    name: "node-id",
                    reason: "is required in a cluster (peers, seeds or cluster-enabled)".to_owned(),
                });
            }
            if let Err(e) = self.membership_config().validate() {
                return Err(ConfigError::Invalid { name: "gossip-probe-rtt-ms", reason: e.to_string() });
            }
        }
        Ok(())
    }

    /// Whether this node is a cluster member.
    pub fn is_cluster(&self) -> bool {
        self.cluster_enabled || !self.peers.is_empty() || !self.seeds.is_empty()
    }

    /// The membership state machine's settings.
    pub fn membership_config(&self) -> ringcache_membership::Config {
        ringcache_membership::Config {
            probe_interval_ms: self.gossip_probe_interval_ms,
            probe_rtt_ms: self.gossip_probe_rtt_ms,
            suspect_timeout_ms: self.gossip_suspect_timeout_ms,
            gossip_interval_ms: self.gossip_interval_ms,
            ..ringcache_membership::Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cluster_port_follows_the_peers_entry() {
        let mut c = Config { node_id: "b".to_owned(), ..Config::default() };
        assert_eq!(c.own_cluster_port(7000), 17000, "standalone default: port + 10000");
        c.peers = parse_peers("a@h:7001@9001,b@h:7002@9002").unwrap();
        assert_eq!(c.own_cluster_port(7002), 9002, "where the others dial it");
        c.peers = parse_peers("a@h:7001,b@h:7002").unwrap();
        assert_eq!(c.own_cluster_port(7002), 17002);
        c.cluster_port = 9999;
        assert_eq!(c.own_cluster_port(7002), 9999, "cluster-port wins");
    }

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
    fn output_buffer_limits_parse_per_class_as_redis_does() {
        let mut c = Config::default();
        assert_eq!(
            c.get("client-output-buffer-limit").as_deref(),
            Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        );
        c.set("client-output-buffer-limit", "pubsub 1mb 512kb 5").unwrap();
        assert_eq!(
            c.client_output_buffer_limit.pubsub,
            BufferLimit { hard_bytes: 1 << 20, soft_bytes: 512 << 10, soft_secs: 5 }
        );
        assert_eq!(c.client_output_buffer_limit.replica.hard_bytes, 256 << 20, "other classes kept");
        for bad in ["pubsub 1 2", "nope 1 2 3", "pubsub x 2 3", "pubsub 1 2 3 normal 0 0 x"] {
            assert!(c.set("client-output-buffer-limit", bad).is_err(), "{bad}");
        }
        assert_eq!(c.client_output_buffer_limit.pubsub.soft_secs, 5, "a failed set changes nothing");
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
