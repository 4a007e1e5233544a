//! Health, probes and self-metrics.

use std::sync::atomic::Ordering;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppStateRef;
use super::openapi::Envelope;
use super::response::ApiOk;
use crate::agents::AgentStatus;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    version: &'static str,
    uptime_secs: u64,
    /// Agents that ever reported.
    agent_count: usize,
    /// `ok`, or `degraded` when the last storage commit failed.
    storage_status: &'static str,
}

/// Liveness and version (public).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Server status", body = Envelope<Health>)))]
pub async fn health(state: AppStateRef) -> ApiOk {
    ApiOk::data(Health {
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started.elapsed().as_secs(),
        agent_count: state.agents.len(),
        storage_status: if storage_ok(&state) { "ok" } else { "degraded" },
    })
}

fn storage_ok(state: &AppStateRef) -> bool {
    !state.writer.stats().last_group_failed.load(Ordering::Relaxed) && state.config.data_dir.is_dir()
}

/// Liveness probe: the process is up and serving (public, plain text).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness probe: storage is writable (public, plain text).
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
    (status = 503, description = "storage is failing", body = String, content_type = "text/plain")))]
pub async fn readyz(state: AppStateRef) -> impl IntoResponse {
    if storage_ok(&state) { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "storage is failing") }
}

/// The server's own metrics in the Prometheus/OpenMetrics text format (public).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "OpenMetrics text", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn prometheus(state: AppStateRef) -> impl IntoResponse {
    let t = &state.telemetry;
    let now = state.clock.now_ms();
    let agents = state.agents.all();
    let active = agents.iter().filter(|a| a.status(now) == AgentStatus::Active).count();
    t.agents_active.set(active as i64);
    t.agents_known.set(agents.len() as i64);
    t.writer_queue_depth.set(state.writer.queue_depth() as i64);
    t.alert_evaluation_backlog.set(state.alerting.backlog() as i64);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], t.render())
}
