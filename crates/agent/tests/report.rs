//! End-to-end reporting over real gRPC on loopback: metadata, outages, rejections, backlogs.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn batches_arrive_with_auth_metadata_when_a_token_is_set() {
    let recording = Recording::default();
    let server = TestServer::start(&recording).await;
    let config = test_config(server.addr, "auth_token = \"s3cret-token\"");
    let seq = SeqSource::default();
    let agent = Agent::spawn(config, seq.source(1));

    let r = recording.clone();
    wait_until(WAIT, "three stored batches", move || r.stored_values().len() >= 3).await;
    let stats = agent.stop().await;
    server.stop().await;

    let requests = recording.requests();
    assert!(!requests.is_empty());
    for req in &requests {
        assert_eq!(req.authorization.as_deref(), Some("Bearer s3cret-token"));
        assert_eq!(req.agent_id_metadata.as_deref(), Some("test-agent"));
        assert_eq!(req.batch.agent_id, "test-agent");
        assert!(req.batch.timestamp_ms > 0);
        for point in &req.batch.data_points {
            assert_eq!(point.agent_id, "test-agent", "agent_id is set on every point");
            assert_eq!(point.metric_name, SEQ_METRIC);
            assert!(point.timestamp_ms > 1_600_000_000_000, "collection time in ms");
        }
    }
    assert_exactly_once_in_order(&recording.stored_values(), stats.batches_collected);
    assert_eq!(stats.batches_sent, stats.batches_collected);
    assert_eq!(stats.batches_unsent, 0);
}

#[tokio::test]
async fn no_auth_metadata_is_sent_without_a_token() {
    let recording = Recording::default();
    let server = TestServer::start(&recording).await;
    let agent = Agent::spawn(test_config(server.addr, ""), SeqSource::default().source(2));

    let r = recording.clone();
    wait_until(WAIT, "two requests", move || r.len() >= 2).await;
    agent.stop().await;
    server.stop().await;

    for req in recording.requests() {
        assert_eq!(req.authorization, None);
        assert_eq!(req.agent_id_metadata, None);
        assert_eq!(req.batch.agent_id, "test-agent");
    }
}

#[tokio::test]
async fn outages_lose_nothing_and_keep_the_order() {
    let recording = Recording::default();
    let addr = free_addr().await;
    let seq = SeqSource::default();
    let agent = Agent::spawn(test_config(addr, ""), seq.source(1));

    // Down at first: the agent buffers.
    let s = seq.clone();
    wait_until(WAIT, "buffered cycles", move || s.produced() >= 5).await;
    assert_eq!(recording.len(), 0);

    let server = TestServer::start_on(addr, &recording, store_all(), None).await;
    let (r, s) = (recording.clone(), seq.clone());
    wait_until(WAIT, "the backlog to arrive", move || r.stored_values().len() as u64 >= s.produced().min(8)).await;

    // Stopped mid-run for a while, then restarted on the same port.
    server.stop().await;
    let stored_before = recording.stored_values().len() as u64;
    let s = seq.clone();
    wait_until(WAIT, "cycles during the outage", move || s.produced() >= stored_before + 5).await;
    let server = TestServer::start_on(addr, &recording, store_all(), None).await;
    let (r, s) = (recording.clone(), seq.clone());
    wait_until(WAIT, "the second backlog", move || {
        r.stored_values().len() as u64 >= stored_before + 8 && s.produced() > stored_before + 8
    })
    .await;

    let stats = agent.stop().await;
    server.stop().await;

    assert_exactly_once_in_order(&recording.stored_values(), stats.batches_collected);
    assert_eq!(stats.batches_sent, stats.batches_collected);
    assert_eq!((stats.batches_dropped, stats.batches_unsent), (0, 0));
    assert!(stats.requests_failed > 0, "{stats:?}");
}

#[tokio::test]
async fn permanent_rejection_drops_the_batch_and_reporting_continues() {
    let recording = Recording::default();
    // Reject (permanently) every request that carries point 3.
    let policy: Policy = Arc::new(|batch| {
        if batch.data_points.iter().any(|p| p.value as u64 == 3) {
            Reply::Rejected { permanent: true }
        } else {
            Reply::Stored
        }
    });
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), &recording, policy, None).await;
    let seq = SeqSource::default();
    let agent = Agent::spawn(test_config(server.addr, ""), seq.source(1));

    let r = recording.clone();
    wait_until(WAIT, "points after the rejection", move || r.stored_values().iter().any(|&v| v >= 6)).await;
    let stats = agent.stop().await;
    server.stop().await;

    let requests = recording.requests();
    let rejected: Vec<&Received> = requests.iter().filter(|r| r.reply != Reply::Stored).collect();
    assert_eq!(rejected.len(), 1, "a permanent rejection is not retried");
    let rejected_values: Vec<u64> = rejected[0].batch.data_points.iter().map(|p| p.value as u64).collect();
    assert!(rejected_values.contains(&3));

    let stored = recording.stored_values();
    assert!(!stored.contains(&3));
    let mut all: Vec<u64> = stored.iter().chain(&rejected_values).copied().collect();
    all.sort_unstable();
    assert_exactly_once_in_order(&all, stats.batches_collected);
    assert!(stored.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(stats.batches_rejected, rejected_values.len() as u64);
    assert_eq!(stats.points_rejected, rejected_values.len() as u64);
    assert_eq!(stats.batches_sent + stats.batches_rejected, stats.batches_collected);
}

#[tokio::test]
async fn retryable_rejection_keeps_the_batch_until_stored() {
    let recording = Recording::default();
    let refusals = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = refusals.clone();
    // An 0.1-style refusal (no `permanent`) for the first three requests.
    let policy: Policy = Arc::new(move |_| {
        if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 {
            Reply::Rejected { permanent: false }
        } else {
            Reply::Stored
        }
    });
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), &recording, policy, None).await;
    let seq = SeqSource::default();
    let agent = Agent::spawn(test_config(server.addr, ""), seq.source(1));

    let r = recording.clone();
    wait_until(WAIT, "stored points", move || r.stored_values().len() >= 4).await;
    let stats = agent.stop().await;
    server.stop().await;

    assert_exactly_once_in_order(&recording.stored_values(), stats.batches_collected);
    assert_eq!(stats.batches_rejected, 0);
    assert_eq!(stats.requests_failed, 3);
}

#[tokio::test]
async fn backlog_over_ten_thousand_points_drains_in_several_requests_under_the_limits() {
    let recording = Recording::default();
    let addr = free_addr().await;
    let seq = SeqSource::default();
    let mut config = test_config(addr, "buffer_max_size = 100");
    config.collection_interval = Duration::from_millis(10);
    let agent = Agent::spawn(config, seq.source(500));

    let s = seq.clone();
    wait_until(WAIT, "a backlog of 15,000 points", move || s.produced() >= 15_000).await;
    let server = TestServer::start_on(addr, &recording, store_all(), None).await;
    let r = recording.clone();
    wait_until(WAIT, "the backlog to drain", move || r.stored_values().len() >= 15_000).await;
    let stats = agent.stop().await;
    server.stop().await;

    let requests = recording.requests();
    let big = requests.iter().filter(|r| r.batch.data_points.len() > 1_000).count();
    assert!(big >= 2, "the backlog took several requests: {big}");
    for req in &requests {
        assert!(req.batch.data_points.len() <= 10_000, "{} points", req.batch.data_points.len());
        assert!(req.encoded_len <= oxmon_common::proto::DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(req.batch.data_points.len() % 500, 0, "whole batches only");
    }
    assert_exactly_once_in_order(&recording.stored_values(), stats.batches_collected * 500);
    assert_eq!(stats.batches_dropped, 0);
}

#[tokio::test]
async fn requests_stay_under_max_message_bytes_and_big_batches_are_split() {
    let recording = Recording::default();
    let addr = free_addr().await;
    let seq = SeqSource::default();
    let max = 16 * 1024;
    let config = test_config(addr, &format!("max_message_bytes = {max}"));
    // One cycle alone (1,000 points, ~40 bytes each) is over the byte limit.
    let agent = Agent::spawn(config, seq.source(1_000));

    let s = seq.clone();
    wait_until(WAIT, "a backlog", move || s.produced() >= 3_000).await;
    let server = TestServer::start_on(addr, &recording, store_all(), None).await;
    let (r, s) = (recording.clone(), seq.clone());
    wait_until(WAIT, "the backlog to drain", move || r.stored_values().len() as u64 >= s.produced().min(5_000)).await;
    let stats = agent.stop().await;
    server.stop().await;

    let requests = recording.requests();
    assert!(requests.len() >= 6, "{} requests", requests.len());
    for req in &requests {
        assert!(req.encoded_len <= max, "{} bytes", req.encoded_len);
    }
    assert_exactly_once_in_order(&recording.stored_values(), stats.batches_collected * 1_000);
    assert_eq!(stats.points_oversize, 0);
}

#[tokio::test]
async fn full_buffer_drops_the_oldest_batches_while_the_server_is_down() {
    let recording = Recording::default();
    let addr = free_addr().await;
    let seq = SeqSource::default();
    let mut config = test_config(addr, "buffer_max_size = 3");
    config.collection_interval = Duration::from_millis(10);
    let agent = Agent::spawn(config, seq.source(1));

    let s = seq.clone();
    wait_until(WAIT, "overflow", move || s.produced() >= 10).await;
    let server = TestServer::start_on(addr, &recording, store_all(), None).await;
    let r = recording.clone();
    wait_until(WAIT, "reporting", move || r.stored_values().len() >= 5).await;
    let stats = agent.stop().await;
    server.stop().await;

    let stored = recording.stored_values();
    assert!(stats.batches_dropped >= 7, "{stats:?}");
    assert!(stored.windows(2).all(|w| w[0] < w[1]), "in order, no duplicates");
    assert_eq!(*stored.last().unwrap(), stats.batches_collected, "the newest survive");
    assert_eq!(stats.batches_sent + stats.batches_dropped + stats.batches_unsent, stats.batches_collected, "{stats:?}");
    assert_eq!(stored.len() as u64, stats.batches_sent, "{stats:?}");
}

#[tokio::test]
async fn shutdown_with_the_server_down_reports_unsent_batches() {
    let addr = free_addr().await;
    let seq = SeqSource::default();
    let mut config = test_config(addr, "");
    config.flush_timeout = Duration::from_millis(200);
    let agent = Agent::spawn(config, seq.source(1));

    let s = seq.clone();
    wait_until(WAIT, "some cycles", move || s.produced() >= 3).await;
    let started = tokio::time::Instant::now();
    let stats = agent.stop().await;
    assert!(started.elapsed() < Duration::from_secs(2), "flush is bounded");
    assert_eq!(stats.batches_sent, 0);
    assert_eq!(stats.batches_unsent, stats.batches_collected);
    assert!(stats.batches_unsent >= 3);
}

#[tokio::test]
async fn unauthenticated_status_keeps_the_batches_and_retries() {
    let recording = Recording::default();
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = calls.clone();
    // The first two calls fail as with a token the server does not know yet.
    let policy: Policy = Arc::new(move |_| {
        if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            Reply::Unauthenticated
        } else {
            Reply::Stored
        }
    });
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), &recording, policy, None).await;
    let seq = SeqSource::default();
    let agent = Agent::spawn(test_config(server.addr, "auth_token = \"t\""), seq.source(1));

    let r = recording.clone();
    wait_until(WAIT, "stored points", move || r.stored_values().len() >= 4).await;
    let stats = agent.stop().await;
    server.stop().await;

    assert_exactly_once_in_order(&recording.stored_values(), stats.batches_collected);
    assert_eq!(stats.requests_failed, 2);
    assert_eq!(stats.batches_sent, stats.batches_collected);
}
