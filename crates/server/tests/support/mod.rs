//! Test harness: a real oxmon-server on ephemeral loopback ports over a
//! temp data directory, plus gRPC and HTTP clients.

#![allow(dead_code)]

pub mod receiver;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_common::proto::{MetricBatchProto, MetricDataPointProto, ReportResponse};
use oxmon_server::app::{RunningServer, StartOptions, start};
use oxmon_server::config::ServerConfig;
use serde_json::Value;
use tonic::transport::Channel;

pub struct TestServer {
    pub server: RunningServer,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
    /// A token of the admin, sent by every helper below.
    pub token: String,
}

/// The admin password of test servers.
pub const ADMIN_PASSWORD: &str = "test-password-1";

pub fn config(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig {
        listen_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        grpc_port: 0,
        http_port: 0,
        data_dir: dir.to_owned(),
        ..ServerConfig::default()
    };
    config.auth.default_password = Some(ADMIN_PASSWORD.into());
    config
}

impl TestServer {
    pub async fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Self::start_with(config(tmp.path())).await;
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server with `config` (whose data dir the caller owns).
    pub async fn start_with(config: ServerConfig) -> Self {
        Self::start_with_options(config, StartOptions::default()).await
    }

    /// Starts a server with `config` and `options` (e.g. an injected clock).
    pub async fn start_with_options(config: ServerConfig, options: StartOptions) -> Self {
        let dir = config.data_dir.clone();
        let server = start(config, options).await.unwrap();
        let mut s = Self { server, dir, _tmp: None, http: reqwest::Client::new(), token: String::new() };
        let (status, body) = s.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        s.token = body["data"]["token"].as_str().unwrap().to_owned();
        s
    }

    /// `POST /v1/auth/login`; returns (status, body).
    pub async fn login(&self, username: &str, password: &str) -> (u16, Value) {
        let body = serde_json::json!({ "username": username, "password": password });
        let (status, body, _) = self.call_as(None, reqwest::Method::POST, "/v1/auth/login", Some(body)).await;
        (status, body)
    }

    /// A request with an optional bearer token and JSON body; returns
    /// (status, JSON body or Null, x-trace-id).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, String) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let trace = resp.headers().get("x-trace-id").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body, trace)
    }

    /// A request as the admin.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, body, _) = self.call_as(Some(&self.token), method, path, body).await;
        (status, body)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.server.http_addr, path)
    }

    pub async fn grpc(&self) -> MetricServiceClient<Channel> {
        let channel =
            Channel::from_shared(format!("http://{}", self.server.grpc_addr)).unwrap().connect().await.unwrap();
        MetricServiceClient::new(channel)
    }

    pub async fn report(&self, batch: MetricBatchProto) -> ReportResponse {
        self.grpc().await.report_metrics(batch).await.unwrap().into_inner()
    }

    /// GET as the admin, returning (status, envelope JSON, x-trace-id header).
    pub async fn get(&self, path: &str) -> (u16, Value, String) {
        self.call_as(Some(&self.token), reqwest::Method::GET, path, None).await
    }

    /// GET expecting a 200 envelope; returns `data`.
    pub async fn data(&self, path: &str) -> Value {
        let (status, body, _) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        assert_eq!(body["err_code"], 0, "GET {path}: {body}");
        body["data"].clone()
    }

    pub async fn stop(self) -> PathBuf {
        let dir = self.dir.clone();
        self.server.shutdown().await;
        dir
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub fn point(metric: &str, labels: &[(&str, &str)], ts: i64, value: f64) -> MetricDataPointProto {
    MetricDataPointProto {
        timestamp_ms: ts,
        agent_id: String::new(),
        metric_name: metric.into(),
        value,
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>(),
    }
}

pub fn batch(agent: &str, points: Vec<MetricDataPointProto>) -> MetricBatchProto {
    MetricBatchProto { agent_id: agent.into(), timestamp_ms: now_ms(), data_points: points }
}

/// Percent-encodes a query value (RFC 3339 offsets contain `+`).
pub fn q(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// A CA and a server certificate for `host`, generated for the test.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn make_pki(host: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "oxmon test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki { ca_pem: ca.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

/// Writes the server certificate and key into `dir` and returns a TLS config section.
pub fn tls_files(dir: &Path, pki: &Pki) -> oxmon_server::config::TlsConfig {
    std::fs::write(dir.join("server.pem"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("server.key"), &pki.key_pem).unwrap();
    oxmon_server::config::TlsConfig { cert_file: dir.join("server.pem"), key_file: dir.join("server.key") }
}

/// The `oxmon-agent` binary beside the test's executable
/// (target/<profile>/deps/<test> -> target/<profile>/oxmon-agent), or `OXMON_AGENT_BIN`.
pub fn agent_binary() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("OXMON_AGENT_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join("oxmon-agent");
    assert!(path.exists(), "{} is missing: run `cargo build -p oxmon-agent` first", path.display());
    path
}

/// A child process (the real agent) killed when the test ends, however it ends.
pub struct Agent(pub std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
