//! The `oxmon-agent` binary: exit codes, environment config, real host metrics and signals.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_oxmon-agent");

/// The agent binary, run in an empty directory with a clean `OXMON_AGENT_*` environment.
fn agent(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env("RUST_LOG", "info").stdin(Stdio::null()).stdout(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OXMON_AGENT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status();
    assert!(status.unwrap().success(), "kill -{name}");
}

/// Waits for the child without blocking the runtime; panics after `limit`.
async fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("agent did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn bad_config_exits_64_with_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, "agent_id = \"a\"\ncollection_intervall_secs = 5\n").unwrap();
    let out = agent(dir.path()).arg(&path).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(":2: unknown field `collection_intervall_secs`"), "{stderr}");
}

#[test]
fn explicit_missing_config_file_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let out = agent(dir.path()).arg("missing.toml").stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("oxmon-agent: cannot read config file missing.toml: "), "{stderr}");
}

#[test]
fn invalid_environment_value_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        agent(dir.path()).env("OXMON_AGENT_COLLECTION_INTERVAL_SECS", "0").stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, "oxmon-agent: invalid OXMON_AGENT_COLLECTION_INTERVAL_SECS=0: must be greater than 0\n");
}

#[test]
fn bad_server_endpoint_exits_64_naming_the_key_and_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, "agent_id = \"a\"\nserver_endpoint = \"http//bad\"\n").unwrap();
    let out = agent(dir.path()).arg(&path).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("oxmon-agent: invalid server_endpoint = \"http//bad\": unexpected path"), "{stderr}");

    let out = agent(dir.path())
        .env("OXMON_AGENT_AGENT_ID", "a")
        .env("OXMON_AGENT_SERVER_ENDPOINT", "127.0.0.1:8080x")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "oxmon-agent: invalid OXMON_AGENT_SERVER_ENDPOINT=\"127.0.0.1:8080x\": \
         the port must be a number from 1 to 65535, not \"8080x\"\n"
    );
}

#[tokio::test]
async fn binary_reports_host_metrics_from_env_config_and_exits_0_on_sigterm() {
    let recording = Recording::default();
    let server = TestServer::start(&recording).await;
    let dir = tempfile::tempdir().unwrap();
    // No argument and no config/agent.toml: built-in defaults plus the environment.
    let mut child = agent(dir.path())
        .env("OXMON_AGENT_SERVER_ENDPOINT", server.addr.to_string())
        .env("OXMON_AGENT_AGENT_ID", "cli-agent")
        .env("OXMON_AGENT_COLLECTION_INTERVAL_SECS", "1")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let r = recording.clone();
    wait_until(Duration::from_secs(20), "a batch from the binary", move || !r.stored_values().is_empty()).await;
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(10)).await;
    server.stop().await;

    assert!(status.success(), "{status:?}");
    let first = &recording.requests()[0];
    assert_eq!(first.batch.agent_id, "cli-agent");
    let names: Vec<&str> = first.batch.data_points.iter().map(|p| p.metric_name.as_str()).collect();
    assert!(names.contains(&"memory.total"), "{names:?}");
    assert!(first.batch.data_points.iter().all(|p| p.agent_id == "cli-agent"));
}

#[tokio::test]
async fn sigint_with_the_server_down_exits_0_after_a_bounded_flush() {
    let addr = free_addr().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = agent(dir.path())
        .env("OXMON_AGENT_SERVER_ENDPOINT", addr.to_string())
        .env("OXMON_AGENT_AGENT_ID", "cli-agent")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    signal(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

/// Reads `VmRSS` and `RssAnon` (kB) of a process.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap()
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// Memory budget check of a release build; set `OXMON_AGENT_RSS_BIN` to its path
/// (e.g. `target/release/oxmon-agent`) to run it. Debug builds are far larger.
#[tokio::test]
async fn release_binary_idles_in_a_few_megabytes() {
    let Some(bin) = std::env::var_os("OXMON_AGENT_RSS_BIN") else {
        eprintln!("skipped: set OXMON_AGENT_RSS_BIN to a release oxmon-agent");
        return;
    };
    let recording = Recording::default();
    let server = TestServer::start(&recording).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .current_dir(dir.path())
        .env("OXMON_AGENT_SERVER_ENDPOINT", server.addr.to_string())
        .env("OXMON_AGENT_COLLECTION_INTERVAL_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = recording.clone();
    wait_until(Duration::from_secs(30), "ten reports", move || r.len() >= 10).await;
    let (rss, anon) = memory_kb(child.id());
    eprintln!("oxmon-agent after {} reports: VmRSS {rss} kB, RssAnon {anon} kB", recording.len());
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(10)).await;
    server.stop().await;
    assert!(status.success());
    // Most of VmRSS is the (shared, clean) binary and libc text; the agent's own heap,
    // stacks and buffers are the anonymous part.
    assert!(anon <= 2 * 1024, "RssAnon {anon} kB");
    assert!(rss <= 5 * 1024, "VmRSS {rss} kB (oxmon 0.1: 5.3 MB)");
}
