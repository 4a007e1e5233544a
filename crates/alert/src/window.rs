//! The recent samples of one series, sorted by sample time and bounded in
//! length.
//!
//! A window keeps every sample within `span_ms` of its newest sample, plus
//! the newest sample at or before that cutoff (the *anchor*). The anchor is
//! what lets a threshold rule prove "breaching for at least D": without it,
//! jitter would leave the oldest kept sample a little younger than D and the
//! proof would never succeed.

use std::collections::VecDeque;

/// One value of a series at its sample time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sample {
    pub ts_ms: i64,
    pub value: f64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    samples: VecDeque<Sample>,
}

/// What [`Window::insert`] did with a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// A new sample time.
    Added,
    /// A sample with this time existed; its value was replaced (last write wins).
    Replaced,
    /// The same sample again (an agent re-sending a batch): nothing changed.
    Unchanged,
    /// Older than everything the window still needs: dropped.
    TooOld,
}

impl Window {
    /// Inserts `sample` in time order, then evicts what is older than the
    /// anchor and, past `cap` samples, the oldest ones.
    pub fn insert(&mut self, sample: Sample, span_ms: i64, cap: usize) -> Inserted {
        let cap = cap.max(1);
        if let (Some(front), Some(back)) = (self.samples.front(), self.samples.back()) {
            let cutoff = back.ts_ms.saturating_sub(span_ms);
            // Evicted again at once: the front is already the anchor, or the
            // window is full and the sample would be its oldest.
            if sample.ts_ms < front.ts_ms && (front.ts_ms <= cutoff || self.samples.len() >= cap) {
                return Inserted::TooOld;
            }
        }
        let at = self.samples.partition_point(|s| s.ts_ms < sample.ts_ms);
        if let Some(existing) = self.samples.get_mut(at)
            && existing.ts_ms == sample.ts_ms
        {
            if existing.value == sample.value {
                return Inserted::Unchanged;
            }
            existing.value = sample.value;
            return Inserted::Replaced;
        }
        self.samples.insert(at, sample);
        self.evict(span_ms, cap);
        Inserted::Added
    }

    fn evict(&mut self, span_ms: i64, cap: usize) {
        let Some(newest) = self.newest() else { return };
        let cutoff = newest.ts_ms.saturating_sub(span_ms);
        while self.samples.get(1).is_some_and(|s| s.ts_ms <= cutoff) {
            self.samples.pop_front();
        }
        while self.samples.len() > cap {
            self.samples.pop_front();
        }
    }

    pub fn newest(&self) -> Option<Sample> {
        self.samples.back().copied()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Samples, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Sample> + Clone + '_ {
        self.samples.iter().copied()
    }

    /// Samples with a time at or after `cutoff_ms`, oldest first.
    pub fn since(&self, cutoff_ms: i64) -> impl DoubleEndedIterator<Item = Sample> + Clone + '_ {
        let from = self.samples.partition_point(|s| s.ts_ms < cutoff_ms);
        self.samples.range(from..).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(points: &[(i64, f64)], span_ms: i64, cap: usize) -> (Window, Vec<Inserted>) {
        let mut w = Window::default();
        let results = points.iter().map(|&(ts_ms, value)| w.insert(Sample { ts_ms, value }, span_ms, cap)).collect();
        (w, results)
    }

    fn times(w: &Window) -> Vec<i64> {
        w.iter().map(|s| s.ts_ms).collect()
    }

    #[test]
    fn late_points_are_inserted_in_time_order() {
        let (w, _) = window(&[(10, 1.0), (30, 3.0), (20, 2.0), (5, 0.5)], 100, 10);
        assert_eq!(times(&w), [5, 10, 20, 30]);
    }

    #[test]
    fn keeps_the_span_plus_one_anchor_at_or_before_its_start() {
        let (w, _) = window(&[(0, 1.0), (35, 1.0), (45, 1.0), (100, 1.0)], 60, 10);
        // cutoff 40: 35 is the anchor, 0 goes.
        assert_eq!(times(&w), [35, 45, 100]);
        let (w, _) = window(&[(0, 1.0), (40, 1.0), (100, 1.0)], 60, 10);
        assert_eq!(times(&w), [40, 100]);
    }

    #[test]
    fn a_zero_span_keeps_only_the_newest_sample() {
        let (w, _) = window(&[(0, 1.0), (10, 2.0), (20, 3.0)], 0, 10);
        assert_eq!(w.newest(), Some(Sample { ts_ms: 20, value: 3.0 }));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn points_older_than_the_anchor_are_dropped() {
        // cutoff 40: the late 20 becomes the anchor, 10 is older than it, and
        // 30 is a newer anchor that replaces 20.
        let (w, results) = window(&[(50, 1.0), (100, 1.0), (20, 1.0), (10, 1.0), (30, 2.0)], 60, 10);
        assert_eq!(results, [Inserted::Added, Inserted::Added, Inserted::Added, Inserted::TooOld, Inserted::Added]);
        assert_eq!(times(&w), [30, 50, 100]);
    }

    #[test]
    fn the_same_time_replaces_the_value_and_a_resent_sample_changes_nothing() {
        let (w, results) = window(&[(10, 1.0), (10, 1.0), (10, 2.0)], 60, 10);
        assert_eq!(results, [Inserted::Added, Inserted::Unchanged, Inserted::Replaced]);
        assert_eq!(w.iter().collect::<Vec<_>>(), [Sample { ts_ms: 10, value: 2.0 }]);
    }

    #[test]
    fn length_is_capped_by_dropping_the_oldest() {
        let points: Vec<(i64, f64)> = (0..100).map(|i| (i, 1.0)).collect();
        let (w, _) = window(&points, 1_000, 8);
        assert_eq!(times(&w), (92..100).collect::<Vec<_>>());
        let (_, results) = window(&[(10, 1.0), (20, 1.0), (5, 1.0)], 1_000, 2);
        assert_eq!(results[2], Inserted::TooOld);
    }

    #[test]
    fn since_selects_samples_at_or_after_the_cutoff() {
        let (w, _) = window(&[(0, 1.0), (10, 2.0), (20, 3.0)], 100, 10);
        assert_eq!(w.since(10).map(|s| s.ts_ms).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(w.since(21).count(), 0);
    }
}
