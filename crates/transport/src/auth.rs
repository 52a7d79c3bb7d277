//! Authentication of cluster connections with a shared secret: the pure
//! part of the handshake (message layout, proofs, checks). The TCP code
//! drives it over a socket.
//!
//! The handshake, dialer D connecting to acceptor A:
//!
//! ```text
//! D → A  Hello(nonce_d, id_d)
//! A → D  Hello(nonce_a, id_a), Proof(HMAC(secret, "ringcache-transport/1 acceptor" ‖ nonce_d ‖ nonce_a ‖ id_a))
//! D → A  Proof(HMAC(secret, "ringcache-transport/1 dialer"   ‖ nonce_d ‖ nonce_a ‖ id_d))
//! ```
//!
//! Invariants:
//! - Each side proves knowledge of the secret over a nonce the other side
//!   just drew, so a recorded proof is worth nothing later (no replay).
//! - The role label differs per side, so one side's proof can never be
//!   reflected back as the other's, even with both nonces chosen by an
//!   attacker.
//! - A proof binds the prover's node id, so a node cannot present another's
//!   proof under its own id; the dialer also checks that the acceptor is
//!   the node it meant to reach.
//! - Proofs are compared in constant time (`Mac::verify_slice`).
//! - Before the handshake ends a peer is not trusted with more than
//!   [`HANDSHAKE_FRAME_LEN_MAX`] bytes per frame.

use std::fmt;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{AuthError, Result, TransportError};
use crate::NodeId;

/// Bytes of a handshake nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes of a proof (HMAC-SHA256).
pub const PROOF_LEN: usize = 32;
/// Longest node id a Hello may carry (the ring's own limit).
pub const NODE_ID_LEN_MAX: usize = ringcache_ring::NODE_ID_LEN_MAX;
/// Payload limit for frames before the handshake has succeeded.
pub const HANDSHAKE_FRAME_LEN_MAX: u32 = 512;
/// Shortest secret accepted.
pub const SECRET_LEN_MIN: usize = 16;

const _: () = assert!(NONCE_LEN + NODE_ID_LEN_MAX <= HANDSHAKE_FRAME_LEN_MAX as usize);

pub type Nonce = [u8; NONCE_LEN];

/// Which side of the handshake a proof is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Dialer,
    Acceptor,
}

impl Role {
    fn label(self) -> &'static [u8] {
        match self {
            Role::Dialer => b"ringcache-transport/1 dialer",
            Role::Acceptor => b"ringcache-transport/1 acceptor",
        }
    }
}

/// The cluster's shared secret. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct ClusterSecret(Arc<[u8]>);

impl ClusterSecret {
    /// At least [`SECRET_LEN_MIN`] bytes; 32 random bytes are recommended.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<ClusterSecret> {
        let s = secret.as_ref();
        if s.len() < SECRET_LEN_MIN {
            return Err(TransportError::InvalidConfig("cluster secret must be at least 16 bytes"));
        }
        Ok(ClusterSecret(Arc::from(s)))
    }

    fn mac(&self, role: Role, nonce_d: &Nonce, nonce_a: &Nonce, prover: &NodeId) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(role.label());
        mac.update(nonce_d);
        mac.update(nonce_a);
        mac.update(prover.as_str().as_bytes());
        mac
    }

    /// The proof that `prover`, playing `role`, knows the secret.
    pub fn proof(&self, role: Role, nonce_d: &Nonce, nonce_a: &Nonce, prover: &NodeId) -> [u8; PROOF_LEN] {
        self.mac(role, nonce_d, nonce_a, prover).finalize().into_bytes().into()
    }

    /// Check a proof received from `prover`, in constant time.
    pub fn verify(
        &self,
        role: Role,
        nonce_d: &Nonce,
        nonce_a: &Nonce,
        prover: &NodeId,
        proof: &[u8],
    ) -> Result<(), AuthError> {
        if proof.len() != PROOF_LEN {
            return Err(AuthError::Malformed("proof has the wrong length"));
        }
        self.mac(role, nonce_d, nonce_a, prover).verify_slice(proof).map_err(|_| AuthError::BadProof)
    }
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterSecret(<{} bytes>)", self.0.len())
    }
}

/// A fresh nonce from the operating system's generator.
pub fn nonce() -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

/// The payload of a Hello frame: the nonce, then the node id's bytes.
pub fn hello_payload(nonce: &Nonce, id: &NodeId) -> Bytes {
    let id = id.as_str().as_bytes();
    debug_assert!(!id.is_empty() && id.len() <= NODE_ID_LEN_MAX);
    let mut b = BytesMut::with_capacity(NONCE_LEN + id.len());
    b.put_slice(nonce);
    b.put_slice(id);
    b.freeze()
}

/// Parse a Hello payload; the id must be 1..=[`NODE_ID_LEN_MAX`] bytes of
/// UTF-8.
pub fn parse_hello(payload: &[u8]) -> Result<(Nonce, NodeId), AuthError> {
    if payload.len() <= NONCE_LEN || payload.len() > NONCE_LEN + NODE_ID_LEN_MAX {
        return Err(AuthError::Malformed("hello has the wrong length"));
    }
    let (n, id) = payload.split_at(NONCE_LEN);
    let id = std::str::from_utf8(id).map_err(|_| AuthError::Malformed("node id is not UTF-8"))?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(n);
    Ok((nonce, NodeId::from(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> ClusterSecret {
        ClusterSecret::new(s).unwrap()
    }

    #[test]
    fn short_secret_is_refused_and_never_printed() {
        assert!(ClusterSecret::new("short").is_err());
        let s = secret("0123456789abcdef-very-secret");
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn proof_checks_secret_role_nonces_and_id() {
        let (s, other) = (secret("0123456789abcdef"), secret("0123456789abcdeX"));
        let (nd, na) = (nonce(), nonce());
        assert_ne!(nd, na);
        let id = NodeId::from("n1");
        let p = s.proof(Role::Dialer, &nd, &na, &id);
        assert_eq!(s.verify(Role::Dialer, &nd, &na, &id, &p), Ok(()));
        assert_eq!(other.verify(Role::Dialer, &nd, &na, &id, &p), Err(AuthError::BadProof));
        assert_eq!(s.verify(Role::Acceptor, &nd, &na, &id, &p), Err(AuthError::BadProof), "no reflection");
        assert_eq!(s.verify(Role::Dialer, &na, &nd, &id, &p), Err(AuthError::BadProof));
        assert_eq!(s.verify(Role::Dialer, &nd, &na, &NodeId::from("n2"), &p), Err(AuthError::BadProof));
        assert!(matches!(s.verify(Role::Dialer, &nd, &na, &id, &p[..31]), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn hello_round_trip_and_bad_hellos() {
        let n = nonce();
        let id = NodeId::from("node-7");
        assert_eq!(parse_hello(&hello_payload(&n, &id)), Ok((n, id)));
        assert!(parse_hello(&n).is_err(), "empty id");
        assert!(parse_hello(&[0u8; 10]).is_err());
        let mut bad = n.to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert!(parse_hello(&bad).is_err(), "not UTF-8");
        let mut long = n.to_vec();
        long.extend(std::iter::repeat_n(b'a', NODE_ID_LEN_MAX + 1));
        assert!(parse_hello(&long).is_err());
    }
}
