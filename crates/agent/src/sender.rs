//! The sender: drains the buffer oldest-first over gRPC, removing batches only once the
//! server has stored (or permanently rejected) them, with backoff between failures.

use tracing::{debug, error, info, warn};

use crate::backoff::Backoff;
use crate::buffer::{Chunk, Limits};
use crate::client::Client;
use crate::collect::now_ms;
use crate::config::AgentConfig;
use crate::state::Shared;

/// Failures after the first are logged at WARN only every this many attempts.
const FAILURE_LOG_EVERY: u64 = 20;

#[derive(Debug)]
pub(crate) struct Sender<'a> {
    shared: &'a Shared,
    client: Client,
    backoff: Backoff,
    limits: Limits,
    agent_id: String,
    /// Consecutive failed attempts.
    failures: u64,
}

/// How one attempt ended.
enum Outcome {
    Stored,
    Rejected {
        message: String,
    },
    /// `operator`: retrying alone will not help (bad token, agent not whitelisted).
    Failed {
        reason: String,
        operator: bool,
    },
}

impl<'a> Sender<'a> {
    pub(crate) fn new(shared: &'a Shared, client: Client, config: &AgentConfig) -> Self {
        Self {
            shared,
            client,
            backoff: Backoff::new(config.backoff),
            limits: Limits::new(config.max_message_bytes),
            agent_id: config.agent_id.clone(),
            failures: 0,
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
                Ok(response) if response.permanent => Outcome::Rejected { message: response.message },
                Ok(response) => {
                    Outcome::Failed { reason: format!("server refused: {}", response.message), operator: false }
                }
                Err(e) => Outcome::Failed { operator: e.needs_operator(), reason: e.to_string() },
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
                    if self.failures > 0 {
                        info!(failed_attempts = self.failures, buffered, "reporting resumed");
                    }
                    debug!(points, buffered, "report stored");
                    self.failures = 0;
                    self.backoff.reset();
                }
                Outcome::Rejected { message } => {
                    let mut state = self.shared.lock();
                    let removed = state.buffer.acknowledge(end);
                    state.stats.batches_rejected += removed.batches as u64;
                    state.stats.points_rejected += points as u64;
                    state.stats.requests_succeeded += 1;
                    drop(state);
                    error!(
                        server_message = %message,
                        points,
                        "server rejected the batch as invalid; dropped it"
                    );
                    self.failures = 0;
                    self.backoff.reset();
                }
                Outcome::Failed { reason, operator } => self.fail(&reason, operator).await,
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

    /// Logs a failed attempt and waits out the backoff delay (cut short once by shutdown, so
    /// that the final flush retries at once).
    async fn fail(&mut self, reason: &str, operator: bool) {
        self.failures += 1;
        let delay = self.backoff.next_delay();
        let buffered = {
            let mut state = self.shared.lock();
            state.buffer.release();
            state.stats.requests_failed += 1;
            state.buffer.len()
        };
        let retry_in_ms = delay.as_millis() as u64;
        let loud = self.failures == 1 || self.failures.checked_rem(FAILURE_LOG_EVERY) == Some(0);
        if loud && operator {
            error!(error = %reason, failures = self.failures, buffered, retry_in_ms, "report refused");
        } else if loud {
            warn!(error = %reason, failures = self.failures, buffered, retry_in_ms, "report failed");
        } else {
            debug!(error = %reason, failures = self.failures, buffered, retry_in_ms, "report failed");
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
}
