//! Stream commands through a real node: the `redis` crate's stream helpers
//! (`redis::streams`) for typed replies, a raw connection for exact reply
//! bytes and error texts, a RESP3 connection for XREAD's map, keyspace
//! notifications from a subscriber, and a three-node cluster where a
//! stream and its consumer group survive the kill of the key's coordinator.
//! The expected replies are Redis 7.2's.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::coordinator_port;
use common::cluster::TestCluster;
use common::fault::{try_conn, FaultCluster};
use common::{arity, bulk, call, err, int, resp_err, run, spawn_on, Server, WRONGTYPE};
use redis::streams::{
    StreamAutoClaimReply, StreamClaimReply, StreamInfoGroupsReply, StreamPendingCountReply, StreamPendingReply,
    StreamRangeReply, StreamReadOptions, StreamReadReply,
};
use redis::{Commands, Connection, Value};

fn ids(r: &StreamRangeReply) -> Vec<String> {
    r.ids.iter().map(|e| e.id.clone()).collect()
}

fn field(e: &redis::streams::StreamId, f: &str) -> String {
    e.get(f).unwrap_or_else(|| panic!("no field {f} in {e:?}"))
}

#[test]
fn xadd_xrange_xdel_xtrim() {
    let server = Server::start();
    let mut conn = server.conn();
    let id: String = conn.xadd("s", "1-1", &[("name", "ada"), ("lang", "en")]).unwrap();
    assert_eq!(id, "1-1");
    let id: String = conn.xadd("s", "1-*", &[("name", "bob")]).unwrap();
    assert_eq!(id, "1-2");
    let auto: String = conn.xadd("s", "*", &[("name", "cy")]).unwrap();
    assert!(auto.split('-').next().unwrap().parse::<u64>().unwrap() > 1_600_000_000_000, "{auto}");
    assert_eq!(conn.xlen::<_, i64>("s").unwrap(), 3);

    let all: StreamRangeReply = conn.xrange_all("s").unwrap();
    assert_eq!(ids(&all)[..2], ["1-1", "1-2"]);
    assert_eq!(field(&all.ids[0], "lang"), "en");
    let rev: StreamRangeReply = conn.xrevrange_count("s", "+", "-", 1).unwrap();
    assert_eq!(ids(&rev), [auto.as_str()]);
    let excl: StreamRangeReply = redis::cmd("XRANGE").arg("s").arg("(1-1").arg("+").query(&mut conn).unwrap();
    assert_eq!(ids(&excl)[0], "1-2");

    assert_eq!(conn.xdel::<_, _, i64>("s", &["1-2", "9-9"]).unwrap(), 1);
    let trimmed: i64 = conn.xtrim("s", redis::streams::StreamMaxlen::Equals(1)).unwrap();
    assert_eq!(trimmed, 1);
    assert_eq!(ids(&conn.xrange_all("s").unwrap()), [auto]);

    // MAXLEN ~ only drops whole nodes (stream-node-max-entries per node).
    let _: () = redis::cmd("CONFIG").arg("SET").arg("stream-node-max-entries").arg("10").query(&mut conn).unwrap();
    for i in 1..=35 {
        let _: String = redis::cmd("XADD")
            .arg("t")
            .arg("MAXLEN")
            .arg("~")
            .arg("12")
            .arg(format!("{i}-0"))
            .arg("f")
            .arg(i)
            .query(&mut conn)
            .unwrap();
    }
    assert_eq!(conn.xlen::<_, i64>("t").unwrap(), 15, "35 entries in nodes of 10, at least 12 kept");

    // TYPE, OBJECT ENCODING, MEMORY USAGE, COPY, EXPIRE.
    assert_eq!(redis::cmd("TYPE").arg("s").query::<String>(&mut conn).unwrap(), "stream");
    assert_eq!(redis::cmd("OBJECT").arg("ENCODING").arg("s").query::<String>(&mut conn).unwrap(), "stream");
    assert!(redis::cmd("MEMORY").arg("USAGE").arg("t").query::<i64>(&mut conn).unwrap() > 15 * 16);
    assert_eq!(redis::cmd("COPY").arg("t").arg("t2").query::<i64>(&mut conn).unwrap(), 1);
    assert_eq!(conn.xlen::<_, i64>("t2").unwrap(), 15);
    // DUMP/RESTORE: Redis 7.2's RDB_TYPE_STREAM_LISTPACKS_3.
    let payload: Vec<u8> = redis::cmd("DUMP").arg("t").query(&mut conn).unwrap();
    assert_eq!(payload[0], 21);
    let _: () = redis::cmd("RESTORE").arg("t3").arg(0).arg(&payload).query(&mut conn).unwrap();
    let a: StreamRangeReply = conn.xrange_all("t").unwrap();
    let b: StreamRangeReply = conn.xrange_all("t3").unwrap();
    assert_eq!(ids(&a), ids(&b));
    let _: () = conn.pexpire("t2", 50).unwrap();
    thread::sleep(Duration::from_millis(120));
    assert_eq!(conn.exists::<_, i64>("t2").unwrap(), 0, "a stream expires");
}

#[test]
fn errors_are_redis_texts() {
    let server = Server::start();
    let mut raw = server.raw();
    call(&mut raw, &["SET", "str", "x"]);
    assert_eq!(call(&mut raw, &["XADD", "str", "*", "f", "v"]), resp_err(WRONGTYPE));
    assert_eq!(call(&mut raw, &["XLEN", "str"]), resp_err(WRONGTYPE));
    assert_eq!(call(&mut raw, &["XADD", "s", "*", "f"]), resp_err(&arity("xadd")));
    assert_eq!(
        call(&mut raw, &["XADD", "s", "0-0", "f", "v"]),
        resp_err("ERR The ID specified in XADD must be greater than 0-0")
    );
    assert_eq!(call(&mut raw, &["XADD", "s", "5-0", "f", "v"]), "$3\r\n5-0\r\n");
    assert_eq!(
        call(&mut raw, &["XADD", "s", "4-0", "f", "v"]),
        resp_err("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    );
    assert_eq!(
        call(&mut raw, &["XADD", "s", "x-y", "f", "v"]),
        resp_err("ERR Invalid stream ID specified as stream command argument")
    );
    assert_eq!(call(&mut raw, &["XADD", "new", "NOMKSTREAM", "*", "f", "v"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["XRANGE", "s", "-", "+", "COUNT", "0"]), "*-1\r\n");
    assert_eq!(call(&mut raw, &["XRANGE", "nokey", "-", "+"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["XREAD", "STREAMS", "s", "$"]), "*-1\r\n");
    assert_eq!(call(&mut raw, &["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]), "*-1\r\n", "timed out");
    assert_eq!(call(&mut raw, &["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"]), resp_err("ERR timeout is negative"));
    assert_eq!(
        call(&mut raw, &["XREAD", "BLOCK", "0.5", "STREAMS", "s", "$"]),
        resp_err("ERR timeout is not an integer or out of range")
    );
    assert_eq!(
        call(&mut raw, &["XTRIM", "s", "LIMIT", "5"]),
        resp_err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    assert_eq!(call(&mut raw, &["XGROUP", "CREATE", "nokey", "g", "$"]), resp_err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
    assert_eq!(call(&mut raw, &["XGROUP", "CREATE", "s", "g", "$"]), "+OK\r\n");
    assert_eq!(
        call(&mut raw, &["XGROUP", "CREATE", "s", "g", "$"]),
        resp_err("BUSYGROUP Consumer Group name already exists")
    );
    assert_eq!(call(&mut raw, &["XGROUP", "FOO", "s"]), resp_err("ERR unknown subcommand 'FOO'. Try XGROUP HELP."));
    assert_eq!(
        call(&mut raw, &["XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"]),
        resp_err("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option")
    );
    assert_eq!(call(&mut raw, &["XPENDING", "s", "nog"]), resp_err("NOGROUP No such key 's' or consumer group 'nog'"));
    assert_eq!(
        call(&mut raw, &["XCLAIM", "s", "g", "c", "x", "1-0"]),
        resp_err("ERR Invalid min-idle-time argument for XCLAIM")
    );
    assert_eq!(call(&mut raw, &["XINFO", "STREAM", "nokey"]), resp_err("ERR no such key"));
    assert_eq!(
        call(&mut raw, &["XSETID", "s", "1-0"]),
        resp_err("ERR The ID specified in XSETID is smaller than the target stream top item")
    );
}

#[test]
fn xread_resp2_and_resp3() {
    let server = Server::start();
    let mut conn = server.conn();
    for i in 1..=3 {
        let _: String = conn.xadd("a", format!("{i}-0"), &[("n", i)]).unwrap();
    }
    let _: String = conn.xadd("b", "1-0", &[("n", 1)]).unwrap();
    let opts = StreamReadOptions::default().count(2);
    let r: StreamReadReply = conn.xread_options(&["a", "b"], &["1-0", "0"], &opts).unwrap();
    assert_eq!(r.keys.len(), 2);
    assert_eq!(r.keys[0].key, "a");
    assert_eq!(r.keys[0].ids.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["2-0", "3-0"]);
    assert_eq!(r.keys[1].ids[0].id, "1-0");

    let mut c3 = server.conn_resp3();
    let v: Value = redis::cmd("XREAD").arg("STREAMS").arg("a").arg("2-0").query(&mut c3).unwrap();
    let Value::Map(m) = v else { panic!("RESP3 XREAD is a map: {v:?}") };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].0, Value::BulkString(b"a".to_vec()));
}

#[test]
fn consumer_group_lifecycle() {
    let server = Server::start();
    let mut conn = server.conn();
    let _: () = conn.xgroup_create_mkstream("jobs", "workers", "$").unwrap();
    for i in 1..=4 {
        let _: String = conn.xadd("jobs", format!("{i}-0"), &[("job", i)]).unwrap();
    }
    let opts = StreamReadOptions::default().group("workers", "alice").count(3);
    let r: StreamReadReply = conn.xread_options(&["jobs"], &[">"], &opts).unwrap();
    assert_eq!(r.keys[0].ids.len(), 3);
    let opts = StreamReadOptions::default().group("workers", "bob");
    let r: StreamReadReply = conn.xread_options(&["jobs"], &[">"], &opts).unwrap();
    assert_eq!(r.keys[0].ids.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["4-0"]);

    let p: StreamPendingReply = conn.xpending("jobs", "workers").unwrap();
    let StreamPendingReply::Data(d) = p else { panic!("pending") };
    assert_eq!((d.count, d.start_id.as_str(), d.end_id.as_str()), (4, "1-0", "4-0"));
    assert_eq!(
        d.consumers.iter().map(|c| (c.name.as_str(), c.pending)).collect::<Vec<_>>(),
        [("alice", 3), ("bob", 1)]
    );

    assert_eq!(conn.xack::<_, _, _, i64>("jobs", "workers", &["1-0"]).unwrap(), 1);
    let c: StreamClaimReply = conn.xclaim("jobs", "workers", "bob", 0, &["2-0"]).unwrap();
    assert_eq!(c.ids[0].id, "2-0");
    let p: StreamPendingCountReply = conn.xpending_consumer_count("jobs", "workers", "-", "+", 10, "bob").unwrap();
    assert_eq!(p.ids.iter().map(|p| (p.id.as_str(), p.times_delivered)).collect::<Vec<_>>(), [("2-0", 2), ("4-0", 1)]);

    let a: StreamAutoClaimReply =
        redis::cmd("XAUTOCLAIM").arg("jobs").arg("workers").arg("carol").arg(0).arg("0").query(&mut conn).unwrap();
    assert_eq!(a.claimed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["2-0", "3-0", "4-0"]);
    assert_eq!(a.next_stream_id, "0-0");

    let g: StreamInfoGroupsReply = conn.xinfo_groups("jobs").unwrap();
    assert_eq!(g.groups[0].name, "workers");
    assert_eq!((g.groups[0].consumers, g.groups[0].pending), (3, 3));
    assert_eq!(g.groups[0].last_delivered_id, "4-0");
    assert_eq!(g.groups[0].entries_read, Some(4));
    assert_eq!(g.groups[0].lag, Some(0));

    assert_eq!(
        redis::cmd("XGROUP")
            .arg("DELCONSUMER")
            .arg("jobs")
            .arg("workers")
            .arg("carol")
            .query::<i64>(&mut conn)
            .unwrap(),
        3
    );
    assert_eq!(redis::cmd("XGROUP").arg("DESTROY").arg("jobs").arg("workers").query::<i64>(&mut conn).unwrap(), 1);
    let g: StreamInfoGroupsReply = conn.xinfo_groups("jobs").unwrap();
    assert!(g.groups.is_empty());
}

#[test]
fn keyspace_notifications_name_stream_events() {
    let server = Server::start();
    let mut conn = server.conn();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("Et").query(&mut conn).unwrap();
    let mut sub_conn = server.conn();
    sub_conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sub = sub_conn.as_pubsub();
    sub.psubscribe("__keyevent@0__:*").unwrap();
    let _: String = conn.xadd("s", "1-0", &[("f", "v")]).unwrap();
    let _: () = conn.xgroup_create("s", "g", "0").unwrap();
    let _: i64 = conn.xdel("s", &["1-0"]).unwrap();
    let mut events = Vec::new();
    while events.len() < 3 {
        let msg = sub.get_message().expect("an event within 5 s");
        events.push(msg.get_channel_name().trim_start_matches("__keyevent@0__:").to_owned());
    }
    assert_eq!(events, ["xadd", "xgroup-create", "xdel"]);
}

/// A stream and its consumer group (PEL, consumers, last delivered id)
/// are on every owner: with the key's coordinator killed, a survivor
/// answers the same and the group carries on where it was.
#[test]
fn a_stream_and_its_group_survive_the_loss_of_its_coordinator() {
    let mut cluster = FaultCluster::start(3, &["--cluster-timeout", "1000"]);
    let mut conn = try_conn(cluster.node(0).port).expect("connect");
    let _: () = conn.xgroup_create_mkstream("orders", "billing", "$").unwrap();
    for i in 1..=5 {
        let _: String = conn.xadd("orders", format!("{i}-0"), &[("order", i)]).unwrap();
    }
    let opts = StreamReadOptions::default().group("billing", "w1").count(3);
    let _: StreamReadReply = conn.xread_options(&["orders"], &[">"], &opts).unwrap();
    assert_eq!(conn.xack::<_, _, _, i64>("orders", "billing", &["1-0"]).unwrap(), 1);

    let before = snapshot(&mut conn);
    let owner = coordinator_port(&mut conn, "orders");
    let down = cluster.nodes.iter().position(|n| n.port == owner).expect("the coordinator is a node");
    cluster.kill(down);
    let survivor = cluster.nodes.iter().position(|n| n.port != owner).unwrap();
    let mut conn = try_conn(cluster.node(survivor).port).expect("connect to a survivor");

    // Reads may fail while the dead node is being detected.
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        match try_snapshot(&mut conn) {
            Some(s) => break s,
            None if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            None => panic!("no answer from the survivors"),
        }
    };
    assert_eq!(after, before, "the survivors hold the same stream and group");
    // The group goes on from its last delivered id, with w1's PEL intact.
    let opts = StreamReadOptions::default().group("billing", "w2");
    let r: StreamReadReply = conn.xread_options(&["orders"], &[">"], &opts).unwrap();
    assert_eq!(r.keys[0].ids.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["4-0", "5-0"]);
    assert_eq!(conn.xack::<_, _, _, i64>("orders", "billing", &["2-0", "3-0"]).unwrap(), 2);
}

/// The consumer a blocked XREADGROUP creates replicates at once: after a
/// wait that ends with nothing (CLIENT UNBLOCK) and the loss of the
/// coordinator, the survivors know it.
#[test]
fn a_consumer_created_by_a_blocked_read_survives_its_coordinator() {
    // redis-cluster mode: CLUSTER SLOTS names the real coordinator.
    let mut cluster = FaultCluster::start(3, &["--cluster-timeout", "1000", "--cluster-mode", "redis-cluster"]);
    let mut conn = try_conn(cluster.node(0).port).expect("connect");
    let _: () = conn.xgroup_create_mkstream("jobs", "workers", "$").unwrap();
    let owner = coordinator_port(&mut conn, "jobs");
    let down = cluster.nodes.iter().position(|n| n.port == owner).expect("the coordinator is a node");
    // Through the coordinator itself, so that the wait is local there.
    let mut blocked = try_conn(owner).expect("connect to the coordinator");
    let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
    let waiting = spawn_on(blocked, &["XREADGROUP", "GROUP", "workers", "w9", "BLOCK", "0", "STREAMS", "jobs", ">"]);
    let mut at_owner = try_conn(owner).expect("connect to the coordinator");
    wait_blocked(&mut at_owner, 1);
    assert_eq!(int(&mut at_owner, &["CLIENT", "UNBLOCK", &id]), 1);
    assert_eq!(joined(waiting), Ok(Value::Nil));
    cluster.kill(down);
    let survivor = cluster.nodes.iter().position(|n| n.port != owner).unwrap();
    let mut conn = try_conn(cluster.node(survivor).port).expect("connect to a survivor");
    let deadline = Instant::now() + Duration::from_secs(15);
    let consumers = loop {
        match common::cmd(&["XINFO", "CONSUMERS", "jobs", "workers"]).query::<Value>(&mut conn) {
            Ok(Value::Array(c)) => break c,
            _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            other => panic!("no answer from the survivors: {other:?}"),
        }
    };
    assert_eq!(consumers.len(), 1, "{consumers:?}");
    assert!(format!("{consumers:?}").contains("w9"), "{consumers:?}");
}

/// What the test compares: the entries, the group's summary PEL and its
/// XINFO GROUPS line.
fn snapshot(conn: &mut Connection) -> Vec<Value> {
    try_snapshot(conn).expect("stream reads")
}

fn try_snapshot(conn: &mut Connection) -> Option<Vec<Value>> {
    let reads: [&[&str]; 3] =
        [&["XRANGE", "orders", "-", "+"], &["XPENDING", "orders", "billing"], &["XINFO", "GROUPS", "orders"]];
    reads.iter().map(|r| common::cmd(r).query::<Value>(conn).ok()).collect()
}

// ------------------------------------------------------------- blocking

const WAIT: Duration = Duration::from_secs(10);

fn blocked_clients(conn: &mut Connection) -> i64 {
    let info: String = run(conn, &["INFO", "clients"]);
    let line = info.lines().find_map(|l| l.strip_prefix("blocked_clients:")).expect("blocked_clients in INFO");
    line.trim().parse().expect("a count")
}

fn wait_blocked(conn: &mut Connection, n: i64) {
    let deadline = Instant::now() + WAIT;
    while blocked_clients(conn) != n {
        assert!(Instant::now() < deadline, "{n} blocked clients: not within {WAIT:?}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// INFO's line for `name` in `section` (`cmdstat_xread`), after the colon.
fn info_line(conn: &mut Connection, section: &str, name: &str) -> String {
    let info: String = run(conn, &["INFO", section]);
    let prefix = format!("{name}:");
    info.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_owned()
}

fn joined(h: thread::JoinHandle<Result<Value, String>>) -> Result<Value, String> {
    h.join().expect("the client thread")
}

/// An entry: its id, one field and its value.
type Entry<'a> = (&'a str, &'a str, &'a str);

/// An XREAD reply (RESP2): per key, its entries `(id, [field, value])`.
fn read_reply(items: &[(&str, &[Entry])]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|(key, entries)| {
                let entries = entries
                    .iter()
                    .map(|(id, f, v)| Value::Array(vec![bulk(id), Value::Array(vec![bulk(f), bulk(v)])]))
                    .collect();
                Value::Array(vec![bulk(key), Value::Array(entries)])
            })
            .collect(),
    )
}

#[test]
fn xread_block_is_woken_by_an_xadd_from_another_connection() {
    let server = Server::start();
    let mut c = server.conn();
    let _: String = c.xadd("s", "1-0", &[("old", "x")]).unwrap();
    // `$` is the last id when the command blocks: the old entry is not
    // served, the new one is.
    let waiting = spawn_on(server.conn(), &["XREAD", "BLOCK", "0", "STREAMS", "none", "s", "$", "$"]);
    wait_blocked(&mut c, 1);
    let list: String = run(&mut c, &["CLIENT", "LIST"]);
    assert!(list.contains("flags=b") && list.contains("cmd=xread"), "{list}");
    let _: String = c.xadd("s", "2-0", &[("new", "y")]).unwrap();
    assert_eq!(joined(waiting), Ok(read_reply(&[("s", &[("2-0", "new", "y")])])));
    assert_eq!(blocked_clients(&mut c), 0);

    // Every reader of the key is served by one XADD; a write of another
    // type to a key it waits on does not wake it.
    let a = spawn_on(server.conn(), &["XREAD", "BLOCK", "5000", "STREAMS", "s", "2-0"]);
    let b = spawn_on(server.conn(), &["XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "t", "$"]);
    wait_blocked(&mut c, 2);
    run::<Value>(&mut c, &["SET", "t", "string"]);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(blocked_clients(&mut c), 2);
    run::<Value>(&mut c, &["DEL", "t"]);
    // Several entries in one transaction: served together, after EXEC.
    let replies: Vec<String> =
        redis::pipe().atomic().xadd("s", "3-0", &[("f", "1")]).xadd("t", "3-0", &[("f", "2")]).query(&mut c).unwrap();
    assert_eq!(replies, ["3-0", "3-0"]);
    assert_eq!(joined(a), Ok(read_reply(&[("s", &[("3-0", "f", "1")])])));
    assert_eq!(joined(b), Ok(read_reply(&[("t", &[("3-0", "f", "2")])])));

    // In a RESP3 connection the reply is a map.
    let mut c3 = server.conn_resp3();
    let waiting = spawn_on(server.conn_resp3(), &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 1);
    let _: String = c3.xadd("s", "4-0", &[("f", "v")]).unwrap();
    assert!(matches!(joined(waiting), Ok(Value::Map(m)) if m.len() == 1));
}

#[test]
fn xread_block_times_out_with_a_null_array() {
    let server = Server::start();
    let mut raw = server.raw();
    let started = Instant::now();
    assert_eq!(call(&mut raw, &["XREAD", "BLOCK", "200", "STREAMS", "s", "$"]), "*-1\r\n");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(195) && took < Duration::from_secs(5), "{took:?}");
    call(&mut raw, &["HELLO", "3"]);
    assert_eq!(call(&mut raw, &["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]), "_\r\n");
    assert_eq!(
        call(&mut raw, &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "20", "STREAMS", "s", ">"]).get(..8),
        Some("-NOGROUP")
    );
    // An entry at or below the id, only: it waits (no empty reply).
    call(&mut raw, &["XADD", "s", "5-0", "f", "v"]);
    assert_eq!(call(&mut raw, &["XREAD", "BLOCK", "20", "STREAMS", "s", "5-0"]), "_\r\n");
    // Inside MULTI, or with data, BLOCK does not wait.
    let mut c = server.conn();
    let replies: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("XREAD")
        .arg("BLOCK")
        .arg(0)
        .arg("STREAMS")
        .arg("s")
        .arg("$")
        .cmd("XREAD")
        .arg("BLOCK")
        .arg(0)
        .arg("STREAMS")
        .arg("s")
        .arg("0")
        .query(&mut c)
        .unwrap();
    assert_eq!(replies, [Value::Nil, read_reply(&[("s", &[("5-0", "f", "v")])])]);
    // A script may not use BLOCK at all, as in Redis.
    let script = "return redis.pcall('xread', 'BLOCK', 0, 'STREAMS', KEYS[1], '$')";
    assert_eq!(
        err(&mut c, &["EVAL", script, "1", "s"]),
        "ERR xread command is not allowed with BLOCK option from scripts"
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn xreadgroup_block_delivers_a_new_entry_into_the_pel() {
    let server = Server::start();
    let mut c = server.conn();
    let _: () = c.xgroup_create_mkstream("s", "g", "$").unwrap();
    run::<Value>(&mut c, &["CONFIG", "RESETSTAT"]);
    let waiting = spawn_on(server.conn(), &["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">"]);
    let other = spawn_on(server.conn(), &["XREADGROUP", "GROUP", "g", "bob", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_blocked(&mut c, 2);
    let _: String = c.xadd("s", "1-0", &[("f", "v")]).unwrap();
    assert_eq!(joined(waiting), Ok(read_reply(&[("s", &[("1-0", "f", "v")])])), "the first to block");
    assert_eq!(blocked_clients(&mut c), 1, "bob waits on: the entry went to alice");
    let pending: Value = run(&mut c, &["XPENDING", "s", "g", "-", "+", "10"]);
    let Value::Array(p) = &pending else { panic!("{pending:?}") };
    assert_eq!(p.len(), 1);
    let Value::Array(e) = &p[0] else { panic!("{pending:?}") };
    assert_eq!((&e[0], &e[1], &e[3]), (&bulk("1-0"), &bulk("alice"), &Value::Int(1)));
    // Its group destroyed: bob fails with -NOGROUP.
    assert_eq!(int(&mut c, &["XGROUP", "DESTROY", "s", "g"]), 1);
    assert_eq!(
        joined(other),
        Err("NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option".to_owned())
    );
    // Each blocked command counts once, when it ends, as in Redis.
    let stat = info_line(&mut c, "commandstats", "cmdstat_xreadgroup");
    assert!(stat.starts_with("calls=2,") && stat.ends_with("failed_calls=1"), "{stat}");
    assert!(info_line(&mut c, "errorstats", "errorstat_NOGROUP").starts_with("count=1"));
    // Its key deleted, or given another type: fails too.
    for write in [&["DEL", "s"][..], &["SET", "s", "v"]] {
        run::<Value>(&mut c, &["DEL", "s"]);
        let _: () = c.xgroup_create_mkstream("s", "g", "$").unwrap();
        let waiting = spawn_on(server.conn(), &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
        wait_blocked(&mut c, 1);
        run::<Value>(&mut c, write);
        let e = joined(waiting).expect_err("it fails");
        assert!(e.starts_with("NOGROUP") || e.starts_with("WRONGTYPE"), "{write:?}: {e}");
    }
    // Its stream expired: fails too, from the background cycle.
    run::<Value>(&mut c, &["DEL", "s"]);
    let _: () = c.xgroup_create_mkstream("s", "g", "$").unwrap();
    let waiting = spawn_on(server.conn(), &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_blocked(&mut c, 1);
    assert_eq!(int(&mut c, &["PEXPIRE", "s", "50"]), 1);
    let e = joined(waiting).expect_err("it fails");
    assert!(e.starts_with("NOGROUP"), "{e}");
    // An explicit id reads the history: never waits.
    run::<Value>(&mut c, &["DEL", "s"]);
    let _: () = c.xgroup_create_mkstream("s", "g", "$").unwrap();
    let history: Value = run(&mut c, &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0"]);
    assert_eq!(history, read_reply(&[("s", &[])]));
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn client_unblock_ends_a_blocked_xread() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["CONFIG", "RESETSTAT"]);
    for reason in ["TIMEOUT", "ERROR"] {
        let mut blocked = server.conn();
        let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
        let waiting = spawn_on(blocked, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&mut c, 1);
        assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", &id, reason]), 1);
        let want = match reason {
            "TIMEOUT" => Ok(Value::Nil),
            _ => Err("UNBLOCKED client unblocked via CLIENT UNBLOCK".to_owned()),
        };
        assert_eq!(joined(waiting), want);
        assert_eq!(blocked_clients(&mut c), 0);
    }
    let stat = info_line(&mut c, "commandstats", "cmdstat_xread");
    assert!(stat.starts_with("calls=2,") && stat.ends_with("failed_calls=1"), "{stat}");
    assert_eq!(info_line(&mut c, "errorstats", "errorstat_UNBLOCKED"), "count=1");
    // It left the key's queue: a later XADD serves nobody stale.
    let _: String = c.xadd("s", "1-0", &[("f", "v")]).unwrap();
    assert_eq!(blocked_clients(&mut c), 0);
}

/// Through a three-node cluster: in `proxy` mode the client's node sends
/// the read to the key's coordinator in rounds (shorter than the cluster
/// timeout), `$` resolved once there; in `redis-cluster` mode a cluster
/// client sends it straight to the owner.
#[test]
fn blocking_stream_reads_through_a_three_node_cluster() {
    let cluster = TestCluster::start(3, &["--cluster-timeout", "1000"]);
    let mut origin = cluster.node(0).conn();
    // A key another node coordinates: the one where the wait shows up.
    let mut found = None;
    for k in 0..16 {
        let key = format!("bs{k}");
        let _: String = origin.xadd(&key, "1-0", &[("old", "x")]).unwrap();
        let mut blocked = cluster.node(0).conn();
        let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
        let reader = spawn_on(blocked, &["XREAD", "BLOCK", "10000", "STREAMS", &key, "$"]);
        wait_blocked(&mut origin, 1);
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
        if let Some(owner) = owner {
            found = Some((key, owner, reader));
            break;
        }
        assert_eq!(int(&mut origin, &["CLIENT", "UNBLOCK", &id]), 1);
        assert_eq!(joined(reader), Ok(Value::Nil));
    }
    let (key, owner, reader) = found.expect("a key coordinated by another node");
    let _: () = origin.xgroup_create(&key, "g", "$").unwrap();
    let grouped =
        spawn_on(cluster.node(0).conn(), &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", &key, ">"]);
    wait_blocked(&mut origin, 2);
    wait_blocked(&mut cluster.node(owner).conn(), 2);
    // Several rounds pass; then a write through the third node.
    thread::sleep(Duration::from_millis(1200));
    assert_eq!(blocked_clients(&mut origin), 2);
    let third = (1..3).find(|&i| i != owner).unwrap_or(0);
    let _: String = cluster.node(third).conn().xadd(&key, "2-0", &[("new", "y")]).unwrap();
    let new = read_reply(&[(&key, &[("2-0", "new", "y")])]);
    assert_eq!(joined(reader), Ok(new.clone()));
    assert_eq!(joined(grouped), Ok(new));
    let pending: Value = run(&mut origin, &["XPENDING", &key, "g"]);
    assert!(matches!(&pending, Value::Array(p) if p[0] == Value::Int(1)), "{pending:?}");
    // Its timeout, through rounds.
    let started = Instant::now();
    assert_eq!(run::<Value>(&mut origin, &["XREAD", "BLOCK", "500", "STREAMS", &key, "$"]), Value::Nil);
    assert!(started.elapsed() >= Duration::from_millis(490), "{:?}", started.elapsed());
    // CLIENT UNBLOCK on the client's node.
    let mut blocked = cluster.node(0).conn();
    let id = int(&mut blocked, &["CLIENT", "ID"]).to_string();
    let waiting = spawn_on(blocked, &["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
    wait_blocked(&mut origin, 1);
    assert_eq!(int(&mut origin, &["CLIENT", "UNBLOCK", &id, "ERROR"]), 1);
    assert_eq!(joined(waiting), Err("UNBLOCKED client unblocked via CLIENT UNBLOCK".to_owned()));
    drop(cluster);

    let cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster"]);
    let key = "bstream";
    let owner = cluster.coordinator_of(key);
    let other = (owner + 1) % 3;
    let client = redis::cluster::ClusterClient::new(vec![cluster.node(other).url()]).expect("cluster client");
    let mut cc = client.get_connection().expect("cluster connection");
    let handle = thread::spawn(move || {
        redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(5000)
            .arg("STREAMS")
            .arg(key)
            .arg("$")
            .query::<Value>(&mut cc)
            .map_err(|e| e.to_string())
    });
    wait_blocked(&mut cluster.node(owner).conn(), 1);
    let _: String = cluster.node(other).conn().xadd(key, "1-0", &[("f", "v")]).unwrap();
    assert_eq!(handle.join().expect("thread"), Ok(read_reply(&[(key, &[("1-0", "f", "v")])])));
}
