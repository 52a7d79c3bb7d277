//! Server-assisted client-side caching against the real binary: CLIENT
//! TRACKING in default, OPTIN/OPTOUT and BCAST modes, NOLOOP, RESP3 pushes
//! on the tracking connection (checked byte for byte), RESP2 redirection
//! to a `__redis__:invalidate` subscriber through the `redis` crate,
//! flushes, expiry, `tracking-table-max-keys`, a redirect that is gone,
//! and what CLIENT TRACKINGINFO / GETREDIR / LIST / INFO report.
//!
//! A "no message" is checked the way Redis's own tests do: a later change
//! that must be sent is read next, so a message that should not exist
//! would have come first.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{call, err, int, run, RawConn, Server};
use redis::Value;

const WAIT: Duration = Duration::from_secs(10);

/// `>2 invalidate [keys]`, as the node writes it.
fn push(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    s
}

/// A raw RESP3 connection with tracking turned on with `options`.
fn resp3_tracker(server: &Server, options: &[&str]) -> RawConn {
    let mut raw = server.raw();
    raw.send_cmd(&["HELLO", "3"]);
    raw.read_reply();
    let args: Vec<&str> = ["CLIENT", "TRACKING", "on"].iter().chain(options).copied().collect();
    assert_eq!(call(&mut raw, &args), "+OK\r\n");
    raw
}

/// A RESP2 connection subscribed to `__redis__:invalidate`, and its id.
fn redirect_target(server: &Server) -> (redis::Connection, i64) {
    let mut conn = server.client().get_connection_with_timeout(WAIT).expect("connect");
    conn.set_read_timeout(Some(WAIT)).expect("read timeout");
    let id = int(&mut conn, &["CLIENT", "ID"]);
    (conn, id)
}

/// The next invalidation a RESP2 redirect target gets: its keys, or
/// `None` for a flush's null.
fn invalidation(ps: &mut redis::PubSub<'_>) -> Option<Vec<String>> {
    let msg = ps.get_message().expect("an invalidation within the timeout");
    assert_eq!(msg.get_channel_name(), "__redis__:invalidate");
    msg.get_payload::<Option<Vec<String>>>().expect("keys or nil")
}

fn info(conn: &mut redis::Connection) -> HashMap<String, String> {
    let text: String = run(conn, &["INFO", "everything"]);
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn a_read_key_is_invalidated_once_by_another_clients_write() {
    let server = Server::start();
    let mut tracker = resp3_tracker(&server, &[]);
    let mut writer = server.conn();
    assert_eq!(call(&mut tracker, &["GET", "k"]), "_\r\n");
    run::<()>(&mut writer, &["SET", "other", "1"]);
    run::<()>(&mut writer, &["SET", "k", "1"]);
    assert_eq!(tracker.read_reply_string(), push(&["k"]), "only the key it read");
    // Invalidated once: until it is read again, a write sends nothing.
    run::<()>(&mut writer, &["SET", "k", "2"]);
    assert_eq!(call(&mut tracker, &["HGET", "h", "f"]), "_\r\n");
    run::<()>(&mut writer, &["HSET", "h", "f", "v"]);
    assert_eq!(tracker.read_reply_string(), push(&["h"]));
    // Its own write is sent to it too, after the write's reply.
    assert_eq!(call(&mut tracker, &["MGET", "a", "b"]), "*2\r\n_\r\n_\r\n");
    assert_eq!(call(&mut tracker, &["DEL", "a"]), ":0\r\n", "nothing deleted: nothing changed");
    assert_eq!(call(&mut tracker, &["SET", "b", "x"]), "+OK\r\n");
    assert_eq!(tracker.read_reply_string(), push(&["b"]));
    assert_eq!(call(&mut tracker, &["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    run::<()>(&mut writer, &["SET", "a", "1"]);
    assert_eq!(call(&mut tracker, &["PING"]), "+PONG\r\n", "off: a's entry names a client that no longer tracks");
}

#[test]
fn resp2_invalidations_go_to_the_redirect_subscriber() {
    let server = Server::start();
    let (mut target, id) = redirect_target(&server);
    let mut ps = target.as_pubsub();
    ps.subscribe("__redis__:invalidate").expect("subscribe");
    let mut tracker = server.conn();
    let mut writer = server.conn();
    run::<()>(&mut tracker, &["CLIENT", "TRACKING", "on", "REDIRECT", &id.to_string()]);
    assert_eq!(int(&mut tracker, &["CLIENT", "GETREDIR"]), id);
    run::<()>(&mut writer, &["SET", "a", "1"]);
    run::<()>(&mut writer, &["SET", "b", "1"]);
    run::<Option<String>>(&mut tracker, &["GET", "a"]);
    run::<()>(&mut writer, &["INCR", "b"]);
    run::<()>(&mut writer, &["INCR", "a"]);
    assert_eq!(invalidation(&mut ps), Some(vec!["a".to_owned()]));
    // A flush invalidates everything: a null.
    run::<Option<String>>(&mut tracker, &["GET", "b"]);
    run::<()>(&mut writer, &["FLUSHALL"]);
    assert_eq!(invalidation(&mut ps), None);
    let tracker_id = int(&mut tracker, &["CLIENT", "ID"]).to_string();
    let list: String = run(&mut tracker, &["CLIENT", "LIST", "ID", &tracker_id]);
    assert!(list.contains(" flags=t ") && list.contains(&format!(" redir={id} ")), "{list}");
    let i = info(&mut writer);
    assert_eq!((i["tracking_clients"].as_str(), i["tracking_total_keys"].as_str()), ("1", "0"), "emptied by the flush");
    assert_eq!(
        err(&mut tracker, &["CLIENT", "TRACKING", "on", "REDIRECT", "987654"]),
        "ERR The client ID you want redirect to does not exist"
    );
}

#[test]
fn bcast_sends_every_key_under_a_prefix_one_message_per_prefix() {
    let server = Server::start();
    let mut tracker = resp3_tracker(&server, &["BCAST", "PREFIX", "a:", "PREFIX", "b:"]);
    let mut writer = server.conn();
    run::<()>(&mut writer, &["MSET", "a:1", "1", "b:1", "1", "c:1", "1", "a:2", "2"]);
    assert_eq!(tracker.read_reply_string(), push(&["a:1", "a:2"]));
    assert_eq!(tracker.read_reply_string(), push(&["b:1"]));
    // Prefixes are added to those it has; they must not overlap.
    assert_eq!(call(&mut tracker, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:"]), "+OK\r\n");
    run::<()>(&mut writer, &["INCR", "c:1"]);
    assert_eq!(tracker.read_reply_string(), push(&["c:1"]));
    let mut other = server.conn();
    assert_eq!(
        err(&mut other, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"]),
        "ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not overlap."
    );
    run::<()>(&mut other, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOO"]);
    assert_eq!(
        err(&mut other, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FO"]),
        "ERR Prefix 'FO' overlaps with an existing prefix 'FOO'. Prefixes for a single client must not overlap."
    );
    assert_eq!(
        err(&mut other, &["CLIENT", "TRACKING", "on"]),
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    let mut fresh = server.conn();
    assert_eq!(
        err(&mut fresh, &["CLIENT", "TRACKING", "on", "PREFIX", "x"]),
        "ERR PREFIX option requires BCAST mode to be enabled"
    );
    let trackinginfo = call(&mut tracker, &["CLIENT", "TRACKINGINFO"]);
    assert_eq!(
        trackinginfo,
        "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*3\r\n$2\r\na:\r\n$2\r\nb:\r\n$2\r\nc:\r\n"
    );
    assert_eq!(info(&mut writer)["tracking_total_prefixes"], "4");
}

#[test]
fn optin_remembers_only_after_caching_yes_and_optout_skips_after_caching_no() {
    let server = Server::start();
    let mut writer = server.conn();
    let mut tracker = resp3_tracker(&server, &["OPTIN"]);
    call(&mut tracker, &["GET", "skipped"]);
    assert_eq!(call(&mut tracker, &["CLIENT", "CACHING", "yes"]), "+OK\r\n");
    call(&mut tracker, &["GET", "cached"]);
    call(&mut tracker, &["GET", "after"]);
    run::<()>(&mut writer, &["MSET", "skipped", "1", "after", "1", "cached", "1"]);
    assert_eq!(tracker.read_reply_string(), push(&["cached"]), "CACHING yes counts for one command");
    assert!(call(&mut tracker, &["CLIENT", "CACHING", "no"])
        .starts_with("-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."));
    call(&mut tracker, &["CLIENT", "TRACKING", "off"]);
    assert!(call(&mut tracker, &["CLIENT", "CACHING", "yes"]).starts_with(
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
    ));
    assert!(call(&mut tracker, &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"])
        .starts_with("-ERR You can't specify both OPTIN mode and OPTOUT mode"));
    call(&mut tracker, &["CLIENT", "TRACKING", "on", "OPTOUT"]);
    assert_eq!(call(&mut tracker, &["CLIENT", "CACHING", "no"]), "+OK\r\n");
    call(&mut tracker, &["GET", "skipped"]);
    call(&mut tracker, &["GET", "cached"]);
    run::<()>(&mut writer, &["MSET", "skipped", "2", "cached", "2"]);
    assert_eq!(tracker.read_reply_string(), push(&["cached"]));
}

#[test]
fn noloop_skips_the_clients_own_writes() {
    let server = Server::start();
    let mut tracker = resp3_tracker(&server, &["NOLOOP"]);
    let mut writer = server.conn();
    call(&mut tracker, &["MGET", "mine", "theirs"]);
    assert_eq!(call(&mut tracker, &["SET", "mine", "1"]), "+OK\r\n");
    run::<()>(&mut writer, &["SET", "theirs", "1"]);
    assert_eq!(tracker.read_reply_string(), push(&["theirs"]), "its own write sent nothing");
    assert_eq!(
        call(&mut tracker, &["CLIENT", "TRACKINGINFO"]),
        "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    // In BCAST mode too.
    call(&mut tracker, &["CLIENT", "TRACKING", "off"]);
    call(&mut tracker, &["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]);
    assert_eq!(call(&mut tracker, &["SET", "loop", "1"]), "+OK\r\n");
    run::<()>(&mut writer, &["SET", "other", "1"]);
    assert_eq!(tracker.read_reply_string(), push(&["other"]));
}

#[test]
fn a_flush_sends_a_null_after_the_reply() {
    let server = Server::start();
    let mut tracker = resp3_tracker(&server, &[]);
    call(&mut tracker, &["SET", "a", "1"]);
    call(&mut tracker, &["GET", "a"]);
    call(&mut tracker, &["MULTI"]);
    call(&mut tracker, &["FLUSHDB"]);
    assert_eq!(call(&mut tracker, &["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(tracker.read_reply_string(), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    let mut writer = server.conn();
    run::<()>(&mut writer, &["FLUSHALL"]);
    assert_eq!(tracker.read_reply_string(), ">2\r\n$10\r\ninvalidate\r\n_\r\n", "even with no key tracked");
}

#[test]
fn expiry_and_the_table_limit_invalidate() {
    let server = Server::start();
    let mut tracker = resp3_tracker(&server, &[]);
    let mut writer = server.conn();
    run::<()>(&mut writer, &["SET", "short", "v", "PX", "50"]);
    call(&mut tracker, &["GET", "short"]);
    // Active expiry (no one touches the key) sends it.
    assert_eq!(tracker.read_reply_string(), push(&["short"]));
    for k in ["k1", "k2", "k3"] {
        call(&mut tracker, &["GET", k]);
    }
    assert_eq!(info(&mut writer)["tracking_total_keys"], "3");
    run::<()>(&mut writer, &["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    let mut evicted = vec![tracker.read_reply_string(), tracker.read_reply_string()];
    evicted.sort();
    let all = [push(&["k1"]), push(&["k2"]), push(&["k3"])];
    assert!(evicted.iter().all(|m| all.contains(m)) && evicted[0] != evicted[1], "{evicted:?}");
    assert_eq!(info(&mut writer)["tracking_total_keys"], "1");
    // Reading past the limit keeps the table at it.
    assert_eq!(call(&mut tracker, &["GET", "k4"]), "_\r\n");
    let next = tracker.read_reply_string();
    assert!(next.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk"), "{next}");
    assert_eq!(info(&mut writer)["tracking_total_keys"], "1");
}

#[test]
fn a_redirect_that_is_gone_is_reported_broken() {
    let server = Server::start();
    let (target, id) = redirect_target(&server);
    let mut tracker = resp3_tracker(&server, &["REDIRECT", &id.to_string()]);
    let mut writer = server.conn();
    call(&mut tracker, &["GET", "k"]);
    drop(target);
    // Until the node has seen the redirect client go, the message goes
    // to it; then the tracking client is told, before PING's reply.
    let mut broken = false;
    for _ in 0..100 {
        run::<()>(&mut writer, &["SET", "k", "1"]);
        let got = call(&mut tracker, &["PING"]);
        if got.starts_with(">2") {
            assert_eq!(got, format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{id}\r\n"));
            assert_eq!(tracker.read_reply_string(), "+PONG\r\n");
            broken = true;
            break;
        }
        assert_eq!(got, "+PONG\r\n");
        assert_eq!(call(&mut tracker, &["GET", "k"]), "$1\r\n1\r\n");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(broken, "never reported broken");
    let line = call(&mut tracker, &["CLIENT", "INFO"]);
    assert!(line.contains(" flags=tR "), "{line}");
    let trackinginfo = call(&mut tracker, &["CLIENT", "TRACKINGINFO"]);
    assert!(trackinginfo.contains("$2\r\non\r\n$15\r\nbroken_redirect\r\n"), "{trackinginfo}");
}

#[test]
fn a_redirect_that_quit_is_broken_for_the_very_next_write() {
    // A client that has read QUIT's +OK must already be gone when the
    // next write's invalidation looks for it (Redis frees it right after
    // that reply; Redis's own unit/tracking relies on it). Two workers, so
    // the redirect client and the writer are likely on different threads.
    // The window is narrow (between QUIT's reply and the end of its
    // connection): without the fix this fails only now and then on an
    // idle machine, more often under load, as in CI.
    let server = Server::start_with(&["--threads", "2"]);
    for round in 0..20 {
        let (mut target, id) = redirect_target(&server);
        let mut tracker = resp3_tracker(&server, &["REDIRECT", &id.to_string()]);
        let mut writer = server.conn();
        run::<()>(&mut writer, &["SET", "k", "0"]);
        call(&mut tracker, &["GET", "k"]);
        let _: () = redis::cmd("QUIT").query(&mut target).expect("QUIT answers +OK");
        run::<()>(&mut writer, &["SET", "k", "1"]);
        let got = call(&mut tracker, &["PING"]);
        assert_eq!(got, format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{id}\r\n"), "round {round}");
        assert_eq!(tracker.read_reply_string(), "+PONG\r\n");
    }
}

#[test]
fn over_maxmemory_a_read_evicts_first_and_the_invalidation_comes_before_its_reply() {
    // Redis evicts before every command, reads included (Redis's own
    // unit/tracking: "invalidation message of eviction keys should be
    // before response").
    let server = Server::start_with(&["--maxmemory-policy", "volatile-random"]);
    let mut tracker = resp3_tracker(&server, &[]);
    assert_eq!(call(&mut tracker, &["SETEX", "volatile", "10000", "x"]), "+OK\r\n");
    assert_eq!(call(&mut tracker, &["GET", "volatile"]), "$1\r\nx\r\n");
    let mut admin = server.conn();
    let used: u64 = info(&mut admin)["used_memory"].parse().unwrap();
    assert_eq!(info(&mut admin)["mem_not_counted_for_evict"], "0");
    run::<()>(&mut admin, &["CONFIG", "SET", "maxmemory", &(used + 100 * 1024).to_string()]);
    // 200 KB in one write that was allowed (under the limit when it ran).
    assert_eq!(call(&mut tracker, &["SETBIT", "big", "1600000", "0"]), ":0\r\n");
    assert_eq!(call(&mut tracker, &["GETBIT", "big", "0"]), push(&["volatile"]));
    assert_eq!(tracker.read_reply_string(), ":0\r\n");
    assert_eq!(int(&mut admin, &["EXISTS", "volatile"]), 0);
    run::<()>(&mut admin, &["CONFIG", "SET", "maxmemory", "0"]);
}

#[test]
fn trackinginfo_and_getredir_when_off_and_in_resp2() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(int(&mut c, &["CLIENT", "GETREDIR"]), -1);
    let v: Value = run(&mut c, &["CLIENT", "TRACKINGINFO"]);
    let Value::Array(items) = v else { panic!("RESP2 flattens the map: {v:?}") };
    assert_eq!(items.len(), 6);
    assert_eq!(items[1], Value::Array(vec![common::bulk("off")]));
    assert_eq!(items[3], Value::Int(-1));
    run::<()>(&mut c, &["CLIENT", "TRACKING", "on"]);
    assert_eq!(int(&mut c, &["CLIENT", "GETREDIR"]), 0);
    assert_eq!(err(&mut c, &["CLIENT", "TRACKING", "maybe"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    run::<()>(&mut c, &["CLIENT", "TRACKING", "off"]);
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
        "ERR OPTIN and OPTOUT are not compatible with BCAST"
    );
    run::<()>(&mut c, &["CLIENT", "TRACKING", "on"]);
    run::<()>(&mut c, &["RESET"]);
    assert_eq!(int(&mut c, &["CLIENT", "GETREDIR"]), -1, "RESET turns tracking off");
}

/// `proxy` mode without replication: each key lives on one node, so a
/// client on node 1 reads most keys through another node, and a write on
/// node 2 runs on the key's node; the invalidation still reaches it, over
/// the cluster bus.
#[test]
fn in_proxy_mode_a_write_on_another_node_invalidates() {
    let cluster = common::cluster::TestCluster::start(3, &["--replicas", "1"]);
    let mut tracker = resp3_tracker(cluster.node(0), &[]);
    let mut writer = cluster.node(1).conn();
    // The other nodes hear of the tracking client within a bus round.
    std::thread::sleep(Duration::from_millis(500));
    let keys: Vec<String> = (0..8).map(|i| format!("key:{i}")).collect();
    for k in &keys {
        assert_eq!(call(&mut tracker, &["GET", k]), "_\r\n");
    }
    for k in &keys {
        run::<()>(&mut writer, &["SET", k, "v"]);
        assert_eq!(tracker.read_reply_string(), push(&[k]), "{k}");
    }
    // A flush runs on every node: one null here.
    call(&mut tracker, &["GET", "key:0"]);
    run::<()>(&mut writer, &["FLUSHALL"]);
    assert_eq!(tracker.read_reply_string(), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(call(&mut tracker, &["PING"]), "+PONG\r\n", "one null only");
}
