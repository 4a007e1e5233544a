//! Rate limiting of repeated log lines: the first occurrence of a condition is logged at
//! once, later ones at most once per period, each line saying how many were left out.
//! Used by the agent (failed reports, refusals, evictions) and the server (refused points,
//! one throttle per agent). Pure: the caller passes `now`.

use std::time::{Duration, Instant};

/// One rate-limited kind of log line (failed reports, refused data, ...).
#[derive(Debug)]
pub struct Throttle {
    period: Duration,
    /// When the last line was logged.
    last: Option<Instant>,
    /// Occurrences not logged since the last line.
    suppressed: u64,
}

impl Throttle {
    pub fn new(period: Duration) -> Self {
        Self { period, last: None, suppressed: 0 }
    }

    /// Records one occurrence at `now`. Returns `Some(n)` when it should be logged (the first
    /// occurrence, or the first one at least a period after the last line), `n` being the
    /// occurrences left out since the last line; `None` when it is left out.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        if self.due_in(now).is_zero() {
            self.last = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }

    /// How long until an occurrence would be logged again; zero when it would be now.
    pub fn due_in(&self, now: Instant) -> Duration {
        self.last.map_or(Duration::ZERO, |last| (last + self.period).saturating_duration_since(now))
    }

    /// Occurrences left out since the last line.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(60);

    /// Feeds occurrences at the given offsets (seconds) and returns what each one got.
    #[track_caller]
    fn check(offsets: &[u64], expected: &[Option<u64>]) {
        let start = Instant::now();
        let mut throttle = Throttle::new(PERIOD);
        let got: Vec<Option<u64>> = offsets.iter().map(|&s| throttle.hit(start + Duration::from_secs(s))).collect();
        assert_eq!(got, expected, "offsets {offsets:?}");
    }

    #[test]
    fn first_occurrence_is_logged_at_once() {
        check(&[0], &[Some(0)]);
    }

    #[test]
    fn repeats_within_a_period_are_counted_and_reported_with_the_next_line() {
        check(&[0, 1, 2, 59, 60, 61, 130], &[Some(0), None, None, None, Some(3), None, Some(1)]);
    }

    #[test]
    fn the_period_counts_from_the_last_line_not_from_the_first_occurrence() {
        check(&[0, 90, 100, 149, 150], &[Some(0), Some(0), None, None, Some(2)]);
    }

    #[test]
    fn due_in_is_the_time_until_the_next_line() {
        let start = Instant::now();
        let mut throttle = Throttle::new(PERIOD);
        assert_eq!(throttle.due_in(start), Duration::ZERO);
        throttle.hit(start);
        assert_eq!(throttle.due_in(start + Duration::from_secs(15)), Duration::from_secs(45));
        assert_eq!(throttle.due_in(start + Duration::from_secs(75)), Duration::ZERO);
        throttle.hit(start + Duration::from_secs(1));
        assert_eq!(throttle.suppressed(), 1);
    }
}
