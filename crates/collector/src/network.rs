//! Per-interface network counters turned into per-second rates.

use std::collections::HashMap;
use std::time::Instant;

use oxmon_common::metric::{
    LABEL_INTERFACE, Metric, NETWORK_BYTES_RECV, NETWORK_BYTES_SENT, NETWORK_PACKETS_RECV, NETWORK_PACKETS_SENT,
};

/// Cumulative counters of one interface since it appeared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct InterfaceCounters {
    pub(crate) bytes_recv: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) packets_recv: u64,
    pub(crate) packets_sent: u64,
}

impl InterfaceCounters {
    /// Per-field increase since `earlier`, or `None` if any counter went
    /// backwards: the interface was recreated or a 32-bit counter wrapped,
    /// and a guessed wrap would turn a reset into a huge bogus spike.
    fn since(&self, earlier: &Self) -> Option<[u64; 4]> {
        Some([
            self.bytes_recv.checked_sub(earlier.bytes_recv)?,
            self.bytes_sent.checked_sub(earlier.bytes_sent)?,
            self.packets_recv.checked_sub(earlier.packets_recv)?,
            self.packets_sent.checked_sub(earlier.packets_sent)?,
        ])
    }
}

#[derive(Debug)]
struct Baseline {
    counters: InterfaceCounters,
    at: Instant,
    /// The cycle that last saw the interface, to forget vanished ones.
    cycle: u64,
}

/// The previous reading of every interface, from which rates are computed.
#[derive(Debug, Default)]
pub(crate) struct NetworkRates {
    baselines: HashMap<String, Baseline>,
    cycle: u64,
}

impl NetworkRates {
    /// Starts a cycle; call [`Self::observe`] for each interface read at
    /// `now`, then [`Self::finish`].
    pub(crate) fn begin(&mut self) {
        self.cycle = self.cycle.wrapping_add(1);
    }

    /// Records `counters` of `interface` read at `now` and appends its rates
    /// if there is a usable earlier reading.
    pub(crate) fn observe(
        &mut self,
        interface: &str,
        counters: InterfaceCounters,
        now: Instant,
        out: &mut Vec<Metric>,
    ) {
        let cycle = self.cycle;
        // Look up by &str first so the steady state allocates no key.
        let Some(baseline) = self.baselines.get_mut(interface) else {
            self.baselines.insert(interface.to_owned(), Baseline { counters, at: now, cycle });
            return;
        };
        let elapsed = now.saturating_duration_since(baseline.at).as_secs_f64();
        let deltas = counters.since(&baseline.counters);
        *baseline = Baseline { counters, at: now, cycle };
        let Some(deltas) = deltas else { return };
        if elapsed <= 0.0 {
            return;
        }
        let names = [NETWORK_BYTES_RECV, NETWORK_BYTES_SENT, NETWORK_PACKETS_RECV, NETWORK_PACKETS_SENT];
        for (name, delta) in names.into_iter().zip(deltas) {
            out.push(Metric::labelled(name, LABEL_INTERFACE, interface, delta as f64 / elapsed));
        }
    }

    /// Forgets interfaces not observed since [`Self::begin`], so a recreated
    /// interface starts from a fresh baseline and state does not grow.
    pub(crate) fn finish(&mut self) {
        let cycle = self.cycle;
        self.baselines.retain(|_, b| b.cycle == cycle);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn counters(bytes_recv: u64, bytes_sent: u64, packets_recv: u64, packets_sent: u64) -> InterfaceCounters {
        InterfaceCounters { bytes_recv, bytes_sent, packets_recv, packets_sent }
    }

    fn cycle(
        rates: &mut NetworkRates,
        now: Instant,
        readings: &[(&str, InterfaceCounters)],
    ) -> Vec<(String, &'static str, f64)> {
        let mut out = Vec::new();
        rates.begin();
        for (name, c) in readings {
            rates.observe(name, *c, now, &mut out);
        }
        rates.finish();
        out.iter().map(|m| (m.labels.get(LABEL_INTERFACE).unwrap_or_default().to_owned(), m.name, m.value)).collect()
    }

    #[test]
    fn rates_are_counter_deltas_per_elapsed_second() {
        let t0 = Instant::now();
        let mut rates = NetworkRates::default();
        assert!(cycle(&mut rates, t0, &[("eth0", counters(1000, 2000, 10, 20))]).is_empty());
        let got = cycle(&mut rates, t0 + Duration::from_secs(4), &[("eth0", counters(5000, 2400, 30, 24))]);
        let eth0 = |name, value| ("eth0".to_owned(), name, value);
        assert_eq!(
            got,
            [
                eth0(NETWORK_BYTES_RECV, 1000.0),
                eth0(NETWORK_BYTES_SENT, 100.0),
                eth0(NETWORK_PACKETS_RECV, 5.0),
                eth0(NETWORK_PACKETS_SENT, 1.0)
            ]
        );
    }

    #[test]
    fn a_counter_going_backwards_skips_one_cycle_and_rebaselines() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut rates = NetworkRates::default();
        cycle(&mut rates, t0, &[("eth0", counters(1000, 1000, 10, 10))]);
        assert!(cycle(&mut rates, t0 + s, &[("eth0", counters(1000, 500, 10, 10))]).is_empty());
        let got = cycle(&mut rates, t0 + 2 * s, &[("eth0", counters(1100, 600, 11, 11))]);
        assert_eq!(got.iter().map(|g| g.2).collect::<Vec<_>>(), [100.0, 100.0, 1.0, 1.0]);
    }

    #[test]
    fn a_vanished_interface_is_forgotten_and_starts_over_when_it_returns() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut rates = NetworkRates::default();
        cycle(&mut rates, t0, &[("eth0", counters(0, 0, 0, 0)), ("wg0", counters(0, 0, 0, 0))]);
        assert_eq!(cycle(&mut rates, t0 + s, &[("eth0", counters(1, 1, 1, 1))]).len(), 4);
        assert_eq!(rates.baselines.len(), 1);
        assert!(cycle(&mut rates, t0 + 2 * s, &[("wg0", counters(9, 9, 9, 9))]).is_empty());
    }

    #[test]
    fn no_time_elapsed_emits_nothing() {
        let t0 = Instant::now();
        let mut rates = NetworkRates::default();
        cycle(&mut rates, t0, &[("eth0", counters(0, 0, 0, 0))]);
        assert!(cycle(&mut rates, t0, &[("eth0", counters(1, 1, 1, 1))]).is_empty());
    }
}
