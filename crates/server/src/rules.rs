//! Alert rules on the server side: validation of a rule as it will be
//! stored, the seed-file format of `init-rules`, and the default rules a
//! fresh installation starts with (the shipped `config/rules.seed.example.json`).

use oxmon_common::metric::{AGENT_METRICS, CERT_DAYS_UNTIL_EXPIRY};
use oxmon_common::rule::{RuleConfig, Severity, Source, check_agent_pattern};
use oxmon_storage::management::{Management, RuleRecord, Write};
use serde::Deserialize;

/// Longest rule name.
pub const MAX_RULE_NAME: usize = 128;
/// Longest `silence_secs` (30 days).
pub const MAX_SILENCE_SECS: i64 = 30 * 86_400;

/// The rules a fresh installation starts with.
pub const DEFAULT_RULES: &str = include_str!("../../../config/rules.seed.example.json");

/// Checks every field and normalises the rule as it will be stored; the
/// error says what is wrong.
pub fn validate(mut rule: RuleRecord) -> Result<RuleRecord, String> {
    rule.name = rule.name.trim().to_owned();
    if rule.name.is_empty() {
        return Err("name is required".into());
    }
    if rule.name.chars().count() > MAX_RULE_NAME {
        return Err(format!("name must be at most {MAX_RULE_NAME} characters"));
    }
    let config = RuleConfig::parse(&rule.rule_type, &rule.config_json)?;
    if rule.config_json.trim().is_empty() {
        rule.config_json = "{}".into();
    }
    if config.uses_metric() {
        rule.metric = rule.metric.trim().to_owned();
        if rule.metric.is_empty() {
            return Err("metric is required".into());
        }
    } else if rule.metric.trim().is_empty() {
        rule.metric = CERT_DAYS_UNTIL_EXPIRY.into();
    }
    check_agent_pattern(&rule.agent_pattern)?;
    rule.severity = rule.severity.parse::<Severity>()?.as_str().to_owned();
    if !(0..=MAX_SILENCE_SECS).contains(&rule.silence_secs) {
        return Err(format!("silence_secs must be between 0 and {MAX_SILENCE_SECS}"));
    }
    Ok(rule)
}

/// A seed file: `{"rules": [...]}` (oxmon 0.1's format).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSeed {
    pub rules: Vec<SeedRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRule {
    pub name: String,
    pub rule_type: String,
    #[serde(default)]
    pub metric: String,
    #[serde(default = "any_agent")]
    pub agent_pattern: String,
    #[serde(default = "info")]
    pub severity: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "ten_minutes")]
    pub silence_secs: i64,
    pub config: serde_json::Value,
}

fn any_agent() -> String {
    "*".into()
}
fn info() -> String {
    "info".into()
}
fn yes() -> bool {
    true
}
fn ten_minutes() -> i64 {
    600
}

/// What a seeding did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub inserted: Vec<String>,
    /// Names that already existed (left untouched).
    pub skipped: Vec<String>,
}

impl RuleSeed {
    /// Parses and validates a whole seed file; any bad rule fails all of it,
    /// naming the rule, so a seed is applied completely or not at all.
    pub fn parse(text: &str) -> Result<Vec<RuleRecord>, String> {
        let seed: RuleSeed = serde_json::from_str(text).map_err(|e| format!("not a rules seed file: {e}"))?;
        seed.rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let name = r.name.clone();
                if !r.config.is_object() {
                    return Err(format!("rule {i} ({name}): config must be a JSON object"));
                }
                validate(RuleRecord {
                    id: String::new(),
                    name: r.name,
                    rule_type: r.rule_type,
                    metric: r.metric,
                    agent_pattern: r.agent_pattern,
                    severity: r.severity,
                    enabled: r.enabled,
                    config_json: r.config.to_string(),
                    silence_secs: r.silence_secs,
                    source: Source::Seed.as_str().into(),
                    created_at: 0,
                    updated_at: 0,
                })
                .map_err(|e| format!("rule {i} ({name}): {e}"))
            })
            .collect()
    }
}

/// Inserts `rules`, skipping names that exist. Blocking.
pub fn seed_rules(m: &Management, rules: Vec<RuleRecord>, now_s: i64) -> oxmon_storage::Result<SeedReport> {
    let mut report = SeedReport::default();
    for rule in rules {
        let name = rule.name.clone();
        match m.create_rule(rule, now_s)? {
            Write::Done(_) => report.inserted.push(name),
            Write::NameTaken | Write::NotFound => report.skipped.push(name),
        }
    }
    Ok(report)
}

/// Metric names a rule set uses that no agent emits (for warnings).
pub fn unknown_metrics(rules: &[RuleRecord]) -> Vec<String> {
    rules
        .iter()
        .filter(|r| r.metric != CERT_DAYS_UNTIL_EXPIRY && !AGENT_METRICS.contains(&r.metric.as_str()))
        .map(|r| r.metric.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rules_are_valid_and_use_only_metrics_the_agent_emits() {
        let rules = RuleSeed::parse(DEFAULT_RULES).unwrap();
        assert_eq!(rules.len(), 9);
        assert!(unknown_metrics(&rules).is_empty(), "{:?}", unknown_metrics(&rules));
        assert!(rules.iter().all(|r| r.source == "seed" && r.enabled));
    }

    #[test]
    fn a_bad_seed_rule_fails_the_whole_file_naming_the_rule() {
        let text = r#"{"rules": [
            {"name": "ok", "rule_type": "threshold", "metric": "cpu.usage", "config": {"operator": "gt", "value": 1}},
            {"name": "broken", "rule_type": "threshold", "metric": "cpu.usage", "config": {"value": 1}}]}"#;
        let err = RuleSeed::parse(text).unwrap_err();
        assert!(err.starts_with("rule 1 (broken): invalid threshold config: missing field `operator`"), "{err}");
        assert!(RuleSeed::parse(r#"{"rulez": []}"#).unwrap_err().contains("unknown field `rulez`"));
    }
}
