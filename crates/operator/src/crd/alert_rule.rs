//! `AlertRule`: one rule of the server's alert engine
//! (`/v1/alerts/rules`), named `<namespace>/<name>` on the server.
//!
//! The rule's type is `spec.type`; its configuration sits in the field of
//! the same name (`threshold`, `rateOfChange`, `trendPrediction`,
//! `certExpiration`), which maps one to one onto oxmon-common's typed
//! configs and thereby onto the REST API's `config_json`.

// NB: kube's `printcolumn(...)` attributes repeat `type_ = "string"`, which clippy
// mistakes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use kube::KubeSchema;
use oxmon_common::rule::{
    CertExpirationConfig, Operator, RateOfChangeConfig, RuleConfig, Severity, ThresholdConfig, TrendPredictionConfig,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{HasSyncStatus, SyncStatus, default_severity, default_true};

/// Spec of an `AlertRule`.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "oxmon.io",
    version = "v1alpha1",
    kind = "AlertRule",
    namespaced,
    status = "AlertRuleStatus",
    derive = "PartialEq",
    shortname = "oxr",
    category = "oxmon",
    doc = "An alert rule of the oxmon server, kept in sync by oxmon-operator (server name: <namespace>/<name>).",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Metric", type_ = "string", json_path = ".spec.metric", priority = 1),
    printcolumn(name = "Severity", type_ = "string", json_path = ".spec.severity"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Firing", type_ = "boolean", json_path = ".status.firing"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = (
        "size(self.metadata.name) <= 64",
        "the name must be at most 64 characters (the server's rule name <namespace>/<name> is limited to 128)"
    )
)]
#[x_kube(
    validation = ("has(self.threshold) == (self.type == 'threshold')", "spec.threshold is required when type is threshold, and allowed only then"),
    validation = ("has(self.rateOfChange) == (self.type == 'rate_of_change')", "spec.rateOfChange is required when type is rate_of_change, and allowed only then"),
    validation = ("has(self.trendPrediction) == (self.type == 'trend_prediction')", "spec.trendPrediction is required when type is trend_prediction, and allowed only then"),
    validation = ("!has(self.certExpiration) || self.type == 'cert_expiration'", "spec.certExpiration is allowed only when type is cert_expiration"),
    validation = ("self.type == 'cert_expiration' || (has(self.metric) && size(self.metric) > 0)", "spec.metric is required (except for cert_expiration rules)")
)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleSpec {
    /// What the rule evaluates; it cannot be changed (create another AlertRule instead).
    #[serde(rename = "type")]
    #[x_kube(validation = ("self == oldSelf", "type cannot be changed; create another AlertRule"))]
    pub rule_type: RuleType,
    /// Metric name, e.g. `cpu.usage` or `disk.used_percent`; not used by `cert_expiration` rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub metric: Option<String>,
    /// Glob over agent ids (`*`, `?`, `[...]`, `{a,b}`).
    #[serde(default = "any_agent")]
    #[schemars(length(min = 1, max = 256))]
    pub agent_pattern: String,
    /// Severity of the alerts the rule raises (`cert_expiration` computes its own).
    #[serde(default = "default_severity")]
    #[schemars(with = "super::SeverityName")]
    pub severity: Severity,
    /// A disabled rule is kept on the server but not evaluated.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// After an alert fires, the same series stays quiet this long (then a reminder is sent).
    #[serde(default = "default_silence_secs")]
    #[schemars(range(min = 0, max = 2_592_000))]
    pub silence_secs: i64,
    /// Configuration of a `threshold` rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdSpec>,
    /// Configuration of a `rate_of_change` rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_of_change: Option<RateOfChangeSpec>,
    /// Configuration of a `trend_prediction` rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend_prediction: Option<TrendPredictionSpec>,
    /// Configuration of a `cert_expiration` rule (every key has a default, so it may be left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expiration: Option<CertExpirationSpec>,
}

/// Status of an `AlertRule`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleStatus {
    #[serde(flatten)]
    pub sync: SyncStatus,
    /// Whether the rule has open (or acknowledged) alerts on the server, as of the last sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firing: Option<bool>,
    /// Number of the rule's open (or acknowledged) alerts, as of the last sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_alerts: Option<i64>,
}

/// The server's rule types (`rule_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleType {
    Threshold,
    RateOfChange,
    TrendPrediction,
    CertExpiration,
}

/// Comparison names of threshold rules (the server's and their short aliases).
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used
enum OperatorName {
    GreaterThan,
    LessThan,
    GreaterEqual,
    LessEqual,
    Gt,
    Lt,
    Gte,
    Lte,
}

/// Fires when the series breaches `value` continuously for `durationSecs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdSpec {
    /// `greater_than` (`gt`), `less_than` (`lt`), `greater_equal` (`gte`) or `less_equal` (`lte`).
    #[schemars(with = "OperatorName")]
    pub operator: Operator,
    pub value: f64,
    /// Every sample in this trailing span must breach (0: the newest sample alone).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub duration_secs: i64,
}

/// Fires when the newest value differs from the oldest in the window by more than `rateThreshold` percent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = ("self.rateThreshold > 0.0", "rateThreshold must be greater than 0"))]
#[serde(rename_all = "camelCase")]
pub struct RateOfChangeSpec {
    /// Percent change (up or down) that fires.
    pub rate_threshold: f64,
    #[serde(default = "default_rate_window")]
    #[schemars(range(min = 1))]
    pub window_secs: i64,
}

/// Fires when a line fitted over the window reaches `predictThreshold` within the horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = ("self.minLeadSecs <= self.horizonSecs", "minLeadSecs must not exceed horizonSecs"))]
#[serde(rename_all = "camelCase")]
pub struct TrendPredictionSpec {
    pub predict_threshold: f64,
    #[serde(default = "default_horizon")]
    #[schemars(range(min = 1))]
    pub horizon_secs: i64,
    #[serde(default = "default_min_points")]
    #[schemars(range(min = 2))]
    pub min_data_points: i64,
    /// Span of samples the line is fitted to.
    #[serde(default = "default_trend_window")]
    #[schemars(range(min = 1))]
    pub window_secs: i64,
    /// A predicted breach sooner than this is not reported.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub min_lead_secs: i64,
}

/// Fires when a checked certificate has at most `warningDays` (or `criticalDays`) left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = ("self.criticalDays <= self.warningDays", "criticalDays must not exceed warningDays"))]
#[serde(rename_all = "camelCase")]
pub struct CertExpirationSpec {
    #[serde(default = "default_warning_days")]
    pub warning_days: i64,
    #[serde(default = "default_critical_days")]
    pub critical_days: i64,
}

impl Default for CertExpirationSpec {
    fn default() -> Self {
        Self { warning_days: default_warning_days(), critical_days: default_critical_days() }
    }
}

fn any_agent() -> String {
    "*".into()
}
fn default_silence_secs() -> i64 {
    600
}
fn default_rate_window() -> i64 {
    300
}
fn default_horizon() -> i64 {
    86_400
}
fn default_min_points() -> i64 {
    3
}
fn default_trend_window() -> i64 {
    3600
}
fn default_warning_days() -> i64 {
    30
}
fn default_critical_days() -> i64 {
    7
}

// === impl RuleType ===

impl RuleType {
    /// The server's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Threshold => "threshold",
            RuleType::RateOfChange => "rate_of_change",
            RuleType::TrendPrediction => "trend_prediction",
            RuleType::CertExpiration => "cert_expiration",
        }
    }
}

// === impl AlertRuleSpec ===

impl AlertRuleSpec {
    /// The rule's typed configuration; an error names the missing field
    /// (which the CRD's CEL rules normally refuse before it gets here).
    pub fn config(&self) -> Result<RuleConfig, String> {
        let missing = |field: &str| format!("spec.{field} is required when type is {}", self.rule_type.as_str());
        Ok(match self.rule_type {
            RuleType::Threshold => {
                let c = self.threshold.as_ref().ok_or_else(|| missing("threshold"))?;
                RuleConfig::Threshold(ThresholdConfig {
                    operator: c.operator,
                    value: c.value,
                    duration_secs: unsigned("threshold.durationSecs", c.duration_secs)?,
                })
            }
            RuleType::RateOfChange => {
                let c = self.rate_of_change.as_ref().ok_or_else(|| missing("rateOfChange"))?;
                RuleConfig::RateOfChange(RateOfChangeConfig {
                    rate_threshold: c.rate_threshold,
                    window_secs: unsigned("rateOfChange.windowSecs", c.window_secs)?,
                    // Not (yet) in the CRD: 0.1's meaning.
                    mode: Default::default(),
                    direction: Default::default(),
                })
            }
            RuleType::TrendPrediction => {
                let c = self.trend_prediction.as_ref().ok_or_else(|| missing("trendPrediction"))?;
                let points = unsigned("trendPrediction.minDataPoints", c.min_data_points)?;
                RuleConfig::TrendPrediction(TrendPredictionConfig {
                    predict_threshold: c.predict_threshold,
                    horizon_secs: unsigned("trendPrediction.horizonSecs", c.horizon_secs)?,
                    min_data_points: usize::try_from(points).unwrap_or(usize::MAX),
                    window_secs: unsigned("trendPrediction.windowSecs", c.window_secs)?,
                    min_lead_secs: unsigned("trendPrediction.minLeadSecs", c.min_lead_secs)?,
                    // Not (yet) in the CRD: the server's defaults.
                    min_coverage: TrendPredictionConfig::DEFAULT_MIN_COVERAGE,
                    min_r_squared: 0.0,
                })
            }
            RuleType::CertExpiration => {
                let c = self.cert_expiration.clone().unwrap_or_default();
                RuleConfig::CertExpiration(CertExpirationConfig {
                    warning_days: c.warning_days,
                    critical_days: c.critical_days,
                })
            }
        })
    }
}

fn unsigned(field: &str, value: i64) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("spec.{field} must not be negative, got {value}"))
}

impl HasSyncStatus for AlertRule {
    fn sync_status(&self) -> Option<&SyncStatus> {
        self.status.as_ref().map(|s| &s.sync)
    }
}
