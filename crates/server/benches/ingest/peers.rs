//! Peers measured in the same run: Prometheus's remote-write receiver under
//! the same load as oxmon, and node_exporter's footprint per scrape.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Prometheus remote-write messages (prompb), enough to send samples.
mod prompb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The same load as oxmon's run (`agents` concurrent senders, `points`
/// samples per request, each sender waiting for its acknowledgement) against
/// `prometheus --web.enable-remote-write-receiver`. Returns samples/s.
pub async fn prometheus_remote_write(bin: &str, agents: usize, points: usize, seconds: u64) -> Option<f64> {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let _child = match child {
        Ok(c) => Killed(c),
        Err(e) => {
            println!("prometheus: not run ({bin}: {e})");
            return None;
        }
    };
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.get(format!("{base}/-/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if Instant::now() > deadline {
            println!("prometheus: did not become ready");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for a in 0..agents {
        let (acked, stop, client) = (acked.clone(), stop.clone(), client.clone());
        let url = format!("{base}/api/v1/write");
        tasks.push(tokio::spawn(async move {
            let agent = format!("bench-{a:03}");
            let mut seq = 0u64;
            let mut encoder = snap::raw::Encoder::new();
            let mut ts = 0;
            while !stop.load(Ordering::Relaxed) {
                // Real-time, strictly increasing timestamps, as a remote-write
                // sender has: Prometheus refuses samples behind its head block.
                ts = super::now_ms().max(ts + 1);
                let batch = super::cycle(&agent, ts, points, seq);
                let timeseries = batch
                    .data_points
                    .into_iter()
                    .map(|p| {
                        let mut labels = vec![
                            prompb::Label { name: "__name__".into(), value: p.metric_name.replace('.', "_") },
                            prompb::Label { name: "agent_id".into(), value: p.agent_id },
                        ];
                        labels.extend(p.labels.into_iter().map(|(name, value)| prompb::Label { name, value }));
                        labels.sort_by(|x, y| x.name.cmp(&y.name));
                        prompb::TimeSeries { labels, samples: vec![prompb::Sample { value: p.value, timestamp: ts }] }
                    })
                    .collect();
                let body = prost::Message::encode_to_vec(&prompb::WriteRequest { timeseries });
                let body = encoder.compress_vec(&body).unwrap();
                let r = client
                    .post(&url)
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "prometheus answered {}", r.status());
                acked.fetch_add(points as u64, Ordering::Relaxed);
                seq += 1;
            }
        }));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let rate = acked.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64();
    println!("prometheus 2.x remote-write receiver, same load: {rate:.0} samples/s");
    Some(rate)
}

/// Scrapes node_exporter `scrapes` times, 1 s apart, and reports its RSS and
/// CPU per scrape.
pub async fn node_exporter(bin: &str, scrapes: u32) {
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => Killed(c),
        Err(e) => {
            println!("node_exporter: not run ({bin}: {e})");
            return;
        }
    };
    let pid = child.0.id();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut first = None;
    for i in 0..scrapes {
        let ok = client.get(&url).send().await.map(|r| r.status().is_success()).unwrap_or(false);
        if !ok {
            println!("node_exporter: scrape failed");
            return;
        }
        if i == 2 {
            first = Some(super::cpu_seconds(pid));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let cpu = super::cpu_seconds(pid) - first.unwrap_or(0.0);
    println!(
        "node_exporter: RSS {:.2} MB after {scrapes} scrapes; CPU {:.3} ms per scrape",
        super::rss_kb(pid) as f64 / 1024.0,
        cpu * 1000.0 / f64::from(scrapes - 3)
    );
}
