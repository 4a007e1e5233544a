//! What oxmon 0.1 users bring along: its own seed files (copied from the
//! reference repository into `tests/fixtures/oxmon-0.1/`: rules, channels
//! and dictionaries of commit 8c0941d, the runtime seed of v0.1.10), server
//! configs of 0.1.3 and earlier with `[notification]` and `[alert]`, and
//! agents that report the load as `system.load_*`.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oxmon-0.1").join(name)
}

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oxmon-server"))
}

/// Runs `oxmon-server <cmd> <0.1.3's example config> <seed>` with the data
/// directory moved into `data`.
fn init(cmd: &str, data: &Path, seed: &str) -> Output {
    server()
        .arg(cmd)
        .arg(fixture("server.v0.1.3.example.toml"))
        .arg(fixture(seed))
        .env("OXMON_SERVER_DATA_DIR", data)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_0_1_seed_file_loads_through_its_init_command_with_a_0_1_3_config() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    let out = init("init-channels", &data, "channels.seed.example.json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some("inserted 7 channels, skipped 0 existing; inserted 1 silence windows, skipped 0 existing")
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("warning: config: the [notification] section"), "{stderr}");
    assert!(stderr.contains("warning: config: the [alert] section"), "{stderr}");

    let out = init("init-rules", &data, "rules.seed.example.json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("inserted 9 rules, skipped 0 existing"), "{}", text(&out.stdout));

    let out = init("init-dictionaries", &data, "dictionaries.seed.system.json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = init("init-dictionaries", &data, "dictionaries.seed.example.json");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = init("init-configs", &data, "runtime.seed.example.json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "inserted 2 configs, skipped 0 existing");
    let stderr = text(&out.stderr);
    for key in ["language", "ai_report_schedule_enabled", "ai_report_schedule_time", "ai_report_send_notification"] {
        assert!(stderr.contains(&format!("({key}) is a runtime setting of later oxmon 0.1 releases")), "{stderr}");
    }

    let m = oxmon_storage::management::Management::open(&data).unwrap();
    let channels = m.channels_with_recipients().unwrap();
    let (generic, phones) = channels.iter().find(|(c, _)| c.name == "默认通用短信").unwrap();
    assert_eq!(generic.channel_type, "sms");
    let config: serde_json::Value = serde_json::from_str(&generic.config_json).unwrap();
    assert_eq!(config["provider"], "generic");
    assert_eq!(config["url"], "https://sms-gateway.example.com/send");
    assert_eq!(config["body_template"], r#"{"phone": "{{recipient}}", "content": "[{{severity}}] {{message}}"}"#);
    assert_eq!(phones, &["13800138000"]);
    assert_eq!(m.silence_windows(10, 0).unwrap().len(), 1);
    assert_eq!(m.rules(100, 0).unwrap().len(), 9);
    let slack = m.dict_items("channel_type", false, 100, 0).unwrap();
    assert!(slack.iter().any(|i| i.dict_key == "slack"), "the example's custom item");
    assert_eq!(m.runtime_setting("notification_aggregation_window").unwrap(), 60);
    assert!(m.config_by_key("language").unwrap().is_none());
}

#[test]
fn other_unknown_runtime_settings_are_still_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("configs.json");
    std::fs::write(
        &seed,
        r#"{"configs": [{"config_key": "notification_agregation_window", "config_type": "runtime",
                         "display_name": "typo", "config": {"value": 60}}]}"#,
    )
    .unwrap();
    let config = tmp.path().join("server.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", tmp.path().join("data"))).unwrap();
    let out = server().arg("init-configs").arg(&config).arg(&seed).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("configs[0] (notification_agregation_window): unknown runtime setting"));
}

#[test]
fn the_server_starts_with_a_0_1_3_config_and_warns_once_per_deprecated_section() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = server()
        .arg(fixture("server.v0.1.3.example.toml"))
        .env("OXMON_SERVER_LISTEN_ADDRESS", "127.0.0.1")
        .env("OXMON_SERVER_GRPC_PORT", "0")
        .env("OXMON_SERVER_HTTP_PORT", "0")
        .env("OXMON_SERVER_DATA_DIR", tmp.path().join("data"))
        .env("RUST_LOG", "info")
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .take(60)
        .map_while(Result::ok)
        .take_while(|l| !l.contains("oxmon-server started"))
        .collect();
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{lines:?}");
    let warned = |section: &str| lines.iter().filter(|l| l.contains("WARN") && l.contains(section)).count();
    assert_eq!(warned("[notification] section"), 1, "{lines:?}");
    assert_eq!(warned("[alert] section"), 1, "{lines:?}");
}

async fn eventually<F: AsyncFn() -> bool>(what: &str, f: F) {
    for _ in 0..500 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn load_reported_under_0_1_names_is_stored_and_alerted_under_the_load_names() {
    let s = TestServer::start().await;
    let rule = json!({"name": "load high", "rule_type": "threshold", "metric": "load.load_1", "agent_pattern": "*",
        "severity": "warning", "config_json": {"operator": "gt", "value": 4.0}});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");

    let t = now_ms() - 10_000;
    let reply = s
        .report(batch(
            "old-agent",
            vec![
                point("system.load_1", &[], t, 6.5),
                point("system.load_5", &[], t, 3.0),
                point("system.load_15", &[], t, 2.0),
                point("system.uptime", &[], t, 86_400.0),
                point("cpu.usage", &[], t, 12.0),
            ],
        ))
        .await;
    assert!(reply.success, "{reply:?}");

    let names = s.data("/v1/metrics/names").await;
    assert_eq!(names, json!(["cpu.usage", "load.load_1", "load.load_15", "load.load_5", "load.uptime"]));
    let items = s.data("/v1/metrics?agent_id__eq=old-agent&metric_name__eq=load.load_1").await;
    assert_eq!(items[0]["value"], 6.5);
    assert!(s.data("/v1/metrics?metric_name__eq=system.load_1").await.as_array().unwrap().is_empty());

    // The engine saw the renamed sample: the rule on load.load_1 fired.
    eventually("the load alert", async || !s.data("/v1/alerts/history").await.as_array().unwrap().is_empty()).await;
    let history = s.data("/v1/alerts/history").await;
    assert_eq!(history[0]["metric_name"], "load.load_1", "{history}");
    assert_eq!(history[0]["agent_id"], "old-agent");
}
