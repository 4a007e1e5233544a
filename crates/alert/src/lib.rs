//! oxmon alert engine: evaluates alert rules over ingested points and emits
//! fired, reminder and recovered events.
//!
//! **Architecture invariant:** the engine does no IO, starts no threads and
//! never reads the clock; `now_ms` is a parameter. The server feeds it every
//! ingested point ([`Engine::observe`]), stores and notifies the returned
//! [`Event`]s, reloads rules with [`Engine::set_rules`] and calls
//! [`Engine::expire`] now and then.
//!
//! # Semantics (oxmon 0.1's, with its defects fixed)
//!
//! * **Series.** State is kept per (rule id, agent id, labels): every mount,
//!   core, interface and certificate domain has its own window, dedup and
//!   recovery state (0.1 shared one per rule and agent).
//! * **Matching.** A point reaches a rule when `point.metric == rule.metric`
//!   and the agent id matches `agent_pattern` (`*` matches everything,
//!   otherwise an [`oxmon_common::glob`] glob). `cert_expiration` rules ignore `metric`
//!   and `agent_pattern` and watch `certificate.days_until_expiry` of every
//!   agent (the server's checker reports as `cert-checker`, label `domain`).
//! * **Windows** hold samples by *sample* time, sorted (late points are
//!   inserted in order), and keep everything within the rule's span of the
//!   newest sample plus one older *anchor* sample; at most
//!   [`Limits::max_points_per_series`] samples. A re-sent sample (same time,
//!   same value) or one older than the anchor changes nothing and is not
//!   evaluated; a new value for an existing time replaces the old one.
//!   Points with a NaN or infinite value are ignored.
//! * **`threshold`** fires when the series has breached continuously for at
//!   least `duration_secs`: the newest sample breaches and the first sample
//!   of the current breaching run is at or before `newest − duration_secs`.
//!   Two samples more than 2 × `duration_secs` apart break the run. With
//!   `duration_secs = 0` a single breaching sample fires.
//! * **`rate_of_change`** compares the newest sample with the oldest one
//!   within `window_secs` of it (two distinct times needed): the change, in
//!   percent of the older value's magnitude (`mode: percent`; an older value
//!   of about 0 gives no alert) or in the metric's unit (`mode: points`),
//!   fires when it exceeds `rate_threshold` in the rule's `direction`
//!   (`both`: either way, `increase`, `decrease`).
//! * **`trend_prediction`** fits a least-squares line to the samples of the
//!   last `window_secs` (at least `min_data_points`, spanning at least
//!   `min_coverage` of the window, with an R² of at least `min_r_squared`)
//!   and fires when, rising, it reaches `predict_threshold` between
//!   `min_lead_secs` and `horizon_secs` after the newest sample. A series
//!   already at or above the threshold (newest value or fit) gives no alert.
//! * **`cert_expiration`** reads the newest days-until-expiry: at or below
//!   `critical_days` is critical, at or below `warning_days` a warning.
//! * **Dedup.** After a `Fired` event, further firing evaluations within
//!   `silence_secs` (by `now_ms`) are suppressed; later ones emit a
//!   `Reminder` with the same `first_triggered_at_ms`. A higher severity than
//!   the last emitted one is emitted at once (as a `Reminder`).
//! * **Event time.** An event's `timestamp_ms` is the time of the newest
//!   sample of its series, the one the evaluation judged; `now_ms` only
//!   drives silences and expiry.
//! * **Recovery.** An active series that evaluates not-firing
//!   [`RECOVERY_EVALUATIONS`] times in a row emits one `Recovered` event and
//!   its alert state resets; a firing evaluation in between restarts the
//!   count. Certificate series recover on the first good check
//!   ([`CERT_RECOVERY_EVALUATIONS`]): checks are daily by default.
//!
//! `crates/alert/README.md` describes each rule type with an example.

#![forbid(unsafe_code)]

mod engine;
mod eval;
mod rule;
mod window;

use oxmon_common::metric::Labels;
use oxmon_common::rule::Severity;

pub use engine::{CERT_RECOVERY_EVALUATIONS, Engine, Limits, RECOVERY_EVALUATIONS, Watch};
pub use rule::{Rule, RuleError};

/// One ingested sample, borrowed from the caller's batch.
#[derive(Clone, Copy, Debug)]
pub struct Point<'a> {
    pub agent_id: &'a str,
    pub metric: &'a str,
    pub labels: &'a Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A series started firing.
    Fired,
    /// A series still firing after `silence_secs` (or firing at a higher
    /// severity): the alert of its `Fired` event again, to be notified and to
    /// update that stored event rather than open another.
    Reminder,
    /// An active series evaluated not-firing [`RECOVERY_EVALUATIONS`] times.
    Recovered,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Fired => "fired",
            EventKind::Reminder => "reminder",
            EventKind::Recovered => "recovered",
        }
    }
}

/// What the engine reports; the server stores and notifies it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub rule_id: String,
    pub rule_name: String,
    pub agent_id: String,
    /// The metric of the series (for cert rules `certificate.days_until_expiry`).
    pub metric: String,
    /// The rule's severity (cert rules: computed). A recovery carries the
    /// severity of the last fired event.
    pub severity: Severity,
    pub message: String,
    /// The newest value of the series.
    pub value: f64,
    /// The limit that was crossed (a recovery: that of the last fired event).
    pub threshold: f64,
    pub labels: Labels,
    /// Time of the sample the event is about: the newest sample of the
    /// series when it was evaluated (not the arrival or evaluation time, so
    /// a backlog's events carry the times its samples were taken).
    pub timestamp_ms: i64,
    /// `trend_prediction` only: when the fitted line reaches the threshold.
    pub predicted_breach_ms: Option<i64>,
    /// When the series started firing (the `Fired` event's `timestamp_ms`);
    /// reminders and the recovery repeat it.
    pub first_triggered_at_ms: Option<i64>,
    /// Reminders of this alert so far, this one included: 0 for `Fired`,
    /// n for the n-th `Reminder`; a recovery carries the total.
    pub reminders: u32,
}
