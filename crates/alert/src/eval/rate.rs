//! `rate_of_change`: the newest sample differs from the oldest sample within
//! `window_secs` of it by more than `rate_threshold` percent, either way.
//!
//! The change is relative to the magnitude of the older value, so a rise
//! reads positive even for negative values. Two distinct sample times are
//! needed; an older value of (about) zero gives no alert.

use oxmon_common::rule::{RateOfChangeConfig, Severity};

use super::{Firing, Subject};
use crate::rule::secs_to_ms;
use crate::window::Window;

pub(super) fn evaluate(
    c: &RateOfChangeConfig,
    severity: Severity,
    window: &Window,
    subject: &Subject<'_>,
) -> Option<Firing> {
    let newest = window.newest()?;
    let oldest = window.since(newest.ts_ms.saturating_sub(secs_to_ms(c.window_secs))).next()?;
    if oldest.ts_ms >= newest.ts_ms || oldest.value.abs() < f64::EPSILON {
        return None;
    }
    let rate = (newest.value - oldest.value) / oldest.value.abs() * 100.0;
    if rate.is_nan() || rate.abs() <= c.rate_threshold {
        return None;
    }
    let span_secs = newest.ts_ms.saturating_sub(oldest.ts_ms) / 1000;
    let message = format!(
        "{subject} changed by {rate:.1}% in {span_secs}s (threshold: {:.1}%) on {}",
        c.rate_threshold, subject.agent_id
    );
    Some(Firing { severity, value: newest.value, threshold: c.rate_threshold, message, predicted_breach_ms: None })
}
