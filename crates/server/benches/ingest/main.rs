//! Ingest benchmark: N concurrent simulated agents over loopback gRPC.
//!
//! Run with `scripts/bench` (builds the release binaries first) or
//! `cargo bench -p oxmon-server --bench ingest -- [options]`:
//!
//! * `--agents N` (50), `--points N` (34 per batch), `--seconds N` (20)
//! * `--agent-bin PATH`: also run that `oxmon-agent` binary for
//!   `--agent-cycles` (30) cycles and report its RSS and CPU per cycle.
//! * `--prometheus-bin PATH`: run the same load against Prometheus's
//!   remote-write receiver (Debian package `prometheus`) in the same run.
//! * `--node-exporter-bin PATH`: report node_exporter's RSS and CPU per
//!   scrape (Debian package `prometheus-node-exporter`).
//!
//! Reports acknowledged samples/s (a sample counts once the server said it
//! is stored), bytes per stored sample on disk once the buckets are
//! compacted, and the latency of a 24-hour range query of one series.

// A benchmark is a harness: any failure should stop it loudly.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_common::proto::{MetricBatchProto, MetricDataPointProto};
use oxmon_server::app::{StartOptions, start};
use oxmon_server::config::ServerConfig;
use tonic::transport::Channel;

mod peers;

/// The same allocator as the `oxmon-server` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    agents: usize,
    points: usize,
    seconds: u64,
    agent_bin: Option<String>,
    agent_cycles: u64,
    prometheus_bin: Option<String>,
    node_exporter_bin: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        agents: 50,
        points: 34,
        seconds: 20,
        agent_bin: None,
        agent_cycles: 30,
        prometheus_bin: None,
        node_exporter_bin: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        match a.as_str() {
            "--agents" => o.agents = val().parse().expect("--agents N"),
            "--points" => o.points = val().parse().expect("--points N"),
            "--seconds" => o.seconds = val().parse().expect("--seconds N"),
            "--agent-bin" => o.agent_bin = Some(val()),
            "--agent-cycles" => o.agent_cycles = val().parse().expect("--agent-cycles N"),
            "--prometheus-bin" => o.prometheus_bin = Some(val()),
            "--node-exporter-bin" => o.node_exporter_bin = Some(val()),
            "--bench" => {}
            other => eprintln!("ignoring argument {other}"),
        }
    }
    o
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// One agent's collection cycle: the shape of the real agent's batch.
fn cycle(agent: &str, ts: i64, points: usize, seq: u64) -> MetricBatchProto {
    let names = ["cpu.usage", "memory.used_percent", "disk.used_percent", "network.bytes_recv", "load.load_1"];
    let data_points = (0..points)
        .map(|i| MetricDataPointProto {
            timestamp_ms: ts,
            agent_id: agent.to_owned(),
            metric_name: names[i % names.len()].to_owned(),
            value: ((seq * 31 + i as u64) % 1000) as f64 / 10.0,
            labels: HashMap::from([("core".to_owned(), (i / names.len()).to_string())]),
        })
        .collect();
    MetricBatchProto { agent_id: agent.to_owned(), timestamp_ms: ts, data_points }
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(o));
}

async fn run(o: Options) {
    let tmp = tempfile::tempdir().unwrap();
    // Simulated agents report a 10 s cycle per batch, much faster than real
    // time. The server's clock follows their simulated time, so buckets
    // close and are compacted during the run, as in production.
    let start_ts = now_ms();
    let sim_now = Arc::new(AtomicI64::new(start_ts));
    let clock = {
        let sim_now = sim_now.clone();
        Arc::new(move || sim_now.load(Ordering::Relaxed).max(now_ms()))
    };
    let mut config = ServerConfig {
        listen_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        grpc_port: 0,
        http_port: 0,
        data_dir: tmp.path().to_owned(),
        ..ServerConfig::default()
    };
    config.auth.default_password = Some("bench-password".into());
    let server = start(config, StartOptions { clock: Some(clock), ..StartOptions::default() }).await.unwrap();
    let url = format!("http://{}", server.grpc_addr);
    println!("oxmon ingest benchmark: {} agents x {}-point batches for {} s", o.agents, o.points, o.seconds);

    // --- ingest ---
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for a in 0..o.agents {
        let channel = Channel::from_shared(url.clone()).unwrap().connect().await.unwrap();
        let (acked, stop, sim_now) = (acked.clone(), stop.clone(), sim_now.clone());
        let points = o.points;
        tasks.push(tokio::spawn(async move {
            let mut client = MetricServiceClient::new(channel);
            let agent = format!("bench-{a:03}");
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Each batch is the agent's next 10 s cycle.
                let ts = start_ts + seq as i64 * 10_000;
                let reply = client.report_metrics(cycle(&agent, ts, points, seq)).await.unwrap().into_inner();
                assert!(reply.success, "{}", reply.message);
                acked.fetch_add(points as u64, Ordering::Relaxed);
                sim_now.fetch_max(ts, Ordering::Relaxed);
                seq += 1;
            }
        }));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let samples = acked.load(Ordering::Relaxed);
    println!(
        "ingest: {samples} samples acknowledged in {elapsed:.1} s = {:.0} samples/s ({:.1} h of simulated time)",
        samples as f64 / elapsed,
        (sim_now.load(Ordering::Relaxed) - start_ts) as f64 / 3_600_000.0
    );

    // --- bytes per sample, once every bucket is compacted ---
    let http = format!("http://{}", server.http_addr);
    let client = authenticated_client(&http).await;
    server.state.writer.compact(now_ms() + 2 * 86_400_000).await.unwrap();

    // --- 24 h range query of one series (10 s samples, 8640 points) ---
    let now = now_ms();
    let day_points: Vec<MetricDataPointProto> = (0..8640)
        .map(|i| MetricDataPointProto {
            timestamp_ms: now - 86_400_000 + i * 10_000,
            agent_id: "query-agent".into(),
            metric_name: "cpu.usage".into(),
            value: (i % 100) as f64,
            labels: HashMap::new(),
        })
        .collect();
    let channel = Channel::from_shared(url.clone()).unwrap().connect().await.unwrap();
    let reply = MetricServiceClient::new(channel)
        .report_metrics(MetricBatchProto { agent_id: "query-agent".into(), timestamp_ms: now, data_points: day_points })
        .await
        .unwrap()
        .into_inner();
    assert!(reply.success, "{}", reply.message);
    let from = jiff::Timestamp::from_millisecond(now - 86_400_000).unwrap();
    let to = jiff::Timestamp::from_millisecond(now).unwrap();
    let path = format!(
        "{http}/v1/metrics/series?agent_id=query-agent&metric_name=cpu.usage&timestamp__gte={from}&timestamp__lte={to}"
    );
    let reader = server.state.reader.clone();
    let mut storage_ms = Vec::new();
    let mut rest_ms = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let r = reader.series_range("query-agent", "cpu.usage", None, now - 86_400_000, now).unwrap();
        storage_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r[0].points.len(), 8640);
        let t = Instant::now();
        let body: serde_json::Value = client.get(&path).send().await.unwrap().json().await.unwrap();
        rest_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(body["data"][0]["points"].as_array().unwrap().len(), 8640);
    }
    println!(
        "range query, one series over 24 h (8640 points): storage median {:.2} ms p95 {:.2} ms; REST /v1/metrics/series median {:.2} ms p95 {:.2} ms",
        pct(&mut storage_ms, 0.5),
        pct(&mut storage_ms, 0.95),
        pct(&mut rest_ms, 0.5),
        pct(&mut rest_ms, 0.95)
    );

    // --- agent RSS and CPU per cycle ---
    if let Some(bin) = &o.agent_bin {
        agent_footprint(bin, &url, &http, o.agent_cycles).await;
    }

    let data_dir = server.state.config.data_dir.clone();
    server.shutdown().await;
    report_storage(&data_dir, samples + 8640);

    let prometheus = match &o.prometheus_bin {
        Some(bin) => peers::prometheus_remote_write(bin, o.agents, o.points, o.seconds).await,
        None => None,
    };
    if let Some(prom) = prometheus {
        println!("oxmon / prometheus ingest ratio: {:.2}", samples as f64 / elapsed / prom);
    }
    if let Some(bin) = &o.node_exporter_bin {
        peers::node_exporter(bin, o.agent_cycles as u32).await;
    }
}

fn report_storage(data_dir: &std::path::Path, stored: u64) {
    let (mut bytes, mut free) = (0u64, 0u64);
    for e in std::fs::read_dir(data_dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".db") && name != "cert.db" {
            bytes += e.metadata().unwrap().len();
            let conn = rusqlite::Connection::open(e.path()).unwrap();
            let pages: u64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap();
            let size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
            free += pages * size;
        }
    }
    println!(
        "storage: {bytes} bytes in partition files for {stored} samples = {:.1} bytes/sample on disk; \
         {:.1} bytes/sample excluding {free} bytes of free pages that the head table reuses",
        bytes as f64 / stored as f64,
        (bytes - free) as f64 / stored as f64
    );
}

/// An HTTP client that sends the admin's bearer token.
async fn authenticated_client(http: &str) -> reqwest::Client {
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{http}/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "bench-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["token"].as_str().unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs the real agent binary at a 1 s interval against the server and
/// reads its RSS and CPU time from procfs.
async fn agent_footprint(bin: &str, grpc_url: &str, http: &str, cycles: u64) {
    let endpoint = grpc_url.trim_start_matches("http://");
    let bin = std::fs::canonicalize(bin).unwrap_or_else(|e| panic!("--agent-bin {bin}: {e}"));
    let mut child = std::process::Command::new(bin)
        .env("OXMON_AGENT_SERVER_ENDPOINT", endpoint)
        .env("OXMON_AGENT_AGENT_ID", "footprint-agent")
        .env("OXMON_AGENT_COLLECTION_INTERVAL_SECS", "1")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .spawn()
        .expect("start oxmon-agent");
    let pid = child.id();
    let client = authenticated_client(http).await;
    let cycles_seen = || async {
        let body: serde_json::Value = client
            .get(format!(
                "{http}/v1/metrics/summary?agent_id=footprint-agent&metric_name=load.load_1&timestamp__gte=2000-01-01T00:00:00Z&timestamp__lte=2100-01-01T00:00:00Z"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["data"]["count"].as_u64().unwrap_or(0)
    };
    // Skip start-up: measure from the 3rd cycle to the last.
    let deadline = Instant::now() + Duration::from_secs(cycles + 30);
    let mut first: Option<(u64, f64)> = None;
    let mut last = (0, 0.0);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = cycles_seen().await;
        let cpu = cpu_seconds(pid);
        if n >= 3 && first.is_none() {
            first = Some((n, cpu));
        }
        last = (n, cpu);
        if n >= cycles {
            break;
        }
    }
    let rss_kb = rss_kb(pid);
    let _ = child.kill();
    let _ = child.wait();
    let (n0, c0) = first.expect("the agent never reported");
    let per_cycle_ms = (last.1 - c0) * 1000.0 / (last.0 - n0).max(1) as f64;
    println!(
        "agent: RSS {:.2} MB after {} cycles; CPU {:.3} ms per collection cycle (all threads, cycles {}..{})",
        rss_kb as f64 / 1024.0,
        last.0,
        per_cycle_ms,
        n0,
        last.0
    );
}

/// CPU time of every thread of `pid`, in seconds, from
/// `/proc/<pid>/task/*/schedstat` (nanoseconds; `stat`'s 10 ms ticks are too
/// coarse for a sub-millisecond cycle).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum();
    ns as f64 / 1e9
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
