//! CPU usage from the jiffy counters of `/proc/stat`.

use oxmon_common::metric::{CPU_CORE_USAGE, CPU_USAGE, LABEL_CORE, Metric};

use super::ProcFile;
use crate::Collection;

/// Fields of a `cpu` line counted as time: user, nice, system, idle, iowait,
/// irq, softirq, steal. The guest fields after them are already included in
/// user and nice, so adding them would count guest time twice.
const FIELDS: usize = 8;
/// Kernels before 2.6 only have user, nice, system and idle.
const MIN_FIELDS: usize = 4;
/// Positions of idle and iowait: a CPU waiting for I/O could run other work.
const IDLE: usize = 3;
const IOWAIT: usize = 4;

/// Which CPU a `/proc/stat` line describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CpuId {
    /// The `cpu` line: all CPUs together.
    All,
    /// A `cpuN` line.
    Core(u32),
}

/// Cumulative time counters of one CPU, in jiffies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct CpuTimes([u64; FIELDS]);

impl CpuTimes {
    /// Busy percentage over the interval since `earlier`, or `None` when no
    /// time passed (nothing meaningful to report).
    ///
    /// Each counter's delta saturates at zero: iowait is known to go
    /// backwards slightly on tickless kernels, and one such field must not
    /// turn an idle CPU into a 100% busy one.
    pub(super) fn usage_since(&self, earlier: &Self) -> Option<f64> {
        let mut total: u64 = 0;
        let mut idle: u64 = 0;
        for (i, (now, then)) in self.0.iter().zip(&earlier.0).enumerate() {
            let delta = now.saturating_sub(*then);
            total = total.saturating_add(delta);
            if i == IDLE || i == IOWAIT {
                idle = idle.saturating_add(delta);
            }
        }
        if total == 0 {
            return None;
        }
        // 100 × (1 − idle/total), written as busy×100/total so that round
        // shares come out exact.
        let busy = total - idle;
        Some((busy as f64 * 100.0 / total as f64).clamp(0.0, 100.0))
    }
}

/// Parses the `cpu` lines of `/proc/stat` into `out`, replacing its
/// contents. Malformed `cpu` lines are skipped.
pub(super) fn parse_stat(text: &str, out: &mut Vec<(CpuId, CpuTimes)>) {
    out.clear();
    let mut seen_cpu = false;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            // The cpu lines come first; the rest (notably the very long
            // `intr` line) is not worth scanning.
            if seen_cpu {
                break;
            }
            continue;
        };
        seen_cpu = true;
        if let Some(entry) = parse_cpu_line(rest) {
            out.push(entry);
        }
    }
}

/// Parses what follows `cpu` on a line: `  123 4 ...` or `7 123 4 ...`.
fn parse_cpu_line(rest: &str) -> Option<(CpuId, CpuTimes)> {
    let mut fields = rest.split_ascii_whitespace();
    let id = if rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        CpuId::All
    } else {
        CpuId::Core(fields.next()?.parse().ok()?)
    };
    let mut times = [0; FIELDS];
    let mut count = 0;
    for (slot, field) in times.iter_mut().zip(fields) {
        *slot = field.parse().ok()?;
        count += 1;
    }
    (count >= MIN_FIELDS).then_some((id, CpuTimes(times)))
}

/// The CPU sub-collector: the previous reading of every CPU.
#[derive(Default)]
pub(super) struct Cpu {
    previous: Vec<(CpuId, CpuTimes)>,
    current: Vec<(CpuId, CpuTimes)>,
}

impl Cpu {
    /// Number of cores last seen.
    pub(super) fn cores(&self) -> usize {
        self.previous.len()
    }

    /// Appends usage since the previous reading from `stat`, `/proc/stat`
    /// as just read (the processes collector shares the read).
    pub(super) fn collect(&mut self, stat: &ProcFile, out: &mut Collection) {
        parse_stat(&stat.text(), &mut self.current);
        if !self.current.iter().any(|(id, _)| *id == CpuId::All) {
            out.errors.push(stat.malformed("no aggregate cpu line"));
            return;
        }
        for (i, (id, times)) in self.current.iter().enumerate() {
            // CPUs keep their order between readings unless one is
            // hot-plugged, so try the same position before searching.
            let earlier = match self.previous.get(i) {
                Some((prev_id, prev)) if prev_id == id => Some(prev),
                _ => self.previous.iter().find(|(prev_id, _)| prev_id == id).map(|(_, t)| t),
            };
            let Some(usage) = earlier.and_then(|earlier| times.usage_since(earlier)) else {
                continue;
            };
            out.metrics.push(match id {
                CpuId::All => Metric::new(CPU_USAGE, usage),
                CpuId::Core(n) => Metric::labelled(CPU_CORE_USAGE, LABEL_CORE, n.to_string(), usage),
            });
        }
        std::mem::swap(&mut self.previous, &mut self.current);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn times(fields: [u64; FIELDS]) -> CpuTimes {
        CpuTimes(fields)
    }

    #[track_caller]
    fn check(text: &str, expected: &[(CpuId, CpuTimes)]) {
        let mut out = vec![(CpuId::All, CpuTimes::default())];
        parse_stat(text, &mut out);
        assert_eq!(out, expected, "parsing {text:?}");
    }

    #[test]
    fn stat_lines_parse_into_per_cpu_counters() {
        check(
            "cpu  10 1 5 100 3 0 2 1 4 0\n\
             cpu0 6 1 3 50 1 0 1 1 4 0\n\
             cpu1 4 0 2 50 2 0 1 0 0 0\n\
             intr 1 2 3\n",
            &[
                (CpuId::All, times([10, 1, 5, 100, 3, 0, 2, 1])),
                (CpuId::Core(0), times([6, 1, 3, 50, 1, 0, 1, 1])),
                (CpuId::Core(1), times([4, 0, 2, 50, 2, 0, 1, 0])),
            ],
        );
    }

    #[test]
    fn old_kernels_with_four_fields_leave_the_rest_zero() {
        check("cpu 1 2 3 4\n", &[(CpuId::All, times([1, 2, 3, 4, 0, 0, 0, 0]))]);
    }

    #[test]
    fn malformed_cpu_lines_are_skipped() {
        check(
            "cpu 1 2 3\ncpux 1 2 3 4\ncpu0 1 2 x 4\ncpu1 1 2 3 -4\ncpu2 1 2 3 4\n",
            &[(CpuId::Core(2), times([1, 2, 3, 4, 0, 0, 0, 0]))],
        );
        check("", &[]);
        check("intr 1 2\nctxt 5\n", &[]);
    }

    #[test]
    fn lines_after_the_cpu_block_are_ignored() {
        check("cpu 1 2 3 4\nintr 5\ncpu9 1 2 3 4\n", &[(CpuId::All, times([1, 2, 3, 4, 0, 0, 0, 0]))]);
    }

    #[test]
    fn cpu_usage_is_busy_share_of_delta() {
        let earlier = times([100, 0, 50, 1000, 10, 0, 0, 0]);
        // 300 busy (user, system, irq, softirq, steal) of 1000 jiffies, with
        // 50 of the 700 idle ones spent waiting for I/O.
        let later = times([300, 0, 100, 1650, 60, 10, 20, 20]);
        assert_eq!(later.usage_since(&earlier), Some(30.0));
    }

    #[test]
    fn no_elapsed_jiffies_give_no_usage() {
        let t = times([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(t.usage_since(&t), None);
    }

    #[test]
    fn a_counter_going_backwards_counts_as_zero() {
        let earlier = times([0, 0, 0, 1000, 100, 0, 0, 0]);
        // iowait dropped by 50 while idle grew by 400: fully idle, not busy.
        let later = times([0, 0, 0, 1400, 50, 0, 0, 0]);
        assert_eq!(later.usage_since(&earlier), Some(0.0));
        assert_eq!(earlier.usage_since(&later), Some(0.0));
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(
            text in ".*",
            prefixed in "cpu[0-9 ]{0,3}[0-9 a-z-]{0,60}",
        ) {
            let mut out = Vec::new();
            parse_stat(&text, &mut out);
            parse_stat(&prefixed, &mut out);
        }

        #[test]
        fn usage_is_always_a_percentage(a in any::<[u64; FIELDS]>(), b in any::<[u64; FIELDS]>()) {
            if let Some(usage) = times(b).usage_since(&times(a)) {
                prop_assert!((0.0..=100.0).contains(&usage));
            }
        }
    }
}
