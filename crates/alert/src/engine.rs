//! The engine: routes each point to the rules that watch it, keeps one
//! window and one alert state per (rule, agent, labels) series, and turns
//! evaluations into fired, reminder and recovered events.

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;

use oxmon_common::metric::Labels;
use oxmon_common::rule::Severity;

use crate::eval::{self, Firing, Subject};
use crate::rule::{AgentMatcher, Compiled, Rule, RuleError, secs_to_ms};
use crate::window::{Inserted, Sample, Window};
use crate::{Event, EventKind, Point};

/// Consecutive non-firing evaluations that recover an active series.
pub const RECOVERY_EVALUATIONS: u32 = 3;

/// The same for `cert_expiration` rules, whose series get one point per
/// certificate check.
pub const CERT_RECOVERY_EVALUATIONS: u32 = 1;

/// Memory bounds of an [`Engine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Samples kept per series at most; past it the oldest are dropped. A
    /// threshold rule whose `duration_secs` spans more samples than this
    /// cannot prove its duration and does not fire.
    pub max_points_per_series: usize,
    /// [`Engine::expire`] drops a series that received no point for this
    /// long (and for longer than its rule's window and `silence_secs`).
    pub idle_expiry_secs: u64,
}

impl Default for Limits {
    /// 4096 samples (about 64 KiB) per series: 11 hours at a 10 s interval.
    /// Two days of idleness, so a daily certificate check keeps its state
    /// between checks.
    fn default() -> Self {
        Limits { max_points_per_series: 4096, idle_expiry_secs: 2 * 86_400 }
    }
}

/// The alert engine. Pure: no IO, no clock, no threads; the caller passes
/// `now_ms` and owns synchronisation.
#[derive(Default)]
pub struct Engine {
    /// In the order given (the server passes creation order), which is the
    /// order of the events one point produces.
    rules: Vec<RuleState>,
    /// Metric name → indexes into `rules`.
    by_metric: HashMap<String, Vec<usize>>,
    limits: Limits,
}

#[derive(Debug)]
struct RuleState {
    rule: Rule,
    compiled: Compiled,
    /// agent id → labels → series. Two levels so a lookup borrows the
    /// point's `&str` and `&Labels` without allocating.
    series: HashMap<String, HashMap<Labels, Series>>,
}

#[derive(Debug, Default)]
struct Series {
    window: Window,
    /// `now_ms` of the last point, for [`Engine::expire`].
    last_seen_ms: i64,
    active: Option<Active>,
}

/// A series whose rule has fired and not yet recovered.
#[derive(Clone, Copy, Debug)]
struct Active {
    /// Sample time of the first firing evaluation.
    first_triggered_ms: i64,
    /// `now_ms` of the last emitted event (silences run on the server clock).
    last_emitted_ms: i64,
    /// Reminders emitted so far.
    reminders: u32,
    /// Severity and threshold of the last emitted event.
    severity: Severity,
    threshold: f64,
    /// Consecutive non-firing evaluations.
    oks: u32,
}

// === impl Engine ===

/// A summary: the windows of every series would drown a log line.
impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.rules.iter().map(|s| s.rule.id.as_str()).collect::<Vec<_>>())
            .field("series", &self.series_count())
            .field("limits", &self.limits)
            .finish()
    }
}

impl Engine {
    /// An engine over `rules`, with the default [`Limits`]. Refuses the whole
    /// set if any rule is invalid; see [`Engine::set_rules_skip_invalid`] for
    /// the lenient form.
    pub fn new(rules: Vec<Rule>) -> Result<Engine, RuleError> {
        Engine::with_limits(rules, Limits::default())
    }

    pub fn with_limits(rules: Vec<Rule>, limits: Limits) -> Result<Engine, RuleError> {
        let limits = Limits { max_points_per_series: limits.max_points_per_series.max(1), ..limits };
        let mut engine = Engine { rules: Vec::new(), by_metric: HashMap::new(), limits };
        engine.set_rules(rules)?;
        Ok(engine)
    }

    /// Replaces the rule set, all or nothing: on error the engine is left
    /// as it was.
    ///
    /// The state (windows, dedup, active alerts) of every rule whose
    /// definition is unchanged (same id and equal in every field) is kept;
    /// the state of changed and removed rules is dropped.
    pub fn set_rules(&mut self, rules: Vec<Rule>) -> Result<(), RuleError> {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut ids = HashSet::new();
        for rule in rules {
            if !ids.insert(rule.id.clone()) {
                return Err(RuleError::DuplicateId { id: rule.id });
            }
            let c = Compiled::new(&rule, &self.limits)?;
            compiled.push((rule, c));
        }
        self.install(compiled);
        Ok(())
    }

    /// Like [`Engine::set_rules`], but skips invalid rules (and rules
    /// repeating the id of an earlier accepted one) instead of refusing the
    /// set, and returns why each was skipped. This is 0.1's behaviour for
    /// rows it could not load.
    pub fn set_rules_skip_invalid(&mut self, rules: Vec<Rule>) -> Vec<RuleError> {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut ids = HashSet::new();
        let mut errors = Vec::new();
        for rule in rules {
            if ids.contains(&rule.id) {
                errors.push(RuleError::DuplicateId { id: rule.id });
                continue;
            }
            match Compiled::new(&rule, &self.limits) {
                Ok(c) => {
                    ids.insert(rule.id.clone());
                    compiled.push((rule, c));
                }
                Err(e) => errors.push(e),
            }
        }
        self.install(compiled);
        errors
    }

    fn install(&mut self, compiled: Vec<(Rule, Compiled)>) {
        let mut old: HashMap<String, RuleState> = self.rules.drain(..).map(|s| (s.rule.id.clone(), s)).collect();
        self.rules = compiled
            .into_iter()
            .map(|(rule, compiled)| {
                let series = match old.remove(&rule.id) {
                    Some(previous) if previous.rule == rule => previous.series,
                    _ => HashMap::new(),
                };
                RuleState { rule, compiled, series }
            })
            .collect();
        self.by_metric.clear();
        for (i, state) in self.rules.iter().enumerate() {
            self.by_metric.entry(state.compiled.metric.clone()).or_default().push(i);
        }
    }

    /// Feeds one ingested point; returns the events it produced, in rule
    /// order. Points with a NaN or infinite value are ignored.
    pub fn observe(&mut self, point: &Point<'_>, now_ms: i64) -> Vec<Event> {
        let mut events = Vec::new();
        if !point.value.is_finite() {
            return events;
        }
        let Some(indexes) = self.by_metric.get(point.metric) else { return events };
        for &i in indexes {
            if let Some(state) = self.rules.get_mut(i)
                && state.compiled.agents.matches(point.agent_id)
            {
                state.observe(point, now_ms, self.limits.max_points_per_series, &mut events);
            }
        }
        events
    }

    /// Drops every series that received no point for longer than
    /// `max(idle_expiry_secs, the rule's window, silence_secs)`, active or
    /// not (no event: a series that stopped reporting did not recover). If it
    /// reports again it starts afresh. Returns how many series were dropped.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let mut dropped = 0;
        let idle_ms = secs_to_ms(self.limits.idle_expiry_secs);
        for state in &mut self.rules {
            let keep_ms = idle_ms.max(state.compiled.span_ms).max(state.compiled.silence_ms);
            state.series.retain(|_, by_labels| {
                let before = by_labels.len();
                by_labels.retain(|_, s| now_ms.saturating_sub(s.last_seen_ms) <= keep_ms);
                dropped += before - by_labels.len();
                !by_labels.is_empty()
            });
        }
        dropped
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Which (metric, agent) pairs the current rules consume, as a
    /// standalone filter: callers can drop the points no rule can match
    /// before queueing them for [`Engine::observe`]. Taken again after
    /// every rule change.
    pub fn watch(&self) -> Watch {
        let mut by_metric: HashMap<String, Vec<AgentMatcher>> = HashMap::new();
        for state in &self.rules {
            by_metric.entry(state.compiled.metric.clone()).or_default().push(state.compiled.agents.clone());
        }
        Watch { by_metric }
    }

    /// Number of series the engine holds state for, over all rules.
    pub fn series_count(&self) -> usize {
        self.rules.iter().flat_map(|s| s.series.values()).map(HashMap::len).sum()
    }

    /// Whether the series has fired and not yet recovered (including while
    /// its reminders are silenced).
    pub fn is_active(&self, rule_id: &str, agent_id: &str, labels: &Labels) -> bool {
        self.rules
            .iter()
            .filter(|s| s.rule.id == rule_id)
            .filter_map(|s| s.series.get(agent_id)?.get(labels))
            .any(|s| s.active.is_some())
    }
}

/// The (metric, agent) pairs some rule of an [`Engine`] consumes; see
/// [`Engine::watch`].
#[derive(Clone, Debug, Default)]
pub struct Watch {
    by_metric: HashMap<String, Vec<AgentMatcher>>,
}

impl Watch {
    /// Whether some rule would evaluate a point of `metric` from `agent_id`
    /// (the engine ignores every other point).
    pub fn matches(&self, metric: &str, agent_id: &str) -> bool {
        self.by_metric.get(metric).is_some_and(|agents| agents.iter().any(|a| a.matches(agent_id)))
    }

    /// Whether no rule watches anything.
    pub fn is_empty(&self) -> bool {
        self.by_metric.is_empty()
    }
}

// === impl RuleState ===

impl RuleState {
    fn observe(&mut self, point: &Point<'_>, now_ms: i64, cap: usize, events: &mut Vec<Event>) {
        if !self.series.contains_key(point.agent_id) {
            self.series.insert(point.agent_id.to_owned(), HashMap::new());
        }
        let Some(by_labels) = self.series.get_mut(point.agent_id) else { return };
        if !by_labels.contains_key(point.labels) {
            by_labels.insert(point.labels.clone(), Series::default());
        }
        let Some(series) = by_labels.get_mut(point.labels) else { return };

        series.last_seen_ms = now_ms;
        let sample = Sample { ts_ms: point.timestamp_ms, value: point.value };
        match series.window.insert(sample, self.compiled.span_ms, cap) {
            Inserted::Added | Inserted::Replaced => {}
            // The window is as it was: evaluating again would only count a
            // re-sent batch as extra recovery evidence.
            Inserted::Unchanged | Inserted::TooOld => return,
        }
        let subject = Subject { metric: point.metric, labels: point.labels, agent_id: point.agent_id };
        let firing = eval::evaluate(&self.rule.config, self.rule.severity, &series.window, &subject);
        // Evaluations judge the window as of its newest sample: that is the
        // sample an event is about, and its time is the event's.
        let current = series.window.newest().unwrap_or(sample);
        if let Some(transition) =
            series.transition(firing, current.ts_ms, now_ms, self.compiled.silence_ms, self.compiled.recover_after)
        {
            events.push(self.event(transition, &subject, current));
        }
    }

    fn event(&self, transition: Transition, subject: &Subject<'_>, current: Sample) -> Event {
        let (kind, severity, message, value, threshold, predicted_breach_ms, active) = match transition {
            Transition::Fired { firing, active } => (
                if active.reminders == 0 { EventKind::Fired } else { EventKind::Reminder },
                firing.severity,
                firing.message,
                firing.value,
                firing.threshold,
                firing.predicted_breach_ms,
                active,
            ),
            Transition::Recovered(active) => (
                EventKind::Recovered,
                active.severity,
                format!("[RECOVERED] {subject} has returned to normal on {}", subject.agent_id),
                current.value,
                active.threshold,
                None,
                active,
            ),
        };
        Event {
            kind,
            rule_id: self.rule.id.clone(),
            rule_name: self.rule.name.clone(),
            agent_id: subject.agent_id.to_owned(),
            metric: subject.metric.to_owned(),
            severity,
            message,
            value,
            threshold,
            labels: subject.labels.clone(),
            timestamp_ms: current.ts_ms,
            predicted_breach_ms,
            first_triggered_at_ms: Some(active.first_triggered_ms),
            reminders: active.reminders,
        }
    }
}

// === impl Series ===

enum Transition {
    /// The first event of an alert, or a reminder (`active.reminders > 0`).
    Fired {
        firing: Firing,
        active: Active,
    },
    Recovered(Active),
}

impl Series {
    /// Applies one evaluation of the window whose newest sample is at
    /// `sample_ms` to the alert state: fire, remind, suppress, count towards
    /// recovery or recover.
    fn transition(
        &mut self,
        firing: Option<Firing>,
        sample_ms: i64,
        now_ms: i64,
        silence_ms: i64,
        recover_after: u32,
    ) -> Option<Transition> {
        match (firing, &mut self.active) {
            (Some(firing), Some(active)) => {
                active.oks = 0;
                let silenced = now_ms.saturating_sub(active.last_emitted_ms) < silence_ms;
                // A worse severity (a certificate going from warning to
                // critical) is news and is not silenced.
                if silenced && firing.severity <= active.severity {
                    return None;
                }
                active.last_emitted_ms = now_ms;
                active.reminders = active.reminders.saturating_add(1);
                active.severity = firing.severity;
                active.threshold = firing.threshold;
                Some(Transition::Fired { firing, active: *active })
            }
            (Some(firing), None) => {
                let active = Active {
                    first_triggered_ms: sample_ms,
                    last_emitted_ms: now_ms,
                    reminders: 0,
                    severity: firing.severity,
                    threshold: firing.threshold,
                    oks: 0,
                };
                self.active = Some(active);
                Some(Transition::Fired { firing, active })
            }
            (None, Some(active)) => {
                active.oks += 1;
                if active.oks < recover_after {
                    return None;
                }
                let recovered = *active;
                self.active = None;
                Some(Transition::Recovered(recovered))
            }
            (None, None) => None,
        }
    }
}
