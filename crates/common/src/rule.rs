//! Alert rules as data: types, severities, and per-type configuration,
//! parsed and validated once so the REST API, the engine and the operator
//! agree on what a rule means.
//!
//! The wire form is oxmon 0.1's: `rule_type` plus a JSON `config` object
//! (stored as text in `config_json`). Unlike 0.1, a rule that would never
//! work (unknown type, unparseable config, missing threshold) is refused with
//! a message instead of being stored and silently ignored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Alert severity, ordered `info < warning < critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl FromStr for Severity {
    type Err = String;

    /// Case-insensitive, as oxmon 0.1.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!("severity must be info, warning or critical, got {s:?}")),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who created a rule (or channel, ...). Objects a custom resource owns
/// (`crd`) are changed only through Kubernetes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Api,
    Seed,
    Crd,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Seed => "seed",
            Source::Crd => "crd",
        }
    }

    /// Unknown stored values (e.g. 0.1's `toml`) read as `api`.
    pub fn parse_lenient(s: &str) -> Source {
        match s {
            "seed" => Source::Seed,
            "crd" => Source::Crd,
            _ => Source::Api,
        }
    }
}

/// Comparison of a threshold rule; 0.1's names and short aliases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    #[serde(alias = "gt", alias = ">")]
    GreaterThan,
    #[serde(alias = "lt", alias = "<")]
    LessThan,
    #[serde(alias = "gte", alias = ">=")]
    GreaterEqual,
    #[serde(alias = "lte", alias = "<=")]
    LessEqual,
}

impl Operator {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::GreaterThan => value > threshold,
            Operator::LessThan => value < threshold,
            Operator::GreaterEqual => value >= threshold,
            Operator::LessEqual => value <= threshold,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    pub operator: Operator,
    pub value: f64,
    /// Every point in this trailing span must breach (0 = the newest point).
    #[serde(default)]
    pub duration_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateOfChangeConfig {
    /// Change that fires: percent of the older value (`mode: percent`) or
    /// units of the metric (`mode: points`, percentage points for `*_percent`
    /// metrics).
    pub rate_threshold: f64,
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// How the change is measured (new in 0.2; default `percent`, 0.1's).
    #[serde(default, skip_serializing_if = "RateMode::is_percent")]
    pub mode: RateMode,
    /// Which changes fire (new in 0.2; default `both`, 0.1's).
    #[serde(default, skip_serializing_if = "Direction::is_both")]
    pub direction: Direction,
}

/// How a `rate_of_change` rule measures a change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateMode {
    /// Relative: `(new − old) / |old| × 100` (0.1). Small bases make small
    /// moves look large: 6 % → 7.3 % memory is +21 %.
    #[default]
    Percent,
    /// Absolute: `new − old`, in the metric's unit (percentage points for
    /// `*_percent` metrics): 6 % → 7.3 % is +1.3.
    Points,
}

impl RateMode {
    pub fn is_percent(&self) -> bool {
        *self == RateMode::Percent
    }
}

/// Which changes a `rate_of_change` rule reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Rises and drops (0.1).
    #[default]
    Both,
    Increase,
    Decrease,
}

impl Direction {
    pub fn is_both(&self) -> bool {
        *self == Direction::Both
    }

    /// Whether a signed change of this size, in the rule's unit, fires.
    pub fn exceeds(self, change: f64, threshold: f64) -> bool {
        match self {
            Direction::Both => change.abs() > threshold,
            Direction::Increase => change > threshold,
            Direction::Decrease => -change > threshold,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendPredictionConfig {
    pub predict_threshold: f64,
    #[serde(default = "default_horizon")]
    pub horizon_secs: u64,
    #[serde(default = "default_min_points")]
    pub min_data_points: usize,
    /// Span of samples the line is fitted to (new in 0.2; 0.1 fitted the
    /// engine's retention, which is 3600 s for the default disk-trend rule).
    #[serde(default = "default_trend_window")]
    pub window_secs: u64,
    /// A predicted breach sooner than this is not reported (new in 0.2). The
    /// default 0 reports every breach within the horizon, as 0.1 did.
    #[serde(default)]
    pub min_lead_secs: u64,
    /// Fraction of `window_secs` the fitted samples must span, 0 to 1 (new
    /// in 0.2). The default 0.5 fixes a 0.1 defect: three samples taken 20 s
    /// after start were extrapolated over a day.
    #[serde(default = "default_min_coverage", skip_serializing_if = "is_default_min_coverage")]
    pub min_coverage: f64,
    /// Smallest coefficient of determination (R²) of the fit, 0 to 1 (new in
    /// 0.2). The default 0 accepts any fit, as 0.1 did; noise around a flat
    /// line has an R² near 0, a filling disk near 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_r_squared: f64,
}

impl TrendPredictionConfig {
    /// The default of `min_coverage`.
    pub const DEFAULT_MIN_COVERAGE: f64 = 0.5;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertExpirationConfig {
    #[serde(default = "default_warning_days")]
    pub warning_days: i64,
    #[serde(default = "default_critical_days")]
    pub critical_days: i64,
}

fn default_window() -> u64 {
    300
}
fn default_horizon() -> u64 {
    86_400
}
fn default_min_points() -> usize {
    3
}
fn default_trend_window() -> u64 {
    3600
}
fn default_min_coverage() -> f64 {
    TrendPredictionConfig::DEFAULT_MIN_COVERAGE
}
fn is_default_min_coverage(v: &f64) -> bool {
    *v == TrendPredictionConfig::DEFAULT_MIN_COVERAGE
}
fn is_zero(v: &f64) -> bool {
    *v == 0.0
}
fn default_warning_days() -> i64 {
    30
}
fn default_critical_days() -> i64 {
    7
}

/// A rule's type together with its validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleConfig {
    Threshold(ThresholdConfig),
    RateOfChange(RateOfChangeConfig),
    TrendPrediction(TrendPredictionConfig),
    CertExpiration(CertExpirationConfig),
}

/// The rule types, as spelled in `rule_type`.
pub const RULE_TYPES: &[&str] = &["threshold", "rate_of_change", "trend_prediction", "cert_expiration"];

impl RuleConfig {
    /// Parses and checks `config_json` for `rule_type`. An empty string or
    /// `{}` is accepted only where every key has a default.
    pub fn parse(rule_type: &str, config_json: &str) -> Result<RuleConfig, String> {
        let text = if config_json.trim().is_empty() { "{}" } else { config_json };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("config_json is not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err("config_json must be a JSON object".into());
        }
        let bad = |e: serde_json::Error| format!("invalid {rule_type} config: {e}");
        let config = match rule_type {
            "threshold" => RuleConfig::Threshold(serde_json::from_value(value).map_err(bad)?),
            "rate_of_change" => RuleConfig::RateOfChange(serde_json::from_value(value).map_err(bad)?),
            "trend_prediction" => RuleConfig::TrendPrediction(serde_json::from_value(value).map_err(bad)?),
            "cert_expiration" => RuleConfig::CertExpiration(serde_json::from_value(value).map_err(bad)?),
            other => return Err(format!("rule_type must be one of {}, got {other:?}", RULE_TYPES.join(", "))),
        };
        config.check()?;
        Ok(config)
    }

    pub fn rule_type(&self) -> &'static str {
        match self {
            RuleConfig::Threshold(_) => "threshold",
            RuleConfig::RateOfChange(_) => "rate_of_change",
            RuleConfig::TrendPrediction(_) => "trend_prediction",
            RuleConfig::CertExpiration(_) => "cert_expiration",
        }
    }

    /// Whether the rule reads its own `metric` and `agent_pattern` (cert
    /// rules always watch `certificate.days_until_expiry` of every domain).
    pub fn uses_metric(&self) -> bool {
        !matches!(self, RuleConfig::CertExpiration(_))
    }

    /// Checks the values serde cannot: finite numbers, non-zero spans,
    /// consistent limits. [`RuleConfig::parse`] runs it; callers that build a
    /// config by hand (the alert engine) run it too.
    pub fn check(&self) -> Result<(), String> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() { Ok(()) } else { Err(format!("{name} must be a finite number")) }
        };
        match self {
            RuleConfig::Threshold(c) => finite("value", c.value),
            RuleConfig::RateOfChange(c) => {
                finite("rate_threshold", c.rate_threshold)?;
                if c.rate_threshold <= 0.0 {
                    return Err("rate_threshold must be greater than 0".into());
                }
                if c.window_secs == 0 {
                    return Err("window_secs must be at least 1".into());
                }
                Ok(())
            }
            RuleConfig::TrendPrediction(c) => {
                finite("predict_threshold", c.predict_threshold)?;
                if c.horizon_secs == 0 {
                    return Err("horizon_secs must be at least 1".into());
                }
                if c.min_data_points < 2 {
                    return Err("min_data_points must be at least 2 (a trend needs two points)".into());
                }
                if c.window_secs == 0 {
                    return Err("window_secs must be at least 1".into());
                }
                if c.min_lead_secs > c.horizon_secs {
                    return Err("min_lead_secs must not exceed horizon_secs".into());
                }
                if !(0.0..=1.0).contains(&c.min_coverage) {
                    return Err("min_coverage must be between 0 and 1 (a fraction of window_secs)".into());
                }
                if !(0.0..=1.0).contains(&c.min_r_squared) {
                    return Err("min_r_squared must be between 0 and 1".into());
                }
                Ok(())
            }
            RuleConfig::CertExpiration(c) => {
                if c.critical_days > c.warning_days {
                    return Err("critical_days must not exceed warning_days".into());
                }
                Ok(())
            }
        }
    }
}

/// Checks an `agent_pattern` glob (`*`, `?`, `[...]`, `{a,b}`).
pub fn check_agent_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("agent_pattern must not be empty (use \"*\" for every agent)".into());
    }
    crate::glob::Glob::new(pattern).map(drop).map_err(|e| format!("agent_pattern {pattern:?} is not a valid glob: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_err(rule_type: &str, config: &str, expected: &str) {
        let err = RuleConfig::parse(rule_type, config).unwrap_err();
        assert!(err.contains(expected), "{rule_type} {config}: {err}");
    }

    #[test]
    fn oxmon_0_1_seed_configs_parse() {
        assert_eq!(
            RuleConfig::parse("threshold", r#"{"operator":"greater_than","value":90.0,"duration_secs":60}"#).unwrap(),
            RuleConfig::Threshold(ThresholdConfig { operator: Operator::GreaterThan, value: 90.0, duration_secs: 60 })
        );
        let RuleConfig::Threshold(c) = RuleConfig::parse("threshold", r#"{"operator":"lte","value":5}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!((c.operator, c.duration_secs), (Operator::LessEqual, 0));
        assert!(RuleConfig::parse("rate_of_change", r#"{"rate_threshold":20.0,"window_secs":300}"#).is_ok());
        let RuleConfig::TrendPrediction(t) =
            RuleConfig::parse("trend_prediction", r#"{"predict_threshold":95.0}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!((t.horizon_secs, t.min_data_points, t.window_secs, t.min_lead_secs), (86_400, 3, 3600, 0));
        let RuleConfig::TrendPrediction(t) = RuleConfig::parse(
            "trend_prediction",
            r#"{"predict_threshold":95.0,"window_secs":7200,"min_lead_secs":600}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!((t.window_secs, t.min_lead_secs), (7200, 600));
        // Keys added in 0.2: absent, a rate rule means what it meant in 0.1;
        // a trend needs half its window covered (a 0.1 defect fixed).
        let RuleConfig::RateOfChange(r) = RuleConfig::parse("rate_of_change", r#"{"rate_threshold":20}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!((r.mode, r.direction), (RateMode::Percent, Direction::Both));
        assert_eq!((t.min_coverage, t.min_r_squared), (0.5, 0.0));
        assert_eq!(
            RuleConfig::parse(
                "rate_of_change",
                r#"{"rate_threshold":20,"window_secs":300,"mode":"points","direction":"increase"}"#
            )
            .unwrap(),
            RuleConfig::RateOfChange(RateOfChangeConfig {
                rate_threshold: 20.0,
                window_secs: 300,
                mode: RateMode::Points,
                direction: Direction::Increase
            })
        );
        let RuleConfig::TrendPrediction(t) =
            RuleConfig::parse("trend_prediction", r#"{"predict_threshold":95,"min_coverage":0,"min_r_squared":0.8}"#)
                .unwrap()
        else {
            panic!()
        };
        assert_eq!((t.min_coverage, t.min_r_squared), (0.0, 0.8));
        assert_eq!(
            RuleConfig::parse("cert_expiration", "").unwrap(),
            RuleConfig::CertExpiration(CertExpirationConfig { warning_days: 30, critical_days: 7 })
        );
    }

    #[test]
    fn rules_that_could_never_work_are_refused_with_a_reason() {
        check_err(
            "thresh",
            "{}",
            "rule_type must be one of threshold, rate_of_change, trend_prediction, cert_expiration",
        );
        check_err("threshold", "{", "config_json is not valid JSON");
        check_err("threshold", "[]", "must be a JSON object");
        check_err("threshold", r#"{"value":1}"#, "missing field `operator`");
        check_err("threshold", r#"{"operator":"eq","value":1}"#, "unknown variant `eq`");
        check_err("threshold", r#"{"operator":"gt","value":1,"duraton_secs":5}"#, "unknown field `duraton_secs`");
        check_err("rate_of_change", r#"{"rate_threshold":0}"#, "rate_threshold must be greater than 0");
        check_err(
            "trend_prediction",
            r#"{"predict_threshold":1,"min_data_points":1}"#,
            "min_data_points must be at least 2",
        );
        check_err("trend_prediction", r#"{"predict_threshold":1,"window_secs":0}"#, "window_secs must be at least 1");
        check_err(
            "trend_prediction",
            r#"{"predict_threshold":1,"horizon_secs":60,"min_lead_secs":61}"#,
            "min_lead_secs must not exceed horizon_secs",
        );
        check_err("rate_of_change", r#"{"rate_threshold":5,"mode":"ratio"}"#, "unknown variant `ratio`");
        check_err("rate_of_change", r#"{"rate_threshold":5,"direction":"up"}"#, "unknown variant `up`");
        check_err(
            "trend_prediction",
            r#"{"predict_threshold":1,"min_coverage":1.5}"#,
            "min_coverage must be between 0 and 1",
        );
        check_err(
            "trend_prediction",
            r#"{"predict_threshold":1,"min_r_squared":-0.1}"#,
            "min_r_squared must be between 0 and 1",
        );
        check_err(
            "cert_expiration",
            r#"{"warning_days":5,"critical_days":7}"#,
            "critical_days must not exceed warning_days",
        );
    }

    #[test]
    fn new_keys_are_written_only_when_they_differ_from_their_defaults() {
        // So a 0.1 rule read and written back keeps its `config_json`.
        for (rule_type, text) in [
            ("rate_of_change", r#"{"rate_threshold":20.0,"window_secs":300}"#),
            (
                "trend_prediction",
                r#"{"predict_threshold":95.0,"horizon_secs":86400,"min_data_points":3,"window_secs":3600,"min_lead_secs":0}"#,
            ),
        ] {
            let json = match RuleConfig::parse(rule_type, text).unwrap() {
                RuleConfig::RateOfChange(c) => serde_json::to_string(&c).unwrap(),
                RuleConfig::TrendPrediction(c) => serde_json::to_string(&c).unwrap(),
                _ => unreachable!(),
            };
            assert_eq!(json, text);
        }
    }

    #[test]
    fn rate_directions_compare_the_signed_change() {
        assert!(Direction::Both.exceeds(-21.0, 20.0) && Direction::Both.exceeds(21.0, 20.0));
        assert!(Direction::Increase.exceeds(21.0, 20.0) && !Direction::Increase.exceeds(-21.0, 20.0));
        assert!(Direction::Decrease.exceeds(-21.0, 20.0) && !Direction::Decrease.exceeds(21.0, 20.0));
        assert!(!Direction::Both.exceeds(20.0, 20.0));
    }

    #[test]
    fn severities_parse_case_insensitively_and_order() {
        assert_eq!("CRITICAL".parse::<Severity>().unwrap(), Severity::Critical);
        assert!("fatal".parse::<Severity>().is_err());
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    }

    #[test]
    fn agent_patterns_are_globs() {
        for ok in ["*", "web-*", "db-?", "{web,db}-[0-9]*"] {
            assert!(check_agent_pattern(ok).is_ok(), "{ok}");
        }
        assert!(check_agent_pattern("").is_err());
        assert!(check_agent_pattern("web-[").unwrap_err().contains("not a valid glob"));
    }

    #[test]
    fn operators_compare_as_named() {
        assert!(Operator::GreaterThan.holds(2.0, 1.0) && !Operator::GreaterThan.holds(1.0, 1.0));
        assert!(Operator::GreaterEqual.holds(1.0, 1.0) && Operator::LessEqual.holds(1.0, 1.0));
        assert!(Operator::LessThan.holds(0.0, 1.0));
    }
}
