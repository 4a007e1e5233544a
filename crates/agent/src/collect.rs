//! The collection side: a dedicated thread that owns the [`Source`] and a loop that asks it
//! for one batch per interval and appends it to the buffer.

use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;
use tracing::{debug, error};

use crate::buffer::Batch;
use crate::source::Source;
use crate::{Error, Result, Shared};

/// Handle of the collection thread; dropping it ends the thread after its current cycle.
#[derive(Debug)]
pub(crate) struct Worker {
    requests: mpsc::Sender<oneshot::Sender<Batch>>,
}

impl Worker {
    /// Moves `source` to a new thread. Collection is blocking work and must not run on the
    /// runtime; a dedicated thread also keeps the source's state in one place.
    pub(crate) fn spawn(mut source: impl Source) -> Result<Self> {
        let (requests, inbox) = mpsc::channel::<oneshot::Sender<Batch>>();
        std::thread::Builder::new()
            .name("oxmon-collect".to_owned())
            .spawn(move || {
                while let Ok(reply) = inbox.recv() {
                    let timestamp_ms = now_ms();
                    let metrics = source.collect();
                    // The receiver is gone only when the agent is shutting down.
                    let _ = reply.send(Batch { timestamp_ms, metrics });
                }
            })
            .map_err(Error::SpawnCollector)?;
        Ok(Self { requests })
    }

    /// Runs one collection; `None` when the thread has died.
    async fn collect(&self) -> Option<Batch> {
        let (reply, batch) = oneshot::channel();
        self.requests.send(reply).ok()?;
        batch.await.ok()
    }
}

/// Collects immediately, then every `interval`, until `shutdown` completes.
pub(crate) async fn run(
    shared: &Shared,
    worker: &Worker,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let mut ticker = tokio::time::interval(interval);
    // A slow collection shifts the schedule instead of causing a burst of catch-up cycles.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            batch = async {
                ticker.tick().await;
                worker.collect().await
            } => batch,
        };
        let Some(batch) = batch else {
            error!("collection thread stopped");
            return Err(Error::CollectorStopped);
        };
        if batch.metrics.is_empty() {
            debug!("collection produced no metrics");
            continue;
        }
        let points = batch.metrics.len();
        let buffered = shared.push(batch);
        debug!(points, buffered, "collected");
    }
}

/// Wall-clock time in Unix epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
