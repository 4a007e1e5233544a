//! `AlertRule` ↔ `/v1/alerts/rules`.
//!
//! The server object is found by `status.serverId`, else by its name
//! `<namespace>/<name>`. It is compared with the spec field by field (the
//! configuration as oxmon-common's typed `RuleConfig`, so `gt` and
//! `greater_than` or `90` and `90.0` are the same) and written only when it
//! differs. A rule whose type differs (the server cannot change a rule's
//! type) is deleted and created again. `status.firing` counts the rule's
//! open and acknowledged alerts at each sync.

use oxmon_common::metric::CERT_DAYS_UNTIL_EXPIRY;
use oxmon_common::rule::RuleConfig;
use serde::Serialize;

use super::{Change, Context, Removed, ServerKind, SyncError, Synced};
use crate::crd::alert_rule::{AlertRule, RuleType};
use crate::server::{OxmonClient, Rule, RuleBody, ServerError};

/// Status fields of a synced rule.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Firing {
    pub firing: bool,
    pub active_alerts: i64,
}

impl ServerKind for AlertRule {
    type Extra = Firing;

    async fn sync(
        &self,
        ctx: &Context,
        server_name: &str,
        known_id: Option<&str>,
    ) -> Result<Synced<Firing>, SyncError> {
        let config = self.spec.config().map_err(SyncError::Spec)?;
        let body = desired(self, server_name, &config)?;
        let server = &ctx.server;
        let (server_id, change) = match find(server, server_name, known_id).await? {
            Some(rule) if rule.rule_type != body.rule_type => {
                server.delete_rule(&rule.id).await?;
                (server.create_rule(&body).await?.id, Change::Created)
            }
            Some(rule) if matches(&rule, &body, &config) => (rule.id, Change::Unchanged),
            Some(rule) => (server.update_rule(&rule.id, &body).await?.id, Change::Updated),
            None => (server.create_rule(&body).await?.id, Change::Created),
        };
        let active = server.active_alerts().await?.iter().filter(|a| a.rule_id == server_id).count();
        let active_alerts = i64::try_from(active).unwrap_or(i64::MAX);
        Ok(Synced { server_id, change, extra: Firing { firing: active_alerts > 0, active_alerts } })
    }

    async fn remove(&self, ctx: &Context, server_name: &str, known_id: Option<&str>) -> Result<Removed, ServerError> {
        let Some(rule) = find(&ctx.server, server_name, known_id).await? else { return Ok(Removed::Missing) };
        match ctx.server.delete_rule(&rule.id).await {
            Ok(true) => Ok(Removed::Deleted),
            Ok(false) => Ok(Removed::Missing),
            Err(ServerError::Refused { status: 409, .. }) => Ok(Removed::NotOwned),
            Err(e) => Err(e),
        }
    }
}

/// The server body for the spec, normalised as the server stores it.
fn desired(rule: &AlertRule, server_name: &str, config: &RuleConfig) -> Result<RuleBody, SyncError> {
    let spec = &rule.spec;
    let metric = spec.metric.as_deref().map(str::trim).unwrap_or_default();
    let metric = match (spec.rule_type, metric) {
        // The server watches this metric for certificate rules whatever is given.
        (RuleType::CertExpiration, "") => CERT_DAYS_UNTIL_EXPIRY,
        (_, m) => m,
    };
    let config_json = match config {
        RuleConfig::Threshold(c) => serde_json::to_value(c),
        RuleConfig::RateOfChange(c) => serde_json::to_value(c),
        RuleConfig::TrendPrediction(c) => serde_json::to_value(c),
        RuleConfig::CertExpiration(c) => serde_json::to_value(c),
    }
    .map_err(|e| SyncError::Spec(format!("cannot encode the rule's configuration: {e}")))?;
    Ok(RuleBody {
        name: server_name.to_owned(),
        rule_type: spec.rule_type.as_str().to_owned(),
        metric: metric.to_owned(),
        agent_pattern: spec.agent_pattern.clone(),
        severity: spec.severity.as_str().to_owned(),
        enabled: spec.enabled,
        config_json,
        silence_secs: spec.silence_secs,
    })
}

/// The operator's rule: by id when known, else by name.
async fn find(server: &OxmonClient, server_name: &str, known_id: Option<&str>) -> Result<Option<Rule>, ServerError> {
    if let Some(id) = known_id
        && let Some(rule) = server.rule(id).await?
    {
        return Ok(Some(rule));
    }
    match server.rules().await?.into_iter().find(|r| r.name == server_name) {
        Some(summary) => server.rule(&summary.id).await,
        None => Ok(None),
    }
}

fn matches(rule: &Rule, body: &RuleBody, config: &RuleConfig) -> bool {
    rule.name == body.name
        && rule.metric == body.metric
        && rule.agent_pattern == body.agent_pattern
        && rule.severity == body.severity
        && rule.enabled == body.enabled
        && rule.silence_secs == body.silence_secs
        && RuleConfig::parse(&rule.rule_type, &rule.config_json).as_ref() == Ok(config)
}
