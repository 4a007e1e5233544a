//! State shared by the collection loop and the sender: the buffer, the counters and the
//! stop signal.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};
use tracing::warn;

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
    pub drops: Drops,
}

/// Overflow drops are reported per burst: one line when the buffer starts dropping, and one
/// with the exact count when the burst is reported (see `Sender`).
#[derive(Debug, Default)]
pub(crate) struct Drops {
    /// The buffer's drop counter when last looked at.
    seen: u64,
    /// Drops of the current burst, not reported yet.
    unreported: u64,
}

impl Shared {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            state: Mutex::new(State {
                buffer: Buffer::new(capacity),
                stats: RunStats::default(),
                drops: Drops::default(),
            }),
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
            state.note_drops();
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

    /// The counters so far, with the batches buffered now counted as unsent.
    pub(crate) fn totals(&self) -> RunStats {
        self.lock().totals()
    }

    /// Final counters, with the batches still buffered counted as unsent.
    pub(crate) fn finish(&self) -> RunStats {
        let mut state = self.lock();
        // A request cut off by the flush deadline has an unknown fate: count it as failed.
        state.buffer.release();
        state.note_drops();
        state.totals()
    }
}

// === impl State ===

impl State {
    /// Takes in the drops the buffer counted since the last call; the first drop of a burst
    /// is logged at once.
    pub(crate) fn note_drops(&mut self) {
        let total = self.buffer.dropped();
        let new = total.saturating_sub(self.drops.seen);
        if new == 0 {
            return;
        }
        self.drops.seen = total;
        if self.drops.unreported == 0 {
            warn!(
                capacity = self.buffer.capacity(),
                "buffer full: dropping the oldest batch for each new one until the server takes data again"
            );
        }
        self.drops.unreported += new;
    }

    /// Drops of the current burst not reported yet.
    pub(crate) fn unreported_drops(&self) -> u64 {
        self.drops.unreported
    }

    /// Ends the current burst: its drop count, which the caller logs.
    pub(crate) fn take_drop_burst(&mut self) -> u64 {
        std::mem::take(&mut self.drops.unreported)
    }

    fn totals(&self) -> RunStats {
        RunStats { batches_dropped: self.buffer.dropped(), batches_unsent: self.buffer.len() as u64, ..self.stats }
    }
}
