//! Memory and swap from `/proc/meminfo`.

use std::path::Path;

use super::ProcFile;
use crate::Collection;
use crate::memory::MemoryUsage;

/// Parses `/proc/meminfo`; lines that are not `Key: value [kB]` are skipped.
pub(super) fn parse_meminfo(text: &str) -> Result<MemoryUsage, &'static str> {
    let (mut total, mut available, mut free, mut buffers, mut cached) = (None, None, None, 0, 0);
    let (mut swap_total, mut swap_free) = (0, 0);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let Some(bytes) = parse_value(value) else { continue };
        match key {
            "MemTotal" => total = Some(bytes),
            "MemAvailable" => available = Some(bytes),
            "MemFree" => free = Some(bytes),
            "Buffers" => buffers = bytes,
            "Cached" => cached = bytes,
            "SwapTotal" => swap_total = bytes,
            "SwapFree" => swap_free = bytes,
            _ => {}
        }
    }
    let total = total.ok_or("no MemTotal")?;
    let available = match (available, free) {
        (Some(available), _) => available,
        (None, Some(free)) => free.saturating_add(buffers).saturating_add(cached),
        (None, None) => return Err("neither MemAvailable nor MemFree"),
    };
    Ok(MemoryUsage { total, available, swap_total, swap_free })
}

/// `  16318540 kB` → bytes; a value without unit is taken as is.
fn parse_value(value: &str) -> Option<u64> {
    let mut parts = value.split_ascii_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some(number),
        Some("kB") => number.checked_mul(1024),
        Some(_) => None,
    }
}

/// The memory sub-collector.
pub(super) struct Memory {
    meminfo: ProcFile,
}

impl Memory {
    pub(super) fn new(procfs: &Path) -> Self {
        Self { meminfo: ProcFile::new(procfs.join("meminfo")) }
    }

    pub(super) fn collect(&mut self, out: &mut Collection) {
        match self.meminfo.parse(parse_meminfo) {
            Ok(info) => info.push_metrics(&mut out.metrics),
            Err(e) => out.errors.push(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Result<MemoryUsage, &'static str>) {
        assert_eq!(parse_meminfo(text), expected, "parsing {text:?}");
    }

    const KIB: u64 = 1024;

    #[test]
    fn meminfo_values_are_kibibytes() {
        check(
            "MemTotal:       16318540 kB\nMemFree:         2033552 kB\nMemAvailable:   12238905 kB\n\
             Buffers:          512340 kB\nCached:          7520184 kB\nSwapTotal:       4194300 kB\n\
             SwapFree:        3145725 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n",
            Ok(MemoryUsage {
                total: 16318540 * KIB,
                available: 12238905 * KIB,
                swap_total: 4194300 * KIB,
                swap_free: 3145725 * KIB,
            }),
        );
    }

    #[test]
    fn kernels_without_memavailable_estimate_it_from_free_buffers_and_cached() {
        check(
            "MemTotal: 2055920 kB\nMemFree: 123456 kB\nBuffers: 234567 kB\nCached: 345678 kB\n",
            Ok(MemoryUsage { total: 2055920 * KIB, available: 703701 * KIB, swap_total: 0, swap_free: 0 }),
        );
    }

    #[test]
    fn meminfo_without_totals_is_malformed() {
        check("MemFree: 1 kB\n", Err("no MemTotal"));
        check("MemTotal: 1 kB\n", Err("neither MemAvailable nor MemFree"));
        check("", Err("no MemTotal"));
    }

    #[test]
    fn malformed_meminfo_lines_are_skipped() {
        check(
            "MemTotal: 4 kB\nMemTotal: x kB\nMemFree: 2 MB\nMemFree 9 kB\nMemFree: 1 kB\n\
             MemFree: 18446744073709551615 kB\n",
            Ok(MemoryUsage { total: 4 * KIB, available: KIB, swap_total: 0, swap_free: 0 }),
        );
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(
            text in ".*",
            lines in "(Mem[A-Za-z]{0,9}: *[0-9]{0,22} ?(kB)?\n){0,6}",
        ) {
            let _ = parse_meminfo(&text);
            if let Ok(info) = parse_meminfo(&lines) {
                let mut out = Vec::new();
                info.push_metrics(&mut out);
            }
        }
    }
}
