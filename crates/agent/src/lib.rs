//! oxmon-agent: collects host metrics every interval and reports them to oxmon-server over
//! gRPC, buffering (bounded, drop-oldest) while the server is unreachable and resending in
//! order.
//!
//! [`run`] is the whole agent; `main.rs` only loads the config, installs tracing and waits
//! for a signal. Data flow: [`Source`] (on its own thread) → `collect` loop → `buffer`
//! (shared, bounded) → `sender` → `client` (tonic channel).

#![forbid(unsafe_code)]

mod backoff;
mod buffer;
mod client;
mod collect;
pub mod config;
mod sender;
pub mod source;
mod state;

use std::future::Future;
use std::time::Duration;

use tracing::{info, warn};

pub use config::AgentConfig;
pub use source::{HostSource, Source};

use client::Client;
use sender::Sender;
use state::Shared;

/// Errors that stop the agent; failed reports are retried, never returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("invalid tls settings: {}", error_chain(.0))]
    Tls(tonic::transport::Error),
    #[error("{0} cannot be sent as grpc metadata")]
    Metadata(&'static str),
    #[error("cannot start the collection thread")]
    SpawnCollector(#[source] std::io::Error),
    #[error("the collection thread stopped")]
    CollectorStopped,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Counters of one [`run`].
///
/// Every collected batch ends up in exactly one of `batches_sent`, `batches_rejected`,
/// `batches_dropped` or `batches_unsent`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Non-empty batches collected.
    pub batches_collected: u64,
    /// Batches the server acknowledged as stored.
    pub batches_sent: u64,
    /// Batches dropped because the buffer was full.
    pub batches_dropped: u64,
    /// Batches the server rejected permanently (`permanent = true`).
    pub batches_rejected: u64,
    /// Batches still buffered when the agent stopped.
    pub batches_unsent: u64,
    pub points_sent: u64,
    pub points_rejected: u64,
    /// Points dropped because a single one exceeds `max_message_bytes`.
    pub points_oversize: u64,
    /// Requests answered by the server (stored or permanently rejected).
    pub requests_succeeded: u64,
    /// Requests that failed (transport or status error, or a retryable rejection).
    pub requests_failed: u64,
}

// === impl Error ===

impl Error {
    /// `true` for errors caused by the configuration (`main` exits with `EX_USAGE`).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Config(_) | Self::Tls(_) | Self::Metadata(_))
    }
}

/// Runs the agent until `shutdown` completes: collects every `collection_interval`
/// (the first time at once) and reports in the background. After `shutdown` it stops
/// collecting and tries to send what is buffered for at most `flush_timeout`.
///
/// Fails only at startup (invalid TLS settings, no thread) or if the source's thread dies.
pub async fn run(
    config: AgentConfig,
    source: impl Source,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<RunStats> {
    let client = Client::new(&config)?;
    let worker = collect::Worker::spawn(source)?;
    let shared = Shared::new(config.buffer_max_size);
    info!(
        agent_id = %config.agent_id,
        endpoint = %config.endpoint,
        interval_secs = config.collection_interval.as_secs_f64(),
        buffer_max_size = config.buffer_max_size.get(),
        auth = config.auth_token.is_some(),
        "agent started"
    );

    let mut sender = Sender::new(&shared, client, &config);
    let collecting = async {
        let result = collect::run(&shared, &worker, config.collection_interval, shutdown).await;
        shared.stop();
        result
    };
    let sending = async {
        tokio::select! {
            () = sender.run() => {}
            () = async {
                shared.stopped().await;
                tokio::time::sleep(config.flush_timeout).await;
            } => {}
        }
    };
    let (result, (), ()) = tokio::join!(collecting, sending, summarize(&shared, config.summary_interval));
    drop(worker);

    let stats = shared.finish();
    let RunStats { batches_collected, batches_sent, batches_dropped, batches_rejected, batches_unsent, .. } = stats;
    if batches_dropped > 0 || batches_unsent > 0 || batches_rejected > 0 {
        warn!(
            collected = batches_collected,
            sent = batches_sent,
            dropped_total = batches_dropped,
            refused = batches_rejected,
            unsent = batches_unsent,
            "agent stopped; {} of {batches_collected} batches were dropped, refused or left unsent",
            batches_dropped + batches_unsent + batches_rejected,
        );
    } else {
        info!(collected = batches_collected, sent = batches_sent, "agent stopped, every batch stored");
    }
    result.map(|()| stats)
}

/// Logs the running totals every `every` (never when zero) until collection stops.
async fn summarize(shared: &Shared, every: Duration) {
    if every.is_zero() {
        return;
    }
    let start = tokio::time::Instant::now() + every;
    let mut ticker = tokio::time::interval_at(start, every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shared.stopped() => return,
        }
        let totals = shared.totals();
        info!(
            collected = totals.batches_collected,
            sent = totals.batches_sent,
            dropped_total = totals.batches_dropped,
            refused = totals.batches_rejected,
            buffered = totals.batches_unsent,
            failed_requests = totals.requests_failed,
            "agent totals"
        );
    }
}

/// `e` and its sources joined by `": "` (tonic's transport errors say little on their own).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn run_future_is_send_so_it_can_be_spawned() {
        let config = AgentConfig::from_toml_str("agent_id = \"a\"", &config::NoEnv);
        let Ok(config) = config else { panic!("config") };
        let fut = run(config, Vec::new, std::future::pending());
        assert_send(&fut);
    }

    #[test]
    fn error_chain_joins_sources() {
        let e = Error::SpawnCollector(std::io::Error::other("no threads"));
        assert_eq!(error_chain(&e), "cannot start the collection thread: no threads");
    }
}
