//! The `ringcache` binary: parse options (command line over TOML file over
//! defaults), set up logging, run a node until SIGINT, SIGTERM or SHUTDOWN.
//!
//! Every option of `ringcache_server::config::OPTIONS` is both a
//! `--long-flag` and a TOML key of the same name, so the two never drift.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use ringcache_server::config::OPTIONS;
use ringcache_server::{Config, LogLevel, Server};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("can't read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {source}")]
    Toml { path: PathBuf, source: toml::de::Error },
    #[error("config file {path}: {message}")]
    FileOption { path: PathBuf, message: String },
    #[error("--{0}")]
    Option(String),
}

fn cli() -> Command {
    let mut cmd = Command::new("ringcache")
        .version(ringcache_server::VERSION)
        .about("A sharded, replicated, in-memory cache that speaks the Redis protocol.")
        .arg(
            Arg::new("config")
                .long("config")
                .short('c')
                .value_name("FILE")
                .help("TOML file with any of the options below"),
        );
    for opt in OPTIONS {
        cmd = cmd.arg(Arg::new(opt.name).long(opt.name).value_name("VALUE").action(ArgAction::Set).help(opt.help));
    }
    cmd
}

/// Defaults, then the file, then the command line.
fn load_config(matches: &clap::ArgMatches) -> Result<Config, StartError> {
    let mut config = Config::default();
    if let Some(path) = matches.get_one::<String>("config") {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|source| StartError::Read { path: path.clone(), source })?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|source| StartError::Toml { path: path.clone(), source })?;
        for (name, value) in table {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => if b { "yes" } else { "no" }.to_owned(),
                other => {
                    return Err(StartError::FileOption {
                        path,
                        message: format!("'{name}' has an unsupported value {other}"),
                    })
                }
            };
            config
                .set(&name, &text)
                .map_err(|e| StartError::FileOption { path: path.clone(), message: e.to_string() })?;
        }
    }
    for opt in OPTIONS {
        if let Some(v) = matches.get_one::<String>(opt.name) {
            config.set(opt.name, v).map_err(|e| StartError::Option(format!("{}: {e}", opt.name)))?;
        }
    }
    config.validate().map_err(|e| StartError::Option(e.to_string()))?;
    Ok(config)
}

fn init_logging(level: LogLevel) {
    let default = match level {
        LogLevel::Debug => "debug",
        LogLevel::Verbose => "info,ringcache_server=debug",
        LogLevel::Notice => "info",
        LogLevel::Warning => "warn",
    };
    // RUST_LOG, when set, wins: it is the usual way to debug one module.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: log files and CI output stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).init();
}

async fn wait_for_signal(shared: std::sync::Arc<ringcache_server::Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM, scheduling shutdown"),
        _ = int.recv() => tracing::info!("received SIGINT, scheduling shutdown"),
        _ = shared.shutdown.cancelled() => return,
    }
    shared.request_shutdown();
    // A second signal stops at once, even while leaving.
    tokio::select! {
        _ = term.recv() => tracing::warn!("received SIGTERM again: stopping now"),
        _ = int.recv() => tracing::warn!("received SIGINT again: stopping now"),
        _ = shared.shutdown.cancelled() => return,
    }
    shared.shutdown.cancel();
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    let config = match load_config(&matches) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ringcache: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.loglevel);
    let threads =
        if config.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { config.threads };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ringcache: can't start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(version = ringcache_server::VERSION, "ringcache starting");
        let shared = server.shared();
        let signals = tokio::spawn(wait_for_signal(shared.clone()));
        server.run().await;
        signals.abort();
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_a_flag() {
        cli().debug_assert();
        let m = cli().try_get_matches_from(["ringcache", "--port", "7000", "--maxmemory", "10mb"]).unwrap();
        let c = load_config(&m).unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.maxmemory, 10 << 20);
    }

    /// The documented example file lists every option with its default.
    #[test]
    fn shipped_config_documents_every_default() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/ringcache.toml");
        let text = std::fs::read_to_string(path).unwrap();
        for opt in OPTIONS {
            assert!(text.lines().any(|l| l.starts_with(&format!("{} = ", opt.name))), "{} is not documented", opt.name);
        }
        let m = cli().try_get_matches_from(["ringcache", "--config", path]).unwrap();
        assert_eq!(load_config(&m).unwrap(), Config::default());
    }

    /// `make cluster`'s three nodes: node 1 a cluster of one, the others
    /// joining through its cluster port, one secret.
    #[test]
    fn cluster_example_configs_describe_one_cluster() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/cluster");
        let configs: Vec<Config> = (1..=3)
            .map(|i| {
                let path = format!("{dir}/node{i}.toml");
                load_config(&cli().try_get_matches_from(["ringcache", "--config", &path]).unwrap()).unwrap()
            })
            .collect();
        for (i, c) in configs.iter().enumerate() {
            assert_eq!(c.port, 7001 + i as u16);
            assert_eq!(c.cluster_secret, configs[0].cluster_secret);
            assert!(c.is_cluster());
            assert_eq!(c.own_cluster_port(c.port), 17001 + i as u16);
            if i > 0 {
                assert_eq!(c.seeds.len(), 1);
                assert_eq!(c.seeds[0].port, configs[0].own_cluster_port(configs[0].port));
            }
        }
        assert!(configs[0].cluster_enabled && configs[0].seeds.is_empty());
    }

    #[test]
    fn cluster_options_are_checked() {
        let bad = |args: &[&str]| {
            let mut all = vec!["ringcache"];
            all.extend_from_slice(args);
            load_config(&cli().try_get_matches_from(all).unwrap()).unwrap_err().to_string()
        };
        assert!(bad(&["--peers", "a@h:1"]).contains("cluster-secret"));
        assert!(bad(&["--peers", "a@h:1", "--cluster-secret", "0123456789abcdef"]).contains("node-id"));
        assert!(bad(&["--seeds", "h:1"]).contains("cluster-secret"));
        assert!(bad(&["--seeds", "h"]).contains("seeds"));
        assert!(bad(&["--cluster-announce-ip", "not-an-ip"]).contains("cluster-announce-ip"));
        let slow = ["--cluster-enabled", "yes", "--node-id", "a", "--cluster-secret", "0123456789abcdef"];
        let mut rtt = slow.to_vec();
        rtt.extend(["--gossip-probe-rtt-ms", "600"]);
        assert!(bad(&rtt).contains("gossip-probe-rtt-ms"), "the rtt must stay below the interval");
        assert!(bad(&["--peers", "a@h"]).contains("peers"));
        assert!(bad(&["--peers", "a@h:1,a@h:2"]).contains("twice"));
        assert!(bad(&["--cluster-mode", "nope"]).contains("cluster-mode"));
        let m = cli()
            .try_get_matches_from([
                "ringcache",
                "--node-id",
                "b",
                "--peers",
                "a@10.0.0.1:6379, b@10.0.0.2:6380@16000",
                "--cluster-secret",
                "0123456789abcdef",
            ])
            .unwrap();
        let c = load_config(&m).unwrap();
        assert_eq!(c.peers[1].cluster_port(), 16000);
        assert_eq!(c.peers[0].cluster_port(), 16379);
        assert_eq!(c.get("peers").unwrap(), "a@10.0.0.1:6379,b@10.0.0.2:6380@16000");
    }

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.toml");
        std::fs::write(&path, "port = 7001\nmaxmemory-policy = \"allkeys-lru\"\nmaxmemory = \"1mb\"\n").unwrap();
        let m =
            cli().try_get_matches_from(["ringcache", "--config", path.to_str().unwrap(), "--port", "7002"]).unwrap();
        let c = load_config(&m).unwrap();
        assert_eq!(c.port, 7002);
        assert_eq!(c.maxmemory, 1 << 20);
        assert_eq!(c.maxmemory_policy.name(), "allkeys-lru");
        std::fs::write(&path, "nope = 1\n").unwrap();
        let m = cli().try_get_matches_from(["ringcache", "--config", path.to_str().unwrap()]).unwrap();
        assert!(load_config(&m).is_err());
    }
}
