//! Key → slot, bit for bit as Redis Cluster computes it.
//!
//! `slot(key) = CRC16(hashtag(key)) mod 16384`, where CRC16 is the
//! CCITT/XMODEM variant of Redis's `src/crc16.c` (polynomial 0x1021, initial
//! value 0, no reflection, no final xor) and the hash tag is Redis's
//! `keyHashSlot` rule. Cluster-aware clients run the same function, so they
//! send each key to the node we would pick, and keys sharing a `{tag}` always
//! land in one slot (which multi-key atomic commands rely on).
//!
//! Invariant: `slot(key) < SLOTS` for every byte string, and the result never
//! depends on anything but the key's bytes.

/// Number of hash slots, as in Redis Cluster. A power of two, so `mod` is a
/// mask.
pub const SLOTS: usize = 16384;

const SLOT_MASK: u16 = (SLOTS - 1) as u16;

/// The CRC16 table for polynomial 0x1021, built at compile time rather than
/// pasted, so it cannot carry a typo; the test vectors below pin it to
/// Redis's table.
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC16-CCITT (XMODEM), as Redis's `crc16()`: `crc16(b"123456789") == 0x31C3`.
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ b)])
}

/// The part of `key` that is hashed: the bytes between the first `{` and the
/// first `}` after it, if that span is non-empty; otherwise the whole key.
///
/// Redis's rule exactly: `foo{}{bar}` hashes the whole key (the first tag is
/// empty, and no later `{` is tried), `foo{{bar}}zap` hashes `{bar`, and
/// `foo{bar}{zap}` hashes `bar`.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let rest = &key[open + 1..];
    match rest.iter().position(|&b| b == b'}') {
        Some(close) if close > 0 => &rest[..close],
        _ => key,
    }
}

/// The hash slot of `key`, in `0..SLOTS`.
pub fn slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & SLOT_MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_redis_table_and_check_value() {
        // Spot values from Redis's crc16tab, and the documented check value.
        assert_eq!(CRC16_TABLE[0], 0x0000);
        assert_eq!(CRC16_TABLE[1], 0x1021);
        assert_eq!(CRC16_TABLE[8], 0x8108);
        assert_eq!(CRC16_TABLE[16], 0x1231);
        assert_eq!(CRC16_TABLE[255], 0x1ef0);
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn slots_match_redis_cluster_keyslot() {
        // Every value below was read from `CLUSTER KEYSLOT` on redis-server 7
        // (cluster-enabled), not computed by this code.
        let cases: &[(&[u8], u16)] = &[
            (b"foo", 12182),
            (b"bar", 5061),
            (b"", 0),
            (b"123456789", 12739), // 0x31C3
            (b"{user1000}.following", 3443),
            (b"{user1000}.followers", 3443),
            (b"foo{}{bar}", 8363),    // empty first tag: whole key
            (b"foo{{bar}}zap", 4015), // hashes "{bar"
            (b"{bar", 4015),
            (b"foo{bar}{zap}", 5061), // hashes "bar"
            (b"{}", 15257),
            (b"foo{bar", 15278),
            (b"{a}{b}", 15495),
            (b"a{b}c", 3300),
            (b"}{x}", 16287),
        ];
        for &(key, want) in cases {
            assert_eq!(slot(key), want, "key {:?}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn hash_tag_follows_redis_rules() {
        assert_eq!(hash_tag(b"foo"), b"foo");
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
        assert_eq!(hash_tag(b"foo}bar{"), b"foo}bar{");
        assert_eq!(hash_tag(b"{}"), b"{}");
        assert_eq!(slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & SLOT_MASK);
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
    }
}
