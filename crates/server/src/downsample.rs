//! Downsampling of range reads: min, average, max and count per fixed step,
//! for charts of long ranges (`GET /v1/metrics/downsample`).
//!
//! Pure aggregation over `(timestamp, value)` points, fed chunk by chunk as
//! the storage's range reads return them, so it does not depend on how the
//! samples are laid out on disk and holds one bucket per step and series,
//! never the raw points of the whole range.

use std::collections::{BTreeMap, HashMap};

use oxmon_common::metric::Labels;

/// Steps a chart is downsampled to: round numbers of seconds, minutes,
/// hours and days (then whole days).
const NICE_STEPS_MS: &[i64] = &[
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
    7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

const DAY_MS: i64 = 86_400_000;

/// The step for `[from_ms, to_ms]` in at most `max_points` buckets aligned
/// to multiples of the step since the Unix epoch: the smallest round step
/// that fits.
pub fn step_for(from_ms: i64, to_ms: i64, max_points: usize) -> i64 {
    let span = (to_ms - from_ms).max(0) + 1;
    // Aligned buckets can straddle both ends: one bucket of slack.
    let slots = i64::try_from(max_points.max(2) - 1).unwrap_or(i64::MAX);
    let raw = ceil_div(span, slots);
    NICE_STEPS_MS.iter().copied().find(|s| *s >= raw).unwrap_or_else(|| ceil_div(raw, DAY_MS) * DAY_MS)
}

/// `a / b` rounded up, for positive `a` and `b` (`i64::div_ceil` is unstable).
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// One bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Start of the bucket (a multiple of the step), Unix ms.
    pub start_ms: i64,
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    pub count: u64,
}

#[derive(Clone, Copy, Debug)]
struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    count: u64,
}

/// Buckets of every series seen, by labels.
#[derive(Debug)]
pub struct Downsampler {
    step_ms: i64,
    series: HashMap<Labels, BTreeMap<i64, Acc>>,
}

impl Downsampler {
    pub fn new(step_ms: i64) -> Self {
        Self { step_ms: step_ms.max(1), series: HashMap::new() }
    }

    pub fn step_ms(&self) -> i64 {
        self.step_ms
    }

    /// Adds points of the series `labels` (in any order; NaN values are skipped).
    pub fn add(&mut self, labels: &Labels, points: &[(i64, f64)]) {
        let buckets = match self.series.get_mut(labels) {
            Some(b) => b,
            None => self.series.entry(labels.clone()).or_default(),
        };
        for &(ts, v) in points {
            if v.is_nan() {
                continue;
            }
            let start = ts.div_euclid(self.step_ms) * self.step_ms;
            let acc = buckets.entry(start).or_insert(Acc { min: v, max: v, sum: 0.0, count: 0 });
            acc.min = acc.min.min(v);
            acc.max = acc.max.max(v);
            acc.sum += v;
            acc.count += 1;
        }
    }

    /// Every series (sorted by labels) with its buckets, oldest first.
    pub fn finish(self) -> Vec<(Labels, Vec<Bucket>)> {
        let mut out: Vec<(Labels, Vec<Bucket>)> = self
            .series
            .into_iter()
            .map(|(labels, buckets)| {
                let buckets = buckets
                    .into_iter()
                    .map(|(start_ms, a)| Bucket {
                        start_ms,
                        min: a.min,
                        max: a.max,
                        avg: a.sum / a.count as f64,
                        count: a.count,
                    })
                    .collect();
                (labels, buckets)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// `[from_ms, to_ms]` cut at UTC day boundaries: the chunks a range read
/// visits one at a time, so at most one day of raw points is in memory.
pub fn day_chunks(from_ms: i64, to_ms: i64) -> impl Iterator<Item = (i64, i64)> {
    let mut start = from_ms;
    std::iter::from_fn(move || {
        if start > to_ms {
            return None;
        }
        let end = ((start.div_euclid(DAY_MS) + 1) * DAY_MS - 1).min(to_ms);
        let chunk = (start, end);
        start = end + 1;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_is_the_smallest_round_step_fitting_the_points() {
        let hour = 3_600_000;
        assert_eq!(step_for(0, hour, 400), 10_000, "1 h in 400 points: 10 s");
        assert_eq!(step_for(0, 7 * 24 * hour, 600), 1_800_000, "7 d in 600 points: 30 min");
        assert_eq!(step_for(0, 1_000, 1000), 1_000, "never under a second");
        assert_eq!(step_for(0, 400 * DAY_MS, 100), 5 * DAY_MS, "whole days beyond a day");
        for (span, points) in [(hour, 400), (7 * 24 * hour, 600), (24 * hour, 37), (123_456_789, 999)] {
            let step = step_for(5_000, 5_000 + span, points);
            let buckets = (5_000 + span).div_euclid(step) - 5_000_i64.div_euclid(step) + 1;
            assert!(buckets <= points as i64, "{span} in {points}: {buckets} buckets of {step}");
        }
    }

    #[test]
    fn buckets_hold_min_avg_max_and_count_per_series() {
        let mut d = Downsampler::new(10);
        let a = Labels::one("core", "0");
        let b = Labels::one("core", "1");
        d.add(&a, &[(0, 1.0), (5, 3.0), (9, 2.0), (10, 7.0)]);
        d.add(&b, &[(25, 4.0), (-1, 8.0), (3, f64::NAN)]);
        d.add(&a, &[(11, 9.0)]);
        let out = d.finish();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, a);
        assert_eq!(
            out[0].1,
            vec![
                Bucket { start_ms: 0, min: 1.0, max: 3.0, avg: 2.0, count: 3 },
                Bucket { start_ms: 10, min: 7.0, max: 9.0, avg: 8.0, count: 2 },
            ]
        );
        assert_eq!(
            out[1].1,
            vec![
                Bucket { start_ms: -10, min: 8.0, max: 8.0, avg: 8.0, count: 1 },
                Bucket { start_ms: 20, min: 4.0, max: 4.0, avg: 4.0, count: 1 },
            ]
        );
    }

    #[test]
    fn day_chunks_cover_the_range_once_cut_at_midnight_utc() {
        let chunks: Vec<_> = day_chunks(DAY_MS - 5, 2 * DAY_MS + 7).collect();
        assert_eq!(chunks, vec![(DAY_MS - 5, DAY_MS - 1), (DAY_MS, 2 * DAY_MS - 1), (2 * DAY_MS, 2 * DAY_MS + 7)]);
        assert_eq!(day_chunks(10, 10).collect::<Vec<_>>(), vec![(10, 10)]);
        assert_eq!(day_chunks(10, 9).count(), 0);
    }
}
