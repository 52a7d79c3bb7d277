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

/// Slicing-by-8 tables: `CRC16_TABLES[k][b]` is what byte `b` followed by
/// `k` zero bytes adds to the CRC, so eight bytes cost eight independent
/// lookups instead of eight dependent steps (a 16-byte key: ~75
/// instructions instead of ~105, see docs/performance.md). 4 KiB, built at
/// compile time from [`CRC16_TABLE`].
const CRC16_TABLES: [[u16; 256]; 8] = {
    let mut tables = [[0u16; 256]; 8];
    tables[0] = CRC16_TABLE;
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev << 8) ^ CRC16_TABLE[(prev >> 8) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
};

/// One byte of CRC16, the textbook way.
#[inline]
fn crc16_byte(crc: u16, b: u8) -> u16 {
    (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ b)]
}

/// CRC16-CCITT (XMODEM), as Redis's `crc16()`: `crc16(b"123456789") == 0x31C3`.
///
/// Eight bytes at a time: the CRC is linear, so the running CRC folds into
/// the block's first two bytes and each byte of the block is looked up in
/// the table for its distance from the block's end.
#[inline]
pub fn crc16(bytes: &[u8]) -> u16 {
    let t = &CRC16_TABLES;
    let mut blocks = bytes.chunks_exact(8);
    let mut crc = 0u16;
    for block in &mut blocks {
        let w = u64::from_be_bytes(block.try_into().expect("8 bytes")) ^ (u64::from(crc) << 48);
        let b = |shift: u32| usize::from((w >> shift) as u8);
        crc =
            t[7][b(56)] ^ t[6][b(48)] ^ t[5][b(40)] ^ t[4][b(32)] ^ t[3][b(24)] ^ t[2][b(16)] ^ t[1][b(8)] ^ t[0][b(0)];
    }
    blocks.remainder().iter().fold(crc, |crc, &b| crc16_byte(crc, b))
}

/// Whether `hay` holds `byte`: a word at a time (SWAR), so the common
/// key with no `{` costs a few instructions per eight bytes.
#[inline]
fn has_byte(hay: &[u8], byte: u8) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Some byte of `x` is zero exactly when this is not 0 (a borrow can
    // flag a byte wrongly only above a zero byte).
    let zero_in = |w: &[u8]| {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes")) ^ (LO * u64::from(byte));
        x.wrapping_sub(LO) & !x & HI
    };
    if hay.len() < 8 {
        return hay.contains(&byte);
    }
    let mut words = hay.chunks_exact(8);
    let mut found = (&mut words).fold(0, |acc, w| acc | zero_in(w));
    if !words.remainder().is_empty() {
        // The last eight bytes, overlapping words already seen.
        found |= zero_in(&hay[hay.len() - 8..]);
    }
    found != 0
}

/// The part of `key` that is hashed: the bytes between the first `{` and the
/// first `}` after it, if that span is non-empty; otherwise the whole key.
///
/// Redis's rule exactly: `foo{}{bar}` hashes the whole key (the first tag is
/// empty, and no later `{` is tried), `foo{{bar}}zap` hashes `{bar`, and
/// `foo{bar}{zap}` hashes `bar`.
#[inline]
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if !has_byte(key, b'{') {
        return key;
    }
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
#[inline]
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

    /// The byte-at-a-time CRC and scans that the fast ones must equal.
    fn crc16_reference(bytes: &[u8]) -> u16 {
        bytes.iter().fold(0, |crc, &b| crc16_byte(crc, b))
    }

    fn hash_tag_reference(key: &[u8]) -> &[u8] {
        let Some(open) = key.iter().position(|&b| b == b'{') else {
            return key;
        };
        let rest = &key[open + 1..];
        match rest.iter().position(|&b| b == b'}') {
            Some(close) if close > 0 => &rest[..close],
            _ => key,
        }
    }

    #[test]
    fn slicing_tables_extend_the_bytewise_table() {
        for (k, table) in CRC16_TABLES.iter().enumerate() {
            for b in 0..=255u8 {
                let mut bytes = vec![b];
                bytes.resize(k + 1, 0);
                assert_eq!(table[usize::from(b)], crc16_reference(&bytes), "byte {b} then {k} zeros");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_crc_and_tags_equal_the_bytewise_ones(
            key in proptest::collection::vec(proptest::prop_oneof![
                proptest::num::u8::ANY,
                proptest::strategy::Just(b'{'),
                proptest::strategy::Just(b'}'),
                proptest::strategy::Just(0x80u8),
                proptest::strategy::Just(b'{' ^ 0x80),
            ], 0..80)
        ) {
            proptest::prop_assert_eq!(crc16(&key), crc16_reference(&key));
            proptest::prop_assert_eq!(hash_tag(&key), hash_tag_reference(&key));
            for byte in [b'{', b'}', 0, 0x80, 0xff] {
                proptest::prop_assert_eq!(has_byte(&key, byte), key.contains(&byte));
            }
        }
    }
}
