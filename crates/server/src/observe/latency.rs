//! The latency monitor (LATENCY LATEST / HISTORY / RESET / DOCTOR): for
//! each event (`command`, `fast-command`), the latencies of at least
//! `latency-monitor-threshold` milliseconds, one sample per second (the
//! worst of that second), the last [`SAMPLES_MAX`] seconds that had one,
//! and the worst ever seen.
//!
//! Invariants:
//! - With the threshold at 0 (the default) nothing is recorded, and a
//!   command costs one atomic load; the lock is taken only for a sample
//!   that qualifies and to read.
//! - Memory is bounded: a fixed set of event names, [`SAMPLES_MAX`]
//!   samples each.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
pub const SAMPLES_MAX: usize = 160;

/// One second's worst latency of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Unix time, seconds.
    pub time: u64,
    pub latency_ms: u64,
}

/// One event's history.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub samples: VecDeque<Sample>,
    pub max_ms: u64,
}

impl Series {
    fn add(&mut self, time: u64, latency_ms: u64) {
        self.max_ms = self.max_ms.max(latency_ms);
        if let Some(last) = self.samples.back_mut().filter(|s| s.time == time) {
            last.latency_ms = last.latency_ms.max(latency_ms);
            return;
        }
        if self.samples.len() == SAMPLES_MAX {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample { time, latency_ms });
    }
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    /// `latency-monitor-threshold`, milliseconds; 0 disables.
    threshold_ms: AtomicU64,
    /// Events in the order they were first seen.
    events: Mutex<Vec<(&'static str, Series)>>,
}

impl LatencyMonitor {
    pub fn set_threshold_ms(&self, ms: u64) {
        self.threshold_ms.store(ms, Relaxed);
    }

    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms.load(Relaxed)
    }

    /// Redis's `latencyAddSampleIfNeeded`: records `latency_ms` of `event`
    /// at unix second `now` if the monitor is on and it reaches the
    /// threshold.
    #[inline]
    pub fn add_if_needed(&self, event: &'static str, latency_ms: u64, now: impl FnOnce() -> u64) {
        let threshold = self.threshold_ms.load(Relaxed);
        if threshold == 0 || latency_ms < threshold {
            return;
        }
        let now = now();
        let mut events = self.events.lock();
        match events.iter_mut().find(|(name, _)| *name == event) {
            Some((_, series)) => series.add(now, latency_ms),
            None => {
                let mut series = Series::default();
                series.add(now, latency_ms);
                events.push((event, series));
            }
        }
    }

    /// Every event with its history.
    pub fn events(&self) -> Vec<(&'static str, Series)> {
        self.events.lock().clone()
    }

    /// One event's history (`None` if it never happened).
    pub fn series(&self, event: &[u8]) -> Option<Series> {
        self.events.lock().iter().find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(event)).map(|(_, s)| s.clone())
    }

    /// Forgets the events named (all with `None`); returns how many there were.
    pub fn reset(&self, names: Option<&[&[u8]]>) -> usize {
        let mut events = self.events.lock();
        let before = events.len();
        match names {
            None => events.clear(),
            Some(names) => events.retain(|(name, _)| !names.iter().any(|n| name.as_bytes().eq_ignore_ascii_case(n))),
        }
        before - events.len()
    }

    /// LATENCY DOCTOR: a short report in plain words.
    pub fn doctor(&self) -> String {
        let threshold = self.threshold_ms();
        let events = self.events();
        if threshold == 0 && events.is_empty() {
            return "Latency monitoring is disabled on this node. Use CONFIG SET latency-monitor-threshold \
                    <milliseconds> to enable it: every command that runs for at least that long is then \
                    recorded here.\n"
                .to_owned();
        }
        if events.is_empty() {
            return format!(
                "No latency spike of {threshold} ms or more was observed since the monitor was enabled or reset.\n"
            );
        }
        let mut out = format!("Latency events of at least {threshold} ms seen on this node:\n\n");
        for (i, (name, s)) in events.iter().enumerate() {
            let n = s.samples.len() as u64;
            let sum: u64 = s.samples.iter().map(|x| x.latency_ms).sum();
            let (first, last) = (s.samples.front().map_or(0, |x| x.time), s.samples.back().map_or(0, |x| x.time));
            out.push_str(&format!(
                "{}. {name}: {n} latency spikes (average {}ms, mean deviation {}ms, period {} sec). Worst all time event {}ms.\n",
                i + 1,
                sum / n.max(1),
                mean_deviation(s),
                if n > 1 { (last - first) / (n - 1) } else { 0 },
                s.max_ms
            ));
        }
        out.push_str("\nAdvice: ");
        out.push_str(if events.iter().any(|(name, _)| *name == "command") {
            "slow commands were seen: check SLOWLOG GET for which ones, and avoid O(N) commands \
             (KEYS, SORT, big ranges, long scripts) on large values."
        } else {
            "fast commands were slow: the machine may be overloaded or swapping; check its CPU and memory."
        });
        out.push('\n');
        out
    }
}

fn mean_deviation(s: &Series) -> u64 {
    let n = s.samples.len() as u64;
    if n == 0 {
        return 0;
    }
    let avg = s.samples.iter().map(|x| x.latency_ms).sum::<u64>() / n;
    s.samples.iter().map(|x| x.latency_ms.abs_diff(avg)).sum::<u64>() / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_the_worst_and_bounded() {
        let m = LatencyMonitor::default();
        m.add_if_needed("command", 500, || 1);
        assert!(m.events().is_empty(), "off at threshold 0");
        m.set_threshold_ms(10);
        m.add_if_needed("command", 5, || 1);
        assert!(m.events().is_empty(), "under the threshold");
        m.add_if_needed("command", 20, || 1);
        m.add_if_needed("command", 30, || 1);
        m.add_if_needed("command", 15, || 1);
        m.add_if_needed("command", 12, || 2);
        let s = m.series(b"COMMAND").expect("recorded");
        assert_eq!(
            s.samples.iter().copied().collect::<Vec<_>>(),
            vec![Sample { time: 1, latency_ms: 30 }, Sample { time: 2, latency_ms: 12 }]
        );
        assert_eq!(s.max_ms, 30);
        for t in 3..400 {
            m.add_if_needed("command", 11, || t);
        }
        assert_eq!(m.series(b"command").expect("recorded").samples.len(), SAMPLES_MAX);
        m.add_if_needed("fast-command", 11, || 1);
        assert!(m.doctor().contains("fast-command"));
        assert_eq!(m.reset(Some(&[b"nope"])), 0);
        assert_eq!(m.reset(Some(&[b"fast-command"])), 1);
        assert_eq!(m.reset(None), 1);
        assert!(m.events().is_empty());
    }
}
