//! Memory and swap usage and the `memory.*` metrics derived from it.

use oxmon_common::metric::{
    MEMORY_AVAILABLE, MEMORY_SWAP_PERCENT, MEMORY_SWAP_TOTAL, MEMORY_SWAP_USED, MEMORY_TOTAL, MEMORY_USED,
    MEMORY_USED_PERCENT, Metric,
};

/// Memory and swap sizes in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemoryUsage {
    pub(crate) total: u64,
    /// Memory that can be given to new work without swapping, counting
    /// reclaimable caches (Linux's `MemAvailable`).
    pub(crate) available: u64,
    pub(crate) swap_total: u64,
    pub(crate) swap_free: u64,
}

impl MemoryUsage {
    pub(crate) fn push_metrics(&self, out: &mut Vec<Metric>) {
        // MemAvailable can exceed MemTotal briefly during memory hot-plug.
        let available = self.available.min(self.total);
        let used = self.total - available;
        let swap_used = self.swap_total.saturating_sub(self.swap_free);
        out.extend([
            Metric::new(MEMORY_TOTAL, self.total as f64),
            Metric::new(MEMORY_USED, used as f64),
            Metric::new(MEMORY_AVAILABLE, available as f64),
            Metric::new(MEMORY_USED_PERCENT, percent(used, self.total)),
            Metric::new(MEMORY_SWAP_TOTAL, self.swap_total as f64),
            Metric::new(MEMORY_SWAP_USED, swap_used as f64),
            Metric::new(MEMORY_SWAP_PERCENT, percent(swap_used, self.swap_total)),
        ]);
    }
}

/// `part` as a percentage of `whole`, 0 for an empty whole (no swap).
fn percent(part: u64, whole: u64) -> f64 {
    // Multiplying first keeps round shares exact (750 of 1000 is 75.0).
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(usage: MemoryUsage) -> Vec<(&'static str, f64)> {
        let mut out = Vec::new();
        usage.push_metrics(&mut out);
        out.iter().map(|m| (m.name, m.value)).collect()
    }

    #[test]
    fn used_is_total_minus_available_and_no_swap_is_zero_percent() {
        assert_eq!(
            values(MemoryUsage { total: 1000, available: 250, swap_total: 0, swap_free: 0 }),
            [
                (MEMORY_TOTAL, 1000.0),
                (MEMORY_USED, 750.0),
                (MEMORY_AVAILABLE, 250.0),
                (MEMORY_USED_PERCENT, 75.0),
                (MEMORY_SWAP_TOTAL, 0.0),
                (MEMORY_SWAP_USED, 0.0),
                (MEMORY_SWAP_PERCENT, 0.0),
            ]
        );
    }

    #[test]
    fn available_above_total_counts_as_all_available() {
        let got = values(MemoryUsage { total: 100, available: 120, swap_total: 10, swap_free: 12 });
        assert_eq!(got[1..4], [(MEMORY_USED, 0.0), (MEMORY_AVAILABLE, 100.0), (MEMORY_USED_PERCENT, 0.0)]);
        assert_eq!(got[5..], [(MEMORY_SWAP_USED, 0.0), (MEMORY_SWAP_PERCENT, 0.0)]);
    }
}
