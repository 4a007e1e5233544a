//! `oxmon-mock-report`: sends synthetic metric batches through the real
//! `ReportMetrics` RPC, one scenario per alert rule type, so a fresh server
//! can be exercised end to end (`scripts/mock-report-all.sh` drives it).
//!
//! Compatible with oxmon 0.1's reporter (spec/wire.md §5): same flags,
//! scenarios, agent ids and payloads; one fresh connection per batch, one
//! retry on UNAVAILABLE, DEADLINE_EXCEEDED or UNKNOWN; the exit status is
//! non-zero when any batch fails or is rejected.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oxmon_common::metric as m;
use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_common::proto::{MetricBatchProto, MetricDataPointProto};
use tonic::Code;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Endpoint;

const SCENARIOS: &[&str] = &["all", "baseline", "threshold", "rate", "trend", "cert", "recovery"];

const USAGE: &str = "\
usage: oxmon-mock-report [options]

  --server-endpoint <host:port>  gRPC endpoint (default 127.0.0.1:9090; http:// added if no scheme)
  --scenario <name>              all|baseline|threshold|rate|trend|cert|recovery (default all)
  --agent-count <n>              baseline agents, > 0 (default 5)
  --agent-prefix <p>             agent id prefix (default mock)
  --pause-ms <n>                 pause between batches (default 120)
  --auth-token <t>               token sent for every agent
  --auth-token-file <path>       lines agent_id=token (# comments); an entry wins over --auth-token
  --print-payload                print each batch before sending it
  --list-scenarios               print the scenario names and exit
  -h, --help                     this text";

#[derive(Debug)]
struct Options {
    endpoint: String,
    scenario: String,
    agent_count: usize,
    prefix: String,
    pause: Duration,
    token: Option<String>,
    tokens: HashMap<String, String>,
    print_payload: bool,
}

enum Parsed {
    Run(Options),
    Exit(String),
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut o = Options {
        endpoint: "127.0.0.1:9090".into(),
        scenario: "all".into(),
        agent_count: 5,
        prefix: "mock".into(),
        pause: Duration::from_millis(120),
        token: None,
        tokens: HashMap::new(),
        print_payload: false,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--server-endpoint" => o.endpoint = value(&flag)?,
            "--scenario" => {
                o.scenario = value(&flag)?;
                if !SCENARIOS.contains(&o.scenario.as_str()) {
                    return Err(format!("unknown scenario {:?}; expected one of {}", o.scenario, SCENARIOS.join(", ")));
                }
            }
            "--agent-count" => {
                let raw = value(&flag)?;
                o.agent_count = raw
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--agent-count must be a positive integer, got {raw:?}"))?;
            }
            "--agent-prefix" => o.prefix = value(&flag)?,
            "--pause-ms" => {
                let raw = value(&flag)?;
                o.pause = Duration::from_millis(
                    raw.parse().map_err(|_| format!("--pause-ms must be a non-negative integer, got {raw:?}"))?,
                );
            }
            "--auth-token" => o.token = Some(value(&flag)?),
            "--auth-token-file" => {
                let path = value(&flag)?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
                o.tokens = token_file(&text).map_err(|e| format!("{path}: {e}"))?;
            }
            "--print-payload" => o.print_payload = true,
            "--list-scenarios" => return Ok(Parsed::Exit(SCENARIOS.join("\n"))),
            "-h" | "--help" => return Ok(Parsed::Exit(USAGE.into())),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    if !o.endpoint.contains("://") {
        o.endpoint = format!("http://{}", o.endpoint);
    }
    Ok(Parsed::Run(o))
}

/// `agent_id=token` lines; blank lines and `#` comments are skipped.
fn token_file(text: &str) -> Result<HashMap<String, String>, String> {
    let mut tokens = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (agent, token) = line.split_once('=').ok_or_else(|| format!("line {}: expected agent_id=token", n + 1))?;
        tokens.insert(agent.trim().to_owned(), token.trim().to_owned());
    }
    Ok(tokens)
}

/// One batch of a scenario.
#[derive(Debug)]
struct Batch {
    scenario: &'static str,
    agent_id: String,
    points: Vec<MetricDataPointProto>,
}

fn point(ts: i64, metric: &str, value: f64, labels: &[(&str, &str)]) -> MetricDataPointProto {
    MetricDataPointProto {
        timestamp_ms: ts,
        agent_id: String::new(),
        metric_name: metric.into(),
        value,
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

/// A realistic full set for a healthy host, varied a little per agent.
fn baseline(agent: usize, now: i64) -> Vec<MetricDataPointProto> {
    let f = agent as f64;
    let gib = 1024.0 * 1024.0 * 1024.0;
    let mut p = vec![point(now, m::CPU_USAGE, 20.0 + f * 3.0, &[])];
    for core in 0..4 {
        let c = core.to_string();
        p.push(point(now, m::CPU_CORE_USAGE, 15.0 + f * 2.0 + core as f64, &[(m::LABEL_CORE, &c)]));
    }
    let (total, used) = (16.0 * gib, (5.0 + f) * gib);
    p.extend([
        point(now, m::MEMORY_TOTAL, total, &[]),
        point(now, m::MEMORY_USED, used, &[]),
        point(now, m::MEMORY_AVAILABLE, total - used, &[]),
        point(now, m::MEMORY_USED_PERCENT, used / total * 100.0, &[]),
        point(now, m::MEMORY_SWAP_TOTAL, 2.0 * gib, &[]),
        point(now, m::MEMORY_SWAP_USED, 0.0, &[]),
        point(now, m::MEMORY_SWAP_PERCENT, 0.0, &[]),
        point(now, m::LOAD_1, 0.5 + f * 0.1, &[]),
        point(now, m::LOAD_5, 0.4 + f * 0.1, &[]),
        point(now, m::LOAD_15, 0.3 + f * 0.1, &[]),
        point(now, m::LOAD_UPTIME, 86_400.0 * (f + 1.0), &[]),
    ]);
    for (mount, size, pct) in [("/", 100.0, 40.0 + f), ("/data", 500.0, 55.0 + f)] {
        let (total, used) = (size * gib, size * gib * pct / 100.0);
        let l = [(m::LABEL_MOUNT, mount)];
        p.extend([
            point(now, m::DISK_TOTAL, total, &l),
            point(now, m::DISK_USED, used, &l),
            point(now, m::DISK_AVAILABLE, total - used, &l),
            point(now, m::DISK_USED_PERCENT, pct, &l),
        ]);
    }
    let l = [(m::LABEL_INTERFACE, "eth0")];
    p.extend([
        point(now, m::NETWORK_BYTES_RECV, 120_000.0 + f * 1000.0, &l),
        point(now, m::NETWORK_BYTES_SENT, 80_000.0 + f * 1000.0, &l),
        point(now, m::NETWORK_PACKETS_RECV, 900.0, &l),
        point(now, m::NETWORK_PACKETS_SENT, 700.0, &l),
    ]);
    p
}

fn batches(o: &Options, now: i64) -> Vec<Batch> {
    let wants = |s: &str| o.scenario == "all" || o.scenario == s;
    let agent = |suffix: &str| format!("{}-{suffix}", o.prefix);
    let mut out = Vec::new();
    if wants("baseline") {
        for i in 1..=o.agent_count {
            out.push(Batch {
                scenario: "baseline",
                agent_id: format!("{}-normal-{i:02}", o.prefix),
                points: baseline(i, now),
            });
        }
    }
    if wants("threshold") {
        let cpu = [(96.0, 20_000), (97.0, 10_000), (95.0, 1_000)];
        out.push(Batch {
            scenario: "threshold",
            agent_id: agent("threshold"),
            points: cpu.iter().map(|(v, ago)| point(now - ago, m::CPU_USAGE, *v, &[])).collect(),
        });
        let disk = [(92.0, 20_000), (93.0, 10_000), (94.0, 1_000)];
        out.push(Batch {
            scenario: "threshold",
            agent_id: agent("threshold"),
            points: disk
                .iter()
                .map(|(v, ago)| point(now - ago, m::DISK_USED_PERCENT, *v, &[(m::LABEL_MOUNT, "/data")]))
                .collect(),
        });
    }
    if wants("rate") {
        out.push(Batch {
            scenario: "rate",
            agent_id: agent("rate"),
            points: vec![
                point(now - 60_000, m::MEMORY_USED_PERCENT, 38.0, &[]),
                point(now, m::MEMORY_USED_PERCENT, 82.0, &[]),
            ],
        });
    }
    if wants("trend") {
        out.push(Batch {
            scenario: "trend",
            agent_id: agent("trend"),
            points: (0..10)
                .map(|i| {
                    // 36 minutes of history: the default "Disk trend" rule
                    // predicts only from at least half of its one-hour window.
                    let ts = now - 2_160_000 + i * 240_000;
                    point(ts, m::DISK_USED_PERCENT, 68.0 + 1.8 * i as f64, &[(m::LABEL_MOUNT, "/data")])
                })
                .collect(),
        });
    }
    if wants("cert") {
        let d = m::LABEL_DOMAIN;
        out.push(Batch {
            scenario: "cert",
            agent_id: "cert-checker".into(),
            points: vec![
                point(now, m::CERT_DAYS_UNTIL_EXPIRY, 5.0, &[(d, "expiring-soon.example.com")]),
                point(now, m::CERT_DAYS_UNTIL_EXPIRY, 25.0, &[(d, "expiring-later.example.com")]),
                point(now, m::CERT_DAYS_UNTIL_EXPIRY, -3.0, &[(d, "expired.example.com")]),
                point(now, m::CERT_IS_VALID, 0.0, &[(d, "invalid.example.com")]),
            ],
        });
    }
    if wants("recovery") {
        out.push(Batch {
            scenario: "recovery",
            agent_id: agent("recovery"),
            points: [(96.0, -20_000), (97.0, -10_000), (95.0, 0)]
                .iter()
                .map(|(v, at)| point(now + at, m::CPU_USAGE, *v, &[]))
                .collect(),
        });
        for at in [10_000, 20_000, 30_000] {
            out.push(Batch {
                scenario: "recovery",
                agent_id: agent("recovery"),
                points: vec![point(now + at, m::CPU_USAGE, 12.0, &[])],
            });
        }
    }
    out
}

fn retryable(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::DeadlineExceeded | Code::Unknown)
}

/// Sends one batch on a fresh connection; `Err` says why it failed.
async fn send(o: &Options, batch: &Batch, now: i64) -> Result<(), String> {
    let message =
        MetricBatchProto { agent_id: batch.agent_id.clone(), timestamp_ms: now, data_points: batch.points.clone() };
    let token = o.tokens.get(&batch.agent_id).or(o.token.as_ref());
    let mut last = String::new();
    for attempt in 0..2 {
        let endpoint = Endpoint::from_shared(o.endpoint.clone())
            .map_err(|e| format!("bad endpoint {}: {e}", o.endpoint))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15));
        let outcome = match endpoint.connect().await {
            Err(e) => Err((Code::Unavailable, format!("connecting to {}: {e}", o.endpoint))),
            Ok(channel) => {
                let mut request = tonic::Request::new(message.clone());
                if let Some(token) = token {
                    let bearer = AsciiMetadataValue::try_from(format!("Bearer {token}"))
                        .map_err(|_| "the token is not ASCII".to_owned())?;
                    let agent = AsciiMetadataValue::try_from(batch.agent_id.as_str())
                        .map_err(|_| "the agent id is not ASCII".to_owned())?;
                    request.metadata_mut().insert("authorization", bearer);
                    request.metadata_mut().insert("agent-id", agent);
                }
                MetricServiceClient::new(channel)
                    .report_metrics(request)
                    .await
                    .map_err(|s| (s.code(), format!("{:?}: {}", s.code(), s.message())))
            }
        };
        match outcome {
            Ok(reply) => {
                let reply = reply.into_inner();
                return if reply.success { Ok(()) } else { Err(format!("rejected: {}", reply.message)) };
            }
            Err((code, text)) if attempt == 0 && retryable(code) => last = text,
            Err((_, text)) => return Err(text),
        }
    }
    Err(last)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn run(o: Options) -> usize {
    let now = now_ms();
    let mut failed = 0;
    for (i, batch) in batches(&o, now).iter().enumerate() {
        if i > 0 && !o.pause.is_zero() {
            tokio::time::sleep(o.pause).await;
        }
        if o.print_payload {
            println!("[{}] agent={} points={}", batch.scenario, batch.agent_id, batch.points.len());
            for p in &batch.points {
                let mut labels: Vec<_> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                labels.sort();
                println!("    {} {} {} {{{}}}", p.timestamp_ms, p.metric_name, p.value, labels.join(","));
            }
        }
        match send(&o, batch, now).await {
            Ok(()) => println!("ok     [{}] {} ({} points)", batch.scenario, batch.agent_id, batch.points.len()),
            Err(why) => {
                failed += 1;
                eprintln!("FAILED [{}] {}: {why}", batch.scenario, batch.agent_id);
            }
        }
    }
    failed
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Exit(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("oxmon-mock-report: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oxmon-mock-report: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let failed = runtime.block_on(run(options));
    if failed > 0 {
        eprintln!("oxmon-mock-report: {failed} batch(es) failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string())).unwrap() {
            Parsed::Run(o) => o,
            Parsed::Exit(_) => panic!("expected options"),
        }
    }

    #[test]
    fn scenarios_produce_the_agents_and_points_of_0_1() {
        let o = options(&["--agent-count", "2", "--agent-prefix", "t"]);
        let b = batches(&o, 1_000_000);
        let agents: Vec<&str> = b.iter().map(|b| b.agent_id.as_str()).collect();
        assert_eq!(
            agents,
            [
                "t-normal-01",
                "t-normal-02",
                "t-threshold",
                "t-threshold",
                "t-rate",
                "t-trend",
                "cert-checker",
                "t-recovery",
                "t-recovery",
                "t-recovery",
                "t-recovery"
            ]
        );
        assert!(b[0].points.iter().all(|p| m::AGENT_METRICS.contains(&p.metric_name.as_str())), "agent names only");
        let trend = &b[5].points;
        assert_eq!((trend.len(), trend[0].value, trend[9].timestamp_ms), (10, 68.0, 1_000_000));
        assert!((trend[9].value - (68.0 + 16.2)).abs() < 1e-9);
        let only = options(&["--scenario", "rate"]);
        assert_eq!(batches(&only, 0).len(), 1);
    }

    #[test]
    fn bad_flags_and_token_files_are_refused_with_the_reason() {
        let err = |args: &[&str]| match parse(args.iter().map(|s| s.to_string())) {
            Err(e) => e,
            Ok(_) => panic!("{args:?} accepted"),
        };
        assert!(err(&["--scenario", "nope"]).starts_with("unknown scenario \"nope\""));
        assert!(err(&["--agent-count", "0"]).contains("positive integer"));
        assert!(err(&["--pause-ms"]).contains("needs a value"));
        assert!(err(&["--bogus"]).starts_with("unknown option"));
        assert_eq!(options(&["--server-endpoint", "h:1"]).endpoint, "http://h:1");
        let t = token_file("# c\n\na = x \nb=y=z\n").unwrap();
        assert_eq!((t["a"].as_str(), t["b"].as_str()), ("x", "y=z"));
        assert_eq!(token_file("nope").unwrap_err(), "line 1: expected agent_id=token");
    }
}
