//! [`TransportConfig`]: every limit and timeout of the transport, units
//! last in the names.
//!
//! Invariant: a config that passed [`TransportConfig::validate`] has every
//! limit above zero, `backoff_initial_ms <= backoff_max_ms`, and
//! `connect_timeout_ms <= request_timeout_ms` (connecting happens inside a
//! request's time budget, so a longer connect timeout could never apply).
//! The in-memory network uses `request_timeout_ms`, `frame_len_max` and
//! `inflight_per_peer_max`; the rest only concern TCP.

use crate::error::{Result, TransportError};
use crate::frame::FRAME_LEN_MAX_DEFAULT;

/// The smallest `frame_len_max` accepted: below it, ordinary cluster
/// messages would not fit and the setting is surely a mistake.
pub const FRAME_LEN_MAX_MIN: u32 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Every request gets an answer or an error within this time, connecting
    /// and the handshake included.
    pub request_timeout_ms: u64,
    /// TCP connect plus handshake, for one connection attempt.
    pub connect_timeout_ms: u64,
    /// Largest payload of one frame, in bytes, both ways. A request over it
    /// is refused before sending; a frame over it from a peer drops the
    /// connection.
    pub frame_len_max: u32,
    /// Persistent connections kept to each peer; requests are spread over
    /// them round-robin, each pipelined.
    pub connections_per_peer: usize,
    /// Requests to one peer waiting for an answer at once; one more fails
    /// with `Backpressure` instead of queueing.
    pub inflight_per_peer_max: usize,
    /// First wait after a failed connection attempt; doubles per failure.
    pub backoff_initial_ms: u64,
    /// Upper bound of the reconnection backoff.
    pub backoff_max_ms: u64,
    /// Incoming connections served at once; more are closed on accept.
    pub incoming_connections_max: usize,
    /// Requests being handled at once for one incoming connection; more are
    /// refused with `Busy`.
    pub handler_inflight_per_conn_max: usize,
}

impl Default for TransportConfig {
    fn default() -> TransportConfig {
        TransportConfig {
            request_timeout_ms: 5_000,
            connect_timeout_ms: 1_000,
            frame_len_max: FRAME_LEN_MAX_DEFAULT,
            connections_per_peer: 2,
            inflight_per_peer_max: 4096,
            backoff_initial_ms: 50,
            backoff_max_ms: 5_000,
            incoming_connections_max: 1024,
            handler_inflight_per_conn_max: 4096,
        }
    }
}

impl TransportConfig {
    /// Short timeouts and small limits, so that failure tests run fast.
    pub fn for_test() -> TransportConfig {
        TransportConfig {
            request_timeout_ms: 1_000,
            connect_timeout_ms: 500,
            frame_len_max: 64 << 10,
            connections_per_peer: 2,
            inflight_per_peer_max: 256,
            backoff_initial_ms: 10,
            backoff_max_ms: 100,
            incoming_connections_max: 64,
            handler_inflight_per_conn_max: 256,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let err = |m| Err(TransportError::InvalidConfig(m));
        if self.request_timeout_ms == 0 {
            return err("request_timeout_ms must be > 0");
        }
        if self.connect_timeout_ms == 0 || self.connect_timeout_ms > self.request_timeout_ms {
            return err("connect_timeout_ms must be > 0 and <= request_timeout_ms");
        }
        if self.frame_len_max < FRAME_LEN_MAX_MIN {
            return err("frame_len_max must be >= 1024");
        }
        if self.connections_per_peer == 0 || self.connections_per_peer > 64 {
            return err("connections_per_peer must be in 1..=64");
        }
        if self.inflight_per_peer_max == 0 || self.inflight_per_peer_max > (1 << 20) {
            return err("inflight_per_peer_max must be in 1..=1048576");
        }
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_ms {
            return err("backoff_initial_ms must be > 0 and <= backoff_max_ms");
        }
        if self.incoming_connections_max == 0 {
            return err("incoming_connections_max must be > 0");
        }
        if self.handler_inflight_per_conn_max == 0 || self.handler_inflight_per_conn_max > (1 << 20) {
            return err("handler_inflight_per_conn_max must be in 1..=1048576");
        }
        Ok(())
    }

    /// The wait before connection attempt number `failures + 1`, after
    /// `failures` consecutive failures (>= 1): `initial × 2^(failures-1)`,
    /// capped at `backoff_max_ms`.
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        let shift = failures.saturating_sub(1).min(32);
        self.backoff_initial_ms.saturating_mul(1u64 << shift).min(self.backoff_max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_test_config_are_valid() {
        TransportConfig::default().validate().unwrap();
        TransportConfig::for_test().validate().unwrap();
    }

    #[test]
    fn validate_checks_relations() {
        let c = TransportConfig { connect_timeout_ms: 2_000, request_timeout_ms: 1_000, ..TransportConfig::default() };
        assert!(c.validate().is_err());
        let c = TransportConfig { backoff_initial_ms: 10_000, ..TransportConfig::default() };
        assert!(c.validate().is_err());
        let c = TransportConfig { frame_len_max: 10, ..TransportConfig::default() };
        assert!(c.validate().is_err());
        let c = TransportConfig { inflight_per_peer_max: 0, ..TransportConfig::default() };
        assert!(c.validate().is_err());
    }

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let c = TransportConfig { backoff_initial_ms: 10, backoff_max_ms: 100, ..TransportConfig::for_test() };
        let got: Vec<u64> = (1..=7).map(|f| c.backoff_ms(f)).collect();
        assert_eq!(got, [10, 20, 40, 80, 100, 100, 100]);
        assert_eq!(c.backoff_ms(u32::MAX), 100);
    }
}
