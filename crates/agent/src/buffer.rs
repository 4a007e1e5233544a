//! The bounded local buffer of collected batches and the planning of `ReportMetrics`
//! requests from it.
//!
//! One collection cycle is one [`Batch`]. The buffer holds at most `capacity` batches and
//! drops the oldest when full. Requests are cut from the front: as many whole batches as fit
//! under the point and byte limits, or a slice of a single batch that alone is too large.
//! Nothing leaves the buffer until [`Buffer::acknowledge`] is called with the request's
//! end [`Cursor`], so a failed request is simply planned again ([`Buffer::release`]).
//!
//! A batch evicted while it is part of the request in flight is not counted as dropped
//! until that request fails: if it succeeds, the batch was delivered.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::num::NonZeroUsize;

use oxmon_common::metric::Metric;
use oxmon_common::proto::{MetricBatchProto, MetricDataPointProto};
use prost::Message;

/// Bytes kept free under `max_message_bytes` (gRPC frame header and slack).
pub(crate) const FRAME_MARGIN: usize = 512;

/// The result of one collection cycle.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Batch {
    /// Collection time, Unix epoch milliseconds; the timestamp of every point.
    pub timestamp_ms: i64,
    pub metrics: Vec<Metric>,
}

/// Size limits of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_points: usize,
    /// Largest encoded `MetricBatchProto`.
    pub max_bytes: usize,
}

/// A position in the buffer: point `offset` of the batch numbered `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cursor {
    seq: u64,
    offset: usize,
}

/// A planned request covering the buffer from its front up to `end`.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub request: MetricBatchProto,
    pub end: Cursor,
    /// Points between the front and `end` left out because one alone exceeds `max_bytes`.
    pub oversize_points: usize,
}

/// What an acknowledgement removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    /// Batches removed completely.
    pub batches: usize,
    /// Points removed, including those of a batch only partly covered.
    pub points: usize,
}

/// Bounded FIFO of batches with drop-oldest overflow.
#[derive(Debug)]
pub(crate) struct Buffer {
    entries: VecDeque<Entry>,
    capacity: NonZeroUsize,
    next_seq: u64,
    /// Points of the front batch already acknowledged.
    front_offset: usize,
    dropped: u64,
    /// End of the request in flight (from [`Buffer::chunk`] until acknowledged or released).
    in_flight_end: Option<Cursor>,
    /// Batches evicted on overflow while covered by the request in flight.
    evicted_in_flight: usize,
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    batch: Batch,
}

// === impl Limits ===

impl Limits {
    /// The limits for a `max_message_bytes` setting: at most 10,000 points, and the encoded
    /// message [`FRAME_MARGIN`] bytes under the setting.
    pub(crate) fn new(max_message_bytes: usize) -> Self {
        Self {
            max_points: oxmon_common::proto::MAX_POINTS_PER_BATCH,
            max_bytes: max_message_bytes.saturating_sub(FRAME_MARGIN),
        }
    }
}

// === impl Buffer ===

impl Buffer {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity.get().min(64)),
            capacity,
            next_seq: 0,
            front_offset: 0,
            dropped: 0,
            in_flight_end: None,
            evicted_in_flight: 0,
        }
    }

    /// Appends a batch; when full, first evicts the oldest one, which is returned.
    pub(crate) fn push(&mut self, batch: Batch) -> Option<Batch> {
        let evicted = if self.entries.len() >= self.capacity.get() {
            let old = self.entries.pop_front();
            self.front_offset = 0;
            if let Some(old) = &old {
                if self.in_flight_end.is_some_and(|end| old.seq < end.seq) {
                    self.evicted_in_flight += 1;
                } else {
                    self.count_drops(1);
                }
            }
            old.map(|e| e.batch)
        } else {
            None
        };
        self.entries.push_back(Entry { seq: self.next_seq, batch });
        self.next_seq += 1;
        evicted
    }

    /// Buffered batches, including one partly sent.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Batches dropped on overflow so far (logged by the caller, see `State::note_drops`).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity.get()
    }

    /// Plans the next request from the front of the buffer; `None` when it is empty.
    ///
    /// Whole batches are taken while they fit under `limits`; a batch that does not fit in an
    /// otherwise empty request is split by points. Every point carries `agent_id` and its
    /// batch's collection time; the request itself is stamped `now_ms`.
    ///
    /// The planned request counts as in flight until [`Self::acknowledge`] or [`Self::release`].
    pub(crate) fn chunk(&mut self, limits: Limits, agent_id: &str, now_ms: i64) -> Option<Chunk> {
        let front = self.entries.front()?;
        let mut request =
            MetricBatchProto { agent_id: agent_id.to_owned(), timestamp_ms: now_ms, data_points: Vec::new() };
        let mut bytes = request.encoded_len();
        let mut end = Cursor { seq: front.seq, offset: self.front_offset };
        let mut oversize_points = 0;
        let mut pending: Vec<(MetricDataPointProto, usize)> = Vec::new();

        for entry in &self.entries {
            let start = if entry.seq == front.seq { self.front_offset } else { 0 };
            let metrics = entry.batch.metrics.get(start..).unwrap_or_default();

            // Size the rest of this batch.
            pending.clear();
            let mut batch_bytes = 0;
            for metric in metrics {
                let point = to_proto(metric, agent_id, entry.batch.timestamp_ms);
                let len = prost::encoding::message::encoded_len(3, &point);
                batch_bytes += len;
                pending.push((point, len));
            }
            let points = request.data_points.len();
            if points + pending.len() <= limits.max_points && bytes + batch_bytes <= limits.max_bytes {
                request.data_points.extend(pending.drain(..).map(|(p, _)| p));
                bytes += batch_bytes;
                end = Cursor { seq: entry.seq + 1, offset: 0 };
                continue;
            }
            if points > 0 {
                // Whole batches only: the rest goes in the next request.
                break;
            }
            // This batch alone is over the limits: send as many of its points as fit.
            let mut taken = start;
            for (point, len) in pending.drain(..) {
                if request.data_points.len() == limits.max_points {
                    break;
                }
                if bytes + len > limits.max_bytes {
                    if request.data_points.is_empty() {
                        // Cannot be sent in any request: skip it so the buffer keeps draining.
                        oversize_points += 1;
                        taken += 1;
                        continue;
                    }
                    break;
                }
                bytes += len;
                request.data_points.push(point);
                taken += 1;
            }
            end = if taken == entry.batch.metrics.len() {
                Cursor { seq: entry.seq + 1, offset: 0 }
            } else {
                Cursor { seq: entry.seq, offset: taken }
            };
            break;
        }
        self.in_flight_end = Some(end);
        Some(Chunk { request, end, oversize_points })
    }

    /// Removes everything before `end` (the request was stored or permanently rejected).
    ///
    /// Batches of the request that overflowed out of the buffer meanwhile count as removed.
    pub(crate) fn acknowledge(&mut self, end: Cursor) -> Removed {
        // Evicted while in flight, but delivered all the same.
        let mut removed = Removed { batches: std::mem::take(&mut self.evicted_in_flight), points: 0 };
        self.in_flight_end = None;
        while let Some(front) = self.entries.front() {
            if front.seq < end.seq {
                removed.batches += 1;
                removed.points += front.batch.metrics.len().saturating_sub(self.front_offset);
                self.front_offset = 0;
                self.entries.pop_front();
            } else {
                if front.seq == end.seq && end.offset > self.front_offset {
                    removed.points += end.offset - self.front_offset;
                    self.front_offset = end.offset;
                }
                break;
            }
        }
        removed
    }

    /// The request in flight failed: batches evicted meanwhile are lost after all.
    pub(crate) fn release(&mut self) {
        self.in_flight_end = None;
        let lost = std::mem::take(&mut self.evicted_in_flight);
        self.count_drops(lost);
    }

    fn count_drops(&mut self, n: usize) {
        self.dropped += n as u64;
    }
}

/// The wire form of one sample.
pub(crate) fn to_proto(metric: &Metric, agent_id: &str, timestamp_ms: i64) -> MetricDataPointProto {
    MetricDataPointProto {
        timestamp_ms,
        agent_id: agent_id.to_owned(),
        metric_name: metric.name.to_owned(),
        value: metric.value,
        labels: metric.labels.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    }
}
