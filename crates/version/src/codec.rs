//! A version's wire form: what replication and repair messages carry.
//!
//! ```text
//! hlc u64 BE | writer u32 BE | n u8 | n × (node u32 BE, hlc u64 BE)
//! ```
//!
//! 13 bytes for the common one-writer version. The form is canonical: the
//! past is in strictly increasing node order, so a version has exactly one
//! encoding and re-encoding what was decoded gives the same bytes. The
//! decoder checks every invariant ([`Version::from_parts`]), refuses a past
//! out of order, and never reads past its input: a peer is input too.

use crate::{Dot, Hlc, NodeTag, Stamp, Version, VersionError, DOTS_MAX};

/// A version that cannot be decoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated version")]
    Truncated,
    #[error("invalid node tag in a version")]
    BadTag,
    #[error("invalid version: {0}")]
    Invalid(#[from] VersionError),
}

const HEAD: usize = 8 + 4 + 1;
const DOT: usize = 4 + 8;

impl Version {
    /// Bytes [`Version::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        HEAD + DOT * self.past().len()
    }

    /// Appends the wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        debug_assert!(self.past().len() <= DOTS_MAX);
        out.extend_from_slice(&self.stamp().hlc.as_u64().to_be_bytes());
        out.extend_from_slice(&self.stamp().writer.get().to_be_bytes());
        out.push(self.past().len() as u8);
        for d in self.past() {
            out.extend_from_slice(&d.node.get().to_be_bytes());
            out.extend_from_slice(&d.hlc.as_u64().to_be_bytes());
        }
    }

    /// Decodes a version from the start of `buf`: it and the bytes used.
    pub fn decode(buf: &[u8]) -> Result<(Version, usize), DecodeError> {
        let head = buf.get(..HEAD).ok_or(DecodeError::Truncated)?;
        let hlc = Hlc::from_u64(u64::from_be_bytes(head[..8].try_into().expect("8 bytes")));
        let writer = tag(&head[8..12])?;
        let n = usize::from(head[12]);
        if n > DOTS_MAX {
            return Err(VersionError::TooManyDots.into());
        }
        let len = HEAD + n * DOT;
        let body = buf.get(HEAD..len).ok_or(DecodeError::Truncated)?;
        let past = body
            .chunks_exact(DOT)
            .map(|c| {
                let node = tag(&c[..4])?;
                Ok(Dot { node, hlc: Hlc::from_u64(u64::from_be_bytes(c[4..].try_into().expect("8 bytes"))) })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        // `from_parts` would sort it; the wire form must already be sorted,
        // or one version would have several encodings.
        if past.windows(2).any(|w| w[0].node >= w[1].node) {
            return Err(VersionError::Unsorted.into());
        }
        Ok((Version::from_parts(Stamp { hlc, writer }, past)?, len))
    }
}

fn tag(b: &[u8]) -> Result<NodeTag, DecodeError> {
    NodeTag::new(u32::from_be_bytes(b.try_into().expect("4 bytes"))).ok_or(DecodeError::BadTag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_versions_take_13_bytes() {
        let v = Version::first(NodeTag::of("a"), 1_700_000_000_000);
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out.len(), 13);
        assert_eq!(v.encoded_len(), 13);
        assert_eq!(Version::decode(&out), Ok((v, 13)));
    }

    #[test]
    fn short_or_invalid_input_is_refused() {
        let v = Version::first(NodeTag::of("a"), 5).next(NodeTag::of("b"), 6, u64::MAX);
        let mut out = Vec::new();
        v.encode(&mut out);
        for cut in 0..out.len() {
            assert_eq!(Version::decode(&out[..cut]), Err(DecodeError::Truncated), "cut at {cut}");
        }
        let mut zero_tag = out.clone();
        zero_tag[8..12].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(Version::decode(&zero_tag), Err(DecodeError::BadTag));
        let mut too_many = out.clone();
        too_many[12] = DOTS_MAX as u8 + 1;
        assert_eq!(Version::decode(&too_many), Err(VersionError::TooManyDots.into()));
    }

    #[test]
    fn a_past_out_of_node_order_is_refused() {
        // The shrunk input proptest found: writer 1, past [0x1d890000, 2].
        let mut out = Vec::new();
        out.extend_from_slice(&[214, 131, 27, 139, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
        out.extend_from_slice(&[29, 137, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Version::decode(&out), Err(VersionError::Unsorted.into()));
        // The same dots in node order decode.
        out[13..].rotate_left(DOT);
        assert!(Version::decode(&out).is_ok());
    }
}
