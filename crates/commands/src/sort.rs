//! SORT and SORT_RO over lists, sets and sorted sets, as Redis 7.2's
//! sort.c: `BY pattern` (a constant pattern means "don't sort"; `->field`
//! reads a hash field), `GET pattern` (`#` is the element itself), `LIMIT`,
//! `ASC`/`DESC`, `ALPHA` and `STORE` (SORT only).
//!
//! Invariants: the keys a pattern names are not declared (they depend on
//! the values), so the dispatcher locks the whole keyspace for a SORT whose
//! patterns name other keys on a standalone node ([`reads_other_keys`]); in
//! a cluster such a pattern is refused unless its hash tag puts every key
//! it can name in the sorted key's slot (so in the sorted key's shard), as
//! Redis Cluster refuses it. Every write (STORE) goes through the shard, so
//! it reaches the journal like any other.

use std::cmp::Ordering;

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_ring::slot;
use ringcache_store::{ListValue, Shard, Value};

use crate::args::{int, is};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "sort",
            arity: -2,
            flags: flag::WRITE | flag::DENYOOM,
            keys: Keys::Sort { store: true },
            group: "generic",
            summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
            handler: sort,
        },
        CommandSpec {
            name: "sort_ro",
            arity: -2,
            flags: flag::READONLY,
            keys: Keys::Sort { store: false },
            group: "generic",
            summary: "Returns the sorted elements of a list, a set, or a sorted set.",
            handler: sort_ro,
        },
    ]
}

/// Where the STORE destination of a SORT is: the argument after the last
/// `STORE`, walking the options as the handler parses them (`LIMIT` takes
/// 2 arguments, `GET`, `BY` and `STORE` 1). Redis's `sortGetKeys` does not
/// skip STORE's own argument, so for `STORE GET STORE d` it declares `GET`
/// while the command writes `d`; here the declared key is always the one
/// written, so the handler never touches a shard it does not hold.
pub(crate) fn store_index<A: AsRef<[u8]>>(args: &[A]) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i].as_ref();
        let left = args.len() - i - 1;
        if is(a, "LIMIT") && left >= 2 {
            i += 2;
        } else if (is(a, "GET") || is(a, "BY")) && left >= 1 {
            i += 1;
        } else if is(a, "STORE") && left >= 1 {
            found = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    found
}

/// Whether a SORT's `BY` or `GET` patterns may name keys other than the
/// one sorted: the dispatcher then locks the whole keyspace on a
/// standalone node. Conservative on purpose: any argument after the key
/// with a `*` counts (only a pattern with a `*` names a key), so that no
/// way of spelling the options can make the handler read a shard it does
/// not hold; locking too much for an odd STORE name costs nothing more.
pub(crate) fn reads_other_keys(args: &[impl AsRef<[u8]>]) -> bool {
    args.iter().skip(2).any(|a| a.as_ref().contains(&b'*'))
}

/// The slot every key `pattern` can form falls in, as Redis's
/// `patternHashSlot`: `None` when a wildcard or escape comes before a
/// complete hash tag (the keys may be anywhere).
fn pattern_slot(pattern: &[u8]) -> Option<u16> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &c) in pattern.iter().enumerate() {
        match c {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' => match open {
                Some(s) if i == s + 1 => {
                    open = None;
                    empty_tag = true;
                }
                Some(s) => return Some(slot(&pattern[s + 1..i])),
                None => {}
            },
            _ => {}
        }
    }
    Some(slot(pattern))
}

fn sort<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, true)
}

/// What the options ask for.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: keep the native order.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse<'a>(args: &[&'a [u8]], readonly: bool, cluster: bool) -> Result<Options<'a>, CmdError> {
    let mut o =
        Options { desc: false, alpha: false, limit: None, store: None, by: None, dont_sort: false, gets: vec![] };
    let key_slot = slot(args[1]);
    // A pattern naming other keys must keep them in the key's slot.
    let names_other_slot = |p: &[u8]| p != b"#" && p.contains(&b'*') && pattern_slot(p) != Some(key_slot);
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if is(a, "ASC") {
            o.desc = false;
        } else if is(a, "DESC") {
            o.desc = true;
        } else if is(a, "ALPHA") {
            o.alpha = true;
        } else if is(a, "LIMIT") && left >= 2 {
            o.limit = Some((int(args[j + 1])?, int(args[j + 2])?));
            j += 2;
        } else if !readonly && is(a, "STORE") && left >= 1 {
            o.store = Some(args[j + 1]);
            j += 1;
        } else if is(a, "BY") && left >= 1 {
            let p = args[j + 1];
            o.by = Some(p);
            if !p.contains(&b'*') {
                o.dont_sort = true;
            } else if cluster && names_other_slot(p) {
                return Err(CmdError::other(
                    "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                ));
            }
            j += 1;
        } else if is(a, "GET") && left >= 1 {
            let p = args[j + 1];
            if cluster && names_other_slot(p) {
                return Err(CmdError::other(
                    "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                ));
            }
            o.gets.push(p);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Runs `f` on the shard of `key`: straight from the lock when it holds
/// every shard (a SORT whose patterns name other keys), else the declared
/// key's shard.
fn at_shard<E: Env, T>(ctx: &mut Ctx<'_, E>, key: &[u8], f: impl FnOnce(&mut Shard) -> T) -> T {
    if ctx.db.holds_all() {
        let i = ctx.db.db().shard_index(key);
        ctx.db.with_shard(i, f)
    } else {
        f(ctx.db.shard(key))
    }
}

/// What `pattern` gives for `element` (Redis's `lookupKeyByPattern`): the
/// element for `#`, nothing for a pattern without `*`, else the string at
/// the key the first `*` forms, or the field after `->` of the hash there.
fn lookup<E: Env>(ctx: &mut Ctx<'_, E>, pattern: &[u8], element: &Bytes) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(element.clone());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let (key_part, field) = match find(&pattern[star + 1..], b"->") {
        Some(at) if star + 1 + at + 2 < pattern.len() => {
            (&pattern[..star + 1 + at], Some(&pattern[star + 1 + at + 2..]))
        }
        _ => (pattern, None),
    };
    let mut key = Vec::with_capacity(key_part.len() + element.len());
    key.extend_from_slice(&key_part[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&key_part[star + 1..]);
    let now = ctx.now_ms;
    at_shard(ctx, &key, |shard| match (shard.get(&key, now)?.value(), field) {
        (Value::Str(s), None) => Some(s.to_bytes()),
        (Value::Hash(h), Some(f)) => h.get(f).cloned(),
        _ => None,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A weight as Redis reads it with `strtod`: leading spaces allowed, the
/// whole rest must be a number; NaN and out-of-range values are refused.
fn weight(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if s.is_empty() {
        // strtod reads nothing and stops at the end: Redis takes 0.
        return Some(0.0);
    }
    let v: f64 = s.parse().ok()?;
    let textual_inf = s.trim_start_matches(['+', '-']).to_ascii_lowercase().starts_with("inf");
    if v.is_nan() || (v.is_infinite() && !textual_inf) {
        return None;
    }
    Some(v)
}

/// One element being sorted, with what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    by: Option<Bytes>,
}

fn sort_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], readonly: bool) -> CmdResult {
    let mut o = parse(args, readonly, ctx.shared.cluster_enabled())?;
    let key = args[1];
    let now = ctx.now_ms;

    // The elements, in the value's own order.
    enum Kind {
        List,
        Set,
        ZSet,
    }
    let (kind, elements): (Kind, Vec<Bytes>) = match ctx.shard(key).get_read(key, now).map(|e| e.value()) {
        None => (Kind::List, Vec::new()),
        Some(Value::List(l)) => (Kind::List, l.iter().cloned().collect()),
        Some(Value::Set(s)) => (Kind::Set, s.iter().cloned().collect()),
        Some(Value::ZSet(z)) => (Kind::ZSet, z.iter().map(|(m, _)| m.clone()).collect()),
        Some(_) => return Err(CmdError::WrongType),
    };

    // A set has no order of its own: stored, it is sorted (as Redis does,
    // so that replicas and scripts see the same result).
    if o.dont_sort && matches!(kind, Kind::Set) && o.store.is_some() {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }

    // LIMIT, clamped as Redis clamps it.
    let len = elements.len() as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    let mut items: Vec<Item> = if o.dont_sort && !matches!(kind, Kind::Set) {
        // The native order (reversed for DESC), only the range asked for.
        let picked: Vec<Bytes> = if end >= start {
            let (s, e) = (start as usize, end as usize);
            if o.desc {
                elements.iter().rev().skip(s).take(e - s + 1).cloned().collect()
            } else {
                elements[s..=e].to_vec()
            }
        } else {
            Vec::new()
        };
        end -= start;
        start = 0;
        picked.into_iter().map(|element| Item { element, score: 0.0, by: None }).collect()
    } else {
        elements.into_iter().map(|element| Item { element, score: 0.0, by: None }).collect()
    };

    let mut conversion_error = false;
    if !o.dont_sort {
        for item in &mut items {
            let by = match o.by {
                Some(p) => match lookup(ctx, p, &item.element) {
                    Some(v) => v,
                    None => continue,
                },
                None => item.element.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.by = Some(by);
                }
            } else {
                match weight(&by) {
                    Some(w) => item.score = w,
                    None => conversion_error = true,
                }
            }
        }
        let (alpha, by_pattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let cmp = if !alpha {
                a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.element.cmp(&b.element))
            } else if by_pattern {
                match (&a.by, &b.by) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else {
                a.element.cmp(&b.element)
            };
            if desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
    }

    if conversion_error {
        return Err(CmdError::other("ERR One or more scores can't be converted into double"));
    }
    let range: &[Item] = if end >= start { &items[start as usize..=end as usize] } else { &[] };

    let Some(dest) = o.store else {
        let mut out = Vec::with_capacity(range.len() * o.gets.len().max(1));
        for item in range {
            if o.gets.is_empty() {
                out.push(Reply::Bulk(item.element.clone()));
            }
            for p in &o.gets {
                out.push(lookup(ctx, p, &item.element).map_or(Reply::Null, Reply::Bulk));
            }
        }
        return Ok(Reply::Array(out));
    };

    let mut list = ListValue::new();
    for item in range {
        if o.gets.is_empty() {
            list.push_back_owned(item.element.clone());
        }
        for p in &o.gets {
            list.push_back_owned(lookup(ctx, p, &item.element).unwrap_or_default());
        }
    }
    let stored = list.len();
    let shard = ctx.shard(dest);
    if stored > 0 {
        shard.set(dest, Value::List(Box::new(list)), 0, now);
    } else {
        shard.remove(dest, now);
    }
    Ok(Reply::Integer(stored as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, Node};

    fn bulks(v: &[&str]) -> Reply {
        Reply::Array(v.iter().map(|s| bulk(s)).collect())
    }

    fn a(v: &[&'static str]) -> Vec<&'static [u8]> {
        v.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn the_store_key_is_found_as_redis_finds_it() {
        assert_eq!(store_index(&a(&["sort", "k"])), None);
        assert_eq!(store_index(&a(&["sort", "k", "STORE", "d"])), Some(3));
        assert_eq!(store_index(&a(&["sort", "k", "store", "a", "LIMIT", "0", "1", "store", "b"])), Some(8));
        assert_eq!(store_index(&a(&["sort", "k", "GET", "store", "BY", "x"])), None, "option arguments are skipped");
        assert_eq!(store_index(&a(&["sort", "k", "STORE", "GET", "STORE", "d"])), Some(5), "the key written");
        let args = a(&["sort", "k", "by", "x", "store", "d"]);
        let keys: Vec<_> = Keys::Sort { store: true }.of(&args).collect();
        assert_eq!(keys, [&b"k"[..], b"d"]);
        let args = a(&["sort_ro", "k", "store", "d"]);
        let keys: Vec<_> = Keys::Sort { store: false }.of(&args).collect();
        assert_eq!(keys, [&b"k"[..]]);
        assert!(reads_other_keys(&a(&["sort", "k", "BY", "w_*"])));
        assert!(!reads_other_keys(&a(&["sort", "k", "BY", "nosort", "GET", "#"])));
        assert!(reads_other_keys(&a(&["sort", "k", "GET", "#", "GET", "h_*->f"])));
        // STORE takes "GET" as its destination here, so BY's pattern is real.
        assert!(reads_other_keys(&a(&["sort", "k", "STORE", "GET", "BY", "w_*"])));
    }

    #[test]
    fn pattern_slots_follow_the_hash_tag() {
        assert_eq!(pattern_slot(b"w_*"), None);
        assert_eq!(pattern_slot(b"{t}w_*"), Some(slot(b"t")));
        assert_eq!(pattern_slot(b"w_{t}_*->f"), Some(slot(b"t")));
        assert_eq!(pattern_slot(b"{}w_*"), None);
        assert_eq!(pattern_slot(b"plain"), Some(slot(b"plain")));
    }

    #[test]
    fn weights_read_like_strtod() {
        assert_eq!(weight(b"1.5"), Some(1.5));
        assert_eq!(weight(b"  -2"), Some(-2.0));
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(weight(b"1e400"), None);
        assert_eq!(weight(b"nan"), None);
        assert_eq!(weight(b"1x"), None);
    }

    #[test]
    fn sorts_by_weights_and_gets_fields() {
        let mut n = Node::new();
        n.run(&["rpush", "l", "3", "1", "2"]);
        assert_eq!(n.run(&["sort", "l"]), bulks(&["1", "2", "3"]));
        for (id, w) in [("1", "30"), ("2", "10"), ("3", "20")] {
            n.run(&["set", &format!("w_{id}"), w]);
            n.run(&["hset", &format!("h_{id}"), "name", &format!("n{id}")]);
        }
        assert_eq!(
            n.run(&["sort", "l", "by", "w_*", "get", "#", "get", "h_*->name"]),
            bulks(&["2", "n2", "3", "n3", "1", "n1"])
        );
        assert_eq!(n.run(&["sort", "l", "by", "nosort", "desc"]), bulks(&["2", "1", "3"]));
        assert_eq!(n.run(&["sort", "l", "limit", "1", "1"]), bulks(&["2"]));
        n.run(&["rpush", "bad", "a"]);
        assert_eq!(
            n.run(&["sort", "bad"]),
            Reply::error_static("ERR One or more scores can't be converted into double")
        );
        assert_eq!(n.run(&["sort", "bad", "alpha"]), bulks(&["a"]));
        assert_eq!(n.run(&["sort", "l", "store", "dst"]), Reply::Integer(3));
        assert_eq!(n.run(&["lrange", "dst", "0", "-1"]), bulks(&["1", "2", "3"]));
        assert_eq!(n.run(&["sort", "nosuch", "store", "dst"]), Reply::Integer(0));
        assert_eq!(n.run(&["exists", "dst"]), Reply::Integer(0));
        assert_eq!(n.run(&["sort_ro", "l", "store", "dst"]), Reply::error_static("ERR syntax error"));
        n.run(&["set", "s", "x"]);
        assert!(matches!(n.run(&["sort", "s"]), Reply::Error(_)));
        // Options spelled so that STORE swallows an option name.
        assert_eq!(n.run(&["sort", "l", "store", "get", "by", "w_*"]), Reply::Integer(3));
        assert_eq!(n.run(&["lrange", "get", "0", "-1"]), bulks(&["2", "3", "1"]));
        assert_eq!(n.run(&["sort", "l", "store", "get", "store", "d2"]), Reply::Integer(3));
        assert_eq!(n.run(&["lrange", "d2", "0", "-1"]), bulks(&["1", "2", "3"]));
    }
}
