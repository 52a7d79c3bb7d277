//! Pub/Sub against the real binary: real subscriber connections through the
//! `redis` crate's pubsub API, raw RESP2/RESP3 connections for the exact
//! replies and push messages, the RESP2 subscribed context, PUBSUB
//! introspection, a slow subscriber cut off by its output buffer limit, and
//! messages crossing a three-node cluster.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::{call, int, run, RawConn, Server};

const WAIT: Duration = Duration::from_secs(10);

/// A RESP2 subscriber through the `redis` crate, with a bounded read.
fn pubsub_conn(server: &Server) -> redis::Connection {
    let conn = server.client().get_connection_with_timeout(WAIT).expect("connect");
    conn.set_read_timeout(Some(WAIT)).expect("read timeout");
    conn
}

fn message(ps: &mut redis::PubSub<'_>) -> (String, String, Option<String>) {
    let msg = ps.get_message().expect("a message within the timeout");
    let pattern = msg.get_pattern::<Option<String>>().expect("pattern");
    (msg.get_channel_name().to_owned(), msg.get_payload::<String>().expect("payload"), pattern)
}

/// Polls `f` until it is true, at most [`WAIT`].
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn subscribe_publish_patterns_and_unsubscribe() {
    let server = Server::start();
    let mut publisher = server.conn();
    let mut sub = pubsub_conn(&server);
    let mut ps = sub.as_pubsub();
    ps.subscribe(&["chan1", "chan2"]).unwrap();
    ps.psubscribe("news.*").unwrap();
    // The `redis` crate sends (P)SUBSCRIBE without waiting for its
    // confirmation: wait until the node has them before publishing.
    let numpat = |p: &mut redis::Connection| int(p, &["PUBSUB", "NUMPAT"]);
    eventually("the pattern is subscribed", || numpat(&mut publisher) == 1);
    eventually("the channels are subscribed", || {
        redis::cmd("PUBSUB").arg("CHANNELS").query::<Vec<String>>(&mut publisher).unwrap().len() == 2
    });

    assert_eq!(int(&mut publisher, &["PUBLISH", "chan1", "hello"]), 1);
    assert_eq!(int(&mut publisher, &["PUBLISH", "news.tech", "rust"]), 1);
    assert_eq!(int(&mut publisher, &["PUBLISH", "newsXtech", "nobody"]), 0);
    assert_eq!(message(&mut ps), ("chan1".into(), "hello".into(), None));
    assert_eq!(message(&mut ps), ("news.tech".into(), "rust".into(), Some("news.*".into())));

    // A channel matched by both a subscription and a pattern: two receivers.
    ps.psubscribe("chan?").unwrap();
    eventually("the second pattern is subscribed", || numpat(&mut publisher) == 2);
    assert_eq!(int(&mut publisher, &["PUBLISH", "chan2", "both"]), 2);
    assert_eq!(message(&mut ps), ("chan2".into(), "both".into(), None));
    assert_eq!(message(&mut ps), ("chan2".into(), "both".into(), Some("chan?".into())));

    ps.unsubscribe("chan1").unwrap();
    ps.punsubscribe(&["news.*", "chan?"]).unwrap();
    eventually("the patterns are gone", || numpat(&mut publisher) == 0);
    eventually("chan1 is gone", || {
        redis::cmd("PUBSUB").arg("CHANNELS").query::<Vec<String>>(&mut publisher).unwrap().len() == 1
    });
    assert_eq!(int(&mut publisher, &["PUBLISH", "chan1", "gone"]), 0);
    assert_eq!(int(&mut publisher, &["PUBLISH", "chan2", "still"]), 1);
    assert_eq!(message(&mut ps), ("chan2".into(), "still".into(), None));
    drop(ps);
    drop(sub);
    // A closed connection leaves its channels.
    eventually("the closed subscriber left", || int(&mut publisher, &["PUBLISH", "chan2", "x"]) == 0);
}

#[test]
fn resp2_replies_and_the_subscribed_context() {
    let server = Server::start();
    let mut raw = RawConn::connect(server.port);
    raw.send_cmd(&["SUBSCRIBE", "a", "b", "a"]);
    assert_eq!(raw.read_reply_string(), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(raw.read_reply_string(), "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    assert_eq!(raw.read_reply_string(), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n");
    assert_eq!(call(&mut raw, &["PSUBSCRIBE", "p*"]), "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n");
    assert_eq!(call(&mut raw, &["SSUBSCRIBE", "s"]), "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n");

    assert_eq!(
        call(&mut raw, &["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert!(call(&mut raw, &["CONFIG", "GET", "port"]).starts_with("-ERR Can't execute 'config|get':"));
    // Unknown commands and arity errors come first, as in Redis.
    assert!(call(&mut raw, &["NOSUCH"]).starts_with("-ERR unknown command 'NOSUCH'"));
    assert_eq!(call(&mut raw, &["GET"]), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(call(&mut raw, &["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(call(&mut raw, &["PING", "hi"]), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");

    let mut publisher = server.conn();
    assert_eq!(int(&mut publisher, &["PUBLISH", "a", "m1"]), 1);
    assert_eq!(raw.read_reply_string(), "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nm1\r\n");
    assert_eq!(int(&mut publisher, &["PUBLISH", "pq", "m2"]), 1);
    assert_eq!(raw.read_reply_string(), "*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npq\r\n$2\r\nm2\r\n");
    assert_eq!(int(&mut publisher, &["SPUBLISH", "s", "m3"]), 1);
    assert_eq!(raw.read_reply_string(), "*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$2\r\nm3\r\n");
    assert_eq!(int(&mut publisher, &["PUBLISH", "s", "m4"]), 0, "shard and plain channels are apart");

    raw.send_cmd(&["UNSUBSCRIBE"]);
    assert_eq!(raw.read_reply_string(), "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n");
    assert_eq!(raw.read_reply_string(), "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n");
    assert_eq!(call(&mut raw, &["UNSUBSCRIBE"]), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n");
    assert_eq!(call(&mut raw, &["PUNSUBSCRIBE", "nope"]), "*3\r\n$12\r\npunsubscribe\r\n$4\r\nnope\r\n:1\r\n");
    assert_eq!(call(&mut raw, &["PUNSUBSCRIBE"]), "*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n");
    // Still subscribed to a shard channel: still in the context.
    assert!(call(&mut raw, &["GET", "k"]).starts_with("-ERR Can't execute 'get'"));
    assert_eq!(call(&mut raw, &["SUNSUBSCRIBE"]), "*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n");
    assert_eq!(call(&mut raw, &["GET", "k"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["PING"]), "+PONG\r\n");

    // RESET leaves every channel, without confirmations.
    raw.send_cmd(&["SUBSCRIBE", "a"]);
    raw.read_reply_string();
    assert_eq!(call(&mut raw, &["RESET"]), "+RESET\r\n");
    assert_eq!(int(&mut publisher, &["PUBLISH", "a", "x"]), 0);
    assert_eq!(call(&mut raw, &["GET", "k"]), "$-1\r\n");
}

#[test]
fn resp3_push_messages_and_any_command_while_subscribed() {
    let server = Server::start();
    let mut raw = RawConn::connect(server.port);
    raw.send_cmd(&["HELLO", "3"]);
    raw.read_reply();
    assert_eq!(call(&mut raw, &["SUBSCRIBE", "ch"]), ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    assert_eq!(call(&mut raw, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["PING"]), "+PONG\r\n");
    let mut publisher = server.conn();
    assert_eq!(int(&mut publisher, &["PUBLISH", "ch", "hello"]), 1);
    assert_eq!(raw.read_reply_string(), ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    // Publishing to itself: the message follows the PUBLISH reply.
    raw.send_cmd(&["PUBLISH", "ch", "self"]);
    assert_eq!(raw.read_reply_string(), ":1\r\n");
    assert_eq!(raw.read_reply_string(), ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n");
    // ... also inside MULTI, after the EXEC reply.
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["PUBLISH", "ch", "tx"]), "+QUEUED\r\n");
    assert_eq!(call(&mut raw, &["EXEC"]), "*1\r\n:1\r\n");
    assert_eq!(raw.read_reply_string(), ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\ntx\r\n");
    assert_eq!(call(&mut raw, &["UNSUBSCRIBE", "ch"]), ">3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n");
    assert_eq!(call(&mut raw, &["UNSUBSCRIBE"]), ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
}

#[test]
fn pubsub_introspection_and_client_list() {
    let server = Server::start();
    let mut c = server.conn();
    let mut s1 = RawConn::connect(server.port);
    let mut s2 = RawConn::connect(server.port);
    s1.send_cmd(&["SUBSCRIBE", "news.a", "news.b", "other"]);
    for _ in 0..3 {
        s1.read_reply();
    }
    call(&mut s2, &["SUBSCRIBE", "news.a"]);
    call(&mut s2, &["PSUBSCRIBE", "x*"]);
    call(&mut s1, &["PSUBSCRIBE", "x*"]);
    call(&mut s1, &["PSUBSCRIBE", "y*"]);
    call(&mut s2, &["SSUBSCRIBE", "shard1"]);

    let mut channels: Vec<String> = run(&mut c, &["PUBSUB", "CHANNELS"]);
    channels.sort();
    assert_eq!(channels, ["news.a", "news.b", "other"]);
    let mut news: Vec<String> = run(&mut c, &["PUBSUB", "CHANNELS", "news.*"]);
    news.sort();
    assert_eq!(news, ["news.a", "news.b"]);
    let numsub: Vec<redis::Value> = run(&mut c, &["PUBSUB", "NUMSUB", "news.a", "other", "none"]);
    assert_eq!(
        numsub,
        vec![
            common::bulk("news.a"),
            redis::Value::Int(2),
            common::bulk("other"),
            redis::Value::Int(1),
            common::bulk("none"),
            redis::Value::Int(0)
        ]
    );
    assert_eq!(int(&mut c, &["PUBSUB", "NUMPAT"]), 2);
    let shard: Vec<String> = run(&mut c, &["PUBSUB", "SHARDCHANNELS"]);
    assert_eq!(shard, ["shard1"]);
    let shardnumsub: Vec<redis::Value> = run(&mut c, &["PUBSUB", "SHARDNUMSUB", "shard1"]);
    assert_eq!(shardnumsub, vec![common::bulk("shard1"), redis::Value::Int(1)]);
    let help: Vec<String> = run(&mut c, &["PUBSUB", "HELP"]);
    assert!(help[0].starts_with("PUBSUB <subcommand>"));
    assert_eq!(
        common::err(&mut c, &["PUBSUB", "CHANNELS", "a", "b"]),
        "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
    );
    assert_eq!(common::err(&mut c, &["PUBSUB", "NOPE"]), "ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.");

    let list: String = run(&mut c, &["CLIENT", "LIST"]);
    assert!(list.contains(" flags=P db=0 sub=3 psub=2 ssub=0 "), "{list}");
    assert!(list.contains(" flags=P db=0 sub=1 psub=1 ssub=1 "), "{list}");
    let pubsub_clients: String = run(&mut c, &["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(pubsub_clients.lines().count(), 2);
    let normal: String = run(&mut c, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert_eq!(normal.lines().count(), 1, "{normal}");

    assert_eq!(int(&mut c, &["CLIENT", "KILL", "TYPE", "pubsub"]), 2);
    assert!(s1.wait_closed(WAIT) && s2.wait_closed(WAIT));
    eventually("killed subscribers left", || {
        run::<Vec<String>>(&mut c, &["PUBSUB", "CHANNELS"]).is_empty() && int(&mut c, &["PUBSUB", "NUMPAT"]) == 0
    });
}

#[test]
fn a_slow_subscriber_is_disconnected_without_harming_others() {
    let server = Server::start_with(&["--client-output-buffer-limit", "pubsub 4mb 1mb 60"]);
    let mut publisher = server.conn();
    // Subscribes, then never reads.
    let mut slow = RawConn::connect(server.port);
    call(&mut slow, &["SUBSCRIBE", "firehose"]);
    let mut fast_conn = pubsub_conn(&server);
    let mut fast = RawConn::connect(server.port);
    call(&mut fast, &["SUBSCRIBE", "firehose"]);
    let count = 400;
    // The fast subscriber reports what it has read, and the publisher never
    // runs more than a few messages ahead of it: what waits for it stays
    // far under the limit, however slow this test's own reading is.
    let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let read = read.clone();
        thread::spawn(move || {
            for _ in 0..count {
                let m = fast.read_reply();
                assert!(m.starts_with(b"*3\r\n$7\r\nmessage\r\n"));
                read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    let payload = "x".repeat(64 * 1024);
    let mut receivers = Vec::new();
    for i in 0..count {
        receivers.push(int(&mut publisher, &["PUBLISH", "firehose", &payload]));
        eventually("the fast subscriber keeps up", || read.load(std::sync::atomic::Ordering::Relaxed) + 8 > i);
    }
    reader.join().expect("the fast subscriber got every message");
    assert_eq!(receivers[0], 2);
    assert_eq!(*receivers.last().unwrap(), 1, "the slow one was gone by the end");
    // 400 x 64 KiB is 25 MiB: far past what the socket buffers and the
    // 4 MiB limit hold, so the node closed the slow connection.
    slow.read_until_closed();
    let list: String = run(&mut publisher, &["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(list.lines().count(), 0, "{list}");
    assert!(server.log().contains("output buffer limits"), "the disconnection is logged");
    // The node and its other clients are fine.
    assert_eq!(run::<String>(&mut publisher, &["PING"]), "PONG");
    let mut ps = fast_conn.as_pubsub();
    ps.subscribe("after").unwrap();
    assert_eq!(int(&mut publisher, &["PUBLISH", "after", "ok"]), 1);
    assert_eq!(message(&mut ps), ("after".into(), "ok".into(), None));
}

#[test]
fn publish_on_one_node_reaches_subscribers_on_every_node() {
    let cluster = TestCluster::start(3, &[]);
    let mut subs: Vec<RawConn> = cluster
        .nodes
        .iter()
        .map(|n| {
            let mut raw = RawConn::connect(n.port);
            call(&mut raw, &["SUBSCRIBE", "events"]);
            call(&mut raw, &["PSUBSCRIBE", "ev*"]);
            call(&mut raw, &["SSUBSCRIBE", "orders"]);
            raw
        })
        .collect();
    let mut a = cluster.node(0).conn();
    // The count is the receiving node's own, as in Redis Cluster.
    assert_eq!(int(&mut a, &["PUBLISH", "events", "e1"]), 2);
    for (i, sub) in subs.iter_mut().enumerate() {
        assert_eq!(sub.read_reply_string(), "*3\r\n$7\r\nmessage\r\n$6\r\nevents\r\n$2\r\ne1\r\n", "node {i}");
        assert_eq!(
            sub.read_reply_string(),
            "*4\r\n$8\r\npmessage\r\n$3\r\nev*\r\n$6\r\nevents\r\n$2\r\ne1\r\n",
            "node {i}"
        );
    }
    // Order is kept across the cluster.
    for k in 0..50 {
        int(&mut a, &["PUBLISH", "events", &k.to_string()]);
    }
    for sub in subs.iter_mut() {
        for k in 0..50 {
            assert!(sub.read_reply_string().ends_with(&format!("\r\n{k}\r\n")));
            sub.read_reply();
        }
    }
    // proxy mode: an SPUBLISH reaches the shard channel's subscribers
    // wherever they are.
    let mut c = cluster.node(2).conn();
    assert_eq!(int(&mut c, &["SPUBLISH", "orders", "o1"]), 1);
    for sub in subs.iter_mut() {
        assert_eq!(sub.read_reply_string(), "*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\no1\r\n");
    }
}

#[test]
fn redis_cluster_mode_keeps_shard_channels_with_their_slot() {
    let cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster", "--replicas", "1"]);
    let mut c = cluster.node(0).conn();
    // Channels named like keys of every node: one of them lives elsewhere.
    let mut moved = None;
    let mut local = None;
    for i in 0..100 {
        let name = format!("ch{i}");
        let mut raw = RawConn::connect(cluster.node(0).port);
        let reply = call(&mut raw, &["SSUBSCRIBE", &name]);
        if reply.starts_with("-MOVED ") {
            moved.get_or_insert((name, reply));
        } else {
            assert!(reply.starts_with("*3\r\n$10\r\nssubscribe\r\n"), "{reply}");
            local.get_or_insert((name, raw));
        }
        if moved.is_some() && local.is_some() {
            break;
        }
    }
    let (moved_name, reply) = moved.expect("a channel of another node's slot");
    let slot: i64 = run(&mut c, &["CLUSTER", "KEYSLOT", &moved_name]);
    assert!(reply.starts_with(&format!("-MOVED {slot} 127.0.0.1:")), "{reply}");
    assert!(common::err(&mut c, &["SPUBLISH", &moved_name, "m"]).starts_with("MOVED "));
    let (name, mut sub) = local.expect("a channel of this node's slot");
    assert_eq!(int(&mut c, &["SPUBLISH", &name, "here"]), 1);
    assert!(sub.read_reply_string().ends_with("$4\r\nhere\r\n"));
    assert_eq!(
        common::err(&mut c, &["SSUBSCRIBE", "{a}x", "{b}y"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    // Plain channels are cluster-wide in this mode too.
    let mut b = RawConn::connect(cluster.node(1).port);
    call(&mut b, &["SUBSCRIBE", "global"]);
    assert_eq!(int(&mut c, &["PUBLISH", "global", "g"]), 0);
    assert_eq!(b.read_reply_string(), "*3\r\n$7\r\nmessage\r\n$6\r\nglobal\r\n$1\r\ng\r\n");
}

#[test]
fn client_reply_off_and_skip_silence_replies_but_not_pushes() {
    let server = Server::start();
    let mut raw = RawConn::connect(server.port);
    // OFF: no reply to it or to what follows; confirmations still come.
    raw.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    raw.send_cmd(&["SET", "k", "v"]);
    raw.send_cmd(&["SUBSCRIBE", "c"]);
    assert_eq!(raw.read_reply_string(), "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    raw.send_cmd(&["UNSUBSCRIBE"]);
    assert_eq!(raw.read_reply_string(), "*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "REPLY", "ON"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["GET", "k"]), "$1\r\nv\r\n", "the SET ran");
    // SKIP: no reply to it nor to the next command.
    raw.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    raw.send_cmd(&["INCR", "n"]);
    assert_eq!(call(&mut raw, &["INCR", "n"]), ":2\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "REPLY", "MAYBE"]), "-ERR syntax error\r\n");
}

/// The next message on a raw RESP2 subscriber, as `[channel, payload]`
/// of a `pmessage`.
fn pmessage(raw: &mut RawConn) -> (String, String) {
    let text = raw.read_reply_string();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[..3], ["*4", "$8", "pmessage"], "{text:?}");
    (lines[6].to_owned(), lines[8].to_owned())
}

#[test]
fn keyspace_notifications_name_events_as_redis_does() {
    let server = Server::start();
    let mut c = server.conn();
    let _: () = run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let got: Vec<String> = run(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]);
    assert_eq!(got, ["notify-keyspace-events", "AKE"]);
    let refused = common::err(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KQ"]);
    assert!(refused.contains("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."), "{refused}");
    let mut sub = RawConn::connect(server.port);
    call(&mut sub, &["PSUBSCRIBE", "__key*__:*"]);
    let _: () = run(&mut c, &["SET", "foo", "bar"]);
    assert_eq!(pmessage(&mut sub), ("__keyspace@0__:foo".into(), "set".into()));
    assert_eq!(pmessage(&mut sub), ("__keyevent@0__:set".into(), "foo".into()));
    // Nothing changed: no event. The next one is the LPUSH's.
    assert_eq!(int(&mut c, &["SREM", "noset", "x"]), 0);
    assert_eq!(int(&mut c, &["LPUSH", "l", "a"]), 1);
    assert_eq!(pmessage(&mut sub), ("__keyspace@0__:l".into(), "lpush".into()));
    pmessage(&mut sub);
    // Popping the last element deletes the list: both events.
    let _: String = run(&mut c, &["RPOP", "l"]);
    assert_eq!(pmessage(&mut sub), ("__keyspace@0__:l".into(), "rpop".into()));
    pmessage(&mut sub);
    assert_eq!(pmessage(&mut sub), ("__keyspace@0__:l".into(), "del".into()));
    pmessage(&mut sub);
    // Only some classes: `$` strings but not `g` generic.
    let _: () = run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "K$"]);
    assert_eq!(int(&mut c, &["DEL", "foo"]), 1);
    assert_eq!(int(&mut c, &["INCR", "n"]), 1);
    assert_eq!(pmessage(&mut sub), ("__keyspace@0__:n".into(), "incrby".into()));
    let _: () = run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "En"]);
    let _: () = run(&mut c, &["SET", "fresh", "1"]);
    let _: () = run(&mut c, &["SET", "fresh", "2"]);
    let _: () = run(&mut c, &["SET", "fresh2", "1"]);
    assert_eq!(pmessage(&mut sub), ("__keyevent@0__:new".into(), "fresh".into()));
    assert_eq!(pmessage(&mut sub), ("__keyevent@0__:new".into(), "fresh2".into()));
}

#[test]
fn expired_and_evicted_keys_are_notified() {
    let server = Server::start();
    let mut c = server.conn();
    let _: () = run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Exe"]);
    let mut sub = RawConn::connect(server.port);
    call(&mut sub, &["PSUBSCRIBE", "__keyevent@*__:*"]);
    // Found expired on access (Redis's "triggered expire"), in database 3.
    let _: () = run(&mut c, &["SELECT", "3"]);
    let _: () = run(&mut c, &["PSETEX", "soon", "10", "v"]);
    thread::sleep(Duration::from_millis(50));
    let _: Option<String> = run(&mut c, &["GET", "soon"]);
    assert_eq!(pmessage(&mut sub), ("__keyevent@3__:expired".into(), "soon".into()));
    // Removed by active expiry, with nobody asking for it.
    let _: () = run(&mut c, &["PSETEX", "later", "10", "v"]);
    assert_eq!(pmessage(&mut sub), ("__keyevent@3__:expired".into(), "later".into()));
    // Evicted to get under maxmemory.
    let _: () = run(&mut c, &["SELECT", "0"]);
    let _: () = run(&mut c, &["SET", "big", &"x".repeat(10_000)]);
    let _: () = run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    let _: () = run(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    // Over maxmemory every command evicts first, a read too (as Redis's
    // processCommand does). A write here would leave a key that the next
    // command (the CONFIG SET below) evicts in turn.
    let _: Option<String> = run(&mut c, &["GET", "next"]);
    assert_eq!(pmessage(&mut sub), ("__keyevent@0__:evicted".into(), "big".into()));
    let _: () = run(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    // Without the classes, nothing: the next event is a later expiry's.
    let _: () = run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "El"]);
    let _: () = run(&mut c, &["PSETEX", "quiet", "10", "v"]);
    thread::sleep(Duration::from_millis(300));
    let _: () = run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let _: () = run(&mut c, &["PSETEX", "loud", "10", "v"]);
    assert_eq!(pmessage(&mut sub), ("__keyevent@0__:expired".into(), "loud".into()));
}

#[test]
fn a_write_over_an_expired_key_notifies_expired_first() {
    // hz 1 and the key among 5,000 volatile keys of its shard (one hash
    // tag): active expiry, sampling 20 of them a second, all but never
    // finds it before the SET does.
    let server = Server::start_with(&["--hz", "1"]);
    let mut c = server.conn();
    let mut fill = redis::pipe();
    for i in 0..5000 {
        fill.cmd("SET").arg(format!("{{t}}fill:{i}")).arg("v").arg("EX").arg(3600).ignore();
    }
    let _: () = fill.query(&mut c).unwrap();
    let _: () = run(&mut c, &["PSETEX", "{t}k", "10", "old"]);
    let _: () = run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "E$x"]);
    let mut sub = RawConn::connect(server.port);
    call(&mut sub, &["PSUBSCRIBE", "__keyevent@0__:*"]);
    thread::sleep(Duration::from_millis(30));
    // Logically expired, not reclaimed: the SET deletes it first, as
    // Redis's lookupKeyWrite does, then writes.
    let _: () = run(&mut c, &["SET", "{t}k", "new"]);
    assert_eq!(pmessage(&mut sub), ("__keyevent@0__:expired".into(), "{t}k".into()));
    assert_eq!(pmessage(&mut sub), ("__keyevent@0__:set".into(), "{t}k".into()));
    let info: String = run(&mut c, &["INFO", "stats"]);
    assert!(info.lines().any(|l| l.trim_end() == "expired_keys:1"), "{info}");
}

#[test]
fn keyspace_notifications_are_cluster_wide_in_proxy_mode() {
    let cluster = TestCluster::start(3, &["--notify-keyspace-events", "KEA"]);
    let mut subs: Vec<RawConn> = cluster
        .nodes
        .iter()
        .map(|n| {
            let mut raw = RawConn::connect(n.port);
            call(&mut raw, &["PSUBSCRIBE", "__keyspace@0__:*"]);
            raw
        })
        .collect();
    let mut a = cluster.node(0).conn();
    // Keys of every node, written through node A: each notifies once, on
    // every node, wherever the key lives.
    let keys: Vec<String> = (0..6).map(|i| format!("user:{i}")).collect();
    for k in &keys {
        let _: () = run(&mut a, &["SET", k, "v"]);
    }
    for sub in subs.iter_mut() {
        let mut seen: Vec<String> = (0..keys.len()).map(|_| pmessage(sub).0).collect();
        seen.sort();
        let want: Vec<String> = keys.iter().map(|k| format!("__keyspace@0__:{k}")).collect();
        assert_eq!(seen, want);
    }
}
