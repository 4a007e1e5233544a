//! The real agent against the real server: every collected sample is
//! stored exactly once, even when the server goes away for a while.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oxmon_agent::AgentConfig;
use oxmon_agent::config::{BackoffConfig, NoEnv};
use oxmon_common::metric::Metric;
use support::*;

/// A source emitting one point per cycle whose value is its sequence number.
fn counting_source() -> (impl FnMut() -> Vec<Metric> + Send + 'static, Arc<AtomicU64>) {
    let seq = Arc::new(AtomicU64::new(0));
    let s = seq.clone();
    let source = move || {
        let n = s.fetch_add(1, Ordering::SeqCst);
        vec![Metric::new("load.uptime", n as f64)]
    };
    (source, seq)
}

fn agent_config(grpc: std::net::SocketAddr) -> AgentConfig {
    let mut c = AgentConfig::from_toml_str(
        &format!("agent_id = \"e2e-agent\"\nserver_endpoint = \"{grpc}\"\nbuffer_max_size = 10000\n"),
        &NoEnv,
    )
    .unwrap();
    c.collection_interval = Duration::from_millis(20);
    c.backoff = BackoffConfig { base: Duration::from_millis(20), max: Duration::from_millis(100) };
    c.request_timeout = Duration::from_secs(2);
    c
}

async fn stored_values(s: &TestServer) -> Vec<f64> {
    let reader = s.server.state.reader.clone();
    let series = tokio::task::spawn_blocking(move || {
        reader.series_range("e2e-agent", "load.uptime", None, now_ms() - 3_600_000, now_ms() + 60_000).unwrap()
    })
    .await
    .unwrap();
    series.into_iter().flat_map(|s| s.points).map(|(_, v)| v).collect()
}

async fn wait_until(mut cond: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached in 10 s");
}

#[tokio::test]
async fn every_sample_arrives_exactly_once_across_a_server_outage() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(tmp.path())).await;
    let grpc = s.server.grpc_addr;

    let (source, seq) = counting_source();
    let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(oxmon_agent::run(agent_config(grpc), source, async {
        let _ = agent_stopped.await;
    }));

    wait_until(async || stored_values(&s).await.len() >= 5).await;

    // The server goes away; the agent keeps collecting into its buffer.
    s.stop().await;
    let before = seq.load(Ordering::SeqCst);
    wait_until(async || seq.load(Ordering::SeqCst) >= before + 15).await;

    // Back on the same port and data directory.
    let s = TestServer::start_with(oxmon_server::config::ServerConfig { grpc_port: grpc.port(), ..config(tmp.path()) })
        .await;
    let target = seq.load(Ordering::SeqCst) + 5;
    wait_until(async || stored_values(&s).await.len() as u64 >= target).await;

    stop_agent.send(()).unwrap();
    let stats = agent.await.unwrap().unwrap();
    assert_eq!(stats.batches_dropped, 0, "{stats:?}");
    assert_eq!(stats.batches_unsent, 0, "{stats:?}");
    assert_eq!(stats.batches_sent, stats.batches_collected, "{stats:?}");

    let values = stored_values(&s).await;
    let expected: Vec<f64> = (0..stats.batches_collected).map(|n| n as f64).collect();
    assert_eq!(values, expected, "every collected sample stored once, in order");
    s.stop().await;
}

#[tokio::test]
async fn the_agent_reports_over_tls_with_a_token_to_a_server_requiring_both() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = make_pki("localhost");
    std::fs::write(tmp.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let mut cfg = config(&tmp.path().join("data"));
    cfg.tls = Some(tls_files(tmp.path(), &pki));
    cfg.require_agent_auth = true;
    let s = TestServer::start_with(cfg).await;
    let token = {
        let m = s.server.state.management.clone();
        tokio::task::spawn_blocking(move || m.whitelist_add("tls-agent", None, 0).unwrap().unwrap().1).await.unwrap()
    };

    let toml = format!(
        "agent_id = \"tls-agent\"\nserver_endpoint = \"localhost:{port}\"\ntls = true\ntls_ca_file = \"{ca}\"\nauth_token = \"{token}\"\n",
        port = s.server.grpc_addr.port(),
        ca = tmp.path().join("ca.pem").display(),
    );
    let mut agent = AgentConfig::from_toml_str(&toml, &NoEnv).unwrap();
    agent.collection_interval = Duration::from_millis(20);
    agent.backoff = BackoffConfig { base: Duration::from_millis(20), max: Duration::from_millis(100) };
    let (source, _seq) = counting_source();
    let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(oxmon_agent::run(agent, source, async {
        let _ = agent_stopped.await;
    }));
    wait_until(async || {
        let reader = s.server.state.reader.clone();
        tokio::task::spawn_blocking(move || {
            reader.series_range("tls-agent", "load.uptime", None, now_ms() - 60_000, now_ms() + 60_000).unwrap()
        })
        .await
        .unwrap()
        .first()
        .is_some_and(|series| series.points.len() >= 3)
    })
    .await;
    stop_agent.send(()).unwrap();
    let stats = handle.await.unwrap().unwrap();
    assert_eq!(stats.batches_rejected, 0, "{stats:?}");
    s.stop().await;
}
