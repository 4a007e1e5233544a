//! `scripts/mock-e2e.sh` (which runs `mock-report-all.sh` then
//! `mock-query-check.sh`) against a freshly started server, with and without
//! agent authentication: the oxmon 0.1 helper scripts keep working.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::*;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts").join(name)
}

/// Runs mock-e2e.sh against `s` with `extra` flags; returns its output.
async fn mock_e2e(s: &TestServer, extra: &[&str]) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg(script("mock-e2e.sh"))
        .args(["--grpc-endpoint", &s.server.grpc_addr.to_string()])
        .args(["--http-base-url", &format!("http://{}", s.server.http_addr)])
        .args(["--password", ADMIN_PASSWORD, "--agent-count", "2", "--pause-ms", "0", "--wait-alert-secs", "0"])
        .args(extra)
        .env("OXMON_MOCK_REPORT_BIN", env!("CARGO_BIN_EXE_oxmon-mock-report"));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "mock-e2e.sh failed:\n{text}");
    text
}

/// The `agent_id`s of `items` that are mock agents' (`mock-...`).
fn mock_ids(items: &serde_json::Value) -> Vec<String> {
    let ids = items.as_array().unwrap().iter().map(|i| i["agent_id"].as_str().unwrap().to_owned());
    ids.filter(|id| id.starts_with("mock-")).collect()
}

#[tokio::test]
async fn mock_e2e_passes_against_a_fresh_server() {
    let s = TestServer::start().await;
    let out = mock_e2e(&s, &[]).await;
    assert!(out.contains("all 10 checks passed"), "{out}");
    assert!(out.contains("forgot 6 mock agents"), "{out}");
    assert!(out.contains("== mock-e2e passed"), "{out}");
    // It leaves no mock agent behind, nor an open alert of one; the server's
    // own certificate checker keeps its id.
    let listed = mock_ids(&s.data("/v1/agents").await);
    assert!(listed.is_empty(), "mock agents left in /v1/agents: {listed:?}");
    let active = mock_ids(&s.data("/v1/alerts/active?limit=100").await);
    assert!(active.is_empty(), "open alerts of mock agents: {active:?}");
    // Every scenario's agent reported (their samples stay until retention).
    let agents = s.data("/v1/metrics/agents").await.to_string();
    for agent in [
        "mock-normal-01",
        "mock-normal-02",
        "mock-threshold",
        "mock-rate",
        "mock-trend",
        "cert-checker",
        "mock-recovery",
    ] {
        assert!(agents.contains(agent), "{agent} missing from {agents}");
    }
    // The scenarios are built to fire the default rules.
    let history = s.data("/v1/alerts/history?limit=100").await.to_string();
    for (agent, rule) in [
        ("mock-rate", "Memory spike"),
        ("cert-checker", "Cert expiring"),
        ("mock-trend", "Disk trend"),
        ("mock-threshold", "Disk warning"),
    ] {
        assert!(history.contains(agent) && history.contains(rule), "no {rule} alert for {agent}: {history}");
    }
    s.stop().await;
}

#[tokio::test]
async fn mock_e2e_with_auto_auth_passes_against_a_server_requiring_agent_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = support::config(tmp.path());
    config.require_agent_auth = true;
    let s = TestServer::start_with(config).await;
    let out = mock_e2e(&s, &["--auto-auth", "--keep-agents"]).await;
    assert!(out.contains("whitelisted 7 agents"), "{out}");
    assert!(!out.contains("forgot"), "{out}");
    assert!(out.contains("== mock-e2e passed"), "{out}");
    // Twice: existing whitelist entries get their tokens rotated.
    mock_e2e(&s, &["--auto-auth"]).await;
    let whitelist = mock_ids(&s.data("/v1/agents/whitelist?limit=100").await);
    assert!(whitelist.is_empty(), "mock agents left in the whitelist: {whitelist:?}");
    // Without tokens, the same reports are refused and the script fails.
    let mut cmd = Command::new("bash");
    cmd.arg(script("mock-report-all.sh"))
        .args(["--grpc-endpoint", &s.server.grpc_addr.to_string()])
        .args(["--http-base-url", &format!("http://{}", s.server.http_addr)])
        .args(["--scenario", "rate", "--pause-ms", "0", "--wait-alert-secs", "0"])
        .env("OXMON_MOCK_REPORT_BIN", env!("CARGO_BIN_EXE_oxmon-mock-report"));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unauthenticated"), "{out:?}");
    s.stop().await;
}
