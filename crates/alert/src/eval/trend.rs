//! `trend_prediction`: a least-squares line through the series' samples of
//! the last `window_secs` reaches `predict_threshold` within `horizon_secs`.
//!
//! The line is trusted only when it has evidence: at least `min_data_points`
//! samples, spanning at least `min_coverage` of `window_secs`, with a
//! coefficient of determination (R²) of at least `min_r_squared`. Noise
//! around a flat line has an R² near 0; three samples taken in the first
//! 20 s span 0.5 % of an hour.
//!
//! Only rising series are predicted (slope > 0). A series whose newest value,
//! or whose fitted value at the newest sample, is already at or above the
//! threshold gives no alert: that is a threshold rule's job. Lead times are
//! counted from the newest sample's time.

use oxmon_common::rule::{Severity, TrendPredictionConfig};

use super::{Firing, Subject};
use crate::rule::secs_to_ms;
use crate::window::{Sample, Window};

pub(super) fn evaluate(
    c: &TrendPredictionConfig,
    severity: Severity,
    window: &Window,
    subject: &Subject<'_>,
) -> Option<Firing> {
    let newest = window.newest()?;
    let target = c.predict_threshold;
    if newest.value >= target {
        return None;
    }
    let samples = window.since(newest.ts_ms.saturating_sub(secs_to_ms(c.window_secs)));
    let fit = Fit::new(samples)?;
    if fit.n < c.min_data_points || fit.slope <= 0.0 {
        return None;
    }
    let covered_secs = newest.ts_ms.saturating_sub(fit.t0_ms) as f64 / 1000.0;
    if covered_secs < c.min_coverage * c.window_secs as f64 || fit.r_squared() < c.min_r_squared {
        return None;
    }
    let at_newest = fit.at(newest.ts_ms);
    if at_newest >= target {
        return None;
    }
    let lead_secs = (target - at_newest) / fit.slope;
    if !lead_secs.is_finite() || lead_secs < c.min_lead_secs as f64 || lead_secs > c.horizon_secs as f64 {
        return None;
    }
    // `as` saturates; the horizon bounds the lead anyway.
    let predicted_breach_ms = newest.ts_ms.saturating_add((lead_secs * 1000.0).round() as i64);
    let message = format!("{subject} predicted to reach {target:.1} in {} on {}", lead(lead_secs), subject.agent_id);
    Some(Firing {
        severity,
        value: newest.value,
        threshold: target,
        message,
        predicted_breach_ms: Some(predicted_breach_ms),
    })
}

/// An ordinary least-squares line `y = mean_y + slope · (x − mean_x)`, with
/// `x` in seconds relative to the first sample (centred on the mean, so large
/// epoch times cost no precision).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Fit {
    pub n: usize,
    /// Time of the first (oldest) sample.
    pub t0_ms: i64,
    mean_x: f64,
    mean_y: f64,
    /// Units per second.
    pub slope: f64,
    /// Σ(x − x̄)², Σ(x − x̄)(y − ȳ) and Σ(y − ȳ)², for R².
    sxx: f64,
    sxy: f64,
    syy: f64,
}

impl Fit {
    /// `None` for fewer than two distinct sample times, or values so large
    /// that the sums overflow.
    pub fn new(samples: impl Iterator<Item = Sample> + Clone) -> Option<Fit> {
        let t0_ms = samples.clone().next()?.ts_ms;
        let x = |s: &Sample| s.ts_ms.saturating_sub(t0_ms) as f64 / 1000.0;
        let (mut n, mut sum_x, mut sum_y) = (0usize, 0.0, 0.0);
        for s in samples.clone() {
            n += 1;
            sum_x += x(&s);
            sum_y += s.value;
        }
        let (mean_x, mean_y) = (sum_x / n as f64, sum_y / n as f64);
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for s in samples {
            let dx = x(&s) - mean_x;
            let dy = s.value - mean_y;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        let slope = sxy / sxx;
        // Equal times (sxx = 0) or sums that overflowed.
        if sxx <= 0.0 || !slope.is_finite() || !mean_y.is_finite() {
            return None;
        }
        Some(Fit { n, t0_ms, mean_x, mean_y, slope, sxx, sxy, syy })
    }

    /// The coefficient of determination, 0 (the line explains nothing) to 1
    /// (the samples lie on it). A constant series has no variance to explain
    /// and reads 0; its slope is 0 anyway.
    pub fn r_squared(&self) -> f64 {
        let r2 = self.sxy * self.sxy / (self.sxx * self.syy);
        if r2.is_finite() { r2.clamp(0.0, 1.0) } else { 0.0 }
    }

    /// The fitted value at `ts_ms`.
    pub fn at(&self, ts_ms: i64) -> f64 {
        let x = ts_ms.saturating_sub(self.t0_ms) as f64 / 1000.0;
        self.mean_y + self.slope * (x - self.mean_x)
    }
}

/// "40 seconds", "12 minutes", "2.5 hours".
fn lead(secs: f64) -> String {
    if secs < 120.0 {
        format!("{} seconds", secs.round())
    } else if secs < 7200.0 {
        format!("{} minutes", (secs / 60.0).round())
    } else {
        format!("{:.1} hours", secs / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(points: &[(i64, f64)]) -> Option<Fit> {
        Fit::new(points.iter().map(|&(ts_ms, value)| Sample { ts_ms, value }))
    }

    #[test]
    fn fits_an_exact_line_at_epoch_scale_times() {
        // 2 units per minute, starting at a 2025 epoch time in milliseconds.
        let t = 1_750_000_000_000;
        let f = fit(&[(t, 10.0), (t + 60_000, 12.0), (t + 120_000, 14.0), (t + 180_000, 16.0)]).unwrap();
        assert!((f.slope - 2.0 / 60.0).abs() < 1e-12, "{f:?}");
        assert!((f.at(t + 240_000) - 18.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.n, 4);
    }

    #[test]
    fn r_squared_is_one_on_a_line_and_near_zero_for_noise() {
        let t = 1_750_000_000_000;
        let line = fit(&[(t, 10.0), (t + 60_000, 12.0), (t + 120_000, 14.0)]).unwrap();
        assert!((line.r_squared() - 1.0).abs() < 1e-12, "{line:?}");
        // Alternating noise with a slight upward drift.
        let noise: Vec<(i64, f64)> =
            (0..20).map(|i| (t + i * 10_000, 50.0 + if i % 2 == 0 { -0.3 } else { 0.3 } + i as f64 * 0.001)).collect();
        let f = fit(&noise).unwrap();
        assert!(f.slope > 0.0 && f.r_squared() < 0.1, "{f:?} r2 {}", f.r_squared());
        let flat = fit(&[(t, 5.0), (t + 1000, 5.0), (t + 2000, 5.0)]).unwrap();
        assert_eq!(flat.r_squared(), 0.0);
    }

    #[test]
    fn needs_two_distinct_times() {
        assert_eq!(fit(&[]), None);
        assert_eq!(fit(&[(5, 1.0)]), None);
        assert_eq!(fit(&[(5, 1.0), (5, 2.0)]), None);
    }

    #[test]
    fn lead_times_read_naturally() {
        assert_eq!(lead(40.2), "40 seconds");
        assert_eq!(lead(720.0), "12 minutes");
        assert_eq!(lead(9000.0), "2.5 hours");
    }
}
