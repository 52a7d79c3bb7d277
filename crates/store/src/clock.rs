//! Wall-clock milliseconds. Expiry times are absolute Unix times (as in
//! Redis), so every replica expires a key at the same moment.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
