//! Rules as the engine takes them, and their compiled form: which metric and
//! agents a rule watches and how much history its series keep.

use oxmon_common::glob::Glob;
use oxmon_common::metric::CERT_DAYS_UNTIL_EXPIRY;
use oxmon_common::rule::{RuleConfig, Severity};

use crate::{CERT_RECOVERY_EVALUATIONS, Limits, RECOVERY_EVALUATIONS};

/// An enabled alert rule with its validated configuration.
///
/// Two rules are "unchanged" for [`crate::Engine::set_rules`] when they are
/// equal field by field.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    /// The metric the rule reads; ignored by `cert_expiration` rules.
    pub metric: String,
    /// `*` for every agent, otherwise a glob over the agent id; ignored by
    /// `cert_expiration` rules.
    pub agent_pattern: String,
    /// Severity of the events; `cert_expiration` rules compute theirs.
    pub severity: Severity,
    /// Minimum gap between two emitted events of one series.
    pub silence_secs: u64,
    pub config: RuleConfig,
}

/// Why the engine refused a rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule {name:?}: id must not be empty")]
    EmptyId { name: String },
    #[error("rule {id:?}: id appears more than once in the rule set")]
    DuplicateId { id: String },
    #[error("rule {id:?}: metric must not be empty")]
    EmptyMetric { id: String },
    #[error("rule {id:?}: agent_pattern {pattern:?} is not a valid glob: {reason}")]
    AgentPattern { id: String, pattern: String, reason: String },
    #[error("rule {id:?}: {reason}")]
    Config { id: String, reason: String },
}

impl RuleError {
    /// The id of the refused rule (its name when the id is empty).
    pub fn rule_id(&self) -> &str {
        match self {
            RuleError::EmptyId { name } => name,
            RuleError::DuplicateId { id }
            | RuleError::EmptyMetric { id }
            | RuleError::AgentPattern { id, .. }
            | RuleError::Config { id, .. } => id,
        }
    }
}

/// Which agents a rule watches.
#[derive(Clone, Debug)]
pub(crate) enum AgentMatcher {
    Any,
    Glob(Glob),
}

impl AgentMatcher {
    pub fn matches(&self, agent_id: &str) -> bool {
        match self {
            AgentMatcher::Any => true,
            AgentMatcher::Glob(glob) => glob.is_match(agent_id),
        }
    }
}

/// What the engine derives from a rule once, when the rule set is loaded.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    /// The metric the rule consumes (cert rules: the days-until-expiry metric).
    pub metric: String,
    pub agents: AgentMatcher,
    /// History a series keeps, relative to its newest sample.
    pub span_ms: i64,
    pub silence_ms: i64,
    /// Consecutive non-firing evaluations that recover an active series.
    pub recover_after: u32,
}

impl Compiled {
    pub fn new(rule: &Rule, limits: &Limits) -> Result<Compiled, RuleError> {
        let id = || rule.id.clone();
        if rule.id.is_empty() {
            return Err(RuleError::EmptyId { name: rule.name.clone() });
        }
        rule.config.check().map_err(|reason| RuleError::Config { id: id(), reason })?;
        let (metric, agents) = if rule.config.uses_metric() {
            if rule.metric.is_empty() {
                return Err(RuleError::EmptyMetric { id: id() });
            }
            (rule.metric.clone(), agent_matcher(rule)?)
        } else {
            (CERT_DAYS_UNTIL_EXPIRY.to_owned(), AgentMatcher::Any)
        };
        let span_secs = match &rule.config {
            RuleConfig::Threshold(c) => c.duration_secs,
            RuleConfig::RateOfChange(c) => c.window_secs,
            RuleConfig::TrendPrediction(c) => {
                if c.min_data_points > limits.max_points_per_series {
                    return Err(RuleError::Config {
                        id: id(),
                        reason: format!(
                            "min_data_points ({}) exceeds the engine's limit of {} points per series",
                            c.min_data_points, limits.max_points_per_series
                        ),
                    });
                }
                c.window_secs
            }
            RuleConfig::CertExpiration(_) => 0,
        };
        // A certificate is checked rarely (daily by default) and its days
        // left do not flap: one good check means it was renewed.
        let recover_after = if matches!(rule.config, RuleConfig::CertExpiration(_)) {
            CERT_RECOVERY_EVALUATIONS
        } else {
            RECOVERY_EVALUATIONS
        };
        Ok(Compiled {
            metric,
            agents,
            span_ms: secs_to_ms(span_secs),
            silence_ms: secs_to_ms(rule.silence_secs),
            recover_after,
        })
    }
}

fn agent_matcher(rule: &Rule) -> Result<AgentMatcher, RuleError> {
    if rule.agent_pattern == "*" {
        return Ok(AgentMatcher::Any);
    }
    let bad =
        |reason: String| RuleError::AgentPattern { id: rule.id.clone(), pattern: rule.agent_pattern.clone(), reason };
    if rule.agent_pattern.is_empty() {
        return Err(bad("it is empty (use \"*\" for every agent)".into()));
    }
    let glob = Glob::new(&rule.agent_pattern).map_err(|e| bad(e.to_string()))?;
    Ok(AgentMatcher::Glob(glob))
}

/// Seconds to milliseconds, saturating (configs are `u64`, times `i64`).
pub(crate) fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}
