//! Aggregation buffers: alerts of one rule and status gathered during the
//! window, sent as themselves (one alert) or as one summary.

use std::collections::BTreeSet;

use oxmon_common::rule::Severity;
use tokio::time::Instant;

use crate::alert::{Alert, clock_text};

/// At most this many distinct agents are remembered per buffer (enough to
/// tell "common agent" from "n agents" without unbounded growth).
const MAX_AGENTS: usize = 10_000;

/// The alerts of one `(rule_id, status)` gathered since `opened`.
#[derive(Debug)]
pub(super) struct Aggregate {
    first: Alert,
    count: u64,
    agents: BTreeSet<String>,
    severity: Severity,
    last_value: f64,
    pub(super) opened: Instant,
    pub(super) deadline: Instant,
}

impl Aggregate {
    pub(super) fn new(first: Alert, opened: Instant, deadline: Instant) -> Self {
        let mut agents = BTreeSet::new();
        agents.insert(first.agent_id.clone());
        Self { severity: first.severity, last_value: first.value, count: 1, agents, first, opened, deadline }
    }

    pub(super) fn add(&mut self, alert: Alert) {
        self.count += 1;
        self.severity = self.severity.max(alert.severity);
        self.last_value = alert.value;
        if self.agents.len() < MAX_AGENTS {
            self.agents.insert(alert.agent_id);
        }
    }

    /// The alert to send: the only one, or a summary of `k` alerts in
    /// oxmon 0.1's form: id `agg-<rule_id>-<now_ms>`, rule, metric, labels
    /// and threshold of the first, the common agent or `"<n> agents"`, the
    /// highest severity, the last value, and the message
    /// `"<k> similar alerts aggregated since HH:MM:SS: <first message>"`
    /// (the first alert's time, UTC).
    pub(super) fn into_alert(self, now_ms: i64) -> Alert {
        if self.count == 1 {
            return self.first;
        }
        let first = self.first;
        let agent_id = match self.agents.len() {
            1 => first.agent_id.clone(),
            n if n >= MAX_AGENTS => format!("{n}+ agents"),
            n => format!("{n} agents"),
        };
        Alert {
            id: format!("agg-{}-{now_ms}", first.rule_id),
            message: format!(
                "{} similar alerts aggregated since {}: {}",
                self.count,
                clock_text(first.timestamp_ms),
                first.message
            ),
            agent_id,
            severity: self.severity,
            value: self.last_value,
            timestamp_ms: now_ms,
            ..first
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::sample;

    #[test]
    fn one_alert_is_sent_as_itself() {
        let now = Instant::now();
        let a = sample();
        assert_eq!(Aggregate::new(a.clone(), now, now).into_alert(1), a);
    }

    #[test]
    fn several_alerts_become_0_1s_summary() {
        let now = Instant::now();
        let mut first = sample();
        first.severity = Severity::Warning;
        let mut b = Aggregate::new(first.clone(), now, now);
        let mut second = sample();
        second.severity = Severity::Critical;
        second.value = 99.0;
        b.add(second.clone());
        b.add(first.clone());
        let s = b.into_alert(1_714_564_900_000);
        assert_eq!(s.id, "agg-r1-1714564900000");
        assert_eq!(
            s.message,
            "3 similar alerts aggregated since 12:00:00: cpu.usage has been above 90.0 for the configured duration on web-1"
        );
        assert_eq!((s.severity, s.agent_id.as_str(), s.value), (Severity::Critical, "web-1", 95.5));

        let mut b = Aggregate::new(first.clone(), now, now);
        second.agent_id = "db-1".into();
        b.add(second);
        assert_eq!(b.into_alert(0).agent_id, "2 agents");
    }
}
