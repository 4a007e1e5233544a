//! `threshold`: the series has breached `value` continuously for at least
//! `duration_secs`.
//!
//! The current breaching run is the longest suffix of the window whose
//! samples all breach, where two neighbouring samples more than
//! 2 × `duration_secs` apart break the run (missing data is not evidence of a
//! breach). The rule fires when the newest sample breaches and the run's
//! first sample is at or before `newest − duration_secs`. With
//! `duration_secs = 0` the newest breaching sample fires on its own.

use oxmon_common::rule::{Operator, Severity, ThresholdConfig};

use super::{Firing, Subject};
use crate::rule::secs_to_ms;
use crate::window::Window;

pub(super) fn evaluate(
    c: &ThresholdConfig,
    severity: Severity,
    window: &Window,
    subject: &Subject<'_>,
) -> Option<Firing> {
    let newest = window.newest()?;
    if !c.operator.holds(newest.value, c.value) {
        return None;
    }
    if c.duration_secs > 0 {
        let duration_ms = secs_to_ms(c.duration_secs);
        let max_gap_ms = duration_ms.saturating_mul(2);
        let mut run_start = newest.ts_ms;
        for sample in window.iter().rev().skip(1) {
            if !c.operator.holds(sample.value, c.value) || run_start.saturating_sub(sample.ts_ms) > max_gap_ms {
                break;
            }
            run_start = sample.ts_ms;
        }
        if run_start > newest.ts_ms.saturating_sub(duration_ms) {
            return None;
        }
    }
    let relation = relation(c.operator);
    let message = if c.duration_secs == 0 {
        format!("{subject} is {relation} {:.1} on {}", c.value, subject.agent_id)
    } else {
        format!(
            "{subject} has been {relation} {:.1} for at least {}s on {}",
            c.value, c.duration_secs, subject.agent_id
        )
    };
    Some(Firing { severity, value: newest.value, threshold: c.value, message, predicted_breach_ms: None })
}

fn relation(op: Operator) -> &'static str {
    match op {
        Operator::GreaterThan => "above",
        Operator::LessThan => "below",
        Operator::GreaterEqual => "at or above",
        Operator::LessEqual => "at or below",
    }
}
