//! Jittered exponential backoff between failed reports ("equal jitter": the n-th delay is
//! uniform in `[c/2, c]` with `c = min(max, base * 2^n)`), reset after a success.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::BackoffConfig;

/// Delay generator; one per sender.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    /// Failures since the last success.
    attempt: u32,
    rng: StdRng,
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig) -> Self {
        Self::with_rng(config, StdRng::from_os_rng())
    }

    pub(crate) fn with_rng(config: BackoffConfig, rng: StdRng) -> Self {
        Self { config, attempt: 0, rng }
    }

    /// The delay before the next retry; each call lengthens the following one.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter_nanos = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(self.rng.random_range(0..=jitter_nanos))
    }

    /// Called after a success: the next failure starts from `base` again.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Failures since the last success.
    #[cfg(test)]
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// `min(max, base * 2^attempt)`.
    fn ceiling(&self) -> Duration {
        let BackoffConfig { base, max } = self.config;
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        base.checked_mul(factor).map_or(max, |d| d.min(max))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn backoff(base_ms: u64, max_ms: u64, seed: u64) -> Backoff {
        let config = BackoffConfig { base: Duration::from_millis(base_ms), max: Duration::from_millis(max_ms) };
        Backoff::with_rng(config, StdRng::seed_from_u64(seed))
    }

    #[test]
    fn delays_double_until_the_maximum() {
        let mut b = backoff(500, 30_000, 1);
        let ceilings: Vec<u64> = (0..10)
            .map(|_| {
                let c = b.ceiling();
                b.next_delay();
                u64::try_from(c.as_millis()).unwrap_or(u64::MAX)
            })
            .collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    }

    #[test]
    fn reset_starts_again_from_base() {
        let mut b = backoff(100, 10_000, 2);
        for _ in 0..5 {
            b.next_delay();
        }
        b.reset();
        assert_eq!(b.attempts(), 0);
        let d = b.next_delay();
        assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100), "{d:?}");
    }

    proptest! {
        #[test]
        fn every_delay_is_within_half_ceiling_and_ceiling(
            base_ms in 1u64..5_000,
            max_ms in 1u64..120_000,
            seed: u64,
            failures in 1usize..200,
            reset_at in proptest::option::of(0usize..200),
        ) {
            let mut b = backoff(base_ms, max_ms, seed);
            let max = Duration::from_millis(max_ms);
            for i in 0..failures {
                if reset_at == Some(i) {
                    b.reset();
                }
                let ceiling = b.ceiling();
                let d = b.next_delay();
                prop_assert!(d <= ceiling && ceiling <= max, "{d:?} > {ceiling:?} or {max:?}");
                prop_assert!(d >= ceiling / 2, "{d:?} < {ceiling:?}/2");
                prop_assert!(d >= Duration::from_millis(base_ms.min(max_ms)) / 2);
            }
        }
    }
}
