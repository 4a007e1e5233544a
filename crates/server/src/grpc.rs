//! The `oxmon.MetricService/ReportMetrics` endpoint.
//!
//! Order of checks, as oxmon 0.1 (spec/wire.md §2): metadata auth when
//! `require_agent_auth` is on (gRPC status errors), then in-band rejections
//! (`success = false`). Unlike 0.1, every point is checked: with auth on, a
//! point may not claim another agent; a bad point rejects the whole batch
//! with a message naming it and `permanent = true`, so our agents drop the
//! batch instead of resending it forever. Points older than the retention
//! window are not stored (retention would delete them within the hour) and
//! are counted in `oxmon_ingest_dropped_samples_total{reason="expired"}`.

use std::sync::Arc;
use std::time::Instant;

use oxmon_common::metric::Labels;
use oxmon_common::proto::metric_service_server::MetricService;
use oxmon_common::proto::{MAX_POINTS_PER_BATCH, MetricBatchProto, ReportResponse};
use oxmon_storage::Sample;
use oxmon_storage::day::{Day, MS_PER_DAY};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::state::AppState;

/// Points stamped further ahead than this are refused (a broken clock would
/// otherwise create partitions that retention never removes).
pub const MAX_FUTURE_MS: i64 = MS_PER_DAY;

pub const MAX_NAME_BYTES: usize = 256;
pub const MAX_LABELS: usize = 64;
pub const MAX_LABEL_KEY_BYTES: usize = 128;
pub const MAX_LABEL_VALUE_BYTES: usize = 1024;

#[derive(Debug)]
pub struct IngestService {
    state: Arc<AppState>,
}

impl IngestService {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    /// Checks the `authorization` and `agent-id` metadata against the
    /// whitelist (or the configured `agent_shared_token`); returns the
    /// authenticated agent id.
    async fn authenticate(&self, metadata: &MetadataMap) -> Result<String, Status> {
        let token = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Status::unauthenticated("Missing or invalid authorization header"))?
            .to_owned();
        let agent_id = metadata
            .get("agent-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Status::unauthenticated("Missing agent-id in metadata"))?
            .to_owned();
        if crate::auth::matches_secret(self.state.config.agent_shared_token.as_deref(), &token) {
            return Ok(agent_id);
        }
        let id = agent_id.clone();
        let verdict = self.state.management(move |m| m.verify_agent_token(&id, &token)).await;
        match verdict {
            Ok(Some(true)) => Ok(agent_id),
            Ok(Some(false)) => Err(Status::unauthenticated("Invalid token")),
            Ok(None) => Err(Status::unauthenticated("Agent not authorized")),
            Err(error) => {
                tracing::error!(%error, "agent authentication failed");
                Err(Status::internal("Authentication error"))
            }
        }
    }
}

#[tonic::async_trait]
impl MetricService for IngestService {
    async fn report_metrics(&self, request: Request<MetricBatchProto>) -> Result<Response<ReportResponse>, Status> {
        let state = &self.state;
        let authenticated = if state.config.require_agent_auth {
            match self.authenticate(request.metadata()).await {
                Ok(id) => Some(id),
                Err(status) => {
                    state.telemetry.batch("unauthenticated");
                    return Err(status);
                }
            }
        } else {
            None
        };
        let batch = request.into_inner();
        if authenticated.as_ref().is_some_and(|id| batch.agent_id != *id) {
            state.telemetry.batch("permission_denied");
            return Err(Status::permission_denied("agent_id in payload does not match authenticated identity"));
        }
        let now = state.clock.now_ms();
        let rules = Validation {
            now_ms: now,
            oldest_ms: Day::of_ms(now).map_or(0, |d| d.minus_days(state.config.retention_days).start_ms()),
            one_identity: authenticated.is_some(),
        };
        let checked = match rules.check(batch) {
            Ok(c) => c,
            Err(Rejection::PermissionDenied(message)) => {
                state.telemetry.batch("permission_denied");
                return Err(Status::permission_denied(message));
            }
            Err(Rejection::Invalid(message)) => {
                state.telemetry.batch("rejected");
                tracing::debug!(%message, "batch rejected");
                return Ok(reply(false, message, true));
            }
        };
        if checked.expired > 0 {
            state.telemetry.dropped("expired", checked.expired as u64);
        }
        let stored = checked.samples.len() as u64;
        // Evaluated before the write, which takes the samples: a batch that
        // then fails to store is resent, and the engine ignores a resent
        // sample it has seen.
        state.alerting.observe(&checked.samples, now);
        let started = Instant::now();
        let result =
            if checked.samples.is_empty() { Ok(()) } else { state.writer.write(checked.samples).await.map(drop) };
        match result {
            Ok(()) => {
                state.telemetry.commit_seconds.observe(started.elapsed().as_secs_f64());
                state.telemetry.ingest_samples.inc_by(stored);
                state.telemetry.batch("ok");
                for agent in &checked.agents {
                    state.agents.touch(agent, now);
                }
                Ok(reply(true, "ok".into(), false))
            }
            Err(oxmon_storage::Error::Overloaded) => {
                state.telemetry.batch("storage_busy");
                Ok(reply(false, "server busy: storage queue full, retry later".into(), false))
            }
            Err(error) => {
                state.telemetry.batch("storage_error");
                tracing::error!(%error, "storing batch failed");
                Ok(reply(false, "Internal storage error".into(), false))
            }
        }
    }
}

fn reply(success: bool, message: String, permanent: bool) -> Response<ReportResponse> {
    Response::new(ReportResponse { success, message, permanent })
}

/// The rules a batch is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Validation {
    pub now_ms: i64,
    /// Points before this instant are past retention and not stored.
    pub oldest_ms: i64,
    /// Auth is on: every point must belong to the batch's agent.
    pub one_identity: bool,
}

#[derive(Debug, PartialEq)]
pub enum Rejection {
    /// In-band rejection (`success = false`), with the reason.
    Invalid(String),
    /// A point claims another agent while auth is on.
    PermissionDenied(String),
}

/// A batch that passed validation.
#[derive(Debug, Default)]
pub struct Checked {
    pub samples: Vec<Sample>,
    /// Points past retention, not stored.
    pub expired: usize,
    /// Distinct agent ids the stored points belong to.
    pub agents: Vec<String>,
}

impl Validation {
    pub fn check(&self, batch: MetricBatchProto) -> Result<Checked, Rejection> {
        let invalid = |m: String| Err(Rejection::Invalid(m));
        if batch.agent_id.is_empty() {
            return invalid("agent_id is required".into());
        }
        if batch.agent_id.len() > MAX_NAME_BYTES {
            return invalid(format!("agent_id is longer than {MAX_NAME_BYTES} bytes"));
        }
        if batch.data_points.is_empty() {
            return invalid("data_points cannot be empty".into());
        }
        let n = batch.data_points.len();
        if n > MAX_POINTS_PER_BATCH {
            return invalid(format!("batch too large: {n} data points (max {MAX_POINTS_PER_BATCH})"));
        }
        let mut out = Checked { samples: Vec::with_capacity(n), expired: 0, agents: vec![batch.agent_id.clone()] };
        for (i, p) in batch.data_points.into_iter().enumerate() {
            let at = || format!("data point {i} ({})", p.metric_name);
            if p.metric_name.is_empty() {
                return invalid(format!("data point {i}: metric_name is required"));
            }
            if p.metric_name.len() > MAX_NAME_BYTES {
                return invalid(format!("data point {i}: metric_name is longer than {MAX_NAME_BYTES} bytes"));
            }
            if !p.value.is_finite() {
                return invalid(format!("{}: value {} is not a finite number", at(), p.value));
            }
            if p.timestamp_ms > self.now_ms + MAX_FUTURE_MS {
                return invalid(format!(
                    "{}: timestamp {} ms is more than 24 hours ahead of the server clock",
                    at(),
                    p.timestamp_ms
                ));
            }
            if p.labels.len() > MAX_LABELS {
                return invalid(format!("{}: more than {MAX_LABELS} labels", at()));
            }
            if let Some((k, _)) = p.labels.iter().find(|(k, _)| k.is_empty() || k.len() > MAX_LABEL_KEY_BYTES) {
                return invalid(format!(
                    "{}: label name {k:?} is empty or longer than {MAX_LABEL_KEY_BYTES} bytes",
                    at()
                ));
            }
            if let Some((k, _)) = p.labels.iter().find(|(_, v)| v.len() > MAX_LABEL_VALUE_BYTES) {
                return invalid(format!("{}: value of label {k:?} is longer than {MAX_LABEL_VALUE_BYTES} bytes", at()));
            }
            let agent_id = if p.agent_id.is_empty() || p.agent_id == batch.agent_id {
                batch.agent_id.clone()
            } else if self.one_identity {
                return Err(Rejection::PermissionDenied(format!(
                    "{}: claims agent '{}' but the batch is authenticated as '{}'",
                    at(),
                    p.agent_id,
                    batch.agent_id
                )));
            } else {
                if p.agent_id.len() > MAX_NAME_BYTES {
                    return invalid(format!("{}: agent_id is longer than {MAX_NAME_BYTES} bytes", at()));
                }
                if !out.agents.contains(&p.agent_id) {
                    out.agents.push(p.agent_id.clone());
                }
                p.agent_id
            };
            if p.timestamp_ms < self.oldest_ms {
                out.expired += 1;
                continue;
            }
            out.samples.push(Sample {
                timestamp_ms: p.timestamp_ms,
                agent_id,
                metric_name: oxmon_common::metric::canonical_metric_name(p.metric_name),
                value: p.value,
                labels: Labels::from_pairs(p.labels),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use oxmon_common::proto::MetricDataPointProto;

    use super::*;

    const NOW: i64 = 1_770_595_200_000;

    fn point(agent: &str, metric: &str, ts: i64, value: f64) -> MetricDataPointProto {
        MetricDataPointProto {
            timestamp_ms: ts,
            agent_id: agent.into(),
            metric_name: metric.into(),
            value,
            labels: Default::default(),
        }
    }

    fn batch(agent: &str, points: Vec<MetricDataPointProto>) -> MetricBatchProto {
        MetricBatchProto { agent_id: agent.into(), timestamp_ms: NOW, data_points: points }
    }

    const RULES: Validation = Validation { now_ms: NOW, oldest_ms: NOW - 7 * MS_PER_DAY, one_identity: false };

    #[track_caller]
    fn check_rejected(rules: Validation, b: MetricBatchProto, expected: &str) {
        match rules.check(b) {
            Err(Rejection::Invalid(m)) | Err(Rejection::PermissionDenied(m)) => {
                assert_eq!(m, expected)
            }
            Ok(c) => panic!("accepted {} samples, expected rejection {expected:?}", c.samples.len()),
        }
    }

    #[test]
    fn rejections_follow_oxmon_0_1_messages_and_name_the_bad_point() {
        let ok = || point("a", "cpu.usage", NOW, 1.0);
        check_rejected(RULES, batch("", vec![ok()]), "agent_id is required");
        check_rejected(RULES, batch("a", vec![]), "data_points cannot be empty");
        check_rejected(RULES, batch("a", vec![ok(); 10_001]), "batch too large: 10001 data points (max 10000)");
        check_rejected(
            RULES,
            batch("a", vec![ok(), point("a", "", NOW, 1.0)]),
            "data point 1: metric_name is required",
        );
        check_rejected(
            RULES,
            batch("a", vec![point("a", "m", NOW, f64::NAN)]),
            "data point 0 (m): value NaN is not a finite number",
        );
        check_rejected(
            RULES,
            batch("a", vec![point("a", "m", NOW + MS_PER_DAY + 1, 1.0)]),
            "data point 0 (m): timestamp 1770681600001 ms is more than 24 hours ahead of the server clock",
        );
        let mut long_label = ok();
        long_label.labels.insert("mount".into(), "x".repeat(2000));
        check_rejected(
            RULES,
            batch("a", vec![long_label]),
            "data point 0 (cpu.usage): value of label \"mount\" is longer than 1024 bytes",
        );
    }

    #[test]
    fn with_auth_a_point_may_not_claim_another_agent() {
        let strict = Validation { one_identity: true, ..RULES };
        let b = batch("a", vec![point("a", "m", NOW, 1.0), point("b", "m", NOW, 1.0)]);
        assert_eq!(
            strict.check(b).unwrap_err(),
            Rejection::PermissionDenied(
                "data point 1 (m): claims agent 'b' but the batch is authenticated as 'a'".into()
            )
        );
    }

    #[test]
    fn without_auth_points_keep_their_own_agent_and_empty_ids_inherit_the_batch() {
        let b = batch("a", vec![point("", "m", NOW, 1.0), point("cert-checker", "m", NOW, 2.0)]);
        let c = RULES.check(b).unwrap();
        let agents: Vec<&str> = c.samples.iter().map(|s| s.agent_id.as_str()).collect();
        assert_eq!(agents, ["a", "cert-checker"]);
        assert_eq!(c.agents, ["a", "cert-checker"]);
    }

    #[test]
    fn points_past_retention_are_counted_not_stored() {
        let b = batch("a", vec![point("a", "m", NOW - 8 * MS_PER_DAY, 1.0), point("a", "m", NOW, 2.0)]);
        let c = RULES.check(b).unwrap();
        assert_eq!(c.expired, 1);
        assert_eq!(c.samples.len(), 1);
        assert_eq!(c.samples[0].value, 2.0);
    }
}
