//! The `oxmon.MetricService/ReportMetrics` endpoint.
//!
//! Order of checks, as oxmon 0.1 (spec/wire.md §2): metadata auth when
//! `require_agent_auth` is on (gRPC status errors), then in-band rejections
//! (`success = false`). Unlike 0.1, every point is checked: with auth on, a
//! point may not claim another agent; a bad point rejects the whole batch
//! with a message naming it and `permanent = true`, so our agents drop the
//! batch instead of resending it forever.
//!
//! Points outside the accepted time window (older than the first day that
//! retention keeps, or more than [`MAX_FUTURE_MS`] ahead of the server
//! clock) are refused one by one: the other points are stored, and the reply
//! says `success = false`, `permanent = true`, lists the refused points and
//! names the window, so a broken clock or a stale backlog is never
//! acknowledged as stored. Refusals are counted in
//! `oxmon_ingest_dropped_samples_total{reason="expired"|"future"}` and
//! logged at WARN, at most once a minute per agent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxmon_common::metric::Labels;
use oxmon_common::proto::metric_service_server::MetricService;
use oxmon_common::proto::{MAX_POINTS_PER_BATCH, MetricBatchProto, RefusedPointProto, ReportResponse};
use oxmon_common::throttle::Throttle;
use oxmon_storage::Sample;
use oxmon_storage::day::Day;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::state::AppState;

/// Points stamped further ahead of the server clock than this are refused:
/// generous for clocks kept by NTP, strict enough that a host whose clock
/// is wrong by hours is told so instead of writing the future.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;

/// At most one refusal warning per agent in this interval.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Agents remembered by the refusal log before stale entries are dropped.
const MAX_RATE_LIMITED_KEYS: usize = 10_000;

/// Refused points named one by one in a reply's message (all are listed in
/// `refused`).
const REFUSALS_NAMED: usize = 3;

pub const MAX_NAME_BYTES: usize = 256;
pub const MAX_LABELS: usize = 64;
pub const MAX_LABEL_KEY_BYTES: usize = 128;
pub const MAX_LABEL_VALUE_BYTES: usize = 1024;

#[derive(Debug)]
pub struct IngestService {
    state: Arc<AppState>,
    refusal_log: RateLimitedLog,
}

impl IngestService {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state, refusal_log: RateLimitedLog::new(REFUSAL_LOG_INTERVAL) }
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
        let rules = Validation::at(now, state.config.retention_days, authenticated.is_some());
        let agent_id = batch.agent_id.clone();
        let total = batch.data_points.len();
        let mut checked = match rules.check(batch) {
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
        for reason in [Refusal::Expired, Refusal::Future] {
            let n = checked.refused.iter().filter(|r| r.reason == reason).count();
            if n > 0 {
                state.telemetry.dropped(reason.as_str(), n as u64);
            }
        }
        let agents = checked.stored_agents();
        let result = store(state, std::mem::take(&mut checked.samples), &agents, now).await;
        match result {
            Ok(()) => {
                if checked.refused.is_empty() {
                    state.telemetry.batch("ok");
                    return Ok(reply(true, "ok".into(), false));
                }
                state.telemetry.batch("refused_points");
                let message = rules.refusal_message(&checked.refused, total);
                if let Some(suppressed) = self.refusal_log.allow(&agent_id) {
                    tracing::warn!(
                        agent_id = %agent_id,
                        refused = checked.refused.len(),
                        points = total,
                        suppressed_since_last = suppressed,
                        "{message}"
                    );
                }
                Ok(Response::new(ReportResponse {
                    success: false,
                    message,
                    permanent: true,
                    refused: checked
                        .refused
                        .iter()
                        .map(|r| RefusedPointProto { index: r.index, reason: r.reason.as_str().into() })
                        .collect(),
                    accepted_from_ms: rules.oldest_ms,
                    accepted_until_ms: rules.newest_ms(),
                }))
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

/// Stores validated samples the way every ingest path does (agents' gRPC
/// batches, remote_write): evaluated by the alert engine, written, counted,
/// and their agents marked as reporting. `Ok` means committed.
pub async fn store(
    state: &AppState,
    samples: Vec<Sample>,
    agents: &[String],
    now: i64,
) -> Result<(), oxmon_storage::Error> {
    let stored = samples.len() as u64;
    let started = Instant::now();
    // The ack waits for the commit only: samples some rule watches are
    // queued with them and evaluated after it (see `alerting.rs`).
    if !samples.is_empty() {
        let queue = state.alerting.marks(&samples);
        state.writer.write_queued(samples, queue).await?;
    }
    state.telemetry.commit_seconds.observe(started.elapsed().as_secs_f64());
    state.telemetry.ingest_samples.inc_by(stored);
    for agent in agents {
        state.agents.touch(agent, now);
    }
    Ok(())
}

fn reply(success: bool, message: String, permanent: bool) -> Response<ReportResponse> {
    Response::new(ReportResponse { success, message, permanent, ..Default::default() })
}

/// `ms` as an RFC 3339 UTC time (or plain milliseconds when out of range).
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

/// One [`Throttle`] per key (agent id): a log line per key per interval,
/// counting the rest.
#[derive(Debug)]
struct RateLimitedLog {
    interval: Duration,
    throttles: Mutex<HashMap<String, Throttle>>,
}

impl RateLimitedLog {
    fn new(interval: Duration) -> Self {
        Self { interval, throttles: Mutex::new(HashMap::new()) }
    }

    /// `Some(suppressed since the last line)` when a line may be logged now.
    fn allow(&self, key: &str) -> Option<u64> {
        let mut throttles = self.throttles.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if !throttles.contains_key(key) && throttles.len() >= MAX_RATE_LIMITED_KEYS {
            // Unauthenticated senders choose their own ids: bound the map.
            throttles.retain(|_, t| !t.due_in(now).is_zero());
        }
        throttles.entry(key.to_owned()).or_insert_with(|| Throttle::new(self.interval)).hit(now)
    }
}

/// The rules a batch is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Validation {
    pub now_ms: i64,
    /// Points before this instant are past retention and refused.
    pub oldest_ms: i64,
    /// The retention that set `oldest_ms`, for messages.
    pub retention_days: u32,
    /// Auth is on: every point must belong to the batch's agent.
    pub one_identity: bool,
}

/// Why a point was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Older than the first day retention keeps.
    Expired,
    /// More than [`MAX_FUTURE_MS`] ahead of the server clock.
    Future,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Expired => "expired",
            Refusal::Future => "future",
        }
    }
}

/// A point of a batch that is not stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub index: u32,
    pub reason: Refusal,
    pub metric_name: String,
    pub timestamp_ms: i64,
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
    /// Points outside the accepted time window, not stored.
    pub refused: Vec<Refused>,
    /// Distinct agent ids the batch's points belong to.
    pub agents: Vec<String>,
}

impl Checked {
    /// The agents that have at least one point to store: an agent whose
    /// every point was refused is not marked as reporting.
    pub fn stored_agents(&self) -> Vec<String> {
        self.agents.iter().filter(|a| self.samples.iter().any(|s| &s.agent_id == *a)).cloned().collect()
    }
}

impl Validation {
    /// The rules in force at `now_ms`: points are accepted from the start of
    /// the oldest day that retention keeps to [`MAX_FUTURE_MS`] ahead.
    pub fn at(now_ms: i64, retention_days: u32, one_identity: bool) -> Self {
        let oldest_ms = Day::of_ms(now_ms).map_or(0, |d| d.minus_days(retention_days).start_ms());
        Validation { now_ms, oldest_ms, retention_days, one_identity }
    }

    /// The newest accepted sample time.
    pub fn newest_ms(&self) -> i64 {
        self.now_ms + MAX_FUTURE_MS
    }

    /// The reply's message for a batch with refused points: how many, why,
    /// the accepted window, and the first few points by name.
    pub fn refusal_message(&self, refused: &[Refused], total: usize) -> String {
        let named: Vec<String> = refused
            .iter()
            .take(REFUSALS_NAMED)
            .map(|r| {
                let why = match r.reason {
                    Refusal::Expired => "older than the retention window",
                    Refusal::Future => "ahead of the server clock",
                };
                format!("data point {} ({}) at {} is {why}", r.index, r.metric_name, rfc3339(r.timestamp_ms))
            })
            .collect();
        let more = refused.len().saturating_sub(REFUSALS_NAMED);
        let more = if more > 0 { format!("; and {more} more") } else { String::new() };
        format!(
            "refused {} of {total} points outside the accepted time window {} .. {} (the oldest day kept \
             by retention_days = {} to {} minutes ahead of the server clock); the other {} points are \
             stored: {}{more}",
            refused.len(),
            rfc3339(self.oldest_ms),
            rfc3339(self.newest_ms()),
            self.retention_days,
            MAX_FUTURE_MS / 60_000,
            total - refused.len(),
            named.join("; "),
        )
    }

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
        let mut out =
            Checked { samples: Vec::with_capacity(n), refused: Vec::new(), agents: vec![batch.agent_id.clone()] };
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
            let refusal = if p.timestamp_ms < self.oldest_ms {
                Some(Refusal::Expired)
            } else if p.timestamp_ms > self.newest_ms() {
                Some(Refusal::Future)
            } else {
                None
            };
            if let Some(reason) = refusal {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                out.refused.push(Refused { index, reason, metric_name: p.metric_name, timestamp_ms: p.timestamp_ms });
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
    use oxmon_storage::day::MS_PER_DAY;

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

    const RULES: Validation =
        Validation { now_ms: NOW, oldest_ms: NOW - 7 * MS_PER_DAY, retention_days: 7, one_identity: false };

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
    fn points_outside_the_window_are_refused_one_by_one_and_the_rest_kept() {
        let b = batch(
            "a",
            vec![
                point("a", "m", NOW - 8 * MS_PER_DAY, 1.0),
                point("a", "m", NOW, 2.0),
                point("a", "m", -5, 3.0),
                point("a", "n", NOW + MAX_FUTURE_MS + 1, 4.0),
                point("a", "n", NOW + MAX_FUTURE_MS, 5.0),
                point("a", "m", NOW - 7 * MS_PER_DAY, 6.0),
            ],
        );
        let c = RULES.check(b).unwrap();
        let kept: Vec<f64> = c.samples.iter().map(|s| s.value).collect();
        assert_eq!(kept, [2.0, 5.0, 6.0], "both bounds are inclusive");
        let refused: Vec<(u32, Refusal)> = c.refused.iter().map(|r| (r.index, r.reason)).collect();
        assert_eq!(refused, [(0, Refusal::Expired), (2, Refusal::Expired), (3, Refusal::Future)]);
        assert_eq!(
            RULES.refusal_message(&c.refused, 6),
            "refused 3 of 6 points outside the accepted time window 2026-02-02T00:00:00Z .. \
             2026-02-09T00:10:00Z (the oldest day kept by retention_days = 7 to 10 minutes ahead of the \
             server clock); the other 3 points are stored: data point 0 (m) at 2026-02-01T00:00:00Z is \
             older than the retention window; data point 2 (m) at 1969-12-31T23:59:59.995Z is older than \
             the retention window; data point 3 (n) at 2026-02-09T00:10:00.001Z is ahead of the server clock"
        );
    }

    #[test]
    fn an_agent_whose_points_were_all_refused_is_not_marked_reporting() {
        let b = batch("a", vec![point("", "m", 0, 1.0), point("b", "m", NOW, 2.0)]);
        let c = RULES.check(b).unwrap();
        assert_eq!(c.agents, ["a", "b"]);
        assert_eq!(c.stored_agents(), ["b"]);
    }

    #[test]
    fn validation_window_starts_at_the_oldest_day_retention_keeps() {
        let v = Validation::at(NOW + 5 * 3_600_000, 7, false);
        assert_eq!(v.oldest_ms, NOW - 7 * MS_PER_DAY);
        assert_eq!(v.newest_ms(), NOW + 5 * 3_600_000 + MAX_FUTURE_MS);
    }

    #[test]
    fn refusal_log_lets_one_line_per_agent_through_and_counts_the_rest() {
        let log = RateLimitedLog::new(Duration::from_secs(3600));
        assert_eq!(log.allow("a"), Some(0));
        assert_eq!(log.allow("a"), None);
        assert_eq!(log.allow("a"), None);
        assert_eq!(log.allow("b"), Some(0));
        let log = RateLimitedLog::new(Duration::ZERO);
        assert_eq!(log.allow("a"), Some(0));
        assert_eq!(log.allow("a"), Some(0));
    }
}
