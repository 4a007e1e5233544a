//! TCP connections per state from the host's `net/tcp` and `net/tcp6`
//! socket tables, with `net/snmp`'s `CurrEstab` when they cannot be read.

use std::io;
use std::path::Path;

use oxmon_common::metric::{LABEL_STATE, Metric, NETWORK_TCP_CONNECTIONS};

use super::ProcFile;
use crate::{Collection, Error};

/// The `state` label of every kernel TCP state, indexed by the state number
/// minus one (`include/net/tcp_states.h`); `NEW_SYN_RECV` (12) is a
/// pending connection, which the tables print as `SYN_RECV` anyway.
pub(super) const STATES: [&str; 11] = [
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "closing",
];
const NEW_SYN_RECV: u8 = 12;
const SYN_RECV: u8 = 3;
const ESTABLISHED: usize = 0;

/// Adds the sockets of one `/proc/net/tcp` or `tcp6` table to `counts`,
/// skipping the header and malformed lines.
///
/// Only the fourth field (`st`, two hex digits) is looked at: this runs
/// over every socket on the host, so it does no more than it must.
pub(super) fn count_states(table: &[u8], counts: &mut [u64; STATES.len()]) {
    for line in table.split(|&b| b == b'\n').skip(1) {
        let Some(state) = line.split(|&b| b == b' ').filter(|f| !f.is_empty()).nth(3).and_then(parse_state) else {
            continue;
        };
        let state = if state == NEW_SYN_RECV { SYN_RECV } else { state };
        if let Some(slot) = usize::from(state).checked_sub(1).and_then(|i| counts.get_mut(i)) {
            *slot += 1;
        }
    }
}

/// `0A` → 10.
fn parse_state(field: &[u8]) -> Option<u8> {
    let [high, low] = field else { return None };
    let digit = |b: u8| char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
    Some(digit(*high)? * 16 + digit(*low)?)
}

/// `CurrEstab` from the `Tcp:` header and value lines of `/proc/net/snmp`.
pub(super) fn parse_curr_estab(text: &str) -> Result<u64, &'static str> {
    let mut tcp = text.lines().filter_map(|line| line.strip_prefix("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else { return Err("no Tcp lines") };
    names
        .split_ascii_whitespace()
        .zip(values.split_ascii_whitespace())
        .find(|(name, _)| *name == "CurrEstab")
        .and_then(|(_, value)| value.parse().ok())
        .ok_or("no CurrEstab in the Tcp lines")
}

/// The TCP sub-collector.
pub(super) struct Tcp {
    /// The host's network namespace's tables (`<procfs>/1/net/...`) and,
    /// when those cannot be read, the agent's own (`<procfs>/net/...`), as
    /// for interface counters.
    tcp4: ProcFile,
    tcp6_host: ProcFile,
    tcp6_own: ProcFile,
    snmp: ProcFile,
}

impl Tcp {
    pub(super) fn new(procfs: &Path) -> Self {
        Self {
            tcp4: ProcFile::with_fallback(procfs.join("1/net/tcp"), procfs.join("net/tcp")),
            tcp6_host: ProcFile::new(procfs.join("1/net/tcp6")),
            tcp6_own: ProcFile::new(procfs.join("net/tcp6")),
            snmp: ProcFile::with_fallback(procfs.join("1/net/snmp"), procfs.join("net/snmp")),
        }
    }

    pub(super) fn collect(&mut self, out: &mut Collection) {
        let mut counts = [0u64; STATES.len()];
        if let Err(e) = self.tcp4.read() {
            out.errors.push(e);
            // Established connections are still counted by the kernel's MIB.
            match self.snmp.parse(parse_curr_estab) {
                Ok(established) => push(ESTABLISHED, established, out),
                Err(e) => tracing::debug!(error = %e, "no CurrEstab either"),
            }
            return;
        }
        count_states(self.tcp4.bytes(), &mut counts);
        // tcp6 from the namespace tcp came from; it is absent when IPv6 is
        // disabled, which means no IPv6 sockets rather than an error.
        let tcp6 = if self.tcp4.used_fallback { &mut self.tcp6_own } else { &mut self.tcp6_host };
        match tcp6.read() {
            Ok(()) => count_states(tcp6.bytes(), &mut counts),
            Err(Error::Read { error, .. }) if error.kind() == io::ErrorKind::NotFound => {}
            Err(e) => out.errors.push(e),
        }
        for (state, count) in counts.into_iter().enumerate() {
            push(state, count, out);
        }
    }
}

fn push(state: usize, count: u64, out: &mut Collection) {
    out.metrics.push(Metric::labelled(NETWORK_TCP_CONNECTIONS, LABEL_STATE, STATES[state], count as f64));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21234 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 31234 1 0000000000000000 100 0 0 10 0\n\
   2: 0500000A:0016 0200000A:C350 01 00000000:00000000 02:0004F1A8 00000000     0        0 41234 4 0000000000000000 20 4 29 10 -1\n\
   3: 0500000A:9C40 0300000A:01BB 06 00000000:00000000 03:000011C2 00000000     0        0 0 3 0000000000000000\n\
   4: 0500000A:9C42 0300000A:01BB 08 00000000:00000000 00:00000000 00000000  1000        0 51234 1 0000000000000000 20 4 30 10 -1\n\
   5: 0500000A:0016 0400000A:D431 0C 00000000:00000000 01:00000040 00000000     0        0 0 1 0000000000000000\n";

    fn counted(table: &str) -> Vec<(&'static str, u64)> {
        let mut counts = [0; STATES.len()];
        count_states(table.as_bytes(), &mut counts);
        STATES.into_iter().zip(counts).filter(|(_, n)| *n > 0).collect()
    }

    #[test]
    fn sockets_are_counted_by_their_state_field() {
        assert_eq!(
            counted(TCP),
            [("established", 1), ("syn_recv", 1), ("time_wait", 1), ("close_wait", 1), ("listen", 2)]
        );
    }

    #[test]
    fn the_header_and_malformed_lines_are_not_sockets() {
        assert!(counted("   0: 00000000:0016 00000000:0000 0A 0\n").is_empty());
        assert_eq!(
            counted("header\n 0: a b 0G\n 1: a b 1\n 2: a b 000A\n 3: a b 00\n 4: a b 0D\n 5: a b 0a\n 6: a b\n\n"),
            [("listen", 1)]
        );
    }

    #[test]
    fn curr_estab_is_read_from_the_tcp_lines_of_snmp() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
                    Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs\n\
                    Tcp: 1 200 120000 -1 19 2 0 4 17 3721\nUdp: InDatagrams\nUdp: 5\n";
        assert_eq!(parse_curr_estab(snmp), Ok(17));
        assert_eq!(parse_curr_estab("Ip: Forwarding\nIp: 1\n"), Err("no Tcp lines"));
        assert_eq!(parse_curr_estab("Tcp: RtoMin\nTcp: 200\n"), Err("no CurrEstab in the Tcp lines"));
    }

    proptest! {
        #[test]
        fn counting_arbitrary_bytes_never_panics(
            table in proptest::collection::vec(any::<u8>(), 0..512),
            lines in "(( *[0-9]{1,3}: [0-9A-F:]{0,13} [0-9A-F:]{0,13} [0-9A-Fa-z]{0,3}[ 0-9]{0,20})?\n){0,5}",
        ) {
            let mut counts = [0; STATES.len()];
            count_states(&table, &mut counts);
            count_states(lines.as_bytes(), &mut counts);
            let _ = parse_curr_estab(&String::from_utf8_lossy(&table));
        }
    }
}
