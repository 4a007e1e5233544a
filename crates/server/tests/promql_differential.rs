//! Differential test of the Prometheus API against a real Prometheus 2.42:
//! the same samples are remote-written to both, then every query of
//! `crates/query/tests/corpus.txt` must give the same result on both,
//! series by series, with a float tolerance; `promtool query
//! instant|range|series|labels` must print the same against both.
//!
//! One Prometheus and one oxmon server for the whole binary. Needs the
//! `prometheus` Debian package (scripts/install-test-deps); fails, naming
//! it, when the binaries are missing.
//!
//! The data set, from `BASE` (2023-11-14T22:13:20Z), one sample every 15 s
//! for 45 minutes, every series labelled `agent_id` = `instance`:
//! - `cpu_usage{job="node"}` of agents a1..a3 (stored by oxmon as
//!   `cpu.usage`): distinct, wavy gauges;
//! - `memory_used_percent{job="node"}` of a1..a3 (`memory.used_percent`);
//! - `http_requests_total{job="api", method="get"|"post"}` of a1, a2:
//!   counters, with resets (a1/get at 15 min, all of a2 at 25 min);
//! - `temp_celsius{job="node"}` of a1 with no samples from 15 to 25 min:
//!   the gap makes it stale in between;
//! - `node_info{role}` of a1 (web) and a2 (db), constant 1.
//!
//! NaN and infinities come from the queries (`0 / 0`, `x / 0`, `ln` of a
//! negative): oxmon refuses non-finite samples at ingest.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use oxmon_common::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};
use oxmon_server::app::StartOptions;
use serde_json::Value;
use support::TestServer;

const BASE: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;
const POINTS: i64 = 180;
const READ_TOKEN: &str = "promql-read-token-0123456789";
/// The server's clock is set back to the data, so users' tokens (checked
/// against the real time) would be expired: the write token writes.
const WRITE_TOKEN: &str = "promql-write-token-0123456789";

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed: this test needs the Debian package `prometheus` (scripts/install-test-deps)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_prometheus() -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\nscrape_configs: []\n").unwrap();
    let port = free_port();
    let child = Command::new(binary("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by the guard from here on: dropped (killed) on every path.
    let prometheus = Prometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{}/-/ready", prometheus.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return prometheus;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("prometheus did not become ready on {}", prometheus.url);
}

fn series(name: &str, labels: &[(&str, &str)], f: impl Fn(i64) -> Option<f64>) -> TimeSeries {
    let mut l = vec![Label { name: "__name__".into(), value: name.into() }];
    l.extend(labels.iter().map(|(k, v)| Label { name: (*k).into(), value: (*v).into() }));
    l.sort_by(|a, b| a.name.cmp(&b.name));
    let samples = (0..POINTS).filter_map(|i| f(i).map(|value| Sample { value, timestamp: BASE + i * STEP })).collect();
    TimeSeries { labels: l, samples }
}

fn data_set() -> WriteRequest {
    let mut ts = Vec::new();
    for n in 1..=3i64 {
        let a = format!("a{n}");
        let l = [("agent_id", a.as_str()), ("instance", a.as_str()), ("job", "node")];
        ts.push(series("cpu_usage", &l, |i| Some(20.0 + 15.0 * n as f64 + 10.0 * ((i as f64) / 7.0 + n as f64).sin())));
        ts.push(series("memory_used_percent", &l, |i| Some(30.0 + 7.0 * n as f64 + (i % 11) as f64 * 1.3)));
    }
    for n in 1..=2i64 {
        let a = format!("a{n}");
        for (m, method) in ["get", "post"].into_iter().enumerate() {
            let l = [("agent_id", a.as_str()), ("instance", a.as_str()), ("job", "api"), ("method", method)];
            let inc = (3 + n + m as i64) as f64;
            let reset_at = if n == 1 && method == "get" {
                Some(60)
            } else if n == 2 {
                Some(100)
            } else {
                None
            };
            ts.push(series("http_requests_total", &l, move |i| {
                let since = match reset_at {
                    Some(r) if i >= r => i - r,
                    _ => i,
                };
                Some(since as f64 * inc + 0.5 * (i % 3) as f64)
            }));
        }
    }
    let l = [("agent_id", "a1"), ("instance", "a1"), ("job", "node")];
    ts.push(series("temp_celsius", &l, |i| (!(60..100).contains(&i)).then_some(40.0 + (i % 13) as f64 * 0.5)));
    for (a, role) in [("a1", "web"), ("a2", "db")] {
        let l = [("agent_id", a), ("instance", a), ("role", role)];
        ts.push(series("node_info", &l, |_| Some(1.0)));
    }
    WriteRequest { timeseries: ts }
}

async fn remote_write(url: &str, token: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

struct Peers {
    oxmon: TestServer,
    prometheus: Prometheus,
    _dir: tempfile::TempDir,
}

async fn peers() -> Peers {
    let prometheus = start_prometheus().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.prometheus.read_token = Some(READ_TOKEN.into());
    config.prometheus.write_token = Some(WRITE_TOKEN.into());
    let now = BASE + 46 * 60_000;
    let options = StartOptions { clock: Some(Arc::new(move || now)), ..StartOptions::default() };
    let oxmon = TestServer::start_with_options(config, options).await;
    let body = encode(&data_set());
    let (status, text) = remote_write(&format!("{}/api/v1/write", prometheus.url), None, body.clone()).await;
    assert!(status / 100 == 2, "prometheus refused the samples: {status} {text}");
    let (status, text) = remote_write(&oxmon.url("/api/v1/write"), Some(WRITE_TOKEN), body).await;
    assert_eq!(status, 204, "oxmon refused the samples: {text}");
    Peers { oxmon, prometheus, _dir: dir }
}

/// GET `path` with `params`; (status, JSON).
async fn get(base: &str, token: Option<&str>, path: &str, params: &[(&str, String)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}")).query(params);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn num(v: &Value) -> f64 {
    match v.as_str().unwrap_or_default() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|_| panic!("not a sample value: {v}")),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9_f64.max(1e-6 * a.abs().max(b.abs()))
}

/// `[t, "v"]` pairs equal within the tolerance.
fn same_points(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x[0].as_f64() == y[0].as_f64() && close(num(&x[1]), num(&y[1])))
}

/// Compares two successful `data` objects; `Err` says how they differ.
fn compare(ours: &Value, theirs: &Value, ordered: bool) -> Result<(), String> {
    let kind = theirs["resultType"].as_str().unwrap_or_default();
    if ours["resultType"] != theirs["resultType"] {
        return Err(format!("resultType {} vs {}", ours["resultType"], theirs["resultType"]));
    }
    match kind {
        "scalar" | "string" => {
            let (a, b) = (ours["result"].as_array().unwrap(), theirs["result"].as_array().unwrap());
            if kind == "scalar"
                && !same_points(std::slice::from_ref(&ours["result"]), std::slice::from_ref(&theirs["result"]))
            {
                return Err(format!("{a:?} vs {b:?}"));
            }
            if kind == "string" && a != b {
                return Err(format!("{a:?} vs {b:?}"));
            }
            Ok(())
        }
        _ => {
            let index = |v: &Value| -> BTreeMap<String, Vec<Value>> {
                v["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        let points = if kind == "vector" {
                            vec![s["value"].clone()]
                        } else {
                            s["values"].as_array().unwrap().clone()
                        };
                        (s["metric"].to_string(), points)
                    })
                    .collect()
            };
            let (a, b) = (index(ours), index(theirs));
            if a.keys().collect::<Vec<_>>() != b.keys().collect::<Vec<_>>() {
                return Err(format!("series {:?} vs {:?}", a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>()));
            }
            for (k, pa) in &a {
                if !same_points(pa, &b[k]) {
                    return Err(format!("series {k}: {pa:?} vs {:?}", b[k]));
                }
            }
            if ordered {
                let order = |v: &Value| -> Vec<String> {
                    v["result"].as_array().unwrap().iter().map(|s| s["metric"].to_string()).collect()
                };
                if order(ours) != order(theirs) {
                    return Err(format!("order {:?} vs {:?}", order(ours), order(theirs)));
                }
            }
            Ok(())
        }
    }
}

fn secs(ms: i64) -> String {
    format!("{}", ms as f64 / 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxmon_answers_promql_and_promtool_as_prometheus_does() {
    let peers = peers().await;
    let ours = peers.oxmon.url("");
    let theirs = peers.prometheus.url.clone();
    let corpus = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../query/tests/corpus.txt")).unwrap();
    let times = [BASE + 10 * 60_000, BASE + 22 * 60_000, BASE + 44 * 60_000 + 30_000, BASE + 48 * 60_000];
    let range = [("start", secs(BASE + 2 * 60_000)), ("end", secs(BASE + 50 * 60_000)), ("step", "60".to_owned())];
    let mut failures = Vec::new();
    let mut count = 0;
    for line in corpus.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (kind, query) = line.split_once(':').unwrap_or_else(|| panic!("bad corpus line {line:?}"));
        let query = query.trim();
        count += 1;
        let requests: Vec<(&str, Vec<(&str, String)>)> = match kind {
            "instant" | "ordered" | "error" => {
                times.iter().map(|t| ("/api/v1/query", vec![("query", query.to_owned()), ("time", secs(*t))])).collect()
            }
            "range" => {
                let mut p = vec![("query", query.to_owned())];
                p.extend(range.iter().cloned());
                vec![("/api/v1/query_range", p)]
            }
            other => panic!("unknown corpus kind {other:?} in {line:?}"),
        };
        for (path, params) in requests {
            let (sa, a) = get(&ours, Some(READ_TOKEN), path, &params).await;
            let (sb, b) = get(&theirs, None, path, &params).await;
            let at = params.iter().find(|(k, _)| *k == "time").map(|(_, v)| v.clone()).unwrap_or_default();
            if sa != sb || a["status"] != b["status"] {
                failures.push(format!("{line} @{at}: oxmon {sa} {a} / prometheus {sb} {b}"));
                continue;
            }
            if kind == "error" {
                if b["status"] != "error" || a["errorType"] != b["errorType"] {
                    failures.push(format!("{line}: oxmon {a} / prometheus {b}"));
                }
                continue;
            }
            if b["status"] != "success" {
                failures.push(format!("{line} @{at}: prometheus failed: {b}"));
                continue;
            }
            if let Err(why) = compare(&a["data"], &b["data"], kind == "ordered") {
                failures.push(format!("{line} @{at}: {why}"));
            }
        }
    }
    assert!(count >= 80, "the corpus has {count} queries, at least 80 expected");
    assert!(failures.is_empty(), "{} of the corpus differ from Prometheus:\n{}", failures.len(), failures.join("\n"));

    promtool_answers_alike(&peers).await;
}

/// `promtool query ...` against both; outputs compared line by line
/// (sorted: series order within a vector is not part of the API).
async fn promtool_answers_alike(peers: &Peers) {
    let promtool = binary("promtool");
    let start = secs(BASE + 5 * 60_000);
    let end = secs(BASE + 30 * 60_000);
    let cases: Vec<Vec<String>> = vec![
        vec![
            "instant".into(),
            format!("--time={}", secs(BASE + 20 * 60_000)),
            "{URL}".into(),
            "sum by (agent_id) (rate(http_requests_total[5m]))".into(),
        ],
        vec![
            "range".into(),
            format!("--start={start}"),
            format!("--end={end}"),
            "--step=2m".into(),
            "{URL}".into(),
            "avg(cpu_usage)".into(),
        ],
        vec![
            "series".into(),
            "--match=cpu_usage".into(),
            "--match=node_info".into(),
            format!("--start={start}"),
            format!("--end={end}"),
            "{URL}".into(),
        ],
        vec!["labels".into(), format!("--start={start}"), format!("--end={end}"), "{URL}".into(), "agent_id".into()],
    ];
    let run = |args: &[String], url: &str| -> String {
        let mut cmd = Command::new(&promtool);
        cmd.arg("query");
        for a in args {
            cmd.arg(a.replace("{URL}", url));
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "promtool {args:?} against {url}: {}", String::from_utf8_lossy(&out.stderr));
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
        lines.sort();
        lines.join("\n")
    };
    for args in &cases {
        // promtool 2.42 sends no bearer token: the read token is the
        // password of basic auth, from the URL.
        let ours = run(args, &format!("http://reader:{READ_TOKEN}@{}", peers.oxmon.server.http_addr));
        let theirs = run(args, &peers.prometheus.url);
        assert!(!theirs.is_empty(), "promtool {args:?} printed nothing against Prometheus");
        assert_eq!(ours, theirs, "promtool {args:?}");
    }
}
