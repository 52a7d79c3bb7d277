//! Geo commands through a real node with the `redis` crate: Redis's
//! documented examples, its error texts, the STORE forms, a side-by-side
//! run against a `redis-server` (when one is installed) that must give
//! the same replies byte for byte on random points and searches, and a
//! three-node replicated cluster: CROSSSLOT for a destination in another
//! slot, and a geo set that outlives a `kill -9` of its coordinator.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::reference::Reference;
use common::{array, bulk, err, int, run, strings, RawConn, Server, WRONGTYPE};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redis::{Connection, Value};

const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

fn sicily(c: &mut Connection) {
    let added = int(c, &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]);
    assert_eq!(added, 2);
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

fn point(x: &str, y: &str) -> Value {
    arr(vec![bulk(x), bulk(y)])
}

#[test]
fn redis_documented_examples() {
    let server = Server::start();
    let mut c = server.conn();
    sicily(&mut c);
    assert_eq!(run::<String>(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania"]), "166274.1516");
    assert_eq!(run::<String>(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "km"]), "166.2742");
    assert_eq!(run::<String>(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "mi"]), "103.3182");
    assert_eq!(run::<Value>(&mut c, &["GEODIST", "Sicily", "Foo", "Bar"]), Value::Nil);
    assert_eq!(array(&mut c, &["GEOHASH", "Sicily", "Palermo", "Catania"]), strings(&["sqc8b49rny0", "sqdtr74hyu0"]));
    assert_eq!(
        run::<Value>(&mut c, &["GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting"]),
        arr(vec![
            point("13.36138933897018433", "38.11555639549629859"),
            point("15.08726745843887329", "37.50266842333162032"),
            Value::Nil,
        ])
    );
    assert_eq!(
        run::<Value>(&mut c, &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"]),
        arr(vec![arr(vec![bulk("Palermo"), bulk("190.4424")]), arr(vec![bulk("Catania"), bulk("56.4413")])])
    );
    assert_eq!(
        run::<Value>(
            &mut c,
            &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "COUNT", "1"]
        ),
        arr(vec![arr(vec![
            bulk("Catania"),
            bulk("56.4413"),
            Value::Int(3_479_447_370_796_909),
            point("15.08726745843887329", "37.50266842333162032"),
        ])])
    );
    let _: i64 = run(&mut c, &["GEOADD", "Sicily", "13.583333", "37.316667", "Agrigento"]);
    assert_eq!(
        array(&mut c, &["GEORADIUSBYMEMBER", "Sicily", "Agrigento", "100", "km"]),
        strings(&["Agrigento", "Palermo"])
    );
    let _: i64 =
        run(&mut c, &["GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2"]);
    assert_eq!(
        array(&mut c, &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"]),
        strings(&["Catania", "Agrigento", "Palermo"])
    );
    assert_eq!(
        array(&mut c, &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC"]),
        strings(&["Catania", "Agrigento", "Palermo", "edge2", "edge1"])
    );
    // The index is a sorted set.
    assert_eq!(run::<String>(&mut c, &["TYPE", "Sicily"]), "zset");
    assert_eq!(int(&mut c, &["ZCARD", "Sicily"]), 5);
    assert_eq!(int(&mut c, &["ZREM", "Sicily", "edge1", "edge2"]), 2);

    // RESP3: coordinates are doubles.
    let mut c3 = server.conn_resp3();
    assert_eq!(
        run::<Value>(&mut c3, &["GEOPOS", "Sicily", "Palermo"]),
        arr(vec![arr(vec![
            Value::Double("13.36138933897018433".parse().unwrap()),
            Value::Double("38.11555639549629859".parse().unwrap())
        ])])
    );
}

#[test]
fn errors_like_redis() {
    let server = Server::start();
    let mut c = server.conn();
    sicily(&mut c);
    let cases: &[(&[&str], &str)] = &[
        (&["GEOADD", "Sicily", "200", "100", "x"], "ERR invalid longitude,latitude pair 200.000000,100.000000"),
        (&["GEOADD", "Sicily", "NX", "XX", "1", "2", "x"], "ERR syntax error"),
        (&["GEOADD", "Sicily", "1", "2", "x", "3"], "ERR syntax error"),
        (
            &["GEODIST", "Sicily", "Palermo", "Catania", "yards"],
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ),
        (&["GEODIST", "Sicily", "Palermo", "Catania", "km", "x"], "ERR syntax error"),
        (&["GEORADIUS", "Sicily", "15", "37", "-1", "km"], "ERR radius cannot be negative"),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"], "ERR COUNT must be > 0"),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"], "ERR the ANY argument requires COUNT argument"),
        (&["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d"], "ERR syntax error"),
        (
            &["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d", "WITHDIST"],
            "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        (&["GEORADIUSBYMEMBER", "Sicily", "Rome", "200", "km"], "ERR could not decode requested zset member"),
        (
            &["GEOSEARCH", "Sicily", "BYRADIUS", "200", "km", "ASC", "WITHDIST"],
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "ASC", "WITHDIST"],
            "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "-1", "km"],
            "ERR height or width cannot be negative",
        ),
        (
            &["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "WITHHASH"],
            "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(err(&mut c, args), *want, "{args:?}");
    }
    assert_eq!(int(&mut c, &["RPUSH", "l", "x"]), 1);
    assert_eq!(err(&mut c, &["GEOPOS", "l", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["GEOSEARCH", "l", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"]), WRONGTYPE);
}

#[test]
fn store_and_storedist_write_sorted_sets() {
    let server = Server::start();
    let mut c = server.conn();
    sicily(&mut c);
    assert_eq!(int(&mut c, &["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "near"]), 2);
    assert_eq!(array(&mut c, &["GEOHASH", "near", "Catania"]), strings(&["sqdtr74hyu0"]), "scores are hashes");
    let n = int(
        &mut c,
        &["GEOSEARCHSTORE", "dist", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"],
    );
    assert_eq!(n, 2);
    assert_eq!(array(&mut c, &["ZRANGE", "dist", "0", "-1"]), strings(&["Catania", "Palermo"]), "by distance");
    // The source may be its own destination.
    assert_eq!(int(&mut c, &["GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "m", "STORE", "Sicily"]), 1);
    assert_eq!(array(&mut c, &["ZRANGE", "Sicily", "0", "-1"]), strings(&["Palermo"]));
    // Nothing found: the destination is deleted.
    assert_eq!(int(&mut c, &["GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "near"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "near"]), 0);
}

/// Random points (world-wide, at the latitude limits, on the antimeridian,
/// several at one place) and random searches, each sent to ringcache and
/// to redis-server: every reply must be the same value.
#[test]
fn replies_match_redis_server_byte_for_byte() {
    let Some(reference) = Reference::start() else { return };
    let server = Server::start();
    let (mut ours, mut theirs) = (server.conn(), reference.conn());
    let seed: u64 = std::env::var("GEO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    eprintln!("comparing with redis-server {} (GEO_SEED={seed})", reference.version());
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut both = |args: &[String]| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let got: Result<Value, _> = common::cmd(&a).query(&mut ours);
        let want: Result<Value, _> = common::cmd(&a).query(&mut theirs);
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{a:?}"),
            (Err(g), Err(w)) => assert_eq!((g.code(), g.detail()), (w.code(), w.detail()), "{a:?}"),
            (g, w) => panic!("{a:?}: ringcache {g:?}, redis-server {w:?}"),
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut points = Vec::new();
    for i in 0..1500 {
        let (x, y): (f64, f64) = match rng.gen_range(0..10) {
            0..=4 => (rng.gen_range(-180.0..=180.0), rng.gen_range(-85.05112878..=85.05112878)),
            5..=7 => (13.0 + rng.gen_range(-1.0..1.0), 38.0 + rng.gen_range(-1.0..1.0)),
            8 => ([-180.0, 180.0, 179.9999, -179.9999][rng.gen_range(0..4)], rng.gen_range(-85.0..85.0)),
            _ => (rng.gen_range(-180.0..180.0), [85.05112878, -85.05112878, 84.9, -84.9, 0.0][rng.gen_range(0..5)]),
        };
        points.push((x, y));
        both(&s(&["GEOADD", "g", &format!("{x:.6}"), &format!("{y:.6}"), &format!("m{i}")]));
    }
    for dup in ["dupA", "dupB", "dupC"] {
        both(&s(&["GEOADD", "g", "13.5", "38.5", dup]));
    }
    both(&s(&["ZADD", "g", "-1", "neg", "1e20", "huge"]));
    for m in ["m1", "dupA", "neg", "huge", "nosuch"] {
        both(&s(&["GEOPOS", "g", m]));
        both(&s(&["GEOHASH", "g", m]));
    }
    let units = [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    for _ in 0..150 {
        let (a, b) = (rng.gen_range(0..points.len()), rng.gen_range(0..points.len()));
        let (u, per) = units[rng.gen_range(0..4)];
        both(&s(&["GEODIST", "g", &format!("m{a}"), &format!("m{b}"), u]));
        let (x, y) = if rng.gen_bool(0.3) { (13.5, 38.5) } else { points[rng.gen_range(0..points.len())] };
        let radius = [1.0, 100.0, 1e4, 1e5, 1e6, 5e6, 2e7][rng.gen_range(0..7)] / per * rng.gen::<f64>();
        let mut opts = Vec::new();
        for (p, o) in [(0.5, "WITHDIST"), (0.3, "WITHCOORD"), (0.3, "WITHHASH")] {
            if rng.gen_bool(p) {
                opts.push(o.to_owned());
            }
        }
        match rng.gen_range(0..3) {
            0 => opts.push("ASC".into()),
            1 => opts.push("DESC".into()),
            _ => {}
        }
        if rng.gen_bool(0.4) {
            opts.extend(["COUNT".to_owned(), rng.gen_range(1..20).to_string()]);
        }
        let (xs, ys, rs) = (format!("{x:.6}"), format!("{y:.6}"), format!("{radius:.4}"));
        let member = format!("m{}", rng.gen_range(0..points.len()));
        let searches = [
            s(&["GEORADIUS", "g", &xs, &ys, &rs, u]),
            s(&["GEOSEARCH", "g", "FROMLONLAT", &xs, &ys, "BYBOX", &rs, &format!("{:.4}", radius * 1.7), u]),
            s(&["GEORADIUSBYMEMBER", "g", &member, &rs, u]),
            s(&["GEOSEARCH", "g", "FROMMEMBER", &member, "BYRADIUS", &rs, u]),
        ];
        for mut search in searches {
            search.extend(opts.iter().cloned());
            both(&search);
        }
        both(&s(&["GEOSEARCHSTORE", "dst", "g", "FROMLONLAT", &xs, &ys, "BYRADIUS", &rs, u, "COUNT", "7"]));
        both(&s(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]));
    }
}

fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn through_a_replicated_cluster_and_a_kill_9_of_the_coordinator() {
    let mut cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster"]);
    let mut c = cluster.node(0).conn();
    sicily(&mut c);
    let pos: Value = run(&mut c, &["GEOPOS", "Sicily", "Palermo", "Catania"]);
    for i in 0..3 {
        let mut ci = cluster.node(i).conn();
        assert_eq!(run::<Value>(&mut ci, &["GEOPOS", "Sicily", "Palermo", "Catania"]), pos, "through node {i}");
        assert_eq!(run::<String>(&mut ci, &["GEODIST", "Sicily", "Palermo", "Catania"]), "166274.1516");
    }

    // A destination in another slot is refused; with a shared hash tag it
    // is written and replicated like any write.
    assert_eq!(err(&mut c, &["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "elsewhere"]), CROSSSLOT);
    assert_eq!(
        err(&mut c, &["GEOSEARCHSTORE", "elsewhere", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"]),
        CROSSSLOT
    );
    let _: i64 =
        run(&mut c, &["GEOADD", "{it}:cities", "12.496365", "41.902782", "Rome", "9.190498", "45.464211", "Milan"]);
    let stored =
        int(&mut c, &["GEOSEARCHSTORE", "{it}:north", "{it}:cities", "FROMMEMBER", "Milan", "BYRADIUS", "100", "km"]);
    assert_eq!(stored, 1);
    assert_eq!(int(&mut c, &["GEORADIUS", "{it}:cities", "12.5", "41.9", "50", "km", "STORE", "{it}:south"]), 1);

    // Forwarded replies keep their bytes: RESP3 coordinates stay Redis's
    // 17-digit doubles through a node that is not the coordinator.
    let victim = cluster.coordinator_of("Sicily");
    let mut raw = RawConn::connect(cluster.node((victim + 1) % 3).port);
    raw.send_cmd(&["HELLO", "3"]);
    raw.read_reply();
    raw.send_cmd(&["GEOPOS", "Sicily", "Palermo"]);
    assert_eq!(raw.read_reply_string(), "*1\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n");
    raw.send_cmd(&["GEODIST", "Sicily", "Palermo", "Catania", "km"]);
    assert_eq!(raw.read_reply_string(), "$8\r\n166.2742\r\n");

    cluster.nodes[victim].kill();
    let mut cs = cluster.node((victim + 1) % 3).conn();
    let got = eventually("GEOPOS after the kill", Duration::from_secs(20), || {
        redis::cmd("GEOPOS").arg("Sicily").arg("Palermo").arg("Catania").query::<Value>(&mut cs).ok()
    });
    assert_eq!(got, pos, "the geo set survived the coordinator's kill -9");
    assert_eq!(
        array(&mut cs, &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"]),
        strings(&["Catania", "Palermo"])
    );
    let north = eventually("the stored set", Duration::from_secs(20), || {
        redis::cmd("ZRANGE").arg("{it}:north").arg(0).arg(-1).query::<Vec<String>>(&mut cs).ok()
    });
    assert_eq!(north, ["Milan"]);
}

/// COMMAND finds GEORADIUS's destinations as Redis 7.2 does: by its key
/// specs, the key after STORE and the one after STOREDIST, both (the
/// command itself writes only the last one).
#[test]
fn command_finds_the_store_key() {
    let server = Server::start();
    let mut c = server.conn();
    let keys =
        array(&mut c, &["COMMAND", "GETKEYS", "GEORADIUS", "k", "1", "2", "3", "km", "STORE", "a", "STOREDIST", "b"]);
    assert_eq!(keys, strings(&["k", "a", "b"]));
    let keys = array(&mut c, &["COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", "k", "store", "3", "km"]);
    assert_eq!(keys, strings(&["k"]), "a member named store is no keyword");
    let info: Vec<Value> = run(&mut c, &["COMMAND", "INFO", "GEORADIUS"]);
    let Value::Array(entry) = &info[0] else { panic!("{info:?}") };
    let flags: Vec<String> = redis::from_redis_value(&entry[2]).unwrap();
    assert_eq!(flags, ["write", "denyoom", "movablekeys"]);
}
