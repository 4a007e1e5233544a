//! State shared by the collection loop and the sender: the buffer, the counters and the
//! stop signal.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};

use crate::RunStats;
use crate::buffer::{Batch, Buffer};

/// Owned by [`crate::run`] and borrowed by both loops.
///
/// NB: the mutex is a `std` one and is never held across an `.await`.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the sender: a batch arrived or shutdown began.
    wakeup: Notify,
    stopping: watch::Sender<bool>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub buffer: Buffer,
    pub stats: RunStats,
}

impl Shared {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            state: Mutex::new(State { buffer: Buffer::new(capacity), stats: RunStats::default() }),
            wakeup: Notify::new(),
            stopping: watch::Sender::new(false),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the buffer half-updated in a harmful way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Buffers a collected batch and wakes the sender; returns the buffered batch count.
    pub(crate) fn push(&self, batch: Batch) -> usize {
        let len = {
            let mut state = self.lock();
            state.stats.batches_collected += 1;
            state.buffer.push(batch);
            state.buffer.len()
        };
        self.wakeup.notify_one();
        len
    }

    /// Waits until [`Self::push`] or [`Self::stop`] is called (a call made before the
    /// wait counts).
    pub(crate) async fn changed(&self) {
        self.wakeup.notified().await;
    }

    /// Collection has ended: the sender drains what is left and returns.
    pub(crate) fn stop(&self) {
        self.stopping.send_replace(true);
        self.wakeup.notify_one();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Completes once [`Self::stop`] has been called.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Final counters, with the batches still buffered counted as unsent.
    pub(crate) fn finish(&self) -> RunStats {
        let mut state = self.lock();
        // A request cut off by the flush deadline has an unknown fate: count it as failed.
        state.buffer.release();
        RunStats { batches_dropped: state.buffer.dropped(), batches_unsent: state.buffer.len() as u64, ..state.stats }
    }
}
