//! Health, probes and self-metrics.

use std::sync::atomic::Ordering;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use super::AppStateRef;
use super::response::ApiOk;
use crate::agents::AgentStatus;

#[derive(Serialize)]
struct Health {
    version: &'static str,
    uptime_secs: u64,
    agent_count: usize,
    storage_status: &'static str,
}

/// `GET /v1/health` (public).
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

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: ready to take traffic (storage writable).
pub async fn readyz(state: AppStateRef) -> impl IntoResponse {
    if storage_ok(&state) { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "storage is failing") }
}

/// `GET /metrics`: Prometheus text format.
pub async fn prometheus(state: AppStateRef) -> impl IntoResponse {
    let t = &state.telemetry;
    let now = state.clock.now_ms();
    let agents = state.agents.all();
    let active = agents.iter().filter(|a| a.status(now) == AgentStatus::Active).count();
    t.agents_active.set(active as i64);
    t.agents_known.set(agents.len() as i64);
    t.writer_queue_depth.set(state.writer.queue_depth() as i64);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], t.render())
}
