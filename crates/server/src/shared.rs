//! State shared by every connection of a node.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::RwLock;
use ringcache_store::{Db, DbConfig};
use ringcache_version::NodeTag;
use tokio_util::sync::CancellationToken;

use crate::client::ClientRegistry;
use crate::cluster::Cluster;
use crate::config::{Config, ConfigError};

/// Server-wide counters for INFO. Connections add to them once per batch of
/// commands, not once per command.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections_received: AtomicU64,
    pub connections_rejected: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

impl ServerStats {
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.connections_rejected,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            c.store(0, Relaxed);
        }
    }
}

#[derive(Debug)]
pub struct Shared {
    pub db: Db,
    config: RwLock<Config>,
    /// Bumped on every CONFIG SET, so connections refresh their cached
    /// limits with one atomic load per batch instead of taking a lock.
    config_epoch: AtomicU64,
    pub clients: ClientRegistry,
    pub stats: ServerStats,
    pub started: Instant,
    /// 40 hex characters, new on every start (INFO run_id).
    pub run_id: String,
    /// The replication ID INFO reports (`master_replid`), 40 hex
    /// characters new on every start, as a Redis master draws its own.
    /// No Redis replica can attach, so its offset stays 0.
    pub repl_id: String,
    /// Cancelled to stop the node (signal or SHUTDOWN).
    pub shutdown: CancellationToken,
    /// The address actually bound (the configured port may be 0 in tests).
    pub local_addr: OnceLock<SocketAddr>,
    /// Set on a cluster member; `None` on a standalone node.
    pub cluster: Option<Arc<Cluster>>,
    /// Whether commands hand what they change to replication (a cluster
    /// with `replicas` > 1).
    pub journal: bool,
    /// The Lua state and the running script (see `ringcache-scripting`).
    pub scripting: ringcache_scripting::Scripting,
    /// Pub/Sub subscriptions and delivery.
    pub pubsub: crate::pubsub::Registry,
    /// Command statistics, SLOWLOG, LATENCY and MONITOR.
    pub observe: crate::observe::Observer,
    /// Clients blocked on keys (BLPOP ...).
    pub blocked: crate::blocking::Blocked,
    /// CLIENT PAUSE.
    pub pause: crate::pause::Pause,
    /// CLIENT TRACKING: the tracking table and BCAST prefixes.
    pub tracking: crate::tracking::Tracking,
    /// `databases`, fixed at start.
    pub databases: u32,
    /// Whether only database 0 may be used (`redis-cluster` mode, as in
    /// Redis Cluster).
    pub db0_only: bool,
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        Shared::with_cluster(config, None)
    }

    /// A node that is a member of `cluster` (or standalone, for `None`).
    pub fn with_cluster(config: Config, cluster: Option<Arc<Cluster>>) -> Shared {
        let journal = cluster.as_ref().is_some_and(|c| c.replication.is_some());
        let db = Db::new(DbConfig {
            shards: config.shards,
            maxmemory: config.maxmemory,
            policy: config.maxmemory_policy,
            samples: config.maxmemory_samples,
            // Every owner tags its writes with its own id, and keeps
            // tombstones so a stale owner cannot bring a deleted key back.
            node_tag: NodeTag::of(&config.node_id),
            tombstone_grace_ms: if journal { config.tombstone_grace_ms } else { 0 },
            journal,
            ..DbConfig::default()
        });
        let scripting = ringcache_scripting::Scripting::new();
        scripting.set_busy_threshold_ms(config.busy_reply_threshold_ms);
        let databases = config.databases;
        let db0_only = cluster.is_some() && config.cluster_mode == crate::config::ClusterMode::RedisCluster;
        let hex_id =
            || (0..40).map(|_| char::from_digit(rand::random::<u32>() % 16, 16).expect("digit < 16")).collect();
        let (run_id, repl_id) = (hex_id(), hex_id());
        let pubsub = crate::pubsub::Registry::new(config.client_output_buffer_limit.pubsub);
        pubsub.set_notify_flags(config.notify_keyspace_events);
        db.set_gone_events(crate::pubsub::notify::wants_gone(config.notify_keyspace_events));
        let observe = crate::observe::Observer::new(&config);
        let tracking = crate::tracking::Tracking::default();
        tracking.set_max_keys(tracking_max_keys(&config));
        Shared {
            db,
            pubsub,
            observe,
            blocked: crate::blocking::Blocked::default(),
            pause: crate::pause::Pause::default(),
            tracking,
            config: RwLock::new(config),
            config_epoch: AtomicU64::new(0),
            clients: ClientRegistry::default(),
            stats: ServerStats::default(),
            started: Instant::now(),
            run_id,
            repl_id,
            shutdown: CancellationToken::new(),
            local_addr: OnceLock::new(),
            cluster,
            journal,
            scripting,
            databases,
            db0_only,
        }
    }

    /// A copy of the configuration.
    pub fn config(&self) -> Config {
        self.config.read().clone()
    }

    /// Reads one field without copying the whole configuration.
    /// SHUTDOWN and SIGTERM: stop now, or, on a cluster member with
    /// `leave-on-shutdown yes`, once it has handed its data over and left
    /// (`cluster::leave`).
    pub fn request_shutdown(&self) {
        match self.cluster.as_ref().filter(|_| self.with_config(|c| c.leave_on_shutdown)) {
            Some(cluster) if !cluster.leave.has_left() => {
                if !cluster.leave.request(true) {
                    tracing::warn!("shutting down once this node has left the cluster");
                }
            }
            _ => self.shutdown.cancel(),
        }
    }

    pub fn with_config<T>(&self, f: impl FnOnce(&Config) -> T) -> T {
        f(&self.config.read())
    }

    pub fn config_epoch(&self) -> u64 {
        self.config_epoch.load(Relaxed)
    }

    /// Applies `CONFIG SET` pairs atomically: all or none.
    pub fn set_config(&self, pairs: &[(String, String)]) -> Result<(), (String, ConfigError)> {
        let mut guard = self.config.write();
        let mut next = guard.clone();
        for (name, value) in pairs {
            next.set_running(name, value).map_err(|e| (name.clone(), e))?;
        }
        next.validate().map_err(|e| (pairs[0].0.clone(), e))?;
        self.db.set_maxmemory(next.maxmemory);
        self.db.set_policy(next.maxmemory_policy);
        self.db.set_samples(next.maxmemory_samples);
        self.scripting.set_busy_threshold_ms(next.busy_reply_threshold_ms);
        self.pubsub.set_limit(next.client_output_buffer_limit.pubsub);
        self.pubsub.set_notify_flags(next.notify_keyspace_events);
        self.db.set_gone_events(crate::pubsub::notify::wants_gone(next.notify_keyspace_events));
        self.observe.configure(&next);
        self.tracking.set_max_keys(tracking_max_keys(&next));
        if let Some(cluster) = &self.cluster {
            cluster.strict.store(next.cluster_strict, Relaxed);
            if let Some(r) = &cluster.replication {
                r.set_write_quorum(next.write_quorum);
                r.set_read_quorum(next.read_quorum);
            }
        }
        *guard = next;
        self.config_epoch.fetch_add(1, Relaxed);
        drop(guard);
        // A lower limit takes keys out of the table now, as Redis's next
        // command would.
        self.tracking.enforce_limit(self);
        Ok(())
    }

    /// Seconds since the node started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// `tracking-table-max-keys` (Redis's default when unset or unreadable).
fn tracking_max_keys(config: &Config) -> u64 {
    config.get("tracking-table-max-keys").and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}
