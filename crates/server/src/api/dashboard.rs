//! `/v1/dashboard/overview`: the numbers a front page shows.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::AppStateRef;
use super::openapi::Envelope;
use super::response::{ApiOk, ApiResult};
use crate::agents::AgentStatus;

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CertCounts {
    total_domains: i64,
    valid: i64,
    invalid: i64,
    expiring_soon: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    /// Agents that reported within their active window.
    active_agents: usize,
    /// Every agent that ever reported (kept across restarts).
    total_agents: usize,
    /// Alert events (fired and recovered) in the last 24 hours.
    alerts_24h: i64,
    alerts_by_severity: BTreeMap<String, i64>,
    cert_summary: CertCounts,
    partition_count: usize,
    /// Bytes of the day partitions (without WAL files or the management database).
    storage_total_bytes: u64,
    uptime_secs: u64,
}

/// Agents, alerts, certificates and storage at a glance. A part that cannot
/// be read is logged and shown as zeros, so the page still renders.
#[utoipa::path(get, path = "/dashboard/overview", tag = "dashboard", security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "Overview", body = Envelope<Overview>)))]
pub async fn overview(state: AppStateRef) -> ApiResult {
    let now = state.clock.now_ms();
    let agents = state.agents.all();
    let active_agents = agents.iter().filter(|a| a.status(now) == AgentStatus::Active).count();
    let since = now - 24 * 3_600_000;
    let alerts = state.management(move |m| m.alert_summary(since)).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "dashboard: reading the alert summary failed");
        Default::default()
    });
    let certs = state.management(|m| m.cert_summary()).await.map_or_else(
        |error| {
            tracing::warn!(%error, "dashboard: reading the certificate summary failed");
            CertCounts::default()
        },
        |s| CertCounts {
            total_domains: s.total_domains,
            valid: s.valid,
            invalid: s.invalid,
            expiring_soon: s.expiring_soon,
        },
    );
    let partitions = state.read(|r| r.partitions()).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "dashboard: listing partitions failed");
        Vec::new()
    });
    Ok(ApiOk::data(Overview {
        active_agents,
        total_agents: agents.len(),
        alerts_24h: alerts.total,
        alerts_by_severity: alerts.by_severity,
        cert_summary: certs,
        partition_count: partitions.len(),
        storage_total_bytes: partitions.iter().map(|p| p.size_bytes).sum(),
        uptime_secs: state.started.elapsed().as_secs(),
    }))
}
