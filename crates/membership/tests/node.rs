//! One node's doors, and the changes a node makes to itself as the rest of
//! a small simulated cluster sees them: a new address under the same node
//! id, new metadata, a restart (new generation), a graceful leave.

use ringcache_membership::sim::SimCluster;
use ringcache_membership::{
    Config, Error, Event, Identity, MemberState, Membership, NodeId, NodeMeta, Output, Phase, Refusal,
};

fn identity(name: &str) -> Identity {
    Identity {
        node_id: NodeId::new(name),
        generation: 1,
        revision: 0,
        addr: "10.0.0.1:7000".parse().unwrap(),
        meta: NodeMeta::default(),
    }
}

fn three() -> (SimCluster, Vec<NodeId>) {
    let mut sim = SimCluster::new(42, Config::for_test());
    let a = sim.add("a", &[]);
    let b = sim.add("b", std::slice::from_ref(&a));
    let c = sim.add("c", std::slice::from_ref(&a));
    assert!(sim.run_until(10_000, 10, SimCluster::converged).is_some());
    (sim, vec![a, b, c])
}

fn events_about(sim: &SimCluster, observer: &NodeId, since_ms: u64) -> Vec<Event> {
    sim.seen().iter().filter(|s| s.at_ms >= since_ms && s.observer == *observer).map(|s| s.event.clone()).collect()
}

#[test]
fn config_and_identity_are_checked() {
    assert!(Config::default().validate().is_ok());
    let bad = Config { probe_rtt_ms: 600, ..Config::default() };
    assert!(matches!(bad.validate(), Err(Error::InvalidConfig(_))));
    let bad = Config { message_len_max: 100, ..Config::default() };
    assert!(bad.validate().is_err());
    let mut id = identity("a");
    id.node_id = NodeId::new("x".repeat(256));
    assert!(matches!(Membership::new(id, Config::default(), 1), Err(Error::InvalidIdentity(_))));
    assert!(Membership::new(identity(""), Config::default(), 1).is_err());
}

#[test]
fn a_lone_node_is_a_cluster_of_one() {
    let mut m = Membership::new(identity("a"), Config::default(), 1).unwrap();
    let mut out = Output::new();
    m.join(&[], 0, &mut out);
    m.tick(60_000, &mut out);
    assert!(out.sends.is_empty());
    let v = m.view();
    assert_eq!(v.epoch(), 0);
    assert_eq!(v.members().len(), 1);
    assert_eq!(v.get(&NodeId::new("a")).unwrap().state, MemberState::Alive);
}

#[test]
fn a_message_must_come_from_the_node_it_names_and_fit_the_limit() {
    let mut b = Membership::new(identity("b"), Config::default(), 2).unwrap();
    let mut out = Output::new();
    b.join(&[(NodeId::new("a"), "10.0.0.9:7000".parse().unwrap())], 0, &mut out);
    let announce = out.sends[0].bytes.clone();
    let mut a = Membership::new(identity("a"), Config::default(), 1).unwrap();
    let mut out = Output::new();
    let spoofed = a.handle(&NodeId::new("mallory"), &announce, 1, &mut out);
    assert!(matches!(spoofed, Err(Refusal::WrongSender { .. })));
    assert!(out.sends.is_empty());
    let huge = vec![1u8; Config::default().message_len_max + 1];
    assert!(matches!(a.handle(&NodeId::new("b"), &huge, 1, &mut out), Err(Refusal::TooLong { .. })));
    assert_eq!(a.stats().refused_wrong_sender, 1);
    assert_eq!(a.stats().refused_too_long, 1);
    // The genuine one is answered with a feed, and b becomes a member.
    a.handle(&NodeId::new("b"), &announce, 2, &mut out).unwrap();
    assert_eq!(out.sends.len(), 1);
    assert_eq!(out.events, vec![Event::Up(NodeId::new("b"))]);
    assert_eq!(a.view().epoch(), 1);
}

#[test]
fn a_new_address_keeps_the_node_id() {
    let (mut sim, ids) = three();
    let t = sim.now_ms();
    let new_addr = "10.9.9.9:7100".parse().unwrap();
    sim.move_to(&ids[2], new_addr);
    assert!(sim.run_until(10_000, 10, SimCluster::converged).is_some());
    for id in &ids[..2] {
        let m = sim.view(id).get(&ids[2]).unwrap().clone();
        assert_eq!((m.addr, m.state, m.generation, m.revision), (new_addr, MemberState::Alive, 1, 1));
        assert!(events_about(&sim, id, t).contains(&Event::AddressChanged { node: ids[2].clone(), addr: new_addr }));
        assert!(!events_about(&sim, id, t).iter().any(|e| matches!(e, Event::Dead(_) | Event::Restarted { .. })));
    }
}

#[test]
fn phases_and_metadata_reach_every_node() {
    let (mut sim, ids) = three();
    let t = sim.now_ms();
    // Only forward: serving → joining is refused and changes nothing.
    let back = sim.act(&ids[1], |m, now, out| m.set_phase(Phase::Joining, now, out));
    assert!(matches!(back, Err(Error::PhaseChange { .. })));
    let meta = NodeMeta { client_port: 7379, phase: Phase::Serving };
    sim.act(&ids[1], |m, now, out| m.set_meta(meta, now, out)).unwrap();
    assert_eq!(sim.act(&ids[1], |m, now, out| m.set_meta(meta, now, out)), Err(Error::Unchanged));
    sim.act(&ids[1], |m, now, out| m.set_phase(Phase::Leaving, now, out)).unwrap();
    assert!(sim.run_until(10_000, 10, SimCluster::converged).is_some());
    let leaving = NodeMeta { client_port: 7379, phase: Phase::Leaving };
    for id in [&ids[0], &ids[2]] {
        let v = sim.view(id);
        let m = v.get(&ids[1]).unwrap();
        assert_eq!((m.meta, m.revision, m.state), (leaving, 2, MemberState::Alive));
        // A leaving node is still an owner until it has left.
        assert_eq!(v.owners().count(), 3);
        let events = events_about(&sim, id, t);
        assert!(events.contains(&Event::MetaChanged { node: ids[1].clone(), meta: leaving }), "{events:?}");
    }
}

#[test]
fn a_restart_is_a_new_generation() {
    let (mut sim, ids) = three();
    sim.crash(&ids[1]);
    assert!(sim.run_until(10_000, 10, |s| s.all_see(&ids[1], MemberState::Dead)).is_some());
    let t = sim.now_ms();
    sim.restart(&ids[1], &[ids[0].clone()]);
    assert!(sim.run_until(10_000, 10, SimCluster::converged).is_some());
    for id in [&ids[0], &ids[2]] {
        let m = sim.view(id).get(&ids[1]).unwrap().clone();
        assert_eq!((m.state, m.generation, m.revision), (MemberState::Alive, 2, 0));
        let events = events_about(&sim, id, t);
        assert!(events.contains(&Event::Restarted { node: ids[1].clone(), generation: 2 }), "{events:?}");
        assert!(events.contains(&Event::Up(ids[1].clone())));
    }
}

#[test]
fn a_graceful_leave_is_left_not_dead() {
    let (mut sim, ids) = three();
    let t = sim.now_ms();
    sim.leave(&ids[2]);
    assert_eq!(sim.view(&ids[2]).get(&ids[2]).unwrap().state, MemberState::Left);
    assert!(!sim.node(&ids[2]).membership.has_left());
    sim.run_for(Config::for_test().leave_linger_ms + 10);
    assert!(sim.node(&ids[2]).membership.has_left());
    // Long after it went quiet, it is still left, never dead.
    sim.run_for(30_000);
    for id in &ids[..2] {
        assert_eq!(sim.view(id).get(&ids[2]).unwrap().state, MemberState::Left);
        let events = events_about(&sim, id, t);
        assert!(events.contains(&Event::Left(ids[2].clone())));
        assert!(!events.contains(&Event::Dead(ids[2].clone())));
    }
    assert!(sim.converged());
}

#[test]
fn epochs_count_changes_and_digests_agree() {
    let (sim, ids) = three();
    let views: Vec<_> = ids.iter().map(|id| sim.view(id).clone()).collect();
    assert!(views.iter().all(|v| v.digest() == views[0].digest()));
    for v in &views {
        assert_eq!(v.live().count(), 3);
        assert_eq!(v.owners().count(), 3);
        assert!(v.epoch() >= 1);
    }
    let published = sim.node(&ids[0]).membership.stats().views_published;
    assert_eq!(published, views[0].epoch());
}

#[test]
fn a_dead_member_can_be_forgotten_until_it_comes_back() {
    let (mut sim, ids) = three();
    let (a, b, c) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    assert!(matches!(sim.node(&a).membership.view().get(&c).map(|m| m.state), Some(MemberState::Alive)));
    let refused = sim.act(&a, |m, now, out| m.forget(&c, now, out));
    assert_eq!(refused, Err(Error::ForgetLive(c.clone())), "a live member stays");
    assert_eq!(sim.act(&a, |m, now, out| m.forget(&a.clone(), now, out)), Err(Error::ForgetSelf));
    let nobody = NodeId::new("nobody");
    assert_eq!(sim.act(&a, |m, now, out| m.forget(&nobody, now, out)), Err(Error::UnknownNode(nobody.clone())));

    sim.crash(&c);
    assert!(sim.run_until(10_000, 10, |s| s.all_see(&c, MemberState::Dead)).is_some());
    sim.act(&a, |m, now, out| m.forget(&c, now, out)).expect("dead: forgettable");
    assert!(sim.view(&a).get(&c).is_none(), "gone from a's view");
    assert!(sim.view(&b).get(&c).is_some(), "forgetting is local");
    // Gossip about the old identity does not bring it back.
    sim.run_for(15_000);
    assert!(sim.view(&a).get(&c).is_none(), "a stale rumour brought it back");

    // It restarts: a newer generation is a member again.
    sim.restart(&c, std::slice::from_ref(&b));
    assert!(sim.run_until(10_000, 10, |s| s.view(&a).get(&c).is_some_and(|m| m.state == MemberState::Alive)).is_some());
}
