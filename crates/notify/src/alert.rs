//! The alert a notification is about, and the pieces of text every channel
//! shares (oxmon 0.1's title, label rendering and time format, spec §6.2).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use oxmon_common::metric::Labels;
use oxmon_common::rule::Severity;

/// Whether an alert reports a breach or its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertStatus {
    Firing,
    Recovered,
}

impl AlertStatus {
    /// `firing` / `recovered`, as webhook payloads say it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Recovered => "recovered",
        }
    }
}

/// One alert event, as the alert engine emits it (or as the aggregation
/// step summarises several).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub agent_id: String,
    pub metric: String,
    pub severity: Severity,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub status: AlertStatus,
}

/// Message of the synthetic event a channel test sends.
pub const TEST_MESSAGE: &str = "This is a test notification from oxmon: if you can read it, the channel works.";

impl Alert {
    /// The synthetic info event of a channel test (spec api.md §6):
    /// rule `test-rule`/`Test Rule`, agent `test-agent`, metric `test.metric`.
    pub fn test(now_ms: i64) -> Alert {
        Alert {
            id: format!("test-{now_ms}"),
            rule_id: "test-rule".into(),
            rule_name: "Test Rule".into(),
            agent_id: "test-agent".into(),
            metric: "test.metric".into(),
            severity: Severity::Info,
            message: TEST_MESSAGE.into(),
            value: 0.0,
            threshold: 0.0,
            labels: Labels::new(),
            timestamp_ms: now_ms,
            status: AlertStatus::Firing,
        }
    }

    pub fn is_recovered(&self) -> bool {
        self.status == AlertStatus::Recovered
    }

    /// `[oxmon][<severity>][RECOVERED] <rule name or metric> - <agent>`
    /// (the `[RECOVERED]` tag only for recoveries): subject and heading of
    /// every channel.
    pub fn title(&self) -> String {
        format!("[oxmon][{}]{} {} - {}", self.severity, self.recovered_tag(), self.rule_display(), self.agent_id)
    }

    /// `[RECOVERED]` for recoveries, else empty.
    pub(crate) fn recovered_tag(&self) -> &'static str {
        if self.is_recovered() { "[RECOVERED]" } else { "" }
    }

    /// The rule name, or the metric when the rule has no name.
    pub(crate) fn rule_display(&self) -> &str {
        if self.rule_name.is_empty() { &self.metric } else { &self.rule_name }
    }

    /// Labels as `k=v` pairs sorted by key, joined by `", "`.
    pub fn labels_text(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }

    /// The alert time in RFC 3339, as oxmon 0.1 wrote it.
    pub fn time_text(&self) -> String {
        rfc3339(self.timestamp_ms)
    }
}

/// RFC 3339 in UTC the way chrono's `to_rfc3339` (oxmon 0.1) writes it:
/// `2024-05-01T12:00:00+00:00`, with `.mmm` only when there are milliseconds.
pub(crate) fn rfc3339(ms: i64) -> String {
    let Ok(ts) = Timestamp::from_millisecond(ms) else { return ms.to_string() };
    let z = ts.to_zoned(TimeZone::UTC);
    let mut out = z.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let millis = ms.rem_euclid(1000);
    if millis != 0 {
        out.push_str(&format!(".{millis:03}"));
    }
    out.push_str("+00:00");
    out
}

/// `HH:MM:SS` in UTC.
pub(crate) fn clock_text(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_zoned(TimeZone::UTC).strftime("%H:%M:%S").to_string(),
        Err(_) => "??:??:??".into(),
    }
}

#[cfg(test)]
pub(crate) fn sample() -> Alert {
    Alert {
        id: "a1".into(),
        rule_id: "r1".into(),
        rule_name: "High CPU".into(),
        agent_id: "web-1".into(),
        metric: "cpu.usage".into(),
        severity: Severity::Critical,
        message: "cpu.usage has been above 90.0 for the configured duration on web-1".into(),
        value: 95.5,
        threshold: 90.0,
        labels: Labels::from_pairs([("mount", "/"), ("core", "0")]),
        // 2024-05-01T12:00:00Z
        timestamp_ms: 1_714_564_800_000,
        status: AlertStatus::Firing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_names_severity_recovery_rule_and_agent() {
        let mut a = sample();
        assert_eq!(a.title(), "[oxmon][critical] High CPU - web-1");
        a.status = AlertStatus::Recovered;
        a.rule_name.clear();
        assert_eq!(a.title(), "[oxmon][critical][RECOVERED] cpu.usage - web-1");
    }

    #[test]
    fn labels_render_sorted_and_times_like_chrono() {
        let a = sample();
        assert_eq!(a.labels_text(), "core=0, mount=/");
        assert_eq!(a.time_text(), "2024-05-01T12:00:00+00:00");
        assert_eq!(rfc3339(1_714_564_800_042), "2024-05-01T12:00:00.042+00:00");
        assert_eq!(clock_text(1_714_564_800_042 + 3_723_000), "13:02:03");
    }

    #[test]
    fn test_event_is_the_documented_synthetic_one() {
        let t = Alert::test(42);
        assert_eq!((t.id.as_str(), t.rule_id.as_str(), t.agent_id.as_str()), ("test-42", "test-rule", "test-agent"));
        assert_eq!(t.severity, Severity::Info);
    }
}
