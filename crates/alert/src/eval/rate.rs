//! `rate_of_change`: the newest sample differs from the oldest sample within
//! `window_secs` of it by more than `rate_threshold`, in the rule's
//! `direction`.
//!
//! `mode: percent` (0.1's) measures the change relative to the magnitude of
//! the older value, so a rise reads positive even for negative values, and an
//! older value of (about) zero gives no alert. `mode: points` measures it in
//! the metric's own unit (percentage points for `*_percent` metrics), which
//! does not blow small bases up: 6 % → 7.3 % memory is +1.3 points, not
//! +21 %. Two distinct sample times are needed.

use oxmon_common::rule::{RateMode, RateOfChangeConfig, Severity};

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
    if oldest.ts_ms >= newest.ts_ms {
        return None;
    }
    let (change, unit) = match c.mode {
        RateMode::Percent => {
            if oldest.value.abs() < f64::EPSILON {
                return None;
            }
            ((newest.value - oldest.value) / oldest.value.abs() * 100.0, "%")
        }
        RateMode::Points => (newest.value - oldest.value, " points"),
    };
    if change.is_nan() || !c.direction.exceeds(change, c.rate_threshold) {
        return None;
    }
    let span_secs = newest.ts_ms.saturating_sub(oldest.ts_ms) / 1000;
    let message = format!(
        "{subject} changed by {change:.1}{unit} in {span_secs}s (threshold: {:.1}{unit}) on {}",
        c.rate_threshold, subject.agent_id
    );
    Some(Firing { severity, value: newest.value, threshold: c.rate_threshold, message, predicted_breach_ms: None })
}
