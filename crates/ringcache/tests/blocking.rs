//! Blocking commands against the real binary: a client blocks, another
//! connection writes, the first wakes with Redis's reply; timeouts, FIFO
//! between blocked clients, BLMOVE chains, BZPOPMIN, CLIENT UNBLOCK, a
//! client that disconnects while blocked, MULTI and scripts (which never
//! block), argument errors, MONITOR and commandstats seeing a blocked
//! command once; and through a three-node cluster in both client modes.
//! (XREAD and XREADGROUP BLOCK: `streams.rs`.)

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::{bulk, err, int, run, spawn_on, Server};
use redis::Value;

const WAIT: Duration = Duration::from_secs(10);

/// Polls `f` until it is true, at most [`WAIT`].
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn blocked_clients(conn: &mut redis::Connection) -> i64 {
    let info: String = run(conn, &["INFO", "clients"]);
    let line = info.lines().find_map(|l| l.strip_prefix("blocked_clients:")).expect("blocked_clients in INFO");
    line.trim().parse().expect("a count")
}

fn wait_blocked(conn: &mut redis::Connection, n: i64) {
    eventually(&format!("{n} blocked clients"), || blocked_clients(conn) == n);
}

/// Runs `args` on a new connection of `port` in a thread; the handle
/// gives the reply (or the error's text).
fn spawn(port: u16, args: &[&str]) -> thread::JoinHandle<Result<Value, String>> {
    let url = format!("redis://127.0.0.1:{port}/");
    let conn = redis::Client::open(url).expect("url").get_connection_with_timeout(WAIT).expect("connect");
    spawn_on(conn, args)
}

fn joined(h: thread::JoinHandle<Result<Value, String>>) -> Result<Value, String> {
    h.join().expect("the client thread")
}

fn arr(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

#[test]
fn a_push_from_another_connection_wakes_each_blocking_pop() {
    let server = Server::start();
    let mut c = server.conn();
    let cases: &[(&[&str], &[&str], Value)] = &[
        (&["BLPOP", "l", "5"], &["RPUSH", "l", "a", "b"], arr(&["l", "a"])),
        (&["BRPOP", "x", "r", "5"], &["RPUSH", "r", "a", "b"], arr(&["r", "b"])),
        (&["BRPOPLPUSH", "s1", "d1", "5"], &["RPUSH", "s1", "a"], bulk("a")),
        (
            &["BLMPOP", "5", "2", "m1", "m2", "LEFT", "COUNT", "5"],
            &["RPUSH", "m2", "a", "b"],
            Value::Array(vec![bulk("m2"), arr(&["a", "b"])]),
        ),
        (&["BZPOPMIN", "z1", "5"], &["ZADD", "z1", "2", "b", "1", "a"], arr(&["z1", "a", "1"])),
        (&["BZPOPMAX", "z2", "5"], &["ZADD", "z2", "2", "b", "1", "a"], arr(&["z2", "b", "2"])),
        (
            &["BZMPOP", "5", "1", "z3", "MAX", "COUNT", "2"],
            &["ZADD", "z3", "2", "b", "1", "a", "3", "c"],
            Value::Array(vec![bulk("z3"), Value::Array(vec![arr(&["c", "3"]), arr(&["b", "2"])])]),
        ),
    ];
    for (block, write, want) in cases {
        let waiting = spawn(server.port, block);
        wait_blocked(&mut c, 1);
        assert!(matches!(run::<Value>(&mut c, write), Value::Int(_)), "{write:?}");
        assert_eq!(joined(waiting).as_ref(), Ok(want), "{block:?} woken by {write:?}");
        assert_eq!(blocked_clients(&mut c), 0);
    }
    assert_eq!(int(&mut c, &["LLEN", "l"]), 1, "one element popped");
    assert_eq!(int(&mut c, &["EXISTS", "m2", "z1"]), 1, "m2 emptied and removed; z1 keeps b");
    assert_eq!(run::<Vec<String>>(&mut c, &["LRANGE", "d1", "0", "-1"]), vec!["a"]);

    // MULTI, RENAME, SORT ... STORE and RESTORE also wake them, once they
    // commit.
    let waiting = spawn(server.port, &["BLPOP", "t", "5"]);
    wait_blocked(&mut c, 1);
    run::<Value>(&mut c, &["MULTI"]);
    run::<Value>(&mut c, &["RPUSH", "t", "a"]);
    run::<Value>(&mut c, &["RPUSH", "t", "b"]);
    run::<Value>(&mut c, &["EXEC"]);
    assert_eq!(joined(waiting), Ok(arr(&["t", "a"])));
    let waiting = spawn(server.port, &["BLPOP", "moved", "5"]);
    wait_blocked(&mut c, 1);
    run::<Value>(&mut c, &["RPUSH", "src", "x", "y"]);
    run::<Value>(&mut c, &["RENAME", "src", "moved"]);
    assert_eq!(joined(waiting), Ok(arr(&["moved", "x"])));
    let waiting = spawn(server.port, &["BLPOP", "sorted", "5"]);
    wait_blocked(&mut c, 1);
    run::<Value>(&mut c, &["RPUSH", "nums", "3", "1", "2"]);
    run::<Value>(&mut c, &["SORT", "nums", "STORE", "sorted"]);
    assert_eq!(joined(waiting), Ok(arr(&["sorted", "1"])));
    let waiting = spawn(server.port, &["BLPOP", "scripted", "5"]);
    wait_blocked(&mut c, 1);
    run::<Value>(&mut c, &["EVAL", "return redis.call('rpush', KEYS[1], 'v')", "1", "scripted"]);
    assert_eq!(joined(waiting), Ok(arr(&["scripted", "v"])));
}

#[test]
fn timeouts_answer_nil_after_their_time() {
    let server = Server::start();
    let mut c = server.conn();
    for (args, nil) in [
        (&["BLPOP", "a", "b", "0.2"][..], Value::Nil),
        (&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.2"], Value::Nil),
        (&["BZPOPMIN", "z", "0.2"], Value::Nil),
        (&["BLMPOP", "0.2", "1", "a", "LEFT"], Value::Nil),
    ] {
        let started = Instant::now();
        assert_eq!(run::<Value>(&mut c, args), nil, "{args:?}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(190) && took < Duration::from_secs(5), "{args:?} took {took:?}");
    }
    // A timeout in a pipeline: what follows it runs after it.
    let (first, second): (Value, String) =
        redis::pipe().cmd("BLPOP").arg("a").arg("0.1").cmd("ECHO").arg("after").query(&mut c).expect("pipeline");
    assert_eq!((first, second.as_str()), (Value::Nil, "after"));
    assert_eq!(blocked_clients(&mut c), 0);

    // RESP3: a timeout is a null.
    let mut c3 = server.conn_resp3();
    assert_eq!(run::<Value>(&mut c3, &["BLPOP", "a", "0.05"]), Value::Nil);
}

#[test]
fn clients_blocked_on_a_key_are_served_in_the_order_they_blocked() {
    let server = Server::start();
    let mut c = server.conn();
    let first = spawn(server.port, &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 1);
    let second = spawn(server.port, &["BRPOP", "q", "5"]);
    wait_blocked(&mut c, 2);
    let third = spawn(server.port, &["BLPOP", "other", "q", "5"]);
    wait_blocked(&mut c, 3);
    assert_eq!(int(&mut c, &["RPUSH", "q", "1", "2"]), 2);
    // Served before the pusher's reply: nothing is left for the third.
    assert_eq!(int(&mut c, &["LLEN", "q"]), 0);
    assert_eq!(joined(first), Ok(arr(&["q", "1"])));
    assert_eq!(joined(second), Ok(arr(&["q", "2"])));
    assert_eq!(blocked_clients(&mut c), 1);
    assert_eq!(int(&mut c, &["RPUSH", "q", "3"]), 1);
    assert_eq!(joined(third), Ok(arr(&["q", "3"])));
}

#[test]
fn blmove_chains_move_the_element_before_the_push_answers() {
    let server = Server::start();
    let mut c = server.conn();
    let one = spawn(server.port, &["BLMOVE", "l1{t}", "l2{t}", "RIGHT", "LEFT", "5"]);
    wait_blocked(&mut c, 1);
    let two = spawn(server.port, &["BLMOVE", "l2{t}", "l3{t}", "LEFT", "RIGHT", "5"]);
    wait_blocked(&mut c, 2);
    assert_eq!(int(&mut c, &["RPUSH", "l1{t}", "foo"]), 1);
    // As in Redis, both moves are done when RPUSH answers.
    assert_eq!(int(&mut c, &["EXISTS", "l1{t}", "l2{t}"]), 0);
    assert_eq!(run::<Vec<String>>(&mut c, &["LRANGE", "l3{t}", "0", "-1"]), vec!["foo"]);
    assert_eq!(joined(one), Ok(bulk("foo")));
    assert_eq!(joined(two), Ok(bulk("foo")));

    // A destination of the wrong type fails the woken command, and the
    // element stays.
    run::<Value>(&mut c, &["SET", "dst", "string"]);
    let waiting = spawn(server.port, &["BRPOPLPUSH", "src", "dst", "5"]);
    wait_blocked(&mut c, 1);
    run::<Value>(&mut c, &["RPUSH", "src", "a", "b"]);
    let e = joined(waiting).expect_err("WRONGTYPE");
    assert!(e.starts_with("WRONGTYPE"), "{e}");
    assert_eq!(run::<Vec<String>>(&mut c, &["LRANGE", "src", "0", "-1"]), vec!["a", "b"]);
}

#[test]
fn a_key_of_another_type_does_not_wake_the_client() {
    let server = Server::start();
    let mut c = server.conn();
    let waiting = spawn(server.port, &["BLPOP", "k", "5"]);
    wait_blocked(&mut c, 1);
    run::<Value>(&mut c, &["ZADD", "k", "1", "a"]);
    run::<Value>(&mut c, &["DEL", "k"]);
    run::<Value>(&mut c, &["SET", "k", "v"]);
    run::<Value>(&mut c, &["DEL", "k"]);
    assert_eq!(blocked_clients(&mut c), 1, "still blocked");
    run::<Value>(&mut c, &["LPUSH", "k", "x"]);
    assert_eq!(joined(waiting), Ok(arr(&["k", "x"])));
}

#[test]
fn client_unblock_ends_a_wait_as_a_timeout_or_an_error() {
    let server = Server::start();
    let mut c = server.conn();
    let mut blocked = server.conn();
    let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
    let waiting = spawn_on(blocked, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    let list: String = run(&mut c, &["CLIENT", "LIST", "ID", &id]);
    assert!(list.contains("flags=b") && list.contains("cmd=blpop"), "{list}");
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", &id]), 1);
    assert_eq!(joined(waiting), Ok(Value::Nil));
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", &id]), 0, "no longer blocked");

    let mut blocked = server.conn();
    let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
    let waiting = spawn_on(blocked, &["BZPOPMAX", "z", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", &id, "MAYBE"]),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    assert_eq!(err(&mut c, &["CLIENT", "UNBLOCK", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", &id, "ERROR", "more"]),
        "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."
    );
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", &id, "ERROR"]), 1);
    assert_eq!(joined(waiting), Err("UNBLOCKED client unblocked via CLIENT UNBLOCK".to_owned()));
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", "999999"]), 0);
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn monitor_and_commandstats_see_a_blocked_command_once() {
    let server = Server::start();
    let mut c = server.conn();
    let mut monitor = server.raw();
    monitor.send_cmd(&["MONITOR"]);
    assert_eq!(monitor.read_reply_string(), "+OK\r\n");
    run::<Value>(&mut c, &["CONFIG", "RESETSTAT"]);
    let first = spawn(server.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    let second = spawn(server.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 2);
    // The second waiter runs again and finds nothing, then runs again and
    // pops: neither re-run is shown or counted.
    run::<Value>(&mut c, &["RPUSH", "k", "1"]);
    assert_eq!(joined(first), Ok(arr(&["k", "1"])));
    run::<Value>(&mut c, &["RPUSH", "k", "2"]);
    assert_eq!(joined(second), Ok(arr(&["k", "2"])));
    let mut seen = Vec::new();
    while seen.last().is_none_or(|l: &String| !l.contains("\"2\"")) {
        let line = monitor.read_reply_string();
        if ["\"INFO\"", "\"CONFIG\"", "\"CLIENT\""].iter().all(|c| !line.contains(c)) {
            seen.push(line);
        }
    }
    let commands: Vec<&str> = seen.iter().map(|l| l.split('"').nth(1).unwrap_or("")).collect();
    assert_eq!(commands, ["BLPOP", "BLPOP", "RPUSH", "RPUSH"], "{seen:?}");
    let info: String = run(&mut c, &["INFO", "commandstats"]);
    let blpop = info.lines().find(|l| l.starts_with("cmdstat_blpop:")).unwrap_or_default();
    assert!(blpop.starts_with("cmdstat_blpop:calls=2,"), "{info}");
}

#[test]
fn a_client_that_leaves_while_blocked_leaves_the_queue() {
    let server = Server::start();
    let mut c = server.conn();
    let mut raw = server.raw();
    raw.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    drop(raw);
    wait_blocked(&mut c, 0);
    assert_eq!(int(&mut c, &["RPUSH", "k", "a"]), 1);
    assert_eq!(int(&mut c, &["LLEN", "k"]), 1, "nobody popped it");

    // Killed while blocked: the same.
    let mut blocked = server.conn();
    let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
    let waiting = spawn_on(blocked, &["BLPOP", "empty", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(int(&mut c, &["CLIENT", "KILL", "ID", &id]), 1);
    assert!(joined(waiting).is_err());
    wait_blocked(&mut c, 0);
}

#[test]
fn inside_multi_and_scripts_blocking_commands_answer_at_once() {
    let server = Server::start();
    let mut c = server.conn();
    let replies: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("BLPOP")
        .arg("none")
        .arg("0")
        .cmd("BLMOVE")
        .arg("none")
        .arg("d")
        .arg("LEFT")
        .arg("LEFT")
        .arg("0")
        .cmd("BZPOPMIN")
        .arg("none")
        .arg("0")
        .query(&mut c)
        .expect("EXEC");
    assert_eq!(replies, vec![Value::Nil, Value::Nil, Value::Nil]);
    let script = "return redis.pcall('blpop', KEYS[1], 0)";
    assert_eq!(run::<Value>(&mut c, &["EVAL", script, "1", "none"]), Value::Nil);
    run::<Value>(&mut c, &["RPUSH", "some", "v"]);
    assert_eq!(run::<Value>(&mut c, &["EVAL", script, "1", "some"]), arr(&["some", "v"]));
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn wrong_types_and_arguments_get_redis_errors() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SET", "str", "v"]);
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(err(&mut c, &["BLPOP", "none", "str", "0"]), wrongtype);
    assert_eq!(err(&mut c, &["BZPOPMIN", "str", "0"]), wrongtype);
    assert_eq!(err(&mut c, &["BLMOVE", "str", "d", "LEFT", "LEFT", "0"]), wrongtype);
    assert_eq!(err(&mut c, &["BLPOP", "k", "x"]), "ERR timeout is not a float or out of range");
    assert_eq!(err(&mut c, &["BLPOP", "k", "-1"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["BRPOP", "k", "1e30"]), "ERR timeout is out of range");
    assert_eq!(err(&mut c, &["BLMOVE", "a", "b", "UP", "LEFT", "0"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["BLMPOP", "0", "0", "a", "LEFT"]), "ERR numkeys should be greater than 0");
    assert_eq!(err(&mut c, &["BZMPOP", "0", "1", "a", "MAX", "COUNT", "0"]), "ERR count should be greater than 0");
    assert_eq!(err(&mut c, &["BLPOP", "k"]), "ERR wrong number of arguments for 'blpop' command");
    assert_eq!(err(&mut c, &["BRPOPLPUSH", "a", "b"]), "ERR wrong number of arguments for 'brpoplpush' command");
    let info: Vec<Value> = run(&mut c, &["COMMAND", "INFO", "blpop"]);
    assert!(format!("{info:?}").contains("blocking"), "{info:?}");
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn redis_cluster_mode_blocks_on_the_key_owner() {
    let cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster"]);
    let key = "bq";
    let owner = cluster.coordinator_of(key);
    let other = (owner + 1) % 3;
    let mut watch = cluster.node(owner).conn();
    // A cluster client sends it to the owner; the push comes through
    // another node, which forwards it there.
    let client = redis::cluster::ClusterClient::new(vec![cluster.node(other).url()]).expect("cluster client");
    let mut cc = client.get_connection().expect("cluster connection");
    let handle =
        thread::spawn(move || redis::cmd("BLPOP").arg(key).arg(5).query::<Value>(&mut cc).map_err(|e| e.to_string()));
    wait_blocked(&mut watch, 1);
    assert_eq!(int(&mut cluster.node(other).conn(), &["RPUSH", key, "x"]), 1);
    assert_eq!(handle.join().expect("thread"), Ok(arr(&[key, "x"])));
    let mut c = cluster.node(owner).conn();
    assert_eq!(int(&mut c, &["EXISTS", key]), 0);
    // Keys of several slots: CROSSSLOT, as in Redis Cluster.
    let e = err(&mut c, &["BLPOP", "a", "b", "c", "0"]);
    assert!(e.starts_with("CROSSSLOT"), "{e}");
}

/// `proxy` mode: a client of a node that does not coordinate the key
/// blocks there while the command waits on the coordinator, in rounds
/// shorter than the cluster timeout, and is woken by a write through a
/// third node.
#[test]
fn proxy_mode_blocks_on_the_coordinator_through_the_forwarding_path() {
    let cluster = TestCluster::start(3, &["--cluster-timeout", "400"]);
    let mut origin = cluster.node(0).conn();
    let others = |f: &mut dyn FnMut(&mut redis::Connection) -> i64| -> i64 {
        (1..3).map(|i| f(&mut cluster.node(i).conn())).sum()
    };
    // A key that lives on another node: the coordinator counts the wait
    // too.
    let mut found = None;
    for k in 0..16 {
        let key = format!("pq{k}");
        let mut blocked = cluster.node(0).conn();
        let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
        let waiting = spawn_on(blocked, &["BLPOP", &key, "10"]);
        wait_blocked(&mut origin, 1);
        let remote = {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                if others(&mut blocked_clients) == 1 {
                    break true;
                }
                if Instant::now() > deadline {
                    break false;
                }
                thread::sleep(Duration::from_millis(10));
            }
        };
        if remote {
            found = Some((key, waiting));
            break;
        }
        assert_eq!(int(&mut origin, &["CLIENT", "UNBLOCK", &id]), 1);
        assert_eq!(joined(waiting), Ok(Value::Nil));
    }
    let (key, waiting) = found.expect("a key coordinated by another node");
    // Several rounds (200 ms each) pass; the client is still blocked.
    thread::sleep(Duration::from_millis(700));
    assert_eq!(blocked_clients(&mut origin), 1);
    assert_eq!(int(&mut cluster.node(2).conn(), &["RPUSH", &key, "a", "b"]), 2);
    assert_eq!(joined(waiting), Ok(arr(&[&key, "a"])));
    eventually("no waiter left", || blocked_clients(&mut origin) == 0 && others(&mut blocked_clients) == 0);
    assert_eq!(int(&mut origin, &["LLEN", &key]), 1);

    // Its timeout, through rounds: nil after about that long.
    let started = Instant::now();
    assert_eq!(run::<Value>(&mut origin, &["BLMOVE", "pq-none{x}", "pq-d{x}", "LEFT", "LEFT", "0.5"]), Value::Nil);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(490) && took < Duration::from_secs(5), "{took:?}");

    // A client that leaves: the coordinator forgets its wait.
    let mut raw = cluster.node(0).raw();
    raw.send_cmd(&["BLPOP", &key, "0"]);
    raw.send_cmd(&["BLPOP", &key, "0"]);
    assert_eq!(raw.read_reply_string(), format!("*2\r\n${}\r\n{key}\r\n$1\r\nb\r\n", key.len()));
    wait_blocked(&mut origin, 1);
    drop(raw);
    eventually("the coordinator forgot it", || blocked_clients(&mut origin) == 0 && others(&mut blocked_clients) == 0);
    assert_eq!(int(&mut origin, &["RPUSH", &key, "c"]), 1);
    assert_eq!(int(&mut origin, &["LLEN", &key]), 1, "nobody popped it");

    // Inside MULTI it answers at once there too.
    let replies: Vec<Value> =
        redis::pipe().atomic().cmd("BLPOP").arg("pq-empty").arg("0").query(&mut origin).expect("EXEC");
    assert_eq!(replies, vec![Value::Nil]);
}

/// `proxy` mode: a client that leaves while its BLPOP waits on the key's
/// coordinator, which pops for it before it hears that the client left,
/// loses nothing: its node gives the element back to the list. To order
/// it so, the client's node is stopped (SIGSTOP) while the client closes
/// its connection and a push on the coordinator serves the wait; resumed,
/// the node sees the client gone, then the answer with what was popped.
#[test]
fn proxy_mode_gives_back_what_was_popped_for_a_client_that_left() {
    // Rounds of 1 s: the push lands inside one.
    let cluster = TestCluster::start(3, &["--cluster-timeout", "2000"]);
    let mut origin = cluster.node(0).conn();
    for attempt in 0..5 {
        let key = format!("give-back{attempt}");
        let mut raw = cluster.node(0).raw();
        raw.send_cmd(&["BLPOP", &key, "0"]);
        wait_blocked(&mut origin, 1);
        // The coordinator (another node for this key) counts the wait too.
        let deadline = Instant::now() + Duration::from_secs(2);
        let owner = loop {
            if let Some(i) = (1..3).find(|&i| blocked_clients(&mut cluster.node(i).conn()) == 1) {
                break Some(i);
            }
            if Instant::now() > deadline {
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let Some(owner) = owner else {
            // This node coordinates the key: no remote wait to test.
            drop(raw);
            wait_blocked(&mut origin, 0);
            continue;
        };
        let mut b = cluster.node(owner).conn();
        assert!(cluster.node(0).signal("STOP"), "stop the client's node");
        drop(raw);
        let pushed = int(&mut b, &["RPUSH", &key, "v"]);
        let left = int(&mut b, &["LLEN", &key]);
        assert!(cluster.node(0).signal("CONT"), "resume the client's node");
        assert_eq!(pushed, 1);
        if left == 1 {
            // The push fell between two rounds: nothing was popped.
            eventually("no waiter left", || blocked_clients(&mut origin) == 0);
            continue;
        }
        // Popped for the client that left: it comes back.
        eventually("the popped element is back", || run::<Vec<String>>(&mut b, &["LRANGE", &key, "0", "-1"]) == ["v"]);
        eventually("no waiter left", || (0..3).all(|i| blocked_clients(&mut cluster.node(i).conn()) == 0));
        // Readable through the client's node, and given back once.
        assert_eq!(run::<Vec<String>>(&mut origin, &["LRANGE", &key, "0", "-1"]), ["v"]);
        return;
    }
    panic!("no attempt had the coordinator pop for the client that left");
}
