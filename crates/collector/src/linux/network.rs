//! Interface counters from `/proc/net/dev`.

use std::path::Path;
use std::time::Instant;

use super::ProcFile;
use crate::network::{InterfaceCounters, NetworkRates};
use crate::{Collection, CollectorConfig};

/// Field positions after `name:`: receive bytes, packets, errs, drop, fifo,
/// frame, compressed, multicast, then transmit bytes, packets, ...
const RX_BYTES: usize = 0;
const RX_PACKETS: usize = 1;
const TX_BYTES: usize = 8;
const TX_PACKETS: usize = 9;

/// Parses the interface lines of `/proc/net/dev`, skipping the two header
/// lines and anything malformed.
pub(super) fn parse_net_dev(text: &str) -> impl Iterator<Item = (&str, InterfaceCounters)> {
    text.lines().filter_map(parse_net_dev_line)
}

/// `  eth0: 123 4 0 0 0 0 0 0 567 8 0 0 0 0 0 0`; kernels before 2.6.29
/// wrote large counters right after the colon (`eth0:123456`).
fn parse_net_dev_line(line: &str) -> Option<(&str, InterfaceCounters)> {
    let (name, counters) = line.split_once(':')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let mut fields = [0u64; TX_PACKETS + 1];
    let mut count = 0;
    for (slot, field) in fields.iter_mut().zip(counters.split_ascii_whitespace()) {
        *slot = field.parse().ok()?;
        count += 1;
    }
    (count == fields.len()).then_some((
        name,
        InterfaceCounters {
            bytes_recv: fields[RX_BYTES],
            bytes_sent: fields[TX_BYTES],
            packets_recv: fields[RX_PACKETS],
            packets_sent: fields[TX_PACKETS],
        },
    ))
}

/// The network sub-collector.
pub(super) struct Network {
    /// `<procfs>/1/net/dev` is the host's network namespace when the host's
    /// procfs is mounted into a container; `<procfs>/net/dev` is the reading
    /// process's own namespace, right when the agent runs on the host.
    dev: ProcFile,
    rates: NetworkRates,
    interfaces: usize,
}

impl Network {
    pub(super) fn new(procfs: &Path) -> Self {
        Self {
            dev: ProcFile::with_fallback(procfs.join("1/net/dev"), procfs.join("net/dev")),
            rates: NetworkRates::default(),
            interfaces: 0,
        }
    }

    /// Number of interfaces reported last cycle.
    pub(super) fn interfaces(&self) -> usize {
        self.interfaces
    }

    pub(super) fn collect(&mut self, config: &CollectorConfig, now: Instant, out: &mut Collection) {
        if let Err(e) = self.dev.read() {
            out.errors.push(e);
            return;
        }
        self.rates.begin();
        self.interfaces = 0;
        for (name, counters) in parse_net_dev(&self.dev.text()) {
            if !config.excludes_interface(name) {
                self.rates.observe(name, counters, now, &mut out.metrics);
                self.interfaces += 1;
            }
        }
        self.rates.finish();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn counters(bytes_recv: u64, bytes_sent: u64, packets_recv: u64, packets_sent: u64) -> InterfaceCounters {
        InterfaceCounters { bytes_recv, bytes_sent, packets_recv, packets_sent }
    }

    #[track_caller]
    fn check(text: &str, expected: &[(&str, InterfaceCounters)]) {
        assert_eq!(parse_net_dev(text).collect::<Vec<_>>(), expected, "parsing {text:?}");
    }

    #[test]
    fn net_dev_yields_byte_and_packet_counters_per_interface() {
        check(
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
             lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n  \
             eth0: 108305721    5874    0    0    0     0          0         0   505317    4321    0    0    0     0       0          0\n",
            &[("lo", counters(3193, 3193, 29, 29)), ("eth0", counters(108305721, 505317, 5874, 4321))],
        );
    }

    #[test]
    fn old_kernels_without_a_space_after_the_colon_parse() {
        check("  eth0:4294967295 7 0 0 0 0 0 0 1 2 0 0 0 0 0 0\n", &[("eth0", counters(4294967295, 1, 7, 2))]);
    }

    #[test]
    fn malformed_net_dev_lines_are_skipped() {
        check(
            ": 1 2 3 4 5 6 7 8 9 10\n\
             eth0: 1 2 3\n\
             eth1: 1 2 3 4 5 6 7 8 9 x\n\
             eth2 1 2 3 4 5 6 7 8 9 10\n\
             eth3: 1 2 3 4 5 6 7 8 9 10\n",
            &[("eth3", counters(1, 9, 2, 10))],
        );
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(
            text in ".*",
            lines in "([a-z0-9]{0,4}:( [0-9]{0,21}){0,17}\n){0,4}",
        ) {
            let _ = parse_net_dev(&text).count();
            let _ = parse_net_dev(&lines).count();
        }
    }
}
