//! Switching from oxmon 0.1: a real server started on a copy of the
//! committed 0.1 data dir (`crates/storage/tests/fixtures/oxmon-0.1`) takes
//! it over, and everything 0.1 stored is there over REST and gRPC.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::path::{Path, PathBuf};

use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_server::app::{StartOptions, start};
use oxmon_server::config::ServerConfig;
use oxmon_storage::legacy::BACKUP_DIR;
use serde_json::Value;
use support::{batch, now_ms, point};
use tonic::transport::Channel;

/// The fixture's secrets (see its `generate.py`).
const ADMIN_PASSWORD: &str = "oxmon-0.1-admin-pw";
const WEB01_TOKEN: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
const DB02_TOKEN: &str = "lpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLU=";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage/tests/fixtures/oxmon-0.1/data")
}

fn copy_fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    tmp
}

struct Api {
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Api {
    async fn login(base: &str, user: &str, password: &str) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{base}/v1/auth/login"))
            .json(&serde_json::json!({ "username": user, "password": password }))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn data(&self, path: &str) -> Value {
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body["data"].clone()
    }

    async fn len(&self, path: &str) -> usize {
        self.data(path).await.as_array().unwrap_or_else(|| panic!("{path}: not a list")).len()
    }
}

async fn report(grpc: std::net::SocketAddr, agent: &str, token: &str) -> Result<bool, tonic::Code> {
    let channel = Channel::from_shared(format!("http://{grpc}")).unwrap().connect().await.unwrap();
    let mut req = tonic::Request::new(batch(agent, vec![point("cpu.usage", &[], now_ms(), 1.0)]));
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    req.metadata_mut().insert("agent-id", agent.parse().unwrap());
    MetricServiceClient::new(channel).report_metrics(req).await.map(|r| r.into_inner().success).map_err(|e| e.code())
}

/// The count a summary line gives for `kind` (`  <kind>   <n>`).
fn count_in(summary: &str, kind: &str) -> Option<u64> {
    summary.lines().find_map(|l| l.strip_prefix("  ")?.strip_prefix(kind)?.trim().parse().ok())
}

fn admin_hash(dir: &Path) -> String {
    let c = rusqlite::Connection::open_with_flags(
        dir.join("cert.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    c.query_row("SELECT password_hash FROM users WHERE username = 'admin'", [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn a_server_started_on_an_0_1_data_dir_takes_it_over_and_serves_everything() {
    let tmp = copy_fixture();
    let dir = tmp.path();
    // A long retention keeps the fixture's 2026 samples (and its one from 2020).
    let config = ServerConfig { require_agent_auth: true, retention_days: 36_500, ..support::config(dir) };

    // The dry run says what would move and changes nothing.
    let dry = oxmon_server::cli::migrate_0_1(&config, true).unwrap().to_string();
    assert!(dry.contains("would migrate:"), "{dry}");
    for (kind, n) in [("users", 1), ("alert events", 3), ("metric samples", 148), ("notification channels", 2)] {
        assert_eq!(count_in(&dry, kind), Some(n), "{kind} in\n{dry}");
    }
    assert!(dry.contains("cannot be migrated: nothing"), "{dry}");
    assert!(!dir.join(BACKUP_DIR).exists());

    // Start: the takeover runs before storage opens.
    let server = start(config.clone(), StartOptions::default()).await.unwrap();
    for name in ["cert.db", "2026-02-08.db", "2026-02-09.db", "token.key"] {
        assert!(dir.join(BACKUP_DIR).join(name).exists(), "backup of {name}");
    }
    let base = format!("http://{}", server.http_addr);

    // The admin logs in with the 0.1 password; the bcrypt hash becomes argon2id.
    assert!(admin_hash(dir).starts_with("$2b$"));
    assert_eq!(Api::login(&base, "admin", "wrong-password").await.0, 401);
    assert_eq!(Api::login(&base, "admin", support::ADMIN_PASSWORD).await.0, 401, "0.1's admin, not a new one");
    assert!(admin_hash(dir).starts_with("$2b$"), "a failed login changes nothing");
    let (status, body) = Api::login(&base, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert!(admin_hash(dir).starts_with("$argon2id$"), "{}", admin_hash(dir));
    let (status, body) = Api::login(&base, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "and again, now against argon2id: {body}");
    let api = Api { base, http: reqwest::Client::new(), token: body["data"]["token"].as_str().unwrap().to_owned() };

    // 0.1 agent tokens keep working with require_agent_auth.
    assert_eq!(report(server.grpc_addr, "web-01", WEB01_TOKEN).await, Ok(true), "sealed token");
    assert_eq!(report(server.grpc_addr, "db-02", DB02_TOKEN).await, Ok(true), "bcrypt-only token");
    assert_eq!(report(server.grpc_addr, "db-02", DB02_TOKEN).await, Ok(true), "and after its upgrade");
    assert_eq!(report(server.grpc_addr, "web-01", DB02_TOKEN).await, Err(tonic::Code::Unauthenticated));
    assert_eq!(api.len("/v1/agents/whitelist").await, 2);

    // Every kind of management row is listed.
    let rules = api.data("/v1/alerts/rules").await;
    let mut names: Vec<&str> = rules.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["CPU critical", "Certificate expiry", "Load warning"]);
    let channels = api.data("/v1/notifications/channels").await;
    let sms = channels.as_array().unwrap().iter().find(|c| c["name"] == "ops sms").unwrap();
    assert_eq!(sms["channel_type"], "sms");
    assert_eq!(sms["recipients"], serde_json::json!(["13800138000"]));
    let row = api.data(&format!("/v1/notifications/channels/config/{}", sms["id"].as_str().unwrap())).await;
    let sms_config: Value = serde_json::from_str(row["config_json"].as_str().unwrap()).unwrap();
    assert_eq!(sms_config["provider"], "aliyun");
    assert_ne!(sms_config["access_key_secret"], "sms-secret", "secrets stay redacted");
    let windows = api.data("/v1/notifications/silence-windows").await;
    assert_eq!((windows[0]["start_time"].as_str(), windows[0]["end_time"].as_str()), (Some("02:00"), Some("04:00")));
    assert_eq!(api.len("/v1/dictionaries/type/region").await, 2);
    assert_eq!(api.data("/v1/certs/domains").await[0]["domain"], "example.org");
    assert!(api.len("/v1/system/configs?limit=100").await >= 1);
    let history = api
        .data("/v1/alerts/history?limit=100&timestamp__gte=2026-02-08T00:00:00Z&timestamp__lte=2026-02-09T23:59:59Z")
        .await;
    let mut events: Vec<(String, i64)> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| ["1001", "1002", "1003"].contains(&e["id"].as_str().unwrap_or_default()))
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e["status"].as_i64().unwrap()))
        .collect();
    events.sort();
    assert_eq!(events, [("1001".into(), 1), ("1002".into(), 2), ("1003".into(), 3)]);
    let logs = api.data("/v1/notifications/logs?limit=100").await;
    assert_eq!(logs["total"], 2, "{logs}");
    let mut statuses: Vec<&str> =
        logs["items"].as_array().unwrap().iter().map(|l| l["status"].as_str().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["failed", "success"]);

    // Samples are queryable by their real day: db-02's buffered points of
    // 2026-02-08 sat in 0.1's file of the 9th.
    let buffered = api
        .data(
            "/v1/metrics?agent_id__eq=db-02&metric_name__eq=cpu.usage\
             &timestamp__gte=2026-02-08T00:00:00Z&timestamp__lte=2026-02-08T23:59:59Z",
        )
        .await;
    let values: Vec<f64> = buffered.as_array().unwrap().iter().map(|i| i["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [75.0, 74.0, 73.0]);
    let load = "/v1/metrics?agent_id__eq=web-01&metric_name__eq=load.load_1&limit=100\
                &timestamp__gte=2026-02-09T00:00:00Z&timestamp__lte=2026-02-09T23:59:59Z";
    assert_eq!(api.len(load).await, 24);
    server.shutdown().await;

    // A second takeover finds nothing; a restart serves the same data.
    let again = oxmon_server::cli::migrate_0_1(&config, false).unwrap();
    assert!(!again.found, "{again}");
    assert!(!dir.join(format!("{BACKUP_DIR}-2")).exists());
    let server = start(config, StartOptions::default()).await.unwrap();
    let (status, _) = Api::login(&format!("http://{}", server.http_addr), "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(api_after(&server, &api.token).await, 24);
    server.shutdown().await;
}

/// The load query again, on the restarted server (the token is still valid:
/// the JWT key lives in the data dir).
async fn api_after(server: &oxmon_server::app::RunningServer, token: &str) -> usize {
    let api =
        Api { base: format!("http://{}", server.http_addr), http: reqwest::Client::new(), token: token.to_owned() };
    api.len(
        "/v1/metrics?agent_id__eq=web-01&metric_name__eq=load.load_1&limit=100\
         &timestamp__gte=2026-02-09T00:00:00Z&timestamp__lte=2026-02-09T23:59:59Z",
    )
    .await
}

#[tokio::test]
async fn the_server_starts_on_its_own_data_dir_without_a_takeover() {
    let tmp = tempfile::tempdir().unwrap();
    let s = support::TestServer::start_with(support::config(tmp.path())).await;
    let dir = s.stop().await;
    let summary = oxmon_server::cli::migrate_0_1(&support::config(&dir), true).unwrap();
    assert_eq!(summary.to_string(), format!("no oxmon 0.1 data in {}: nothing to migrate\n", dir.display()));
    assert!(!dir.join(BACKUP_DIR).exists());
}

/// `oxmon-server migrate-0.1 CONFIG [--dry-run]`, the binary itself.
#[test]
fn the_migrate_subcommand_dry_runs_takes_over_and_then_finds_nothing() {
    let tmp = copy_fixture();
    let data = tmp.path().to_owned();
    let conf_dir = tempfile::tempdir().unwrap();
    let config = conf_dir.path().join("server.toml");
    std::fs::write(&config, format!("data_dir = {data:?}\nretention_days = 36500\n")).unwrap();
    let server = || std::process::Command::new(env!("CARGO_BIN_EXE_oxmon-server"));
    let stdout = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();

    // The flag may come before or after the config.
    let after = server().arg("migrate-0.1").arg(&config).arg("--dry-run").output().unwrap();
    let before = server().arg("migrate-0.1").arg("--dry-run").arg(&config).output().unwrap();
    for out in [after, before] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout(&out).starts_with("dry run: oxmon 0.1 data in "), "{}", stdout(&out));
        assert_eq!(count_in(&stdout(&out), "users"), Some(1));
    }
    assert!(!data.join(BACKUP_DIR).exists(), "a dry run changes nothing");

    let out = server().arg("migrate-0.1").arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.starts_with("took over the oxmon 0.1 data in "), "{text}");
    assert!(text.contains(&format!("backup of the 0.1 files: {}", data.join(BACKUP_DIR).display())), "{text}");
    assert_eq!(count_in(&text, "metric samples"), Some(148));

    let out = server().arg("migrate-0.1").arg(&config).output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains(": nothing to migrate"), "{}", stdout(&out));

    let out = server().arg("migrate-0.1").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = server().arg("migrate-0.1").arg(conf_dir.path().join("missing.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}
