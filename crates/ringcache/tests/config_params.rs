//! CONFIG GET/SET of Redis 7.2's parameters that ringcache only stores:
//! accepted with Redis's checks, reported back, never "Unknown option".

mod common;

use std::collections::HashMap;

use common::{err, run, Server};

fn config_get(conn: &mut redis::Connection, pattern: &str) -> HashMap<String, String> {
    run(conn, &["CONFIG", "GET", pattern])
}

#[test]
fn redis_parameters_are_stored_and_reported() {
    let server = Server::start();
    let mut c = server.conn();

    // Defaults as Redis 7.2 has them.
    assert_eq!(config_get(&mut c, "save")["save"], "3600 1 300 100 60 10000");
    assert_eq!(config_get(&mut c, "appendonly")["appendonly"], "no");
    assert_eq!(config_get(&mut c, "hash-max-listpack-entries")["hash-max-listpack-entries"], "512");

    // What the TCL suite and applications set.
    let _: () = run(&mut c, &["CONFIG", "SET", "save", ""]);
    let _: () = run(&mut c, &["CONFIG", "SET", "appendonly", "YES", "list-max-ziplist-size", "-1"]);
    let _: () = run(&mut c, &["CONFIG", "SET", "hash-max-ziplist-value", "1kb"]);
    assert_eq!(config_get(&mut c, "save")["save"], "");
    assert_eq!(config_get(&mut c, "appendonly")["appendonly"], "yes");
    assert_eq!(config_get(&mut c, "list-max-listpack-size")["list-max-listpack-size"], "-1");
    // An alias answers under the name asked, with the same value.
    assert_eq!(config_get(&mut c, "hash-max-ziplist-value")["hash-max-ziplist-value"], "1024");
    assert_eq!(config_get(&mut c, "hash-max-listpack-value")["hash-max-listpack-value"], "1024");

    // Globs cover ringcache's options and Redis's parameters, each name
    // once; a parameter matched by its name and an alias is listed under
    // both, as Redis 7.2 does.
    let all = config_get(&mut c, "*");
    assert!(all.len() > 150, "{}", all.len());
    for name in ["maxmemory", "io-threads", "lazyfree-lazy-user-del", "dir", "save"] {
        assert!(all.contains_key(name), "{name}");
    }
    assert!(all.contains_key("hash-max-ziplist-entries") && all.contains_key("hash-max-listpack-entries"));
    let of = config_get(&mut c, "*of");
    assert!(of.contains_key("replicaof") && of.contains_key("slaveof"), "{of:?}");
    let zset = config_get(&mut c, "zset-max-*");
    let mut names: Vec<_> = zset.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        ["zset-max-listpack-entries", "zset-max-listpack-value", "zset-max-ziplist-entries", "zset-max-ziplist-value"]
    );
    assert!(config_get(&mut c, "use-exit-on-panic").contains_key("use-exit-on-panic"), "hidden, but exact");
    assert!(!all.contains_key("use-exit-on-panic"), "hidden from globs");

    // Redis's refusals.
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "appendonly", "maybe"]),
        "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "io-threads", "4"]),
        "ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set immutable config"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "dir", "/tmp"]),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "active-expire-effort", "11"]),
        "ERR CONFIG SET failed (possibly related to argument 'active-expire-effort') - argument must be between 1 and 10 inclusive"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "appendfsync", "sometimes"]),
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"
    );
    assert!(err(&mut c, &["CONFIG", "SET", "save", "100"]).contains("Invalid save parameters"));
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "no-such-parameter", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'no-such-parameter'"
    );
    // All or nothing: a bad pair leaves the good one unset.
    assert!(err(&mut c, &["CONFIG", "SET", "lfu-log-factor", "3", "appendonly", "x"]).contains("appendonly"));
    assert_eq!(config_get(&mut c, "lfu-log-factor")["lfu-log-factor"], "10");
}
