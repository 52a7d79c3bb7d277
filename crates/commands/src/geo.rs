//! Geo commands over sorted sets: GEOADD GEOPOS GEODIST GEOHASH GEOSEARCH
//! GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER GEORADIUS_RO
//! GEORADIUSBYMEMBER_RO.
//!
//! A point is a sorted-set member whose score is its 52-bit geohash (see
//! [`geohash`]), exactly as Redis stores it, so ZRANGE, ZSCORE, DUMP and
//! replication see an ordinary sorted set. GEOADD is ZADD of those scores
//! (it runs ZADD's own handler); a search looks in the nine boxes Redis
//! looks in, in Redis's order, keeps the points within the shape, sorts and
//! replies with Redis's number formats: distances with four decimals
//! (`fixedpoint_d2string`), coordinates as `%.17Lf` without trailing zeros
//! (`addReplyHumanLongDouble`).
//!
//! Invariants: arguments are checked in `georadiusGeneric`'s order, so a
//! malformed command gets Redis's error; the STORE forms write their
//! destination with `Shard::set` (or delete it, leaving a tombstone, when
//! nothing matched), so a replicated cluster ships it; the destination is
//! a declared key, so a cluster refuses one in another slot with
//! -CROSSSLOT.

pub mod geohash;

use std::cmp::Ordering;

use bytes::Bytes;
use ringcache_resp::{Proto, Reply};
use ringcache_store::value::ScoreBound;
use ringcache_store::{Value, ZSetValue};

use crate::args::{float_strict, int, is};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};
use geohash::{Shape, ShapeKind};

/// GEORADIUS: the key, and the argument after a STORE or STOREDIST among
/// the options (from argument 6 on).
const RADIUS_KEYS: Keys = Keys::Store { from: 6 };
/// GEORADIUSBYMEMBER: the same, its options from argument 5 on.
const BYMEMBER_KEYS: Keys = Keys::Store { from: 5 };

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "geoadd",
            arity: -5,
            flags: flag::WRITE | flag::DENYOOM,
            keys: Keys::ONE,
            group: "geo",
            summary: "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
            handler: geoadd,
        },
        CommandSpec {
            name: "geodist",
            arity: -4,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "geo",
            summary: "Returns the distance between two members of a geospatial index.",
            handler: geodist,
        },
        CommandSpec {
            name: "geohash",
            arity: -2,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "geo",
            summary: "Returns members from a geospatial index as geohash strings.",
            handler: geohash_cmd,
        },
        CommandSpec {
            name: "geopos",
            arity: -2,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "geo",
            summary: "Returns the longitude and latitude of members from a geospatial index.",
            handler: geopos,
        },
        CommandSpec {
            name: "georadius",
            arity: -6,
            flags: flag::WRITE | flag::DENYOOM,
            keys: RADIUS_KEYS,
            group: "geo",
            summary: "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
            handler: georadius,
        },
        CommandSpec {
            name: "georadius_ro",
            arity: -6,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "geo",
            summary: "Returns members from a geospatial index that are within a distance from a coordinate.",
            handler: georadius_ro,
        },
        CommandSpec {
            name: "georadiusbymember",
            arity: -5,
            flags: flag::WRITE | flag::DENYOOM,
            keys: BYMEMBER_KEYS,
            group: "geo",
            summary: "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
            handler: georadiusbymember,
        },
        CommandSpec {
            name: "georadiusbymember_ro",
            arity: -5,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "geo",
            summary: "Returns members from a geospatial index that are within a distance from a member.",
            handler: georadiusbymember_ro,
        },
        CommandSpec {
            name: "geosearch",
            arity: -7,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "geo",
            summary: "Queries a geospatial index for members inside an area of a box or a circle.",
            handler: geosearch,
        },
        CommandSpec {
            name: "geosearchstore",
            arity: -8,
            flags: flag::WRITE | flag::DENYOOM,
            keys: Keys::Range { first: 1, last: 2, step: 1 },
            group: "geo",
            summary: "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
            handler: geosearchstore,
        },
    ]
}

// ---------------------------------------------------------------- replies

/// A coordinate as `addReplyHumanLongDouble` writes it: `%.17Lf` of the
/// value with trailing zeros (and a trailing dot) cut, `-0` as `0`; a
/// bulk string in RESP2, a double in RESP3.
fn coord_reply(v: f64, proto: Proto) -> Reply {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        s.truncate(s.trim_end_matches('0').trim_end_matches('.').len());
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    match proto {
        Proto::Resp2 => Reply::Bulk(Bytes::from(s)),
        _ => Reply::Raw(Bytes::from(format!(",{s}\r\n"))),
    }
}

/// A distance as `addReplyDoubleDistance` writes it: rounded (half to
/// even, as `llrint`) to four decimals, all four written.
fn dist_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".to_owned();
    }
    let scaled = (d * 10_000.0).round_ties_even();
    // `llrint` of a value past i64 is undefined in C; a distance on Earth
    // in any unit is far below.
    let v = scaled as i64;
    let (sign, v) = if v < 0 { ("-", v.unsigned_abs()) } else { ("", v as u64) };
    format!("{sign}{}.{:04}", v / 10_000, v % 10_000)
}

fn dist_reply(d: f64) -> Reply {
    Reply::Bulk(Bytes::from(dist_text(d)))
}

fn point_reply(xy: [f64; 2], proto: Proto) -> Reply {
    Reply::Array(vec![coord_reply(xy[0], proto), coord_reply(xy[1], proto)])
}

// ---------------------------------------------------------------- arguments

/// `extractLongLatOrReply`: two floats within the WGS84 limits.
fn lon_lat(args: &[&[u8]]) -> Result<[f64; 2], CmdError> {
    let xy = [float_strict(args[0])?, float_strict(args[1])?];
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&xy[0])
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&xy[1])
    {
        return Err(CmdError::other(format!("ERR invalid longitude,latitude pair {:.6},{:.6}", xy[0], xy[1])));
    }
    Ok(xy)
}

/// `extractUnitOrReply`: metres per unit.
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    match () {
        _ if is(arg, "m") => Ok(1.0),
        _ if is(arg, "km") => Ok(1000.0),
        _ if is(arg, "ft") => Ok(0.3048),
        _ if is(arg, "mi") => Ok(1609.34),
        _ => Err(CmdError::other("ERR unsupported unit provided. please use M, KM, FT, MI")),
    }
}

/// A float with Redis's custom message when it is not one.
fn float_or(arg: &[u8], msg: &str) -> Result<f64, CmdError> {
    float_strict(arg).map_err(|_| CmdError::other(msg))
}

/// `extractDistanceOrReply`: `radius unit` → (radius, metres per unit).
fn radius(args: &[&[u8]]) -> Result<(f64, f64), CmdError> {
    let r = float_or(args[0], "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::other("ERR radius cannot be negative"));
    }
    Ok((r, unit(args[1])?))
}

/// `extractBoxOrReply`: `width height unit` → (width, height, metres per unit).
fn box_size(args: &[&[u8]]) -> Result<(f64, f64, f64), CmdError> {
    let w = float_or(args[0], "ERR need numeric width")?;
    let h = float_or(args[1], "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::other("ERR height or width cannot be negative"));
    }
    Ok((w, h, unit(args[2])?))
}

// ---------------------------------------------------------------- GEOADD

fn geoadd<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < args.len() {
        match () {
            _ if is(args[first], "nx") => nx = true,
            _ if is(args[first], "xx") => xx = true,
            _ if is(args[first], "ch") => {}
            _ => break,
        }
        first += 1;
    }
    if !(args.len() - first).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::Syntax);
    }
    // ZADD key [options] score member ..., the scores the points' hashes.
    let mut scores = Vec::with_capacity((args.len() - first) / 3);
    for point in args[first..].chunks(3) {
        let [x, y] = lon_lat(point)?;
        let score = geohash::score_of(x, y).expect("a checked point encodes");
        scores.push(itoa::Buffer::new().format(score).to_owned());
    }
    let mut zadd: Vec<&[u8]> = Vec::with_capacity(first + scores.len() * 2);
    zadd.push(b"zadd");
    zadd.extend_from_slice(&args[1..first]);
    for (score, point) in scores.iter().zip(args[first..].chunks(3)) {
        zadd.push(score.as_bytes());
        zadd.push(point[2]);
    }
    crate::zsets::zadd(ctx, &zadd)
}

// ---------------------------------------------------------------- GEOPOS GEODIST GEOHASH

/// The scores of `members` in the sorted set at `key` (`None` for each
/// when there is no such key, or no such member).
fn scores<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8], members: &[&[u8]]) -> Result<Option<Vec<Option<f64>>>, CmdError> {
    let now = ctx.now_ms;
    let Some(entry) = ctx.shard(key).get_read(key, now) else { return Ok(None) };
    let z = entry.value().as_zset()?;
    Ok(Some(members.iter().map(|m| z.score(m)).collect()))
}

fn geopos<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let proto = ctx.state().proto;
    let found = scores(ctx, args[1], &args[2..])?.unwrap_or_else(|| vec![None; args.len() - 2]);
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|s| match s.and_then(geohash::decode_score) {
                Some(xy) => point_reply(xy, proto),
                None => Reply::NullArray,
            })
            .collect(),
    ))
}

fn geodist<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let to_meter = match args.len() {
        4 => 1.0,
        5 => unit(args[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let Some(found) = scores(ctx, args[1], &args[2..4])? else { return Ok(Reply::Null) };
    let points = (found[0].and_then(geohash::decode_score), found[1].and_then(geohash::decode_score));
    let (Some([x1, y1]), Some([x2, y2])) = points else { return Ok(Reply::Null) };
    Ok(dist_reply(geohash::distance(x1, y1, x2, y2) / to_meter))
}

fn geohash_cmd<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let found = scores(ctx, args[1], &args[2..])?.unwrap_or_else(|| vec![None; args.len() - 2]);
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|s| match s.and_then(geohash::standard_hash) {
                Some(h) => Reply::bulk_copy(&h),
                None => Reply::Null,
            })
            .collect(),
    ))
}

// ---------------------------------------------------------------- searches

/// Which command a search is (`georadiusGeneric`'s flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS, GEORADIUS_RO: the centre is `lon lat` arguments.
    RadiusCoords { ro: bool },
    /// GEORADIUSBYMEMBER, GEORADIUSBYMEMBER_RO: the centre is a member.
    RadiusMember { ro: bool },
    /// GEOSEARCH, GEOSEARCHSTORE: FROM... and BY... options.
    Search { store: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A point found by a search (`geoPoint`).
#[derive(Debug, Clone)]
struct Point {
    xy: [f64; 2],
    /// Metres from the centre until the reply, then in the request's unit.
    dist: f64,
    score: f64,
    member: Bytes,
}

/// A parsed search.
#[derive(Debug)]
struct Search<'a> {
    shape: Shape,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    sort: Sort,
    /// 0 = no limit.
    count: u64,
    any: bool,
    /// The destination, and whether it stores distances (STOREDIST).
    store: Option<(&'a [u8], bool)>,
}

fn georadius<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, 1, Kind::RadiusCoords { ro: false })
}

fn georadius_ro<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, 1, Kind::RadiusCoords { ro: true })
}

fn georadiusbymember<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, 1, Kind::RadiusMember { ro: false })
}

fn georadiusbymember_ro<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, 1, Kind::RadiusMember { ro: true })
}

fn geosearch<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, 1, Kind::Search { store: false })
}

fn geosearchstore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, 2, Kind::Search { store: true })
}

/// The centre of a search from a member's score (`longLatFromMember`).
fn member_point<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8], member: &[u8]) -> Result<[f64; 2], CmdError> {
    let now = ctx.now_ms;
    ctx.shard(key)
        .peek(key, now)
        .and_then(|e| e.value().as_zset().ok()?.score(member))
        .and_then(geohash::decode_score)
        .ok_or_else(|| CmdError::other("ERR could not decode requested zset member"))
}

/// `georadiusGeneric`: parse in Redis's order, search, sort, reply or store.
fn search_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], src: usize, kind: Kind) -> CmdResult {
    let key = args[src];
    let now = ctx.now_ms;
    let exists = match ctx.shard(key).get_read(key, now) {
        Some(e) => {
            e.value().as_zset()?;
            true
        }
        None => false,
    };
    let search = parse_search(ctx, args, kind, exists)?;
    let Some(mut points) = find(ctx, key, &search) else {
        return Ok(match search.store {
            Some((dst, _)) => {
                ctx.shard(dst).remove(dst, now);
                Reply::Integer(0)
            }
            None => Reply::Array(Vec::new()),
        });
    };

    let returned = match search.count {
        0 => points.len(),
        n => points.len().min(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    // Redis sorts everything with qsort (glibc's is a merge sort: stable)
    // or, for fewer than all, the first ones with its own partial
    // quicksort; points at equal distances come out in the same order.
    let cmp = |a: &Point, b: &Point| {
        let asc = dist_cmp(a.dist, b.dist);
        if search.sort == Sort::Desc {
            asc.reverse()
        } else {
            asc
        }
    };
    if search.sort != Sort::None && !points.is_empty() {
        if returned == points.len() {
            points.sort_by(cmp);
        } else {
            pqsort(&mut points, &cmp, 0, returned - 1);
        }
    }
    points.truncate(returned);
    for p in &mut points {
        p.dist /= search.shape.conversion;
    }

    let Some((dst, store_dist)) = search.store else {
        return Ok(search_reply(&search, points, ctx.state().proto));
    };
    let shard = ctx.shard(dst);
    if points.is_empty() {
        shard.remove(dst, now);
        return Ok(Reply::Integer(0));
    }
    let mut z = ZSetValue::new();
    for p in points {
        z.insert_owned(p.member, if store_dist { p.dist } else { p.score });
    }
    let len = z.len();
    shard.set(dst, Value::ZSet(Box::new(z)), 0, now);
    Ok(Reply::Integer(len as i64))
}

/// Parses what follows the key (and, for GEORADIUS*, the centre and
/// radius), with `georadiusGeneric`'s checks in its order.
fn parse_search<'a, E: Env>(
    ctx: &mut Ctx<'_, E>,
    args: &[&'a [u8]],
    kind: Kind,
    exists: bool,
) -> Result<Search<'a>, CmdError> {
    let key = match kind {
        Kind::Search { store: true } => args[2],
        _ => args[1],
    };
    let mut shape = Shape { xy: [0.0; 2], conversion: 0.0, kind: ShapeKind::Radius(0.0) };
    let mut store = None;
    let base = match kind {
        Kind::RadiusCoords { .. } => {
            shape.xy = lon_lat(&args[2..4])?;
            let (r, conversion) = radius(&args[4..6])?;
            (shape.kind, shape.conversion) = (ShapeKind::Radius(r), conversion);
            6
        }
        // Without the key, parsing goes on only to pick the reply.
        Kind::RadiusMember { .. } if !exists => 5,
        Kind::RadiusMember { .. } => {
            shape.xy = member_point(ctx, key, args[2])?;
            let (r, conversion) = radius(&args[3..5])?;
            (shape.kind, shape.conversion) = (ShapeKind::Radius(r), conversion);
            5
        }
        Kind::Search { store: false } => 2,
        Kind::Search { store: true } => {
            store = Some((args[1], false));
            3
        }
    };
    let ro = matches!(kind, Kind::RadiusCoords { ro: true } | Kind::RadiusMember { ro: true });
    let geosearch = matches!(kind, Kind::Search { .. });

    let (mut with_dist, mut with_hash, mut with_coord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_loc, mut by_radius, mut by_box) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let opts = &args[base..];
    let mut i = 0;
    while i < opts.len() {
        let (arg, left) = (opts[i], opts.len() - i - 1);
        if is(arg, "withdist") {
            with_dist = true;
        } else if is(arg, "withhash") {
            with_hash = true;
        } else if is(arg, "withcoord") {
            with_coord = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            sort = Sort::Asc;
        } else if is(arg, "desc") {
            sort = Sort::Desc;
        } else if is(arg, "count") && left >= 1 {
            count = int(opts[i + 1])?;
            if count <= 0 {
                return Err(CmdError::other("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && left >= 1 && !ro && !geosearch {
            store = Some((opts[i + 1], is(arg, "storedist")));
            i += 1;
        } else if is(arg, "storedist") && kind == (Kind::Search { store: true }) {
            store = Some((args[1], true));
        } else if is(arg, "frommember") && left >= 1 && geosearch && !from_loc {
            if exists {
                shape.xy = member_point(ctx, key, opts[i + 1])?;
            }
            from_member = true;
            i += 1;
        } else if is(arg, "fromlonlat") && left >= 2 && geosearch && !from_member {
            shape.xy = lon_lat(&opts[i + 1..i + 3])?;
            from_loc = true;
            i += 2;
        } else if is(arg, "byradius") && left >= 2 && geosearch && !by_box {
            let (r, conversion) = radius(&opts[i + 1..i + 3])?;
            (shape.kind, shape.conversion) = (ShapeKind::Radius(r), conversion);
            by_radius = true;
            i += 2;
        } else if is(arg, "bybox") && left >= 3 && geosearch && !by_radius {
            let (width, height, conversion) = box_size(&opts[i + 1..i + 4])?;
            (shape.kind, shape.conversion) = (ShapeKind::Box { width, height }, conversion);
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }

    if store.is_some() && (with_dist || with_hash || with_coord) {
        let what = if kind == (Kind::Search { store: true }) { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::other(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(args[0]);
    if geosearch && !(from_member || from_loc) {
        return Err(CmdError::other(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if geosearch && !(by_radius || by_box) {
        return Err(CmdError::other(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")));
    }
    if any && count == 0 {
        return Err(CmdError::other("ERR the ANY argument requires COUNT argument"));
    }
    // COUNT keeps the nearest, so it sorts unless ANY says any will do.
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    Ok(Search { shape, with_dist, with_hash, with_coord, sort, count: count as u64, any, store })
}

/// The points of the sorted set at `key` inside the search's shape, in
/// the order Redis finds them (`membersOfAllNeighbors`); `None` when
/// there is no such key. With ANY it stops at COUNT points.
fn find<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8], search: &Search<'_>) -> Option<Vec<Point>> {
    let now = ctx.now_ms;
    let z = ctx.shard(key).peek(key, now)?.value().as_zset().ok()?;
    let limit = if search.any { usize::try_from(search.count).unwrap_or(usize::MAX) } else { 0 };
    let full = |found: &Vec<Point>| limit != 0 && found.len() >= limit;
    let coverage = geohash::areas_by_shape(&search.shape);
    let boxes = coverage.boxes();
    let mut found = Vec::new();
    let mut last = 0;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        // Huge searches can have equal neighbours: each once. (Redis
        // compares with the last box searched, the centre excepted.)
        if last != 0 && *b == boxes[last] {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = geohash::score_range(*b);
        let min = ScoreBound { value: min as f64, exclusive: false };
        let max = ScoreBound { value: max as f64, exclusive: true };
        for (member, score) in z.range_by_score(min, max) {
            let Some(xy) = geohash::decode_score(score) else { continue };
            if let Some(dist) = search.shape.contains(xy) {
                found.push(Point { xy, dist, score, member: member.clone() });
            }
            if full(&found) {
                break;
            }
        }
        last = i;
    }
    Some(found)
}

fn search_reply(search: &Search<'_>, points: Vec<Point>, proto: Proto) -> Reply {
    let options = usize::from(search.with_dist) + usize::from(search.with_hash) + usize::from(search.with_coord);
    Reply::Array(
        points
            .into_iter()
            .map(|p| {
                if options == 0 {
                    return Reply::Bulk(p.member);
                }
                let mut item = Vec::with_capacity(options + 1);
                item.push(Reply::Bulk(p.member));
                if search.with_dist {
                    item.push(dist_reply(p.dist));
                }
                if search.with_hash {
                    item.push(Reply::Integer(p.score as i64));
                }
                if search.with_coord {
                    item.push(point_reply(p.xy, proto));
                }
                Reply::Array(item)
            })
            .collect(),
    )
}

/// `sort_gp_asc`: NaN compares below everything, as its `else`.
fn dist_cmp(a: f64, b: f64) -> Ordering {
    if a > b {
        Ordering::Greater
    } else if a == b {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

/// Redis's `pqsort` (Bentley and McIlroy's quicksort, recursing only into
/// partitions that meet `lrange..=rrange`): afterwards those positions
/// hold what a full sort would put there, in the order Redis leaves
/// equal elements in.
fn pqsort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering, lrange: usize, rrange: usize) {
    pqsort_part(v, 0, v.len(), cmp, lrange, rrange);
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    use Ordering::{Greater, Less};
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

fn pqsort_part<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
    lrange: usize,
    rrange: usize,
) {
    use Ordering::{Equal, Greater, Less};
    // Whether positions `start..start + len` meet `lrange..=rrange`.
    let meets = |start: usize, len: usize| rrange >= start && lrange < start + len;
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) == Greater {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c == Greater {
                    break;
                }
                if c == Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c == Less {
                    break;
                }
                if c == Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && meets(a, r) {
            pqsort_part(v, a, r, cmp, lrange, rrange);
        }
        let r = pd - pc;
        if r <= 1 {
            return;
        }
        // The right part by iteration, as in Redis.
        a = pn - r;
        n = r;
        if !meets(a, n) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, err, wrongtype, Node};

    fn sicily(n: &mut Node) {
        let r = n.run(&["geoadd", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]);
        assert_eq!(r, Reply::Integer(2));
    }

    fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(items)
    }

    #[test]
    fn pqsort_sorts_the_range_asked_for() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..500 {
            let len = rng.gen_range(1..300);
            let v: Vec<(u32, usize)> = (0..len).map(|i| (rng.gen_range(0..20), i)).collect();
            let k = rng.gen_range(0..len);
            let mut got = v.clone();
            pqsort(&mut got, &|a: &(u32, usize), b: &(u32, usize)| a.0.cmp(&b.0), 0, k);
            let mut want: Vec<u32> = v.iter().map(|p| p.0).collect();
            want.sort_unstable();
            assert_eq!(got.iter().take(k + 1).map(|p| p.0).collect::<Vec<_>>(), want[..=k], "len {len} k {k}");
            let mut all: Vec<_> = got.clone();
            all.sort_unstable();
            let mut orig = v.clone();
            orig.sort_unstable();
            assert_eq!(all, orig, "a permutation");
        }
    }

    #[test]
    fn number_formats_are_redis_own() {
        assert_eq!(dist_text(166_274.151_6), "166274.1516");
        assert_eq!(dist_text(0.0), "0.0000");
        assert_eq!(dist_text(0.000_04), "0.0000");
        assert_eq!(dist_text(0.775), "0.7750");
        assert_eq!(dist_text(1.234_56), "1.2346");
        assert_eq!(dist_text(12_345.678_94), "12345.6789");
        assert_eq!(coord_reply(13.361_389_338_970_184, Proto::Resp2), bulk("13.36138933897018433"));
        assert_eq!(coord_reply(-0.0, Proto::Resp2), bulk("0"));
        assert_eq!(coord_reply(15.0, Proto::Resp2), bulk("15"));
        assert_eq!(coord_reply(15.0, Proto::Resp3), Reply::Raw(Bytes::from_static(b",15\r\n")));
    }

    #[test]
    fn redis_doc_examples() {
        let mut n = Node::new();
        sicily(&mut n);
        assert_eq!(n.run(&["zscore", "Sicily", "Palermo"]), Reply::Double(3_479_099_956_230_698.0));
        assert_eq!(n.run(&["geodist", "Sicily", "Palermo", "Catania"]), bulk("166274.1516"));
        assert_eq!(n.run(&["geodist", "Sicily", "Palermo", "Catania", "km"]), bulk("166.2742"));
        assert_eq!(n.run(&["geodist", "Sicily", "Palermo", "Catania", "mi"]), bulk("103.3182"));
        assert_eq!(n.run(&["geodist", "Sicily", "Foo", "Bar"]), Reply::Null);
        assert_eq!(
            n.run(&["geopos", "Sicily", "Palermo", "Catania", "NonExisting"]),
            arr(vec![
                arr(vec![bulk("13.36138933897018433"), bulk("38.11555639549629859")]),
                arr(vec![bulk("15.08726745843887329"), bulk("37.50266842333162032")]),
                Reply::NullArray,
            ])
        );
        assert_eq!(
            n.run(&["geohash", "Sicily", "Palermo", "Catania"]),
            arr(vec![bulk("sqc8b49rny0"), bulk("sqdtr74hyu0")])
        );
        assert_eq!(
            n.run(&["georadius", "Sicily", "15", "37", "200", "km", "WITHDIST"]),
            arr(vec![arr(vec![bulk("Palermo"), bulk("190.4424")]), arr(vec![bulk("Catania"), bulk("56.4413")]),])
        );
        assert_eq!(
            n.run(&["georadius", "Sicily", "15", "37", "200", "km", "WITHCOORD"]),
            arr(vec![
                arr(vec![bulk("Palermo"), arr(vec![bulk("13.36138933897018433"), bulk("38.11555639549629859")])]),
                arr(vec![bulk("Catania"), arr(vec![bulk("15.08726745843887329"), bulk("37.50266842333162032")])]),
            ])
        );
        assert_eq!(
            n.run(&["georadius", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "COUNT", "1"]),
            arr(vec![arr(vec![
                bulk("Catania"),
                bulk("56.4413"),
                Reply::Integer(3_479_447_370_796_909),
                arr(vec![bulk("15.08726745843887329"), bulk("37.50266842333162032")]),
            ])])
        );
        n.run(&["geoadd", "Sicily", "13.583333", "37.316667", "Agrigento"]);
        assert_eq!(
            n.run(&["georadiusbymember", "Sicily", "Agrigento", "100", "km"]),
            arr(vec![bulk("Agrigento"), bulk("Palermo")])
        );
        n.run(&["geoadd", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2"]);
        assert_eq!(
            n.run(&[
                "geosearch",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYBOX",
                "400",
                "400",
                "km",
                "ASC",
                "WITHCOORD",
                "WITHDIST"
            ]),
            arr(vec![
                arr(vec![
                    bulk("Catania"),
                    bulk("56.4413"),
                    arr(vec![bulk("15.08726745843887329"), bulk("37.50266842333162032")])
                ]),
                arr(vec![
                    bulk("Agrigento"),
                    bulk("130.4235"),
                    arr(vec![bulk("13.5833314061164856"), bulk("37.31666804993816555")])
                ]),
                arr(vec![
                    bulk("Palermo"),
                    bulk("190.4424"),
                    arr(vec![bulk("13.36138933897018433"), bulk("38.11555639549629859")])
                ]),
                arr(vec![
                    bulk("edge2"),
                    bulk("279.7403"),
                    arr(vec![bulk("17.24151045083999634"), bulk("38.78813451624225195")])
                ]),
                arr(vec![
                    bulk("edge1"),
                    bulk("279.7405"),
                    arr(vec![bulk("12.7584877610206604"), bulk("38.78813451624225195")])
                ]),
            ])
        );
    }

    #[test]
    fn geoadd_options_are_zadd_own() {
        let mut n = Node::new();
        sicily(&mut n);
        assert_eq!(n.run(&["geoadd", "Sicily", "NX", "13", "38", "Palermo"]), Reply::Integer(0));
        assert_eq!(n.run(&["geoadd", "Sicily", "XX", "CH", "13", "38", "Palermo", "1", "1", "New"]), Reply::Integer(1));
        assert_eq!(n.run(&["zcard", "Sicily"]), Reply::Integer(2));
        assert_eq!(n.run(&["geoadd", "Sicily", "NX", "XX", "13", "38", "x"]), err("ERR syntax error"));
        assert_eq!(n.run(&["geoadd", "Sicily", "13", "38", "x", "1"]), err("ERR syntax error"));
        assert_eq!(
            n.run(&["geoadd", "Sicily", "200", "100", "x"]),
            err("ERR invalid longitude,latitude pair 200.000000,100.000000")
        );
        assert_eq!(n.run(&["geoadd", "Sicily", "GT", "13", "38", "x"]), err("ERR syntax error"));
        assert_eq!(n.run(&["geoadd", "Sicily", "abc", "38", "x"]), err("ERR value is not a valid float"));
        n.put_list("l");
        assert_eq!(n.run(&["geoadd", "l", "13", "38", "x"]), wrongtype());
        assert_eq!(n.run(&["geopos", "l", "x"]), wrongtype());
    }

    #[test]
    fn search_errors_in_redis_order() {
        let mut n = Node::new();
        sicily(&mut n);
        let cases: &[(&[&str], &str)] = &[
            (
                &["geosearch", "Sicily", "BYRADIUS", "10", "km", "ASC", "WITHDIST"],
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch",
            ),
            (&["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1"], "ERR syntax error"),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "COUNT", "2"],
                "ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch",
            ),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "10", "km", "BYBOX", "1", "1", "km"],
                "ERR syntax error",
            ),
            (
                &["geosearch", "Sicily", "FROMMEMBER", "nosuch", "BYRADIUS", "10", "km"],
                "ERR could not decode requested zset member",
            ),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "-1", "km"],
                "ERR radius cannot be negative",
            ),
            (&["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "x", "km"], "ERR need numeric radius"),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "yards"],
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "-1", "km"],
                "ERR height or width cannot be negative",
            ),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "ANY"],
                "ERR the ANY argument requires COUNT argument",
            ),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "0"],
                "ERR COUNT must be > 0",
            ),
            (
                &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STORE", "x"],
                "ERR syntax error",
            ),
            (
                &["geosearchstore", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "WITHDIST"],
                "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            ),
            (
                &["georadius", "Sicily", "15", "37", "1", "km", "STORE", "x", "WITHHASH"],
                "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            ),
            (&["georadius_ro", "Sicily", "15", "37", "1", "km", "STORE", "x"], "ERR syntax error"),
            (
                &["georadius", "Sicily", "15", "37", "1", "km", "COUNT", "x"],
                "ERR value is not an integer or out of range",
            ),
            (&["georadiusbymember", "Sicily", "nosuch", "1", "km"], "ERR could not decode requested zset member"),
        ];
        for (cmd, want) in cases {
            assert_eq!(n.run(cmd), err(want), "{cmd:?}");
        }
        // A missing key still has its arguments checked, then answers empty.
        assert_eq!(n.run(&["georadiusbymember", "nokey", "m", "1", "km", "bogus"]), err("ERR syntax error"));
        assert_eq!(n.run(&["georadiusbymember", "nokey", "m", "1", "km"]), arr(vec![]));
        assert_eq!(n.run(&["geosearch", "nokey", "FROMMEMBER", "m", "BYBOX", "1", "1", "km"]), arr(vec![]));
    }

    #[test]
    fn store_writes_a_sorted_set() {
        let mut n = Node::with_journal(true);
        sicily(&mut n);
        n.client.changes.clear();
        assert_eq!(n.run(&["georadius", "Sicily", "15", "37", "200", "km", "STORE", "dst"]), Reply::Integer(2));
        assert_eq!(n.client.changes.iter().map(|c| &c.key[..]).collect::<Vec<_>>(), vec![&b"dst"[..]]);
        n.client.changes.clear();
        assert_eq!(n.run(&["zscore", "dst", "Catania"]), Reply::Double(3_479_447_370_796_909.0));
        assert_eq!(
            n.run(&[
                "geosearchstore",
                "d2",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "STOREDIST",
                "COUNT",
                "1"
            ]),
            Reply::Integer(1)
        );
        assert_eq!(
            n.run(&["zrange", "d2", "0", "-1", "WITHSCORES"]),
            arr(vec![bulk("Catania"), Reply::Double(56.441_257_870_158_2)])
        );
        // Nothing found: the destination goes.
        assert_eq!(n.run(&["georadius", "Sicily", "0", "0", "1", "km", "STORE", "dst"]), Reply::Integer(0));
        assert_eq!(n.run(&["exists", "dst"]), Reply::Integer(0));
        n.client.changes.clear();
        assert_eq!(
            n.run(&["geosearchstore", "d2", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"]),
            Reply::Integer(0)
        );
        assert_eq!(n.run(&["exists", "d2"]), Reply::Integer(0));
        assert!(n.client.changes.iter().any(|c| &c.key[..] == b"d2" && c.state.is_none()), "a tombstone for d2");
    }

    #[test]
    fn store_keys_are_declared() {
        let a = |v: &[&'static str]| v.iter().map(|s| s.as_bytes()).collect::<Vec<_>>();
        let keys = |v: &[&'static str]| {
            let spec = if v[0] == "georadius" { RADIUS_KEYS } else { BYMEMBER_KEYS };
            spec.of(&a(v)).map(<[u8]>::to_vec).collect::<Vec<_>>()
        };
        assert_eq!(keys(&["georadius", "k", "1", "2", "3", "km", "STORE", "d"]), vec![b"k".to_vec(), b"d".to_vec()]);
        assert_eq!(
            keys(&["georadiusbymember", "k", "m", "3", "km", "storedist", "d"]),
            vec![b"k".to_vec(), b"d".to_vec()]
        );
        assert_eq!(keys(&["georadiusbymember", "k", "store", "3", "km"]), vec![b"k".to_vec()]);
        assert_eq!(
            keys(&["georadius", "k", "1", "2", "3", "km", "STORE", "d1", "STOREDIST", "d2"]),
            vec![b"k".to_vec(), b"d2".to_vec()],
            "the last one wins, as in Redis"
        );
        assert_eq!(keys(&["georadius", "k", "1", "2", "3", "km", "STORE"]), vec![b"k".to_vec()]);
    }

    #[test]
    fn any_stops_early_and_count_sorts() {
        let mut n = Node::new();
        for i in 0..50 {
            let (x, y, m) = (format!("{}", 10.0 + f64::from(i) * 0.001), "45".to_owned(), format!("p{i}"));
            n.run(&["geoadd", "pts", &x, &y, &m]);
        }
        assert_eq!(
            n.run(&["geosearch", "pts", "FROMLONLAT", "10", "45", "BYRADIUS", "100", "km", "COUNT", "3"]),
            arr(vec![bulk("p0"), bulk("p1"), bulk("p2")])
        );
        assert_eq!(
            n.run(&["geosearch", "pts", "FROMLONLAT", "10.049", "45", "BYRADIUS", "100", "km", "COUNT", "2", "DESC"]),
            arr(vec![bulk("p0"), bulk("p1")])
        );
        let Reply::Array(any) =
            n.run(&["geosearch", "pts", "FROMLONLAT", "10", "45", "BYRADIUS", "100", "km", "COUNT", "3", "ANY"])
        else {
            panic!()
        };
        assert_eq!(any.len(), 3);
    }
}
