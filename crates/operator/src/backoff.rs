//! Jittered exponential backoff for objects whose reconcile failed, counted
//! per object and reset by a success.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;

/// Delay after the n-th consecutive failure: `base * 2^(n-1)`, at most `max`,
/// scaled by a random factor in `[1 - jitter, 1 + jitter]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// Fraction of the delay it may move by, 0.0 to 1.0.
    pub jitter: f64,
}

impl Default for Backoff {
    /// 1 s doubling to 5 min, ±20 %.
    fn default() -> Self {
        Self { base: Duration::from_secs(1), max: Duration::from_secs(300), jitter: 0.2 }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (at least 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(32);
        let raw = self.base.saturating_mul(2u32.saturating_pow(exp)).min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter + 2.0 * jitter * random_unit();
        raw.mul_f64(factor)
    }
}

/// Consecutive failures per object.
#[derive(Debug, Default)]
pub struct FailureCounts {
    counts: Mutex<HashMap<String, u32>>,
}

impl FailureCounts {
    /// Counts one more failure of `key` and returns the count.
    pub fn fail(&self, key: &str) -> u32 {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Forgets the failures of `key`.
    pub fn reset(&self, key: &str) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// A random number in `[0, 1)` from the standard library's randomly keyed hasher.
fn random_unit() -> f64 {
    let bits = RandomState::new().build_hasher().finish() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_within_the_jitter() {
        let b = Backoff::default();
        for (failures, nominal) in [(1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (1000, 300.0)] {
            for _ in 0..50 {
                let d = b.delay(failures).as_secs_f64();
                assert!((nominal * 0.8..=nominal * 1.2).contains(&d), "{failures}: {d}");
            }
        }
        let exact = Backoff { jitter: 0.0, ..b };
        assert_eq!(exact.delay(0), Duration::from_secs(1), "0 counts as the first failure");
        assert_eq!(exact.delay(4), Duration::from_secs(8));
    }

    #[test]
    fn failures_count_per_object_until_reset() {
        let f = FailureCounts::default();
        assert_eq!((f.fail("a"), f.fail("a"), f.fail("b")), (1, 2, 1));
        f.reset("a");
        assert_eq!(f.fail("a"), 1);
    }
}
