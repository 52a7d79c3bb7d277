//! Numbered databases against the real binary: SELECT through a
//! connection URL, isolation, MOVE, COPY, SWAPDB, FLUSHDB and FLUSHALL,
//! INFO keyspace, CLIENT INFO, RESET and transactions in a database other
//! than 0; then the same through a three-node replicated cluster in
//! `proxy` mode, where a key written in database 2 survives kill -9 of a
//! node, and `redis-cluster` mode, which keeps Redis Cluster's db-0 rule.

mod common;

use std::collections::HashSet;

use common::cluster::TestCluster;
use common::{err, run, Server};

fn get(conn: &mut redis::Connection, key: &str) -> Option<String> {
    run(conn, &["GET", key])
}

#[test]
fn a_connection_url_selects_the_database_and_databases_are_isolated() {
    let server = Server::start();
    let mut db1 = server.conn_db(1);
    let mut db0 = server.conn();
    let _: () = run(&mut db1, &["SET", "k", "one"]);
    let _: () = run(&mut db0, &["SET", "k", "zero"]);
    let _: () = run(&mut db0, &["SET", "only0", "x"]);
    assert_eq!(get(&mut db1, "k").as_deref(), Some("one"));
    assert_eq!(get(&mut db0, "k").as_deref(), Some("zero"));
    assert_eq!(run::<i64>(&mut db1, &["DBSIZE"]), 1);
    assert_eq!(run::<i64>(&mut db0, &["DBSIZE"]), 2);
    assert_eq!(run::<Vec<String>>(&mut db1, &["KEYS", "*"]), ["k"]);
    let (cursor, keys): (u64, Vec<String>) = run(&mut db1, &["SCAN", "0", "COUNT", "1000"]);
    assert_eq!((cursor, keys), (0, vec!["k".to_owned()]));
    assert_eq!(run::<Option<String>>(&mut db1, &["RANDOMKEY"]).as_deref(), Some("k"));
    assert_eq!(run::<i64>(&mut db1, &["EXISTS", "only0"]), 0);
    let info: String = run(&mut db1, &["CLIENT", "INFO"]);
    assert!(info.contains(" db=1 "), "{info}");
    let list: String = run(&mut db0, &["CLIENT", "LIST"]);
    assert!(list.contains(" db=1 ") && list.contains(" db=0 "), "{list}");
    assert_eq!(err(&mut db0, &["SELECT", "16"]), "ERR DB index is out of range");
    let _: () = run(&mut db0, &["SELECT", "15"]);
    assert_eq!(get(&mut db0, "k"), None);
    // RESET goes back to database 0.
    let _: String = run(&mut db0, &["RESET"]);
    assert_eq!(get(&mut db0, "k").as_deref(), Some("zero"));
}

#[test]
fn move_copy_swapdb_and_the_flushes() {
    let server = Server::start_with(&["--databases", "4"]);
    let mut c = server.conn();
    assert_eq!(err(&mut c, &["SELECT", "4"]), "ERR DB index is out of range");
    let _: () = run(&mut c, &["SET", "k", "v", "EX", "1000"]);
    assert_eq!(run::<i64>(&mut c, &["MOVE", "k", "2"]), 1);
    assert_eq!(run::<i64>(&mut c, &["MOVE", "k", "2"]), 0, "gone from 0");
    assert_eq!(err(&mut c, &["MOVE", "k", "0"]), "ERR source and destination objects are the same");
    assert_eq!(err(&mut c, &["MOVE", "k", "4"]), "ERR DB index is out of range");
    let mut c2 = server.conn_db(2);
    assert_eq!(get(&mut c2, "k").as_deref(), Some("v"));
    assert!(run::<i64>(&mut c2, &["TTL", "k"]) > 990);

    assert_eq!(run::<i64>(&mut c2, &["COPY", "k", "k", "DB", "3"]), 1);
    assert_eq!(run::<i64>(&mut c2, &["COPY", "k", "k", "DB", "3"]), 0);
    assert_eq!(run::<i64>(&mut c2, &["COPY", "k", "k", "DB", "3", "REPLACE"]), 1);
    assert_eq!(run::<i64>(&mut c2, &["COPY", "k", "k2"]), 1);
    assert_eq!(err(&mut c2, &["COPY", "k", "k", "DB", "9"]), "ERR DB index is out of range");
    let mut c3 = server.conn_db(3);
    assert_eq!(get(&mut c3, "k").as_deref(), Some("v"));

    // SWAPDB: a connection on 2 sees 3's keys at once.
    let _: () = run(&mut c3, &["SET", "three", "3"]);
    let _: () = run(&mut c, &["SWAPDB", "2", "3"]);
    assert_eq!(run::<i64>(&mut c2, &["EXISTS", "three", "k2"]), 1);
    assert_eq!(run::<i64>(&mut c3, &["EXISTS", "three", "k2"]), 1);
    assert_eq!(run::<i64>(&mut c3, &["DBSIZE"]), 2);
    assert_eq!(err(&mut c, &["SWAPDB", "0", "x"]), "ERR invalid second DB index");

    // FLUSHDB empties one database, FLUSHALL all.
    let _: () = run(&mut c, &["SET", "zero", "0"]);
    let _: () = run(&mut c2, &["FLUSHDB"]);
    assert_eq!(run::<i64>(&mut c2, &["DBSIZE"]), 0);
    assert_eq!(run::<i64>(&mut c3, &["DBSIZE"]), 2);
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 1);
    let _: () = run(&mut c3, &["FLUSHALL"]);
    for conn in [&mut c, &mut c2, &mut c3] {
        assert_eq!(run::<i64>(conn, &["DBSIZE"]), 0);
    }
}

#[test]
fn info_keyspace_has_a_line_per_database_holding_keys() {
    let server = Server::start();
    let mut c = server.conn();
    let _: () = run(&mut c, &["SET", "a", "1"]);
    let mut c5 = server.conn_db(5);
    let _: () = run(&mut c5, &["SET", "b", "1", "EX", "100"]);
    let _: () = run(&mut c5, &["SET", "c", "1"]);
    let mut c2 = server.conn_db(2);
    let _: () = run(&mut c2, &["SET", "d", "1"]);
    let _: i64 = run(&mut c2, &["DEL", "d"]);
    let info: String = run(&mut c, &["INFO", "keyspace"]);
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(lines.len(), 3, "{info:?}");
    assert_eq!(lines[0], "# Keyspace");
    assert_eq!(lines[1], "db0:keys=1,expires=0,avg_ttl=0");
    let avg: u64 = lines[2].strip_prefix("db5:keys=2,expires=1,avg_ttl=").and_then(|t| t.parse().ok()).unwrap();
    assert!((90_000..=100_000).contains(&avg), "{avg}");
    assert_eq!(run::<Vec<String>>(&mut c, &["CONFIG", "GET", "databases"]), ["databases", "16"]);
}

#[test]
fn transactions_and_watch_in_database_3() {
    let server = Server::start();
    let mut c = server.conn_db(3);
    let mut other = server.conn_db(3);
    let mut in0 = server.conn();
    let _: () = run(&mut c, &["SET", "n", "1"]);
    let _: () = run(&mut c, &["WATCH", "n"]);
    // A write of `n` in another database does not touch the watch.
    let _: () = run(&mut in0, &["SET", "n", "100"]);
    let (incr, now): (i64, String) =
        redis::pipe().atomic().cmd("INCR").arg("n").cmd("GET").arg("n").query(&mut c).unwrap();
    assert_eq!((incr, now.as_str()), (2, "2"));
    let _: () = run(&mut c, &["WATCH", "n"]);
    let _: () = run(&mut other, &["SET", "n", "5"]);
    let aborted: Option<(i64,)> = redis::pipe().atomic().cmd("INCR").arg("n").query(&mut c).unwrap();
    assert_eq!(aborted, None, "a write in database 3 aborts");
    assert_eq!(get(&mut in0, "n").as_deref(), Some("100"));
}

/// Keys `{t}:i` spread over nothing but one slot would test one node;
/// plain names spread over the cluster's nodes.
fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("dbkey:{i}")).collect()
}

#[test]
fn every_database_works_through_a_proxy_cluster_and_survives_kill_9() {
    let mut cluster = TestCluster::start(3, &["--cluster-timeout", "1000"]);
    let keys = keys(30);
    {
        let mut via0 = cluster.node(0).conn_db(2);
        for k in &keys {
            let _: () = run(&mut via0, &["SET", k, &format!("v-{k}")]);
        }
        // Isolation, through every node.
        for i in 0..3 {
            let mut d2 = cluster.node(i).conn_db(2);
            let mut d0 = cluster.node(i).conn();
            assert_eq!(run::<i64>(&mut d2, &["DBSIZE"]), 30, "node {i}");
            assert_eq!(run::<i64>(&mut d0, &["DBSIZE"]), 0, "node {i}");
            assert_eq!(get(&mut d0, &keys[0]), None);
            let found: HashSet<String> = run::<Vec<String>>(&mut d2, &["KEYS", "dbkey:*"]).into_iter().collect();
            assert_eq!(found.len(), 30);
        }
        // MOVE and COPY of one key, a transaction, FLUSHDB of another
        // database, and SWAPDB's honest refusal.
        let mut via1 = cluster.node(1).conn_db(2);
        assert_eq!(run::<i64>(&mut via1, &["MOVE", &keys[0], "4"]), 1);
        assert_eq!(run::<i64>(&mut via1, &["COPY", &keys[1], &keys[1], "DB", "4"]), 1);
        let mut d4 = cluster.node(2).conn_db(4);
        assert_eq!(run::<i64>(&mut d4, &["EXISTS", &keys[0], &keys[1]]), 2);
        let (a, b): (i64, i64) =
            redis::pipe().atomic().cmd("INCR").arg("{t}n").cmd("INCR").arg("{t}n").query(&mut d4).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(run::<i64>(&mut via1, &["DBSIZE"]), 29);
        let _: () = run(&mut d4, &["FLUSHDB"]);
        assert_eq!(run::<i64>(&mut d4, &["DBSIZE"]), 0);
        assert_eq!(run::<i64>(&mut via1, &["DBSIZE"]), 29);
        assert_eq!(err(&mut via1, &["SWAPDB", "0", "1"]), "ERR SWAPDB is not allowed in cluster mode");
    }
    // kill -9 of node 0, which coordinated about a third of the keys
    // (every node holds every key with N = 3): all are still in database
    // 2, read through the others.
    cluster.nodes[0].kill();
    // At once, before the others can have noticed: a read forwarded to
    // the dead node is answered by the next owner (`forward`'s second
    // round), never -CLUSTERDOWN. First an MGET of them all, whose part
    // for node 0 holds keys the two others now share.
    for i in [1, 2] {
        let mut d2 = cluster.node(i).conn_db(2);
        let got: Vec<Option<String>> =
            run(&mut d2, &[&["MGET"][..], &keys[1..].iter().map(String::as_str).collect::<Vec<_>>()].concat());
        let want: Vec<Option<String>> = keys[1..].iter().map(|k| Some(format!("v-{k}"))).collect();
        assert_eq!(got, want, "MGET through node {i}");
    }
    for i in [1, 2] {
        let mut d2 = cluster.node(i).conn_db(2);
        for k in &keys[1..] {
            assert_eq!(get(&mut d2, k).as_deref(), Some(format!("v-{k}").as_str()), "{k} through node {i}");
        }
        let info: String = run(&mut cluster.node(i).conn(), &["INFO", "cluster"]);
        let rerouted = info.lines().find(|l| l.starts_with("cluster_forwards_rerouted:")).unwrap_or("none").to_owned();
        println!("node {i}: {rerouted}");
        let mut d0 = cluster.node(i).conn();
        assert_eq!(get(&mut d0, &keys[1]), None, "still only in database 2");
    }
    // Writes too, still within the detection window: node 0 is down for
    // the others by now (their reads found it so), and W = 2 holds on the
    // two left.
    let mut via1 = cluster.node(1).conn_db(2);
    for k in &keys[1..] {
        let _: () = run(&mut via1, &["SET", k, &format!("w-{k}")]);
    }
    let mut via2 = cluster.node(2).conn_db(2);
    for k in &keys[1..] {
        assert_eq!(get(&mut via2, k).as_deref(), Some(format!("w-{k}").as_str()), "{k} through node 2");
    }
}

#[test]
fn redis_cluster_mode_keeps_database_0_only() {
    let cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster"]);
    let mut c = cluster.node(0).conn();
    let _: () = run(&mut c, &["SELECT", "0"]);
    assert_eq!(err(&mut c, &["SELECT", "1"]), "ERR SELECT is not allowed in cluster mode");
    assert_eq!(err(&mut c, &["SWAPDB", "0", "1"]), "ERR SWAPDB is not allowed in cluster mode");
    assert_eq!(err(&mut c, &["MOVE", "{t}k", "1"]), "ERR MOVE is not allowed in cluster mode");
}
