//! `cert_expiration`: the newest `certificate.days_until_expiry` of a domain
//! is at or below `critical_days` (critical) or `warning_days` (warning).

use oxmon_common::metric::LABEL_DOMAIN;
use oxmon_common::rule::{CertExpirationConfig, Severity};

use super::{Firing, Subject};
use crate::window::Window;

pub(super) fn evaluate(c: &CertExpirationConfig, window: &Window, subject: &Subject<'_>) -> Option<Firing> {
    let days = window.newest()?.value;
    let (severity, limit) = if days <= c.critical_days as f64 {
        (Severity::Critical, c.critical_days)
    } else if days <= c.warning_days as f64 {
        (Severity::Warning, c.warning_days)
    } else {
        return None;
    };
    let domain = subject.labels.get(LABEL_DOMAIN).unwrap_or("unknown");
    // The checker reports whole days rounded down, so 0 means "less than a
    // day left" and only a negative count means the certificate has expired.
    let message = if days < 0.0 {
        format!("certificate expired: {domain} (expired {} ago)", day_count(-days))
    } else {
        let left = if days < 1.0 { "less than a day".to_owned() } else { day_count(days) };
        format!(
            "certificate expiring: {domain} ({left} left, within the {severity} threshold of {})",
            day_count(limit as f64)
        )
    };
    Some(Firing { severity, value: days, threshold: limit as f64, message, predicted_breach_ms: None })
}

/// "1 day", "3 days".
fn day_count(days: f64) -> String {
    if days == 1.0 { "1 day".to_owned() } else { format!("{days} days") }
}
