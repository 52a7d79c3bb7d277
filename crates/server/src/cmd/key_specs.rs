//! COMMAND GETKEYS and GETKEYSANDFLAGS, as Redis 7.2 answers them: each
//! key of a command line with the flags of the key spec that found it.
//!
//! The key specs are Redis 7.2.6's own (`key_specs.txt`, generated from
//! its `src/commands/*.json`), read by Redis's algorithm
//! (`getKeysUsingKeySpecs`): a begin search (an index, or a keyword
//! searched forwards or backwards) then a find-keys step (a range, or a key
//! count). Where Redis does not trust its specs (a spec that is incomplete,
//! unknown, or has variable flags) it asks the command's own key function,
//! and so does this module, for the commands ringcache has of those: SET,
//! BITFIELD, SORT and SORT_RO. A command Redis does not have falls back to
//! ringcache's own key positions ([`Keys`]), with flags from its
//! read/write flag.
//!
//! The node routes and locks by [`Keys`], not by these specs: this module
//! only answers what Redis would answer about them.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;
use ringcache_resp::Reply;

use super::args::is;
use super::{flag, lookup, CmdError, CmdResult, CommandSpec, Ctx, Keys};

/// Where a spec's keys begin.
#[derive(Debug, Clone, PartialEq)]
enum Begin {
    Index(usize),
    /// After `keyword`, searched from `startfrom` on (backwards from the
    /// end when negative).
    Keyword(&'static str, i64),
    Unknown,
}

/// How a spec's keys run on from where they begin.
#[derive(Debug, Clone, PartialEq)]
enum Find {
    Range { lastkey: i64, step: usize, limit: i64 },
    Keynum { keynumidx: usize, firstkey: usize, step: usize },
    Unknown,
}

#[derive(Debug, Clone)]
struct Spec {
    flags: Vec<&'static str>,
    begin: Begin,
    find: Find,
}

impl Spec {
    fn has(&self, f: &str) -> bool {
        self.flags.contains(&f)
    }
}

struct Specs {
    by_name: HashMap<&'static str, Vec<Spec>>,
    no_mandatory_keys: Vec<&'static str>,
}

static SPECS: LazyLock<Specs> = LazyLock::new(|| parse(include_str!("key_specs.txt")));

fn parse(text: &'static str) -> Specs {
    let mut by_name = HashMap::new();
    let mut no_mandatory_keys = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut words = line.split(' ');
        let name = words.next().expect("a name");
        if name == "no-mandatory-keys" {
            no_mandatory_keys.extend(words);
            continue;
        }
        let specs = words.map(|w| parse_spec(w).unwrap_or_else(|| panic!("bad key spec {w:?} of {name}"))).collect();
        by_name.insert(name, specs);
    }
    Specs { by_name, no_mandatory_keys }
}

/// `flags/begin/find`, as key_specs.txt's header describes.
fn parse_spec(word: &'static str) -> Option<Spec> {
    let mut parts = word.split('/');
    let flags = parts.next()?.split(',').collect();
    let (begin, find) = (parts.next()?, parts.next()?);
    let nums = |s: &str| s.split(',').map(|n| n.parse::<i64>()).collect::<Result<Vec<_>, _>>().ok();
    let begin = match begin.split_at(1) {
        ("i", pos) => Begin::Index(pos.parse().ok()?),
        ("k", rest) => {
            let (keyword, from) = rest.rsplit_once(',')?;
            Begin::Keyword(keyword, from.parse().ok()?)
        }
        ("u", "") => Begin::Unknown,
        _ => return None,
    };
    let find = match find.split_at(1) {
        ("r", rest) => match nums(rest)?[..] {
            [lastkey, step, limit] => Find::Range { lastkey, step: usize::try_from(step).ok()?, limit },
            _ => return None,
        },
        ("n", rest) => match nums(rest)?[..] {
            [idx, first, step] => Find::Keynum {
                keynumidx: usize::try_from(idx).ok()?,
                firstkey: usize::try_from(first).ok()?,
                step: usize::try_from(step).ok()?,
            },
            _ => return None,
        },
        ("u", "") => Find::Unknown,
        _ => return None,
    };
    Some(Spec { flags, begin, find })
}

/// COMMAND INFO's key specs of command `name` as Redis 7.2 replies them
/// (`addReplyCommandKeySpecs`): notes, flags in Redis's order, begin
/// search, find keys. `None` for a command Redis has no specs of.
pub(super) fn info_reply(name: &str) -> Option<Reply> {
    const FLAG_ORDER: [&str; 11] =
        ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key", "incomplete", "variable_flags"];
    let specs = SPECS.by_name.get(name)?;
    let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
    let int = |n: i64| Reply::Integer(n);
    let typed = |t: &'static str, spec: Vec<(Reply, Reply)>| {
        Reply::Map(vec![kv("type", Reply::bulk(t)), kv("spec", Reply::Map(spec))])
    };
    let entries = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut fields = Vec::with_capacity(4);
            if let Some(notes) = super::docs::key_notes(name, i) {
                fields.push(kv("notes", Reply::bulk(notes)));
            }
            let flags = FLAG_ORDER.iter().filter(|f| spec.has(f)).map(|f| Reply::simple(f)).collect();
            fields.push(kv("flags", Reply::Set(flags)));
            let begin = match spec.begin {
                Begin::Index(pos) => typed("index", vec![kv("index", int(pos as i64))]),
                Begin::Keyword(keyword, startfrom) => {
                    typed("keyword", vec![kv("keyword", Reply::bulk(keyword)), kv("startfrom", int(startfrom))])
                }
                Begin::Unknown => typed("unknown", Vec::new()),
            };
            fields.push(kv("begin_search", begin));
            let find = match spec.find {
                Find::Range { lastkey, step, limit } => typed(
                    "range",
                    vec![kv("lastkey", int(lastkey)), kv("keystep", int(step as i64)), kv("limit", int(limit))],
                ),
                Find::Keynum { keynumidx, firstkey, step } => typed(
                    "keynum",
                    vec![
                        kv("keynumidx", int(keynumidx as i64)),
                        kv("firstkey", int(firstkey as i64)),
                        kv("keystep", int(step as i64)),
                    ],
                ),
                Find::Unknown => typed("unknown", Vec::new()),
            };
            fields.push(kv("find_keys", find));
            Reply::Map(fields)
        })
        .collect();
    Some(Reply::Set(entries))
}

/// COMMAND INFO's legacy key range of command `name` (first, last, step)
/// and whether it flags it `movablekeys`, as Redis's
/// `populateCommandLegacyRangeSpec` derives them from the key specs: one
/// index-and-range spec is the range; otherwise the consecutive plain
/// (step 1) ones are merged, and any other spec, a gap or an incomplete
/// spec makes the keys movable. `None` for a command Redis has no specs
/// of.
pub(super) fn legacy_range(name: &str) -> Option<(i64, i64, i64, bool)> {
    let specs = SPECS.by_name.get(name)?;
    let absolute = |pos: i64, lastkey: i64| if lastkey >= 0 { lastkey + pos } else { lastkey };
    if let [only] = &specs[..] {
        if let (Begin::Index(pos), Find::Range { lastkey, step, .. }) = (&only.begin, &only.find) {
            let pos = *pos as i64;
            return Some((pos, absolute(pos, *lastkey), *step as i64, only.has("incomplete")));
        }
    }
    let (mut movable, mut first, mut last, mut prev_lastkey) = (false, i64::MAX, 0i64, 0i64);
    for spec in specs {
        let (Begin::Index(pos), Find::Range { lastkey, step, .. }) = (&spec.begin, &spec.find) else {
            movable = true;
            continue;
        };
        let pos = *pos as i64;
        if *step != 1 || (prev_lastkey != 0 && prev_lastkey != pos - 1) {
            movable = true;
            continue;
        }
        movable |= spec.has("incomplete");
        first = first.min(pos);
        // Redis compares as unsigned ints: a lastkey from the end wins.
        let abs = absolute(pos, *lastkey);
        last = i64::from((last as i32 as u32).max(abs as i32 as u32) as i32);
        prev_lastkey = last;
    }
    if first == i64::MAX {
        return Some((0, 0, 0, true));
    }
    Some((first, last, 1, movable))
}

/// A key found: its position in the command line, and its flags.
type Found = (usize, Vec<&'static str>);

/// Redis's `getKeysUsingKeySpecs` without partial results: `None` where a
/// spec cannot be followed (unknown, incomplete, or out of the arguments).
fn from_specs(specs: &[Spec], args: &[&[u8]]) -> Option<Vec<Found>> {
    let argc = args.len() as i64;
    let mut out = Vec::new();
    for spec in specs.iter().filter(|s| !s.has("not_key")) {
        let first = match spec.begin {
            Begin::Index(pos) => pos as i64,
            Begin::Keyword(keyword, from) => {
                // As Redis searches: never the last argument forwards, nor
                // the first one backwards.
                let found = if from > 0 {
                    (from..argc - 1).find(|&i| is(args[i as usize], keyword))
                } else {
                    (2..=(argc + from).min(argc - 1)).rev().find(|&i| is(args[i as usize], keyword))
                };
                match found {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
            Begin::Unknown => return None,
        };
        let (first, last, step) = match spec.find {
            Find::Range { lastkey, step, limit } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, step)
            }
            Find::Keynum { keynumidx, firstkey, step } => {
                let at = usize::try_from(first).ok()? + keynumidx;
                let numkeys: i64 = std::str::from_utf8(args.get(at)?).ok()?.parse().ok().filter(|n| *n >= 0)?;
                let first = first + firstkey as i64;
                (first, first + numkeys - 1, step)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        out.extend((first..=last).step_by(step.max(1)).map(|i| (i as usize, spec.flags.clone())));
        if spec.has("incomplete") {
            return None;
        }
    }
    Some(out)
}

/// The key functions of the commands whose specs Redis does not trust.
fn from_key_function(name: &str, args: &[&[u8]]) -> Option<Vec<Found>> {
    match name {
        "set" => {
            let get = args.iter().skip(3).any(|a| is(a, "GET"));
            Some(vec![(1, if get { vec!["RW", "access", "update"] } else { vec!["OW", "update"] })])
        }
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < args.len() {
                let rest = args.len() - i - 1;
                if is(args[i], "GET") && rest >= 2 {
                    i += 2;
                } else if is(args[i], "OVERFLOW") && rest >= 1 {
                    i += 1;
                } else {
                    // SET, INCRBY, or a syntax error: assume a write.
                    readonly = false;
                    break;
                }
                i += 1;
            }
            Some(vec![(1, if readonly { vec!["RO", "access"] } else { vec!["RW", "access", "update"] })])
        }
        "sort_ro" => Some(vec![(1, vec!["RO", "access"])]),
        "sort" => {
            let mut out = vec![(1, vec!["RO", "access"])];
            let mut store = None;
            let mut i = 2;
            while i < args.len() {
                if is(args[i], "LIMIT") {
                    i += 2;
                } else if is(args[i], "GET") || is(args[i], "BY") {
                    i += 1;
                } else if is(args[i], "STORE") && i + 1 < args.len() {
                    // The last STORE wins, as in SORT itself.
                    store = Some(i + 1);
                }
                i += 1;
            }
            out.extend(store.map(|at| (at, vec!["OW", "update"])));
            Some(out)
        }
        _ => None,
    }
}

/// A command Redis does not have: ringcache's own key positions.
fn from_own_keys(spec: &CommandSpec, args: &[&[u8]]) -> Vec<Found> {
    let flags = if spec.has(flag::WRITE) { vec!["RW", "access", "update"] } else { vec!["RO", "access"] };
    spec.keys
        .of(args)
        .filter_map(|k| args.iter().position(|a| std::ptr::eq(a.as_ptr(), k.as_ptr())))
        .map(|at| (at, flags.clone()))
        .collect()
}

/// `COMMAND GETKEYS` (`with_flags` false) and `GETKEYSANDFLAGS`: Redis's
/// `getKeysSubcommandImpl`.
fn getkeys(args: &[&[u8]], with_flags: bool) -> CmdResult {
    let line = &args[2..];
    let Some(spec) = lookup(line[0]) else {
        return Err(CmdError::other("ERR Invalid command specified"));
    };
    // A container's subcommand is looked up with it, as Redis's
    // `lookupCommand` does, and has specs and an arity of its own (MEMORY
    // USAGE, XGROUP CREATE ...).
    let subs = super::stat_names().subcommands_at(super::TABLE.position(spec));
    let sub = match line.get(1) {
        Some(arg) if !subs.is_empty() => match subs.iter().find(|s| is(arg, s.short())) {
            Some(sub) => Some(sub),
            None => return Err(CmdError::other("ERR Invalid command specified")),
        },
        _ => None,
    };
    let (name, arity) = sub.map_or((spec.name, spec.arity), |s| (s.name, s.arity));
    let (name, specs) = match SPECS.by_name.get_key_value(name) {
        Some((name, specs)) => (*name, Some(specs)),
        None => (name, None),
    };
    let has_keys = match specs {
        Some(specs) => specs.iter().any(|s| !s.has("not_key")),
        // A command Redis has without specs has no keys (a container
        // called alone), whatever ringcache routes it by.
        None => sub.is_none() && !super::docs::is_redis(name) && !matches!(spec.keys, Keys::None | Keys::All),
    };
    if !has_keys {
        return Err(CmdError::other("ERR The command has no key arguments"));
    }
    let argc = line.len() as i32;
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err(CmdError::other("ERR Invalid number of arguments specified for command"));
    }
    let found = match specs {
        Some(specs) => {
            let trusted = !specs.iter().any(|s| s.has("variable_flags"));
            trusted.then(|| from_specs(specs, line)).flatten().or_else(|| from_key_function(name, line))
        }
        None => Some(from_own_keys(spec, line)),
    }
    .unwrap_or_default();
    if found.is_empty() {
        if SPECS.no_mandatory_keys.contains(&name) {
            return Ok(Reply::Array(Vec::new()));
        }
        return Err(CmdError::other("ERR Invalid arguments specified for command"));
    }
    let key = |at: usize| Reply::Bulk(Bytes::copy_from_slice(line[at]));
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|(at, flags)| {
                if with_flags {
                    Reply::Array(vec![key(at), Reply::Set(flags.into_iter().map(Reply::simple).collect())])
                } else {
                    key(at)
                }
            })
            .collect(),
    ))
}

pub(super) fn command_getkeys(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    getkeys(args, false)
}

pub(super) fn command_getkeysandflags(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    getkeys(args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(line: &[&str], with_flags: bool) -> Result<Vec<String>, String> {
        let mut args: Vec<&[u8]> = vec![b"command", b"getkeys"];
        args.extend(line.iter().map(|a| a.as_bytes()));
        match getkeys(&args, with_flags) {
            Ok(Reply::Array(items)) => Ok(items
                .iter()
                .map(|i| match i {
                    Reply::Bulk(k) => String::from_utf8_lossy(k).into_owned(),
                    Reply::Array(kf) => match (&kf[0], &kf[1]) {
                        (Reply::Bulk(k), Reply::Set(f)) => {
                            let f: Vec<String> = f
                                .iter()
                                .map(|f| match f {
                                    Reply::Simple(s) => String::from_utf8_lossy(s).into_owned(),
                                    other => panic!("{other:?}"),
                                })
                                .collect();
                            format!("{} {}", String::from_utf8_lossy(k), f.join(" "))
                        }
                        other => panic!("{other:?}"),
                    },
                    other => panic!("{other:?}"),
                })
                .collect()),
            Ok(other) => panic!("{other:?}"),
            Err(e) => match Reply::from(e) {
                Reply::Error(text) => Err(String::from_utf8_lossy(&text).into_owned()),
                other => panic!("{other:?}"),
            },
        }
    }

    #[test]
    fn a_containers_subcommand_is_looked_up() {
        assert_eq!(keys(&["object", "encoding", "k"], false).unwrap(), ["k"]);
        assert_eq!(keys(&["OBJECT", "nosuch", "k"], false).unwrap_err(), "ERR Invalid command specified");
        assert_eq!(keys(&["object", "help"], false).unwrap_err(), "ERR The command has no key arguments");
        assert_eq!(keys(&["object"], false).unwrap_err(), "ERR The command has no key arguments");
        assert_eq!(keys(&["config", "get", "x"], false).unwrap_err(), "ERR The command has no key arguments");
        assert_eq!(
            keys(&["xgroup", "destroy", "s"], false).unwrap_err(),
            "ERR Invalid number of arguments specified for command"
        );
    }

    #[test]
    fn every_spec_of_the_table_parses() {
        assert!(SPECS.by_name.len() > 150);
        assert!(SPECS.no_mandatory_keys.contains(&"eval"));
        assert_eq!(SPECS.by_name["lmove"].len(), 2);
    }

    #[test]
    fn flags_are_those_of_redis_s_tests() {
        // Redis's unit/introspection-2 "COMMAND GETKEYSANDFLAGS".
        assert_eq!(keys(&["set", "k1", "v1"], true).unwrap(), ["k1 OW update"]);
        assert_eq!(keys(&["set", "k1", "v1", "GET"], true).unwrap(), ["k1 RW access update"]);
        assert_eq!(keys(&["mset", "k1", "v1", "k2", "v2"], true).unwrap(), ["k1 OW update", "k2 OW update"]);
        assert_eq!(
            keys(&["LMOVE", "k1", "k2", "left", "right"], true).unwrap(),
            ["k1 RW access delete", "k2 RW insert"]
        );
        assert_eq!(keys(&["sort", "k1", "store", "k2"], true).unwrap(), ["k1 RO access", "k2 OW update"]);
        assert_eq!(keys(&["bitfield", "k", "GET", "u8", "0"], true).unwrap(), ["k RO access"]);
        assert_eq!(keys(&["bitfield", "k", "SET", "u8", "0", "1"], true).unwrap(), ["k RW access update"]);
    }

    #[test]
    fn keys_are_found_by_index_keyword_and_count() {
        assert_eq!(keys(&["memory", "usage", "key"], false).unwrap(), ["key"]);
        assert_eq!(keys(&["xgroup", "create", "key", "g", "$"], false).unwrap(), ["key"]);
        assert_eq!(keys(&["eval", "return 1", "1", "key"], false).unwrap(), ["key"]);
        assert_eq!(keys(&["eval", "return 1", "0"], false).unwrap(), Vec::<String>::new());
        assert_eq!(keys(&["lcs", "key1", "key2"], false).unwrap(), ["key1", "key2"]);
        assert_eq!(
            keys(&["zunionstore", "d", "2", "a", "b"], true).unwrap(),
            ["d OW update", "a RO access", "b RO access"]
        );
        assert_eq!(keys(&["xread", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"], false).unwrap(), ["s1", "s2"]);
        assert_eq!(
            keys(&["georadius", "src", "0", "0", "1", "km", "STORE", "dst"], true).unwrap(),
            ["src RO access", "dst OW update"]
        );
    }

    #[test]
    fn movable_keys_as_redis_derives_them() {
        let movable_keys = |name| legacy_range(name).map(|(_, _, _, movable)| movable);
        for name in ["eval", "sort", "sort_ro", "migrate", "zunionstore", "xread", "georadius", "lmpop"] {
            assert_eq!(movable_keys(name), Some(true), "{name}");
        }
        for name in ["get", "set", "mset", "lmove", "rename", "del", "bitop", "smove"] {
            assert_eq!(movable_keys(name), Some(false), "{name}");
        }
        assert_eq!(movable_keys("no-such-command"), None);
        // Legacy ranges, as Redis 7.2 gives them.
        assert_eq!(legacy_range("mset"), Some((1, -1, 2, false)));
        assert_eq!(legacy_range("copy"), Some((1, 2, 1, false)));
        assert_eq!(legacy_range("spublish"), Some((1, 1, 1, false)));
        assert_eq!(legacy_range("zunionstore"), Some((1, 1, 1, true)));
        assert_eq!(legacy_range("xread"), Some((0, 0, 0, true)));
    }

    #[test]
    fn refusals_are_redis_s() {
        assert_eq!(keys(&["nosuch", "k"], false).unwrap_err(), "ERR Invalid command specified");
        assert_eq!(keys(&["ping"], false).unwrap_err(), "ERR The command has no key arguments");
        assert_eq!(keys(&["get"], false).unwrap_err(), "ERR Invalid number of arguments specified for command");
        assert_eq!(
            keys(&["zunionstore", "d", "x", "a"], false).unwrap_err(),
            "ERR Invalid arguments specified for command"
        );
        assert_eq!(keys(&["spublish", "ch", "msg"], false).unwrap_err(), "ERR The command has no key arguments");
    }
}
