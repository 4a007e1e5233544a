//! One evaluation of one rule over one series' window: does it fire, and
//! with which value, threshold, severity and message.
//!
//! Evaluators are pure functions of the rule config and the window; the
//! engine owns dedup and recovery.

mod cert;
mod rate;
mod threshold;
mod trend;

use std::fmt;

use oxmon_common::metric::Labels;
use oxmon_common::rule::{RuleConfig, Severity};

use crate::window::Window;

/// The series an evaluation is about, as messages name it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    pub metric: &'a str,
    pub labels: &'a Labels,
    pub agent_id: &'a str,
}

/// Renders `<metric>` or `<metric> [k=v, k2=v2]`, as oxmon 0.1 messages do.
impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric)?;
        if !self.labels.is_empty() {
            f.write_str(" [")?;
            for (i, (k, v)) in self.labels.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}={v}")?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// A firing evaluation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Firing {
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub predicted_breach_ms: Option<i64>,
}

/// Evaluates `config` over `window`; `None` means "not firing".
/// `severity` is the rule's (cert rules compute their own).
pub(crate) fn evaluate(
    config: &RuleConfig,
    severity: Severity,
    window: &Window,
    subject: &Subject<'_>,
) -> Option<Firing> {
    match config {
        RuleConfig::Threshold(c) => threshold::evaluate(c, severity, window, subject),
        RuleConfig::RateOfChange(c) => rate::evaluate(c, severity, window, subject),
        RuleConfig::TrendPrediction(c) => trend::evaluate(c, severity, window, subject),
        RuleConfig::CertExpiration(c) => cert::evaluate(c, window, subject),
    }
}
