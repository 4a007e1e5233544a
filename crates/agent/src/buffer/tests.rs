//! Tests of the buffer: overflow policy, ordering, acknowledgement and request planning.

use oxmon_common::metric::Labels;
use proptest::prelude::*;

use super::*;

const AGENT: &str = "agent-1";

fn cap(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

/// A batch of `points` points whose values are `first, first + 1, …`.
fn batch(first: u32, points: u32) -> Batch {
    Batch {
        timestamp_ms: 1_700_000_000_000 + i64::from(first),
        metrics: (first..first + points).map(|v| Metric::new("test.seq", f64::from(v))).collect(),
    }
}

fn values(request: &MetricBatchProto) -> Vec<u32> {
    request.data_points.iter().map(|p| p.value as u32).collect()
}

fn limits(max_points: usize, max_bytes: usize) -> Limits {
    Limits { max_points, max_bytes }
}

/// Plans and acknowledges requests until the buffer is empty; returns each request's values.
fn drain(buffer: &mut Buffer, limits: Limits) -> Vec<Vec<u32>> {
    let mut requests = Vec::new();
    while let Some(chunk) = buffer.chunk(limits, AGENT, 1) {
        assert!(chunk.request.data_points.len() <= limits.max_points);
        assert!(chunk.request.encoded_len() <= limits.max_bytes, "{}", chunk.request.encoded_len());
        requests.push(values(&chunk.request));
        buffer.acknowledge(chunk.end);
        assert!(requests.len() < 10_000, "drain does not terminate");
    }
    requests
}

#[test]
fn full_buffer_drops_the_oldest_batch_and_counts_it() {
    let mut b = Buffer::new(cap(3));
    for i in 0..3 {
        assert_eq!(b.push(batch(i, 1)), None);
    }
    assert_eq!(b.push(batch(3, 1)), Some(batch(0, 1)));
    assert_eq!(b.push(batch(4, 1)), Some(batch(1, 1)));
    assert_eq!(b.len(), 3);
    assert_eq!(b.dropped(), 2);
    assert_eq!(drain(&mut b, Limits::new(1 << 20)), vec![vec![2, 3, 4]]);
}

#[test]
fn requests_carry_batches_oldest_first_with_per_point_identity() {
    let mut b = Buffer::new(cap(10));
    b.push(batch(0, 2));
    b.push(Batch {
        timestamp_ms: 42,
        metrics: vec![Metric { name: "disk.used", labels: Labels::from_pairs([("mount", "/")]), value: 7.0 }],
    });
    let chunk = b.chunk(Limits::new(1 << 20), AGENT, 99).expect("non-empty");
    assert_eq!(chunk.request.agent_id, AGENT);
    assert_eq!(chunk.request.timestamp_ms, 99);
    let points = &chunk.request.data_points;
    assert_eq!(points.len(), 3);
    assert!(points.iter().all(|p| p.agent_id == AGENT));
    assert_eq!(points[0].timestamp_ms, 1_700_000_000_000);
    assert_eq!(points[1].value, 1.0);
    assert_eq!(points[2].timestamp_ms, 42);
    assert_eq!(points[2].metric_name, "disk.used");
    assert_eq!(points[2].labels.get("mount").map(String::as_str), Some("/"));
}

#[test]
fn nothing_is_removed_until_acknowledged() {
    let mut b = Buffer::new(cap(10));
    b.push(batch(0, 2));
    let first = b.chunk(Limits::new(1 << 20), AGENT, 1).expect("chunk");
    let again = b.chunk(Limits::new(1 << 20), AGENT, 2).expect("chunk");
    assert_eq!(values(&first.request), values(&again.request));
    assert_eq!(b.len(), 1);
    assert_eq!(b.acknowledge(first.end), Removed { batches: 1, points: 2 });
    assert!(b.is_empty());
    assert!(b.chunk(Limits::new(1 << 20), AGENT, 3).is_none());
}

#[test]
fn batches_pushed_while_a_request_is_in_flight_are_kept() {
    let mut b = Buffer::new(cap(10));
    b.push(batch(0, 1));
    let chunk = b.chunk(Limits::new(1 << 20), AGENT, 1).expect("chunk");
    b.push(batch(1, 1));
    b.acknowledge(chunk.end);
    assert_eq!(drain(&mut b, Limits::new(1 << 20)), vec![vec![1]]);
}

#[test]
fn acknowledging_batches_already_evicted_is_harmless() {
    let mut b = Buffer::new(cap(2));
    b.push(batch(0, 1));
    b.push(batch(1, 1));
    let chunk = b.chunk(Limits::new(1 << 20), AGENT, 1).expect("chunk");
    b.push(batch(2, 1)); // evicts batch 0 while the request is in flight
    // Batch 0 was delivered all the same: removed, not dropped.
    assert_eq!(b.acknowledge(chunk.end), Removed { batches: 2, points: 1 });
    assert_eq!(b.dropped(), 0);
    assert_eq!(drain(&mut b, Limits::new(1 << 20)), vec![vec![2]]);
}

#[test]
fn batches_evicted_while_in_flight_count_as_dropped_when_the_request_fails() {
    let mut b = Buffer::new(cap(2));
    b.push(batch(0, 1));
    b.push(batch(1, 1));
    b.chunk(Limits::new(1 << 20), AGENT, 1).expect("chunk");
    b.push(batch(2, 1));
    assert_eq!(b.dropped(), 0);
    b.release();
    assert_eq!(b.dropped(), 1);
    // Not in flight any more: the next eviction is a drop at once.
    b.push(batch(3, 1));
    assert_eq!(b.dropped(), 2);
    assert_eq!(drain(&mut b, Limits::new(1 << 20)), vec![vec![2, 3]]);
}

#[test]
fn whole_batches_are_grouped_under_the_point_limit() {
    let mut b = Buffer::new(cap(100));
    for i in 0..10 {
        b.push(batch(i * 3, 3));
    }
    let requests = drain(&mut b, limits(7, 1 << 20));
    // 3 + 3 = 6 points fit, a third batch would make 9.
    assert_eq!(requests.iter().map(Vec::len).collect::<Vec<_>>(), [6, 6, 6, 6, 6]);
    assert_eq!(requests.concat(), (0..30).collect::<Vec<_>>());
}

#[test]
fn whole_batches_are_grouped_under_the_byte_limit() {
    let mut b = Buffer::new(cap(100));
    for i in 0..20 {
        b.push(batch(i * 10, 10));
    }
    let one_batch = b.chunk(limits(10, 1 << 20), AGENT, 1).map_or(0, |c| c.request.encoded_len());
    let requests = drain(&mut b, limits(10_000, one_batch * 3));
    assert!(requests.len() >= 7, "{} requests", requests.len());
    assert!(requests.iter().all(|r| r.len() % 10 == 0), "only whole batches");
    assert_eq!(requests.concat(), (0..200).collect::<Vec<_>>());
}

#[test]
fn oversize_single_batch_is_split_by_points() {
    let mut b = Buffer::new(cap(10));
    b.push(batch(0, 2));
    b.push(batch(2, 25));
    b.push(batch(27, 3));
    let requests = drain(&mut b, limits(10, 1 << 20));
    // The split batch's remainder (5) travels with the next whole batch (3).
    assert_eq!(requests.iter().map(Vec::len).collect::<Vec<_>>(), [2, 10, 10, 8]);
    assert_eq!(requests.concat(), (0..30).collect::<Vec<_>>());
}

#[test]
fn backlog_over_ten_thousand_points_drains_in_several_requests_under_the_limits() {
    let mut b = Buffer::new(cap(1000));
    for i in 0..300 {
        b.push(batch(i * 60, 60));
    }
    let requests = drain(&mut b, Limits::new(oxmon_common::proto::DEFAULT_MAX_MESSAGE_BYTES));
    assert!(requests.len() >= 2);
    assert!(requests.iter().all(|r| r.len() <= 10_000));
    assert_eq!(requests.concat(), (0..18_000).collect::<Vec<_>>());
}

#[test]
fn a_point_larger_than_any_request_is_skipped_and_counted() {
    // The first batch does not fit whole, so it is split: point 0, then the huge one alone.
    let l = limits(100, 1000);
    let mut b = Buffer::new(cap(10));
    let huge = Metric::labelled("test.seq", "blob", "x".repeat(2000), 1.0);
    b.push(Batch { timestamp_ms: 1, metrics: vec![Metric::new("test.seq", 0.0), huge] });
    b.push(batch(2, 1));
    let mut skipped = 0;
    let mut sent = Vec::new();
    while let Some(chunk) = b.chunk(l, AGENT, 1) {
        skipped += chunk.oversize_points;
        sent.extend(values(&chunk.request));
        b.acknowledge(chunk.end);
    }
    assert_eq!((sent, skipped), (vec![0, 2], 1));
}

#[test]
fn partly_sent_batch_evicted_on_overflow_resets_the_offset() {
    let mut b = Buffer::new(cap(1));
    b.push(batch(0, 5));
    let chunk = b.chunk(limits(2, 1 << 20), AGENT, 1).expect("chunk");
    b.acknowledge(chunk.end);
    b.push(batch(10, 3));
    assert_eq!(drain(&mut b, limits(2, 1 << 20)), vec![vec![10, 11], vec![12]]);
}

proptest! {
    #[test]
    fn buffer_never_exceeds_capacity_and_keeps_the_newest_in_order(
        capacity in 1usize..20,
        ops in proptest::collection::vec(0u8..4, 0..200),
    ) {
        let mut b = Buffer::new(cap(capacity));
        let mut next = 0u32;
        let mut model: VecDeque<u32> = VecDeque::new();
        let mut dropped = 0u64;
        for op in ops {
            if op == 0 {
                // A sender round: acknowledge one planned request.
                if let Some(chunk) = b.chunk(limits(3, 1 << 20), AGENT, 1) {
                    let sent = values(&chunk.request);
                    b.acknowledge(chunk.end);
                    for v in sent {
                        prop_assert_eq!(model.pop_front(), Some(v));
                    }
                }
            } else {
                if model.len() == capacity {
                    model.pop_front();
                    dropped += 1;
                }
                b.push(batch(next, 1));
                model.push_back(next);
                next += 1;
            }
            prop_assert!(b.len() <= capacity);
            prop_assert_eq!(b.len(), model.len());
            prop_assert_eq!(b.dropped(), dropped);
        }
        let rest: Vec<u32> = drain(&mut b, limits(3, 1 << 20)).concat();
        prop_assert_eq!(rest, model.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn every_planned_request_respects_the_limits_and_all_points_arrive_once(
        sizes in proptest::collection::vec(0u32..40, 1..30),
        max_points in 1usize..50,
        max_bytes in 200usize..4000,
    ) {
        let mut b = Buffer::new(cap(100));
        let mut first = 0;
        for n in &sizes {
            b.push(batch(first, *n));
            first += n;
        }
        let requests = drain(&mut b, limits(max_points, max_bytes));
        prop_assert_eq!(requests.concat(), (0..first).collect::<Vec<_>>());
    }
}

proptest! {
    #[test]
    fn every_batch_is_delivered_dropped_or_buffered_exactly_once_with_requests_in_flight(
        capacity in 1usize..8,
        ops in proptest::collection::vec(0u8..6, 0..300),
    ) {
        let mut b = Buffer::new(cap(capacity));
        let mut pushed = 0u32;
        let mut removed = 0usize;
        let mut delivered: Vec<u32> = Vec::new();
        let mut in_flight: Option<Chunk> = None;
        for op in ops {
            match op {
                // Plan a request (one at a time, like the sender).
                0 if in_flight.is_none() => in_flight = b.chunk(limits(3, 1 << 20), AGENT, 1),
                // The server stores it.
                1 => {
                    if let Some(chunk) = in_flight.take() {
                        delivered.extend(values(&chunk.request));
                        removed += b.acknowledge(chunk.end).batches;
                    }
                }
                // The request fails.
                2 => {
                    if in_flight.take().is_some() {
                        b.release();
                    }
                }
                _ => {
                    b.push(batch(pushed, 1));
                    pushed += 1;
                }
            }
            prop_assert!(b.len() <= capacity);
        }
        if in_flight.take().is_some() {
            b.release();
        }
        prop_assert!(delivered.windows(2).all(|w| w[0] < w[1]), "in order, never twice: {:?}", delivered);
        prop_assert_eq!(removed, delivered.len());
        prop_assert_eq!(removed as u64 + b.dropped() + b.len() as u64, u64::from(pushed));
    }
}
