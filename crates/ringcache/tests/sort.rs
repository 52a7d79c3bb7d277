//! SORT and SORT_RO against a real node with the `redis` crate: BY and GET
//! patterns (hash fields, `#`, constant BY), LIMIT, ASC/DESC, ALPHA,
//! STORE, Redis's errors; then through a three-node replicated cluster:
//! STORE's write reaches the other owners, and patterns that could name
//! keys of other slots are refused as Redis Cluster refuses them.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::{array, err, int, run, strings, Server};
use redis::Value;

fn setup(c: &mut redis::Connection) {
    let _: () = run(c, &["RPUSH", "ids", "3", "1", "2", "10"]);
    for (id, w, name) in [("1", "40", "ann"), ("2", "10", "bob"), ("3", "30", "cy"), ("10", "20", "dee")] {
        let _: () = run(c, &["SET", &format!("w_{id}"), w]);
        let _: () = run(c, &["HSET", &format!("u_{id}"), "name", name, "age", w]);
    }
}

#[test]
fn sort_by_get_limit_alpha_store() {
    let server = Server::start();
    let mut c = server.conn();
    setup(&mut c);

    assert_eq!(array(&mut c, &["SORT", "ids"]), strings(&["1", "2", "3", "10"]));
    assert_eq!(array(&mut c, &["SORT", "ids", "DESC"]), strings(&["10", "3", "2", "1"]));
    assert_eq!(array(&mut c, &["SORT", "ids", "ALPHA"]), strings(&["1", "10", "2", "3"]));
    assert_eq!(array(&mut c, &["SORT", "ids", "LIMIT", "1", "2"]), strings(&["2", "3"]));
    assert_eq!(array(&mut c, &["SORT", "ids", "LIMIT", "10", "5"]), Vec::<String>::new());
    assert_eq!(array(&mut c, &["SORT", "ids", "BY", "w_*"]), strings(&["2", "10", "3", "1"]));
    assert_eq!(array(&mut c, &["SORT", "ids", "BY", "u_*->age", "DESC"]), strings(&["1", "3", "10", "2"]));
    assert_eq!(
        array(&mut c, &["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "u_*->name"]),
        strings(&["2", "bob", "10", "dee", "3", "cy", "1", "ann"])
    );
    // BY a constant: no sorting, the list's own order (DESC reverses it).
    assert_eq!(array(&mut c, &["SORT", "ids", "BY", "nosort"]), strings(&["3", "1", "2", "10"]));
    assert_eq!(array(&mut c, &["SORT", "ids", "BY", "nosort", "DESC", "LIMIT", "0", "2"]), strings(&["10", "2"]));
    // A missing GET target is nil; a GET without `*` names no key.
    let v: Vec<Option<String>> = run(&mut c, &["SORT", "ids", "LIMIT", "0", "1", "GET", "missing_*", "GET", "fixed"]);
    assert_eq!(v, [None, None]);
    assert_eq!(array(&mut c, &["SORT_RO", "ids", "BY", "w_*", "LIMIT", "0", "1"]), strings(&["2"]));

    // STORE writes a list (GET values, "" for missing ones) and counts it.
    assert_eq!(int(&mut c, &["SORT", "ids", "BY", "w_*", "GET", "u_*->name", "STORE", "names"]), 4);
    assert_eq!(array(&mut c, &["LRANGE", "names", "0", "-1"]), strings(&["bob", "dee", "cy", "ann"]));
    assert_eq!(int(&mut c, &["SORT", "ids", "GET", "nope_*", "LIMIT", "0", "1", "STORE", "names"]), 1);
    assert_eq!(array(&mut c, &["LRANGE", "names", "0", "-1"]), strings(&[""]));
    assert_eq!(int(&mut c, &["SORT", "nosuchkey", "STORE", "names"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "names"]), 0, "an empty result deletes the destination");

    // Sets are sorted when stored; sorted sets sort by their members' values.
    let _: () = run(&mut c, &["SADD", "tags", "b", "c", "a"]);
    assert_eq!(int(&mut c, &["SORT", "tags", "BY", "nosort", "STORE", "st"]), 3);
    assert_eq!(array(&mut c, &["LRANGE", "st", "0", "-1"]), strings(&["a", "b", "c"]));
    let _: () = run(&mut c, &["ZADD", "z", "1", "30", "2", "10", "3", "20"]);
    assert_eq!(array(&mut c, &["SORT", "z"]), strings(&["10", "20", "30"]));
    assert_eq!(array(&mut c, &["SORT", "z", "BY", "nosort", "DESC"]), strings(&["20", "10", "30"]));

    // Redis's errors.
    assert_eq!(err(&mut c, &["SORT", "tags"]), "ERR One or more scores can't be converted into double");
    assert_eq!(err(&mut c, &["SORT", "ids", "LIMIT", "x", "1"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["SORT", "ids", "BOGUS"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["SORT_RO", "ids", "STORE", "d"]), "ERR syntax error");
    let _: () = run(&mut c, &["SET", "str", "x"]);
    assert!(err(&mut c, &["SORT", "str"]).starts_with("WRONGTYPE"));
    // STORE replaces a destination of any type.
    assert_eq!(int(&mut c, &["SORT", "ids", "LIMIT", "0", "1", "STORE", "str"]), 1);
    assert_eq!(array(&mut c, &["LRANGE", "str", "0", "-1"]), strings(&["1"]));

    // Inside MULTI the patterns read other keys too.
    let v: Value = redis::pipe().atomic().cmd("SORT").arg("ids").arg("BY").arg("w_*").query(&mut c).unwrap();
    assert_eq!(v, Value::Array(vec![Value::Array(["2", "10", "3", "1"].iter().map(|s| common::bulk(s)).collect())]));

    // COMMAND GETKEYS finds STORE's destination.
    assert_eq!(
        array(&mut c, &["COMMAND", "GETKEYS", "SORT", "ids", "LIMIT", "0", "1", "STORE", "dst"]),
        strings(&["ids", "dst"])
    );
}

/// The index of the node that coordinates `key`'s slot (CLUSTER SLOTS in
/// `redis-cluster` mode names it first).
fn coordinator(cluster: &TestCluster, key: &str) -> usize {
    let mut c = cluster.node(0).conn();
    let slot = int(&mut c, &["CLUSTER", "KEYSLOT", key]);
    let Value::Array(ranges) = run(&mut c, &["CLUSTER", "SLOTS"]) else { panic!("CLUSTER SLOTS") };
    for r in ranges {
        let Value::Array(r) = r else { panic!("a range") };
        let (Value::Int(start), Value::Int(end)) = (&r[0], &r[1]) else { panic!("bounds") };
        if (*start..=*end).contains(&slot) {
            let Value::Array(node) = &r[2] else { panic!("a node") };
            let id = common::text(&node[2]);
            return cluster.ids.iter().position(|i| *i == id).expect("a known id");
        }
    }
    panic!("no range for slot {slot}")
}

/// Polls `f` through node `via` for up to 20 s (a killed coordinator's
/// slots move to their next owner within a probe).
fn eventually<T: PartialEq + std::fmt::Debug>(
    cluster: &TestCluster,
    via: usize,
    want: T,
    mut f: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(mut c) = cluster.node(via).client().get_connection() {
            match f(&mut c) {
                Ok(v) if v == want => return,
                other => last = Some(format!("{other:?}")),
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("through node {via}: wanted {want:?}, last got {last:?}");
}

#[test]
fn sort_through_a_replicated_cluster() {
    let mut cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster", "--cluster-timeout", "1000"]);
    let mut c = cluster.node(0).conn();
    // Keys of one slot: the hash tag keeps the pattern's keys with the list.
    let _: () = run(&mut c, &["RPUSH", "{u}ids", "3", "1", "2"]);
    for (id, w) in [("1", "30"), ("2", "10"), ("3", "20")] {
        let _: () = run(&mut c, &["SET", &format!("{{u}}w_{id}"), w]);
        let _: () = run(&mut c, &["HSET", &format!("{{u}}h_{id}"), "f", &format!("v{id}")]);
    }
    assert_eq!(
        array(&mut c, &["SORT", "{u}ids", "BY", "{u}w_*", "GET", "#", "GET", "{u}h_*->f"]),
        strings(&["2", "v2", "3", "v3", "1", "v1"])
    );
    assert_eq!(array(&mut c, &["SORT", "{u}ids", "BY", "nosort", "GET", "#"]), strings(&["3", "1", "2"]));
    assert_eq!(
        err(&mut c, &["SORT", "{u}ids", "BY", "w_*"]),
        "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."
    );
    assert_eq!(
        err(&mut c, &["SORT", "{u}ids", "GET", "{other}h_*->f"]),
        "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."
    );
    assert!(err(&mut c, &["SORT", "{u}ids", "STORE", "elsewhere"]).starts_with("CROSSSLOT"));

    // STORE is a replicated write: it survives its coordinator's death.
    assert_eq!(int(&mut c, &["SORT", "{u}ids", "BY", "{u}w_*", "GET", "{u}h_*->f", "STORE", "{u}out"]), 3);
    let victim = coordinator(&cluster, "{u}out");
    cluster.nodes[victim].kill();
    let via = (victim + 1) % 3;
    let want: Vec<String> = strings(&["v2", "v3", "v1"]);
    eventually(&cluster, via, want, |c| redis::cmd("LRANGE").arg("{u}out").arg(0).arg(-1).query(c));
}
