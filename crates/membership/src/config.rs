//! [`Config`]: the failure detector's thresholds and the gossip limits.
//!
//! Defaults are for a LAN cluster behind the TCP transport and were chosen
//! by the simulation figures in `docs/membership.md`: a dead node is
//! declared dead by every other node within 5 s, and 20 % message loss
//! for a minute declares no live node dead.

use std::num::{NonZeroU8, NonZeroUsize};
use std::time::Duration;

use crate::error::{Error, Result};

/// One node's membership settings. Every node of a cluster should use the
/// same values (they are not negotiated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How often this node probes one member (SWIM's protocol period).
    pub probe_interval_ms: u64,
    /// How long a direct probe waits for its ack before asking others to
    /// probe indirectly. Below `probe_interval_ms`.
    pub probe_rtt_ms: u64,
    /// How many members are asked to probe indirectly.
    pub indirect_probes: usize,
    /// How long a suspect has to refute the suspicion before it is
    /// declared dead.
    pub suspect_timeout_ms: u64,
    /// How often this node sends its pending updates to `gossip_fanout`
    /// random members, besides what rides on probes.
    pub gossip_interval_ms: u64,
    pub gossip_fanout: usize,
    /// How many times one update is sent before it is dropped from the
    /// backlog.
    pub transmissions_max: u8,
    /// Largest gossip message produced and accepted, in bytes. A join's
    /// feed carries as many members as fit (about 45 bytes each).
    pub message_len_max: usize,
    /// How often this node asks one random member for its member list
    /// (finds members a join's feed did not carry).
    pub announce_interval_ms: u64,
    /// How often this node announces itself to a member it holds dead (how
    /// a healed partition finds its other side).
    pub announce_dead_interval_ms: u64,
    /// While not connected (joining, or just after changing its own
    /// identity), how often to announce again to seeds or known members.
    pub join_retry_ms: u64,
    /// How long a leaving node keeps gossiping its `Left` identity before
    /// it goes quiet.
    pub leave_linger_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            probe_interval_ms: 500,
            probe_rtt_ms: 200,
            indirect_probes: 5,
            suspect_timeout_ms: 2_000,
            gossip_interval_ms: 100,
            gossip_fanout: 3,
            transmissions_max: 10,
            message_len_max: 8 * 1024,
            announce_interval_ms: 10_000,
            announce_dead_interval_ms: 5_000,
            join_retry_ms: 1_000,
            leave_linger_ms: 1_000,
        }
    }
}

impl Config {
    /// The defaults; tests use them as they are, since the simulated clock
    /// makes real time free.
    pub fn for_test() -> Config {
        Config::default()
    }

    pub fn validate(&self) -> Result<()> {
        let nonzero = [
            (self.probe_interval_ms, "probe_interval_ms must be > 0"),
            (self.probe_rtt_ms, "probe_rtt_ms must be > 0"),
            (self.suspect_timeout_ms, "suspect_timeout_ms must be > 0"),
            (self.gossip_interval_ms, "gossip_interval_ms must be > 0"),
            (self.announce_interval_ms, "announce_interval_ms must be > 0"),
            (self.announce_dead_interval_ms, "announce_dead_interval_ms must be > 0"),
            (self.join_retry_ms, "join_retry_ms must be > 0"),
        ];
        if let Some((_, why)) = nonzero.iter().find(|(v, _)| *v == 0) {
            return Err(Error::InvalidConfig(why));
        }
        if self.probe_rtt_ms >= self.probe_interval_ms {
            return Err(Error::InvalidConfig("probe_rtt_ms must be below probe_interval_ms"));
        }
        if self.indirect_probes == 0 || self.gossip_fanout == 0 || self.transmissions_max == 0 {
            return Err(Error::InvalidConfig("indirect_probes, gossip_fanout and transmissions_max must be > 0"));
        }
        // Two identities with the longest node id and a header must fit.
        if self.message_len_max < 1024 {
            return Err(Error::InvalidConfig("message_len_max must be at least 1024"));
        }
        Ok(())
    }

    pub(crate) fn to_foca(&self) -> foca::Config {
        let ms = Duration::from_millis;
        let n = |v: usize| NonZeroUsize::new(v).expect("validated");
        foca::Config {
            probe_period: ms(self.probe_interval_ms),
            probe_rtt: ms(self.probe_rtt_ms),
            num_indirect_probes: n(self.indirect_probes),
            max_transmissions: NonZeroU8::new(self.transmissions_max).expect("validated"),
            suspect_to_down_after: ms(self.suspect_timeout_ms),
            // Never forget a dead identity: a node that comes back does so
            // with a newer identity, which wins over the dead one anyway.
            remove_down_after: None,
            max_packet_size: n(self.message_len_max),
            notify_down_members: true,
            periodic_announce: Some(foca::PeriodicParams {
                frequency: ms(self.announce_interval_ms),
                num_members: n(1),
            }),
            periodic_announce_to_down_members: Some(foca::PeriodicParams {
                frequency: ms(self.announce_dead_interval_ms),
                num_members: n(2),
            }),
            periodic_gossip: Some(foca::PeriodicParams {
                frequency: ms(self.gossip_interval_ms),
                num_members: n(self.gossip_fanout),
            }),
        }
    }
}
