//! Recovery after an outage longer than the buffer (issue 9, point 3): the agent reconnects
//! promptly once the server is back, so it loses only what the buffer bound forces, and it
//! logs the exact number lost.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use oxmon_agent::config::BackoffConfig;
use support::*;

const WAIT: Duration = Duration::from_secs(20);

/// Batches the buffer holds.
const CAPACITY: u64 = 4;
/// Cycles of the outage beyond what the buffer holds.
const OVERFLOW: u64 = 4;

#[tokio::test]
async fn an_outage_longer_than_the_buffer_loses_exactly_the_overflow() {
    let recording = Recording::default();
    let server = TestServer::start(&recording).await;
    let addr = server.addr;
    let seq = SeqSource::default();
    let mut config = test_config(addr, &format!("buffer_max_size = {CAPACITY}"));
    // The setup scaled down (1 s -> 400 ms, 30 s outage -> 8 cycles), with the
    // default backoff, which there had grown to 30 s by the time the server was back.
    config.collection_interval = Duration::from_millis(400);
    config.backoff = BackoffConfig::default();
    let (agent, logs) = Agent::spawn_logged(config, seq.source(1));

    let r = recording.clone();
    wait_until(WAIT, "two stored batches", move || r.stored_values().len() >= 2).await;
    server.stop().await;
    // Nothing can be stored from here until the restart.
    let stored_before = recording.stored_values().len() as u64;

    let s = seq.clone();
    wait_until(WAIT, "an outage longer than the buffer", move || s.produced() >= stored_before + CAPACITY + OVERFLOW)
        .await;
    // Let the collected batch reach the buffer, then bring the server back at once, well
    // before the next cycle.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let produced_at_restart = seq.produced();
    let server = TestServer::start_on(addr, &recording, store_all(), None).await;
    // Every batch collected while the server was down, minus what the buffer holds.
    let forced = produced_at_restart - stored_before - CAPACITY;

    let (r, s) = (recording.clone(), seq.clone());
    wait_until(WAIT, "three more cycles stored", move || {
        s.produced() >= produced_at_restart + 3 && r.stored_values().last().copied() == Some(s.produced())
    })
    .await;
    let stats = agent.stop().await;
    server.stop().await;

    assert_eq!(stats.batches_dropped, forced, "lost only what the buffer bound forces: {stats:?}\n{}", logs.text());
    let expected: Vec<u64> = (1..=stored_before).chain(stored_before + forced + 1..=stats.batches_collected).collect();
    assert_eq!(recording.stored_values(), expected, "the rest arrived, once each and in order");
    assert_eq!(stats.batches_sent + stats.batches_dropped, stats.batches_collected, "{stats:?}");

    // One burst, logged when it started and with its exact size when it ended.
    assert_eq!(logs.lines_with("buffer full: dropping the oldest batch").len(), 1, "{}", logs.text());
    let bursts = logs.lines_with("buffer overflow: dropped");
    assert_eq!(bursts.len(), 1, "{}", logs.text());
    assert!(bursts[0].contains(" WARN "), "{}", bursts[0]);
    assert_eq!(number(&bursts[0], "dropped"), forced, "{}", bursts[0]);
    assert!(bursts[0].contains("while the server was unreachable"), "{}", bursts[0]);
    // And in the totals at shutdown.
    let stopped = logs.lines_with("agent stopped");
    assert_eq!(stopped.len(), 1, "{}", logs.text());
    assert_eq!(number(&stopped[0], "dropped_total"), forced, "{}", stopped[0]);
    assert!(stopped[0].contains(" WARN "), "{}", stopped[0]);
}
