//! The first ten minutes of a real installation: the real `oxmon-agent`
//! binary reports this machine's metrics to a real server running the
//! default rules, and no alert may fire unless the samples the agent
//! reported justify it (this machine is shared and may really be busy).
//!
//! It takes ten minutes (`OXMON_QUIET_SECS` overrides), so it is ignored
//! by a plain `cargo test`: `scripts/test` runs it in the background while
//! the rest of the suite runs. By hand:
//!
//! ```text
//! cargo build -p oxmon-agent && cargo test -p oxmon-server --test quiet_host -- --ignored
//! ```
//!
//! The agent binary is `target/debug/oxmon-agent` next to this test's
//! executable, or `OXMON_AGENT_BIN`.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxmon_common::metric::Labels;
use oxmon_server::rules::{DEFAULT_RULES, RuleSeed};
use oxmon_storage::management::RuleRecord;
use serde_json::Value;
use support::*;

const AGENT_ID: &str = "quiet-host";

/// One stored event, as `/v1/alerts/history` returns it.
#[derive(Debug)]
struct Event {
    rule: String,
    labels: Labels,
    metric: String,
    recovered: bool,
    ts: i64,
    value: f64,
    line: String,
}

fn events(history: &Value) -> Vec<Event> {
    let mut out: Vec<Event> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let ts = e["timestamp"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_millisecond();
            let labels = Labels::from_pairs(
                e["labels"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
            );
            Event {
                rule: e["rule_name"].as_str().unwrap().to_owned(),
                labels,
                metric: e["metric_name"].as_str().unwrap().to_owned(),
                recovered: e["message"].as_str().unwrap().starts_with("[RECOVERED]"),
                ts,
                value: e["value"].as_f64().unwrap(),
                line: format!(
                    "{} {} [{}] {}: {}",
                    e["timestamp"].as_str().unwrap(),
                    e["rule_name"].as_str().unwrap(),
                    e["severity"].as_str().unwrap(),
                    e["labels"],
                    e["message"].as_str().unwrap()
                ),
            }
        })
        .collect();
    out.sort_by_key(|e| e.ts);
    out
}

/// Why a fired event is justified by the reported samples, or why not. The
/// event's value must be that of a reported sample at the event's time, and:
/// for a threshold rule every sample of its series in the rule's duration
/// before it breaches; for a rate-of-change rule a sample within its window
/// before it differs by more than the rule's threshold. A trend cannot be
/// justified in ten minutes (the default rule needs half an hour of data).
async fn justify(s: &TestServer, rules: &[RuleRecord], e: &Event) -> Result<(), String> {
    let rule = rules.iter().find(|r| r.name == e.rule).unwrap();
    let config: Value = serde_json::from_str(&rule.config_json).unwrap();
    let span_ms = match rule.rule_type.as_str() {
        "threshold" => config["duration_secs"].as_i64().unwrap_or(0) * 1000,
        "rate_of_change" => config["window_secs"].as_i64().unwrap_or(300) * 1000,
        other => return Err(format!("a {other} rule fired within ten minutes of start")),
    };
    let reader = s.server.state.reader.clone();
    let (metric, labels, ts) = (e.metric.clone(), e.labels.clone(), e.ts);
    let series = tokio::task::spawn_blocking(move || {
        reader.series_range(AGENT_ID, &metric, Some(&labels), ts - span_ms, ts).unwrap()
    })
    .await
    .unwrap();
    let points: Vec<(i64, f64)> = series.into_iter().flat_map(|s| s.points).collect();
    if !points.iter().any(|&(t, v)| t == e.ts && v == e.value) {
        return Err(format!("no reported sample {} at the event's time; samples: {points:?}", e.value));
    }
    if rule.rule_type == "threshold" {
        let limit = config["value"].as_f64().unwrap();
        let greater = config["operator"].as_str().unwrap().starts_with('g');
        if points.iter().any(|&(_, v)| if greater { v <= limit } else { v >= limit }) {
            return Err(format!("not every sample of the last {}s breached {limit}: {points:?}", span_ms / 1000));
        }
        return Ok(());
    }
    let limit = config["rate_threshold"].as_f64().unwrap();
    let points_mode = config["mode"] == "points";
    let change = |old: f64| if points_mode { e.value - old } else { (e.value - old) / old.abs() * 100.0 };
    let fires = |c: f64| match config["direction"].as_str() {
        Some("increase") => c > limit,
        Some("decrease") => -c > limit,
        _ => c.abs() > limit,
    };
    if points.iter().any(|&(t, old)| t < e.ts && fires(change(old))) {
        return Ok(());
    }
    Err(format!("no sample of the last {}s differs by more than {limit}: {points:?}", span_ms / 1000))
}

#[tokio::test]
#[ignore = "ten minutes of the real agent on this host; scripts/test runs it in the background"]
async fn the_real_agent_on_this_host_raises_no_alert_the_host_does_not_justify() {
    let secs: u64 = std::env::var("OXMON_QUIET_SECS").ok().map_or(600, |v| v.parse().unwrap());
    let s = TestServer::start().await;
    let listed = s.data("/v1/alerts/rules?limit=100").await;
    let rules = RuleSeed::parse(DEFAULT_RULES).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), rules.len(), "the default rules: {listed:#}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "agent_id = \"{AGENT_ID}\"\nserver_endpoint = \"{}\"\ncollection_interval_secs = 10\n",
            s.server.grpc_addr
        ),
    )
    .unwrap();
    let mut cmd = Command::new(agent_binary());
    cmd.arg(&config).current_dir(dir.path()).stdin(Stdio::null()).stdout(Stdio::null()).env("RUST_LOG", "warn");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OXMON_AGENT_") {
            cmd.env_remove(key);
        }
    }
    let mut agent = Agent(cmd.spawn().unwrap());

    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(agent.0.try_wait().unwrap().is_none(), "the agent exited early");
    }
    drop(agent);
    // Let the recorder store what the last batches produced.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let reported = s.data(&format!("/v1/metrics/names?agent_id={AGENT_ID}")).await;
    assert!(reported.to_string().contains("cpu.usage"), "the agent reported nothing usable: {reported}");
    let history = s.data("/v1/alerts/history?limit=1000").await;
    let events = events(&history);
    let mut unjustified = Vec::new();
    let mut fired = Vec::new();
    for e in &events {
        if e.recovered {
            // A recovery needs a justified alert of the same series before it.
            if !fired
                .iter()
                .any(|(rule, labels, ts): &(String, Labels, i64)| *rule == e.rule && *labels == e.labels && *ts <= e.ts)
            {
                unjustified.push(format!("{}\n    recovery without a justified alert", e.line));
            }
            continue;
        }
        match justify(&s, &rules, e).await {
            Ok(()) => fired.push((e.rule.clone(), e.labels.clone(), e.ts)),
            Err(why) => unjustified.push(format!("{}\n    {why}", e.line)),
        }
    }
    let all: Vec<&str> = events.iter().map(|e| e.line.as_str()).collect();
    println!("{} events in {secs}s:\n{}", events.len(), all.join("\n"));
    assert!(
        unjustified.is_empty(),
        "{} of {} events in {secs}s are not justified by the host's samples:\n{}\n\nall events:\n{}",
        unjustified.len(),
        events.len(),
        unjustified.join("\n"),
        all.join("\n")
    );
    s.stop().await;
}
