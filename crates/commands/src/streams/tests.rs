use ringcache_resp::Reply;

use bytes::Bytes;

use crate::blocking::{Block, BlockKind};
use crate::testing::{bulk, err, wrongtype, Node};

fn arr(items: Vec<Reply>) -> Reply {
    Reply::Array(items)
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

/// `[id, [f, v]]`
fn entry(id: &str, f: &str, v: &str) -> Reply {
    arr(vec![bulk(id), arr(vec![bulk(f), bulk(v)])])
}

fn ids(r: &Reply) -> Vec<String> {
    let Reply::Array(items) = r else { panic!("not an array: {r:?}") };
    items
        .iter()
        .map(|e| match e {
            Reply::Array(p) => String::from_utf8(p[0].as_bulk().unwrap().to_vec()).unwrap(),
            b => String::from_utf8(b.as_bulk().unwrap().to_vec()).unwrap(),
        })
        .collect()
}

fn filled(n: &mut Node, key: &str, count: u64) {
    for i in 1..=count {
        let id = format!("{i}-0");
        assert_eq!(n.run(&["xadd", key, &id, "f", &i.to_string()]), bulk(&id));
    }
}

#[test]
fn xadd_ids_explicit_partial_and_auto() {
    let mut n = Node::new();
    assert_eq!(n.run(&["xadd", "s", "5-3", "f", "v"]), bulk("5-3"));
    assert_eq!(n.run(&["xadd", "s", "5-*", "f", "v"]), bulk("5-4"));
    assert_eq!(n.run(&["xadd", "s", "7-*", "f", "v"]), bulk("7-0"));
    assert_eq!(
        n.run(&["xadd", "s", "6-0", "f", "v"]),
        err("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    );
    assert_eq!(n.run(&["xadd", "s", "0-0", "f", "v"]), err("ERR The ID specified in XADD must be greater than 0-0"));
    let Reply::Bulk(auto) = n.run(&["xadd", "s", "*", "f", "v"]) else { panic!() };
    let ms: u64 = std::str::from_utf8(&auto).unwrap().split('-').next().unwrap().parse().unwrap();
    assert!(ms > 1_000_000_000_000, "an auto id is the time");
    assert_eq!(n.run(&["xlen", "s"]), int(4));
    assert_eq!(
        n.run(&["xadd", "s", "1-x", "f", "v"]),
        err("ERR Invalid stream ID specified as stream command argument")
    );
    assert_eq!(n.run(&["xadd", "s", "*", "f"]), err("ERR wrong number of arguments for 'xadd' command"));
    assert_eq!(n.run(&["xadd", "s", "*", "f", "v", "g"]), err("ERR wrong number of arguments for 'xadd' command"));
    assert_eq!(n.run(&["xadd", "nokey", "NOMKSTREAM", "*", "f", "v"]), Reply::Null);
    assert_eq!(n.run(&["exists", "nokey"]), int(0));
    n.run(&["set", "str", "x"]);
    assert_eq!(n.run(&["xadd", "str", "*", "f", "v"]), wrongtype());
    assert_eq!(n.run(&["type", "s"]), Reply::Simple("stream".into()));
    assert_eq!(n.run(&["object", "encoding", "s"]), bulk("stream"));
    assert!(matches!(n.run(&["memory", "usage", "s"]), Reply::Integer(m) if m > 100));
}

#[test]
fn xadd_trims_exactly_and_approximately() {
    let mut n = Node::new();
    filled(&mut n, "s", 10);
    assert_eq!(n.run(&["xadd", "s", "MAXLEN", "5", "11-0", "f", "v"]), bulk("11-0"));
    assert_eq!(n.run(&["xlen", "s"]), int(5));
    assert_eq!(ids(&n.run(&["xrange", "s", "-", "+", "COUNT", "1"])), ["7-0"]);
    assert_eq!(n.run(&["xadd", "s", "MINID", "=", "9", "12-0", "f", "v"]), bulk("12-0"));
    assert_eq!(ids(&n.run(&["xrange", "s", "-", "+"])), ["9-0", "10-0", "11-0", "12-0"]);
    // `~` removes only whole nodes (100 entries each by default).
    let mut n = Node::new();
    filled(&mut n, "s", 250);
    assert_eq!(n.run(&["xtrim", "s", "MAXLEN", "~", "120"]), int(100));
    assert_eq!(n.run(&["xtrim", "s", "MAXLEN", "~", "120"]), int(0));
    assert_eq!(n.run(&["xtrim", "s", "MAXLEN", "~", "120", "LIMIT", "10"]), int(0), "a node is more than the limit");
    assert_eq!(n.run(&["xtrim", "s", "MAXLEN", "120"]), int(30));
    assert_eq!(n.run(&["xtrim", "s", "MINID", "200"]), int(69), "131-0 to 199-0");
    assert_eq!(
        n.run(&["xtrim", "s", "MAXLEN", "1", "LIMIT", "10"]),
        err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    assert_eq!(
        n.run(&["xtrim", "s", "LIMIT", "10"]),
        err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    assert_eq!(
        n.run(&["xtrim", "s", "MAXLEN", "1", "MINID", "1"]),
        err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    );
    assert_eq!(n.run(&["xtrim", "s", "MAXLEN", "-1"]), err("ERR The MAXLEN argument must be >= 0."));
    assert_eq!(n.run(&["xtrim", "nokey", "MAXLEN", "1"]), int(0));
}

#[test]
fn xrange_bounds_and_counts() {
    let mut n = Node::new();
    filled(&mut n, "s", 5);
    assert_eq!(
        n.run(&["xrange", "s", "-", "+", "COUNT", "2"]),
        arr(vec![entry("1-0", "f", "1"), entry("2-0", "f", "2")])
    );
    assert_eq!(ids(&n.run(&["xrange", "s", "(2-0", "(5-0"])), ["3-0", "4-0"]);
    assert_eq!(ids(&n.run(&["xrange", "s", "2", "3"])), ["2-0", "3-0"], "an incomplete end takes every sequence");
    assert_eq!(ids(&n.run(&["xrevrange", "s", "+", "-", "COUNT", "2"])), ["5-0", "4-0"]);
    assert_eq!(ids(&n.run(&["xrevrange", "s", "(5-0", "(1"])), ["4-0", "3-0", "2-0"]);
    assert_eq!(n.run(&["xrange", "s", "-", "+", "COUNT", "0"]), Reply::NullArray);
    assert_eq!(n.run(&["xrange", "nokey", "-", "+"]), arr(vec![]));
    assert_eq!(n.run(&["xrange", "s", "(-", "+"]), err("ERR Invalid stream ID specified as stream command argument"));
    assert_eq!(
        n.run(&["xrange", "s", "(18446744073709551615-18446744073709551615", "+"]),
        err("ERR invalid start ID for the interval")
    );
    assert_eq!(n.run(&["xrange", "s", "(0-0", "(0-0"]), err("ERR invalid end ID for the interval"));
    assert_eq!(n.run(&["xrange", "s", "-", "+", "LIMIT", "1"]), err("ERR syntax error"));
    assert_eq!(n.run(&["xdel", "s", "2-0", "3-0", "9-0"]), int(2));
    assert_eq!(n.run(&["xdel", "s", "2-0", "bad"]), err("ERR Invalid stream ID specified as stream command argument"));
    assert_eq!(ids(&n.run(&["xrange", "s", "-", "+"])), ["1-0", "4-0", "5-0"]);
    assert_eq!(n.run(&["xlen", "s"]), int(3));
}

#[test]
fn xread_serves_each_stream_after_its_id() {
    let mut n = Node::new();
    filled(&mut n, "a", 3);
    filled(&mut n, "b", 1);
    let r = n.run(&["xread", "COUNT", "2", "STREAMS", "a", "b", "nokey", "1-0", "0", "0"]);
    assert_eq!(
        r,
        arr(vec![
            arr(vec![bulk("a"), arr(vec![entry("2-0", "f", "2"), entry("3-0", "f", "3")])]),
            arr(vec![bulk("b"), arr(vec![entry("1-0", "f", "1")])]),
        ])
    );
    assert_eq!(n.run(&["xread", "STREAMS", "a", "$"]), Reply::NullArray);
    assert_eq!(n.run(&["xread", "BLOCK", "10", "STREAMS", "a", "$"]), Reply::NullArray, "may not block: a timeout");
    assert_eq!(
        ids(&match n.run(&["xread", "BLOCK", "0", "STREAMS", "a", "2"]) {
            Reply::Array(mut v) => match v.remove(0) {
                Reply::Array(mut kv) => kv.remove(1),
                r => panic!("{r:?}"),
            },
            r => panic!("{r:?}"),
        }),
        ["3-0"],
        "BLOCK with entries to serve serves them"
    );
    assert_eq!(
        n.run(&["xread", "STREAMS", "a", "b", "0"]),
        err("ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.")
    );
    assert_eq!(n.run(&["xread", "COUNT", "1", "a", "0"]), err("ERR syntax error"));
    assert_eq!(
        n.run(&["xread", "STREAMS", "a", ">"]),
        err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
    );
    n.run(&["set", "str", "x"]);
    assert_eq!(n.run(&["xread", "STREAMS", "a", "str", "0", "0"]), wrongtype());
    // RESP3: a map of key to entries.
    n.client.proto = ringcache_resp::Proto::Resp3;
    assert!(matches!(n.run(&["xread", "STREAMS", "a", "0"]), Reply::Map(m) if m.len() == 1));
}

#[test]
fn consumer_groups_deliver_ack_and_claim() {
    let mut n = Node::new();
    assert_eq!(
        n.run(&["xgroup", "create", "s", "g", "$"]),
        err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
    );
    assert_eq!(n.run(&["xgroup", "create", "s", "g", "$", "MKSTREAM"]), Reply::Simple("OK".into()));
    assert_eq!(n.run(&["xgroup", "create", "s", "g", "$"]), err("BUSYGROUP Consumer Group name already exists"));
    assert_eq!(n.run(&["xlen", "s"]), int(0), "MKSTREAM makes an empty stream, which stays");
    filled(&mut n, "s", 4);
    let r = n.run(&["xreadgroup", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">"]);
    assert_eq!(
        r,
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![entry("1-0", "f", "1"), entry("2-0", "f", "2"), entry("3-0", "f", "3")])
        ])])
    );
    // History: alice's own pending entries.
    let r = n.run(&["xreadgroup", "GROUP", "g", "alice", "STREAMS", "s", "0"]);
    assert_eq!(
        r,
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![entry("1-0", "f", "1"), entry("2-0", "f", "2"), entry("3-0", "f", "3")])
        ])])
    );
    assert_eq!(
        n.run(&["xpending", "s", "g"]),
        arr(vec![int(3), bulk("1-0"), bulk("3-0"), arr(vec![arr(vec![bulk("alice"), bulk("3")])])])
    );
    let Reply::Array(ext) = n.run(&["xpending", "s", "g", "-", "+", "10", "alice"]) else { panic!() };
    assert_eq!(ext.len(), 3);
    let Reply::Array(first) = &ext[0] else { panic!() };
    assert_eq!((&first[0], &first[1], &first[3]), (&bulk("1-0"), &bulk("alice"), &int(2)), "read twice");
    assert_eq!(n.run(&["xack", "s", "g", "1-0", "9-0"]), int(1));
    assert_eq!(n.run(&["xack", "s", "g", "bad"]), err("ERR Invalid stream ID specified as stream command argument"));
    // XCLAIM moves 2-0 to bob; JUSTID leaves the count alone.
    assert_eq!(n.run(&["xclaim", "s", "g", "bob", "0", "2-0", "JUSTID"]), arr(vec![bulk("2-0")]));
    assert_eq!(n.run(&["xclaim", "s", "g", "bob", "0", "3-0"]), arr(vec![entry("3-0", "f", "3")]));
    assert_eq!(
        n.run(&["xpending", "s", "g"]),
        arr(vec![int(2), bulk("2-0"), bulk("3-0"), arr(vec![arr(vec![bulk("bob"), bulk("2")])])])
    );
    assert_eq!(n.run(&["xclaim", "s", "g", "bob", "100000", "2-0"]), arr(vec![]), "not idle enough");
    assert_eq!(n.run(&["xclaim", "s", "g", "carol", "0", "4-0"]), arr(vec![]), "not pending without FORCE");
    assert_eq!(
        n.run(&["xclaim", "s", "g", "carol", "0", "4-0", "FORCE", "RETRYCOUNT", "7", "JUSTID"]),
        arr(vec![bulk("4-0")])
    );
    let Reply::Array(p) = n.run(&["xpending", "s", "g", "4-0", "4-0", "1"]) else { panic!() };
    let Reply::Array(row) = &p[0] else { panic!() };
    // Idle time is real milliseconds: a slow machine may see a few.
    assert!(matches!(row[2], Reply::Integer(ms) if (0..1_000).contains(&ms)), "{row:?}");
    assert_eq!((&row[0], &row[1], &row[3]), (&bulk("4-0"), &bulk("carol"), &int(7)));
    assert_eq!(n.run(&["xclaim", "s", "g", "bob", "0", "2-0", "BOGUS"]), err("ERR Unrecognized XCLAIM option 'BOGUS'"));
    assert_eq!(
        n.run(&["xclaim", "s", "nog", "bob", "0", "2-0"]),
        err("NOGROUP No such key 's' or consumer group 'nog'")
    );
    // XAUTOCLAIM: everything to dave, a deleted entry reported apart.
    n.run(&["xdel", "s", "3-0"]);
    let r = n.run(&["xautoclaim", "s", "g", "dave", "0", "0", "COUNT", "10", "JUSTID"]);
    assert_eq!(r, arr(vec![bulk("0-0"), arr(vec![bulk("2-0"), bulk("4-0")]), arr(vec![bulk("3-0")])]));
    let r = n.run(&["xautoclaim", "s", "g", "erin", "0", "0", "COUNT", "1"]);
    assert_eq!(r, arr(vec![bulk("4-0"), arr(vec![entry("2-0", "f", "2")]), arr(vec![])]));
    assert_eq!(n.run(&["xautoclaim", "s", "g", "erin", "0", "0", "COUNT", "0"]), err("ERR COUNT must be > 0"));
    // Consumers: create, delete (with their pending entries).
    assert_eq!(n.run(&["xgroup", "createconsumer", "s", "g", "frank"]), int(1));
    assert_eq!(n.run(&["xgroup", "createconsumer", "s", "g", "frank"]), int(0));
    assert_eq!(n.run(&["xgroup", "delconsumer", "s", "g", "erin"]), int(1));
    assert_eq!(
        n.run(&["xgroup", "delconsumer", "s", "nog", "erin"]),
        err("NOGROUP No such consumer group 'nog' for key name 's'")
    );
    assert_eq!(n.run(&["xgroup", "setid", "s", "g", "0"]), Reply::Simple("OK".into()));
    let r = n.run(&["xreadgroup", "GROUP", "g", "alice", "NOACK", "STREAMS", "s", ">"]);
    assert_eq!(
        ids(&match r {
            Reply::Array(mut v) => match v.remove(0) {
                Reply::Array(mut kv) => kv.remove(1),
                r => panic!("{r:?}"),
            },
            r => panic!("{r:?}"),
        }),
        ["1-0", "2-0", "4-0"]
    );
    assert_eq!(n.run(&["xreadgroup", "GROUP", "g", "alice", "STREAMS", "s", ">"]), Reply::NullArray);
    assert_eq!(n.run(&["xreadgroup", "GROUP", "g", "alice", "BLOCK", "5", "STREAMS", "s", ">"]), Reply::NullArray);
    assert_eq!(
        n.run(&["xreadgroup", "GROUP", "nog", "alice", "STREAMS", "s", ">"]),
        err("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option")
    );
    assert!(n.run(&["xreadgroup", "GROUP", "g", "alice", "STREAMS", "s", "$"]).is_error());
    assert_eq!(
        n.run(&["xreadgroup", "STREAMS", "s", ">"]),
        err("ERR wrong number of arguments for 'xreadgroup' command")
    );
    assert_eq!(n.run(&["xgroup", "destroy", "s", "g"]), int(1));
    assert_eq!(n.run(&["xgroup", "destroy", "s", "g"]), int(0));
    assert_eq!(n.run(&["xgroup", "nope", "s"]), err("ERR unknown subcommand 'nope'. Try XGROUP HELP."));
    assert_eq!(n.run(&["xgroup", "create", "s"]), err("ERR wrong number of arguments for 'xgroup|create' command"));
    assert!(matches!(n.run(&["xgroup", "help"]), Reply::Array(_)));
}

#[test]
fn xinfo_and_xsetid() {
    let mut n = Node::new();
    filled(&mut n, "s", 3);
    n.run(&["xdel", "s", "2-0"]);
    n.run(&["xgroup", "create", "s", "g", "0"]);
    n.run(&["xreadgroup", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"]);
    let Reply::Map(info) = n.run(&["xinfo", "stream", "s"]) else { panic!() };
    let get = |k: &str| info.iter().find(|(n, _)| n == &bulk(k)).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("length"), int(2));
    assert_eq!(get("last-generated-id"), bulk("3-0"));
    assert_eq!(get("max-deleted-entry-id"), bulk("2-0"));
    assert_eq!(get("entries-added"), int(3));
    assert_eq!(get("groups"), int(1));
    assert_eq!(get("first-entry"), entry("1-0", "f", "1"));
    assert_eq!(get("last-entry"), entry("3-0", "f", "3"));
    let Reply::Array(groups) = n.run(&["xinfo", "groups", "s"]) else { panic!() };
    let Reply::Map(g) = &groups[0] else { panic!() };
    assert_eq!(g[2], (bulk("pending"), int(1)));
    assert_eq!(g[4], (bulk("entries-read"), Reply::Null), "a tombstone ahead: the count is unknown");
    assert_eq!(g[5], (bulk("lag"), Reply::Null));
    let Reply::Array(cs) = n.run(&["xinfo", "consumers", "s", "g"]) else { panic!() };
    assert_eq!(cs.len(), 1);
    let Reply::Map(full) = n.run(&["xinfo", "stream", "s", "FULL", "COUNT", "1"]) else { panic!() };
    assert_eq!(full.len(), 9);
    assert_eq!(n.run(&["xinfo", "stream", "nokey"]), err("ERR no such key"));
    assert_eq!(
        n.run(&["xinfo", "consumers", "s", "nog"]),
        err("NOGROUP No such consumer group 'nog' for key name 's'")
    );
    assert_eq!(
        n.run(&["xinfo", "stream", "s", "FULL", "X"]),
        err("ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.")
    );
    // XSETID.
    assert_eq!(
        n.run(&["xsetid", "s", "2-0"]),
        err("ERR The ID specified in XSETID is smaller than the target stream top item")
    );
    assert_eq!(
        n.run(&["xsetid", "s", "5-0", "ENTRIESADDED", "1"]),
        err("ERR The entries_added specified in XSETID is smaller than the target stream length")
    );
    assert_eq!(n.run(&["xsetid", "s", "5-0", "ENTRIESADDED", "9", "MAXDELETEDID", "4-0"]), Reply::Simple("OK".into()));
    assert!(n.run(&["xadd", "s", "5-0", "f", "v"]).is_error());
    assert_eq!(n.run(&["xsetid", "nokey", "1-0"]), err("ERR no such key"));
}

#[test]
fn every_stream_write_is_journaled_with_its_groups() {
    let mut n = Node::with_journal(true);
    n.run(&["xadd", "s", "1-0", "f", "v"]);
    n.run(&["xgroup", "create", "s", "g", "0"]);
    n.run(&["xreadgroup", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    let changes = std::mem::take(&mut n.client.changes);
    assert_eq!(changes.len(), 3, "each write reported");
    let last = changes.last().unwrap().state.clone().expect("a value");
    let Ok(ringcache_store::Incoming::Value { value, .. }) =
        ringcache_store::codec::decode_state(&last, &ringcache_store::DecodeLimits::default())
    else {
        panic!("decodes")
    };
    let s = value.as_stream().unwrap();
    let g = s.group(b"g").unwrap();
    assert_eq!(g.pel().len(), 1, "the replica gets the PEL");
    assert_eq!(&g.pel().values().next().unwrap().consumer[..], b"c");
    // A read that finds nothing changes nothing.
    n.run(&["xreadgroup", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    n.run(&["xrange", "s", "-", "+"]);
    assert!(n.client.changes.is_empty());
}

#[test]
fn dump_restore_and_copy_keep_the_stream_and_its_groups() {
    let mut n = Node::new();
    filled(&mut n, "s", 3);
    n.run(&["xgroup", "create", "s", "g", "0"]);
    n.run(&["xreadgroup", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"]);
    let Reply::Bulk(raw) = n.run(&["dump", "s"]) else { panic!() };
    let restore: Vec<&[u8]> = vec![b"restore", b"r", b"0", &raw];
    assert_eq!(crate::dispatch(&n.env, &mut n.client, &restore, ringcache_store::now_ms()), Reply::Simple("OK".into()));
    for key in ["r", "s"] {
        assert_eq!(n.run(&["xlen", key]), int(3));
        assert_eq!(
            n.run(&["xpending", key, "g"]),
            arr(vec![int(2), bulk("1-0"), bulk("2-0"), arr(vec![arr(vec![bulk("c"), bulk("2")])])])
        );
    }
    assert_eq!(n.run(&["copy", "s", "t"]), int(1));
    assert_eq!(n.run(&["xlen", "t"]), int(3));
    assert_eq!(n.run(&["xinfo", "groups", "t"]), n.run(&["xinfo", "groups", "s"]));
}

fn keys(k: &[&str]) -> Vec<Bytes> {
    k.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect()
}

fn blocked(n: &mut Node) -> Block {
    n.client.block.take().expect("it blocks")
}

#[test]
fn xread_block_waits_on_its_keys_with_dollar_resolved_once() {
    let mut n = Node::new();
    n.client.may_block = true;
    filled(&mut n, "a", 2);
    let r = n.run(&["xread", "COUNT", "5", "BLOCK", "1500", "STREAMS", "a", "nokey", "b", "$", "$", "7-1"]);
    assert_eq!(r, Reply::NullArray);
    let b = blocked(&mut n);
    assert_eq!((b.keys, b.kind, b.timeout_ms), (keys(&["a", "nokey", "b"]), BlockKind::Stream, 1500));
    assert_eq!(b.timeout_reply, Reply::NullArray);
    // `$` is the last id now (0-0 for a missing key), run again as such.
    let rerun = b.rerun.expect("$ is rewritten");
    assert_eq!(
        rerun,
        keys(&["xread", "COUNT", "5", "BLOCK", "1500", "STREAMS", "a", "nokey", "b", "2-0", "0-0", "7-1"])
    );
    // Explicit ids: it runs again as it is.
    n.run(&["xread", "BLOCK", "0", "STREAMS", "a", "2-0"]);
    let b = blocked(&mut n);
    assert_eq!((b.timeout_ms, b.rerun), (0, None));
    // Something to serve: no wait.
    assert_eq!(ids(&n.run(&["xread", "BLOCK", "0", "STREAMS", "a", "1"])), ["a"]);
    assert!(n.client.block.is_none());
    // After an XADD, the rewritten form serves what came after `$`.
    n.run(&["xadd", "a", "3-0", "f", "3"]);
    let views: Vec<&str> = rerun.iter().map(|a| std::str::from_utf8(a).unwrap()).collect();
    assert_eq!(n.run(&views), arr(vec![arr(vec![bulk("a"), arr(vec![entry("3-0", "f", "3")])])]));
    // A stream whose entries are all at or below the id: it waits (no
    // empty array), as Redis since #5299.
    n.run(&["xdel", "a", "3-0"]);
    assert_eq!(n.run(&["xread", "BLOCK", "10", "STREAMS", "a", "2-0"]), Reply::NullArray);
    blocked(&mut n);
}

#[test]
fn xreadgroup_blocks_only_on_new_entries_and_only_where_it_may() {
    let mut n = Node::new();
    n.run(&["xgroup", "create", "s", "g", "$", "MKSTREAM"]);
    n.client.may_block = true;
    assert_eq!(n.run(&["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]), Reply::NullArray);
    let b = blocked(&mut n);
    assert_eq!((b.keys, b.kind, b.timeout_ms, b.rerun), (keys(&["s"]), BlockKind::StreamGroup, 0, None));
    assert!(BlockKind::StreamGroup.wakes_on_any_type() && !BlockKind::Stream.wakes_on_any_type());
    // An explicit id reads the consumer's history: never waits.
    assert_eq!(
        n.run(&["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0"]),
        arr(vec![arr(vec![bulk("s"), arr(vec![])])])
    );
    assert!(n.client.block.is_none());
    // The consumer was created by the read that blocked.
    assert!(matches!(n.run(&["xinfo", "consumers", "s", "g"]), Reply::Array(c) if c.len() == 1));
    // Woken by an XADD, it runs again and delivers.
    n.run(&["xadd", "s", "1-0", "f", "v"]);
    assert_eq!(
        n.run(&["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]),
        arr(vec![arr(vec![bulk("s"), arr(vec![entry("1-0", "f", "v")])])])
    );
    // Inside MULTI: answers as a timeout.
    for cmd in [
        &["multi"][..],
        &["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
        &["xread", "BLOCK", "0", "STREAMS", "s", "$"],
    ] {
        n.run(cmd);
    }
    assert_eq!(n.run(&["exec"]), arr(vec![Reply::NullArray, Reply::NullArray]));
    assert!(n.client.block.is_none());
    // Woken after its group is gone: -NOGROUP.
    n.run(&["xgroup", "destroy", "s", "g"]);
    assert!(n.run(&["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]).is_error());
}

#[test]
fn block_timeouts_are_read_as_redis_reads_them() {
    let mut n = Node::new();
    n.client.may_block = true;
    let mut run = |t: &str| n.run(&["xread", "BLOCK", t, "STREAMS", "s", "$"]);
    assert_eq!(run("-1"), err("ERR timeout is negative"));
    assert_eq!(run("1.5"), err("ERR timeout is not an integer or out of range"));
    assert_eq!(run("x"), err("ERR timeout is not an integer or out of range"));
    assert_eq!(run("9223372036854775807"), err("ERR timeout is out of range"));
    assert_eq!(run("99999999999999999999"), err("ERR timeout is not an integer or out of range"));
    assert!(n.client.block.is_none());
    assert_eq!(
        n.run(&["xreadgroup", "GROUP", "g", "c", "BLOCK", "-5", "STREAMS", "s", ">"]),
        err("ERR timeout is negative"),
        "before the group is looked up"
    );
    n.run(&["set", "str", "v"]);
    assert_eq!(n.run(&["xread", "BLOCK", "0", "STREAMS", "s", "str", "$", "$"]), wrongtype());
    assert!(n.client.block.is_none());
}

#[test]
fn writes_to_a_stream_report_it_to_its_waiters() {
    let mut n = Node::new();
    n.env.waiting.lock().unwrap().push((0, Bytes::from_static(b"s")));
    n.run(&["xadd", "s", "1-0", "f", "v"]);
    assert_eq!(n.client.ready, keys(&["s"]).into_iter().map(|k| (0, k)).collect::<Vec<_>>());
    n.client.ready.clear();
    n.run(&["xgroup", "create", "s", "g", "0"]);
    n.client.ready.clear();
    n.run(&["xgroup", "destroy", "s", "g"]);
    assert_eq!(n.client.ready.len(), 1, "XGROUP DESTROY wakes XREADGROUP");
    n.client.ready.clear();
    // A read that blocks reports nothing (no two XREADGROUPs wake each
    // other forever).
    n.run(&["xgroup", "create", "s", "g", "$"]);
    n.client.ready.clear();
    n.client.may_block = true;
    n.run(&["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
    blocked(&mut n);
    assert!(n.client.ready.is_empty());
}
