//! The sender: drains the buffer oldest-first over gRPC, removing batches only once the
//! server has stored (or permanently refused) them, with backoff between failures.
//!
//! Retries come at least twice per collection interval ([`retry_policy`]), so a server that
//! comes back is found before the buffer has to evict batches collected after its return.
//! What goes wrong is logged rate-limited, never silently: failed attempts, refusals and
//! overflow drops each get a line at once and then at most one per `log_period`, with exact
//! counts of what happened in between.

use std::time::{Duration, Instant};

use http::Uri;
use tracing::{debug, error, info, warn};

use crate::backoff::Backoff;
use crate::buffer::{Chunk, Limits};
use crate::client::{Client, ReportError, probe_http1};
use crate::collect::now_ms;
use crate::config::{AgentConfig, BackoffConfig, SERVER_GRPC_PORT, SERVER_HTTP_PORT};
use crate::state::Shared;
use oxmon_common::throttle::Throttle;

/// Shortest retry delay ceiling, whatever the interval (no busy loop on tiny intervals).
const MIN_RETRY_CEILING: Duration = Duration::from_millis(10);

/// Longest wait for the answer to an HTTP/1 probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct Sender<'a> {
    shared: &'a Shared,
    client: Client,
    backoff: Backoff,
    limits: Limits,
    agent_id: String,
    endpoint: Uri,
    request_timeout: Duration,
    log_period: Duration,
    /// Failures since the last answered report; `None` while reporting works.
    outage: Option<Outage>,
    refusals: Refusals,
    /// Rate limit of overflow reports made while reporting works (a lagging sender).
    drop_reports: Throttle,
    /// Whether the server ever answered (its first answer is logged at INFO).
    answered: bool,
}

/// A run of failed attempts.
#[derive(Debug)]
struct Outage {
    started: Instant,
    failures: u64,
    log: Throttle,
}

/// Permanent refusals since the last line about them.
#[derive(Debug)]
struct Refusals {
    log: Throttle,
    batches: u64,
    points: u64,
}

/// How one attempt ended.
enum Outcome {
    Stored,
    /// `permanent = true`: resending cannot help (points outside the accepted time window,
    /// invalid data); the rest of the request, if any, was stored.
    Refused {
        message: String,
    },
    Failed(Failure),
}

/// Why an attempt failed; the request is retried.
enum Failure {
    /// `success = false` without `permanent` (e.g. the server is overloaded).
    Declined(String),
    Report(ReportError),
}

/// What a failure line reports besides the failure itself.
#[derive(Clone, Copy)]
struct FailureCounts {
    failures: u64,
    /// Failed attempts not logged since the previous line.
    suppressed: u64,
    down_secs: u64,
    buffered: usize,
    /// Batches dropped on overflow since the buffer started dropping.
    dropped: u64,
    dropped_total: u64,
    retry_in_ms: u64,
}

/// The retry delays for `config`: its backoff, with the ceiling capped at half the
/// collection interval so that at least two attempts fall in every cycle.
pub(crate) fn retry_policy(config: &AgentConfig) -> BackoffConfig {
    let cap = (config.collection_interval / 2).max(MIN_RETRY_CEILING);
    BackoffConfig { base: config.backoff.base, max: config.backoff.max.min(cap) }
}

impl<'a> Sender<'a> {
    pub(crate) fn new(shared: &'a Shared, client: Client, config: &AgentConfig) -> Self {
        Self {
            shared,
            client,
            backoff: Backoff::new(retry_policy(config)),
            limits: Limits::new(config.max_message_bytes),
            agent_id: config.agent_id.clone(),
            endpoint: config.endpoint.clone(),
            request_timeout: config.request_timeout,
            log_period: config.log_period,
            outage: None,
            refusals: Refusals { log: Throttle::new(config.log_period), batches: 0, points: 0 },
            drop_reports: Throttle::new(config.log_period),
            answered: false,
        }
    }

    /// Sends until the agent is stopping and the buffer is empty.
    ///
    /// The caller bounds the time spent after [`Shared::stop`] by dropping this future.
    pub(crate) async fn run(&mut self) {
        while let Some(chunk) = self.next_chunk().await {
            let Chunk { request, end, oversize_points } = chunk;
            if oversize_points > 0 {
                error!(
                    points = oversize_points,
                    max_request_bytes = self.limits.max_bytes,
                    "dropping data points too large for any request"
                );
                self.shared.lock().stats.points_oversize += oversize_points as u64;
            }
            let points = request.data_points.len();
            if points == 0 {
                self.shared.lock().buffer.acknowledge(end);
                continue;
            }
            let outcome = match self.client.report(request).await {
                Ok(response) if response.success => Outcome::Stored,
                Ok(response) if response.permanent => Outcome::Refused { message: response.message },
                Ok(response) => Outcome::Failed(Failure::Declined(response.message)),
                Err(e) => Outcome::Failed(Failure::Report(e)),
            };
            match outcome {
                Outcome::Stored => {
                    let buffered = {
                        let mut state = self.shared.lock();
                        let removed = state.buffer.acknowledge(end);
                        state.stats.batches_sent += removed.batches as u64;
                        state.stats.points_sent += points as u64;
                        state.stats.requests_succeeded += 1;
                        state.buffer.len()
                    };
                    debug!(points, buffered, "report stored");
                    self.answered(buffered);
                }
                Outcome::Refused { message } => {
                    let (batches, buffered) = {
                        let mut state = self.shared.lock();
                        let removed = state.buffer.acknowledge(end);
                        state.stats.batches_rejected += removed.batches as u64;
                        state.stats.points_rejected += points as u64;
                        state.stats.requests_succeeded += 1;
                        (removed.batches as u64, state.buffer.len())
                    };
                    self.refused(&message, batches, points as u64);
                    self.answered(buffered);
                }
                Outcome::Failed(failure) => self.fail(failure).await,
            }
        }
    }

    /// The next request to send; `None` once stopping with an empty buffer.
    async fn next_chunk(&self) -> Option<Chunk> {
        loop {
            if let Some(chunk) = self.shared.lock().buffer.chunk(self.limits, &self.agent_id, now_ms()) {
                return Some(chunk);
            }
            if self.shared.is_stopping() {
                return None;
            }
            self.shared.changed().await;
        }
    }

    /// The server answered a request: ends an outage and reports the drops it caused.
    fn answered(&mut self, buffered: usize) {
        let now = Instant::now();
        if !self.answered {
            self.answered = true;
            info!(endpoint = %self.endpoint, "reporting to the server");
        }
        let outage = self.outage.take();
        if let Some(outage) = &outage {
            info!(
                failed_attempts = outage.failures,
                down_secs = now.duration_since(outage.started).as_secs(),
                buffered,
                "reporting resumed"
            );
        }
        self.backoff.reset();

        // Drops caused by an outage are reported as it ends; drops while reporting works
        // (a sender lagging behind collection) at most once per period.
        if outage.is_none() && !self.drop_reports.due_in(now).is_zero() {
            return;
        }
        let (dropped, dropped_total, capacity) = {
            let mut state = self.shared.lock();
            (state.take_drop_burst(), state.buffer.dropped(), state.buffer.capacity())
        };
        if dropped > 0 {
            self.drop_reports.hit(now);
            let cause =
                if outage.is_some() { "while the server was unreachable" } else { "while sending lagged behind" };
            warn!(dropped, dropped_total, capacity, "buffer overflow: dropped the {dropped} oldest batches {cause}");
        }
    }

    /// Logs a permanent refusal, rate-limited with the refused totals since the last line.
    fn refused(&mut self, message: &str, batches: u64, points: u64) {
        let refusals = &mut self.refusals;
        refusals.batches += batches;
        refusals.points += points;
        if let Some(repeats) = refusals.log.hit(Instant::now()) {
            warn!(
                server_message = ?message,
                batches = refusals.batches,
                points = refusals.points,
                repeats,
                "the server refused data permanently: dropped the refused requests' {} batches ({} points) \
                 without retrying; server_message says how many points it refused and why",
                refusals.batches,
                refusals.points,
            );
            refusals.batches = 0;
            refusals.points = 0;
        }
    }

    /// Logs a failed attempt (rate-limited) and waits out the backoff delay (cut short once by
    /// shutdown, so that the final flush retries at once).
    async fn fail(&mut self, failure: Failure) {
        let now = Instant::now();
        let period = self.log_period;
        let outage =
            self.outage.get_or_insert_with(|| Outage { started: now, failures: 0, log: Throttle::new(period) });
        outage.failures += 1;
        let due = outage.log.hit(now);
        let (failures, down_secs) = (outage.failures, now.duration_since(outage.started).as_secs());
        let (buffered, dropped, dropped_total) = {
            let mut state = self.shared.lock();
            state.buffer.release();
            state.note_drops();
            state.stats.requests_failed += 1;
            (state.buffer.len(), state.unreported_drops(), state.buffer.dropped())
        };
        let mut delay = self.backoff.next_delay();
        if let Some(suppressed) = due {
            let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            let counts =
                FailureCounts { failures, suppressed, down_secs, buffered, dropped, dropped_total, retry_in_ms };
            self.log_failure(&failure, &counts).await;
        }
        // At least one line per period while failing: the attempt after the next line is
        // due is made no later than then.
        if let Some(outage) = &self.outage {
            delay = delay.min(outage.log.due_in(Instant::now()));
        }
        if self.shared.is_stopping() {
            tokio::time::sleep(delay).await;
        } else {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.shared.stopped() => {}
            }
        }
    }

    async fn log_failure(&self, failure: &Failure, c: &FailureCounts) {
        let (reason, operator) = match failure {
            Failure::Declined(message) => (format!("the server declined the report: {message}"), false),
            Failure::Report(e) => (e.to_string(), e.needs_operator()),
        };
        let http_answer = match failure {
            Failure::Report(ReportError::NotGrpc(not_grpc)) => {
                Some(format!("HTTP {} ({})", not_grpc.status, not_grpc.content_type))
            }
            Failure::Report(e) if e.may_be_http1() => {
                probe_http1(&self.endpoint, self.request_timeout.min(PROBE_TIMEOUT)).await
            }
            _ => None,
        };
        let FailureCounts { failures, suppressed, down_secs, buffered, dropped, dropped_total, retry_in_ms } = *c;
        if let Some(answer) = http_answer {
            let host = self.endpoint.host().unwrap_or("host");
            error!(
                error = %reason,
                endpoint = %self.endpoint,
                answer = %answer,
                failures, suppressed, down_secs, buffered, dropped, dropped_total, retry_in_ms,
                "server_endpoint answers plain HTTP, not gRPC: this looks like the HTTP port \
                 (oxmon-server http_port, default {SERVER_HTTP_PORT}); the gRPC port is its grpc_port \
                 (default {SERVER_GRPC_PORT}): set server_endpoint (or OXMON_AGENT_SERVER_ENDPOINT) \
                 to e.g. {host}:{SERVER_GRPC_PORT}"
            );
        } else if operator {
            error!(
                error = %reason,
                failures, suppressed, down_secs, buffered, dropped, dropped_total, retry_in_ms,
                "report refused; fix the agent's token or the server's whitelist"
            );
        } else {
            warn!(
                error = %reason,
                failures, suppressed, down_secs, buffered, dropped, dropped_total, retry_in_ms,
                "report failed; retrying"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(interval_ms: u64, base_ms: u64, max_ms: u64, expected_max_ms: u64) {
        let text = "agent_id = \"a\"";
        let Ok(mut config) = AgentConfig::from_toml_str(text, &crate::config::NoEnv) else { panic!("config") };
        config.collection_interval = Duration::from_millis(interval_ms);
        config.backoff = BackoffConfig { base: Duration::from_millis(base_ms), max: Duration::from_millis(max_ms) };
        let policy = retry_policy(&config);
        assert_eq!(policy.base, Duration::from_millis(base_ms));
        assert_eq!(policy.max, Duration::from_millis(expected_max_ms), "interval {interval_ms} ms");
    }

    #[test]
    fn retries_come_at_least_twice_per_collection_interval() {
        // The setup: a 1 s interval no longer lets the delay grow to 30 s.
        check(1_000, 500, 30_000, 500);
        check(10_000, 500, 30_000, 5_000);
        // Long intervals keep the configured maximum.
        check(120_000, 500, 30_000, 30_000);
        // Tiny intervals (library callers) still wait a little.
        check(4, 1, 100, 10);
    }
}
