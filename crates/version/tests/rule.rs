//! Property tests of the version rule: the merge is a join (commutative,
//! associative, idempotent), it agrees with `compare`, a dominating version
//! always wins, owners that see the same writes in any order converge, and
//! the codec round-trips and refuses garbage without panicking.

use proptest::prelude::*;
use ringcache_version::{NodeTag, Order, Version, PRUNE_MS_DEFAULT};

/// One step of a random history over a few nodes.
#[derive(Debug, Clone)]
enum Step {
    /// Node `node` writes on top of version `on` at wall time `wall_ms`.
    Write { on: usize, node: u32, wall_ms: u64 },
    /// Two versions meet (a replica receives another's).
    Merge { a: usize, b: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (any::<usize>(), 1u32..6, 0u64..5_000).prop_map(|(on, node, wall_ms)| Step::Write { on, node, wall_ms }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Step::Merge { a, b }),
    ]
}

fn tag(n: u32) -> NodeTag {
    NodeTag::new(n).expect("valid tag")
}

/// Every version a random history makes, each one reachable by real
/// operations. Clocks may run backwards between writes (skew).
fn history(steps: &[Step]) -> Vec<Version> {
    let mut vs = vec![Version::first(tag(1), 100)];
    for s in steps {
        let v = match *s {
            Step::Write { on, node, wall_ms } => vs[on % vs.len()].next(tag(node), wall_ms, PRUNE_MS_DEFAULT),
            Step::Merge { a, b } => vs[a % vs.len()].merge(&vs[b % vs.len()]),
        };
        vs.push(v);
    }
    vs
}

fn versions() -> impl Strategy<Value = Vec<Version>> {
    prop::collection::vec(step(), 0..40).prop_map(|s| history(&s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn merge_is_a_join(vs in versions(), i in any::<usize>(), j in any::<usize>(), k in any::<usize>()) {
        let (a, b, c) = (&vs[i % vs.len()], &vs[j % vs.len()], &vs[k % vs.len()]);
        prop_assert_eq!(a.merge(b), b.merge(a));
        prop_assert_eq!(a.merge(&b.merge(c)), a.merge(b).merge(c));
        prop_assert_eq!(a.merge(a), a.clone());
    }

    #[test]
    fn merge_agrees_with_compare(vs in versions(), i in any::<usize>(), j in any::<usize>()) {
        let (a, b) = (&vs[i % vs.len()], &vs[j % vs.len()]);
        let m = a.merge(b);
        match a.compare(b) {
            Order::Equal => prop_assert_eq!(a, b),
            Order::After => {
                prop_assert_eq!(&m, a);
                // The same write with more history merged in has the same stamp.
                prop_assert!(a.stamp() >= b.stamp(), "a dominating version never has the smaller stamp");
            }
            Order::Before => {
                prop_assert_eq!(&m, b);
                prop_assert!(b.stamp() >= a.stamp());
            }
            Order::Concurrent => {
                prop_assert_eq!(m.compare(a), Order::After);
                prop_assert_eq!(m.compare(b), Order::After);
            }
        }
        prop_assert_eq!(m.stamp(), a.stamp().max(b.stamp()));
        prop_assert_eq!(b.compare(a), match a.compare(b) {
            Order::Before => Order::After,
            Order::After => Order::Before,
            o => o,
        });
    }

    #[test]
    fn a_write_dominates_what_it_was_made_on(vs in versions(), i in any::<usize>(), node in 1u32..6, wall in 0u64..10_000) {
        let a = &vs[i % vs.len()];
        let b = a.next(tag(node), wall, PRUNE_MS_DEFAULT);
        prop_assert_eq!(b.compare(a), Order::After);
        prop_assert!(b.stamp() >= a.stamp());
    }

    #[test]
    fn replicas_converge_whatever_the_order(vs in versions(), order in prop::collection::vec(any::<usize>(), 0..80)) {
        // One replica applies every version in history order, another in a
        // shuffled order with duplicates: the same result.
        let forward = vs.iter().skip(1).fold(vs[0].clone(), |acc, v| acc.merge(v));
        let shuffled = order.iter().chain(order.iter().take(5)).fold(vs[0].clone(), |acc, &i| acc.merge(&vs[i % vs.len()]));
        let rest = vs.iter().fold(shuffled, |acc, v| acc.merge(v));
        prop_assert_eq!(forward, rest);
    }

    #[test]
    fn codec_round_trips(vs in versions(), i in any::<usize>(), tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let v = &vs[i % vs.len()];
        let mut out = Vec::new();
        v.encode(&mut out);
        prop_assert_eq!(out.len(), v.encoded_len());
        out.extend_from_slice(&tail);
        prop_assert_eq!(Version::decode(&out), Ok((v.clone(), v.encoded_len())));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok((v, used)) = Version::decode(&bytes) {
            prop_assert!(used <= bytes.len());
            let mut again = Vec::new();
            v.encode(&mut again);
            prop_assert_eq!(&again[..], &bytes[..used]);
        }
    }
}
