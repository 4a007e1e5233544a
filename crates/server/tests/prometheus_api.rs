//! The Prometheus API's own rules over a real server (the answers
//! themselves are checked against Prometheus in `promql_differential.rs`):
//! who may read and write, Prometheus's error format, what the
//! remote_write receiver refuses, stores and hands to the alert rules, and
//! the `[prometheus]` config keys.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use oxmon_common::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};
use reqwest::Method;
use serde_json::{Value, json};
use support::{TestServer, config, now_ms};

const READ_TOKEN: &str = "api-read-token-0123456789";
const WRITE_TOKEN: &str = "api-write-token-0123456789";

/// One sample of one series: labels, value, time (ms).
type Point<'a> = (&'a [(&'a str, &'a str)], f64, i64);

fn request(series: &[Point<'_>]) -> Vec<u8> {
    let timeseries = series
        .iter()
        .map(|(labels, value, t)| TimeSeries {
            labels: labels.iter().map(|(k, v)| Label { name: (*k).into(), value: (*v).into() }).collect(),
            samples: vec![Sample { value: *value, timestamp: *t }],
        })
        .collect();
    encode(&WriteRequest { timeseries })
}

async fn write(s: &TestServer, token: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut req = s.http.post(s.url("/api/v1/write")).header("Content-Encoding", "snappy").body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn get(s: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let resp = s.http.get(s.url(path)).bearer_auth(token).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn eventually<F: AsyncFn() -> bool>(what: &str, f: F) {
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_api_auth_errors_and_remote_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = config(tmp.path());
    c.prometheus.read_token = Some(READ_TOKEN.into());
    c.prometheus.write_token = Some(WRITE_TOKEN.into());
    c.require_agent_auth = true;
    let s = TestServer::start_with(c).await;
    let now = now_ms();
    let cpu = [("__name__", "cpu_usage"), ("instance", "web-1"), ("job", "node")];

    // Writers: a user's token, the write token, an agent's token for its own series only.
    assert_eq!(write(&s, Some(&s.token), request(&[(&cpu, 10.0, now - 60_000)])).await.0, 204);
    assert_eq!(write(&s, Some(WRITE_TOKEN), request(&[(&cpu, 11.0, now - 30_000)])).await.0, 204);
    let (_, created) = s.call(Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": "web-1"}))).await;
    let agent_token = created["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(write(&s, Some(&agent_token), request(&[(&cpu, 12.0, now - 20_000)])).await.0, 204);
    let other = [("__name__", "cpu_usage"), ("instance", "db-1")];
    let (status, text) = write(&s, Some(&agent_token), request(&[(&other, 1.0, now)])).await;
    assert_eq!((status, text.contains("\"db-1\"")), (401, true), "{text}");
    assert_eq!(write(&s, Some(READ_TOKEN), request(&[(&cpu, 1.0, now)])).await.0, 401, "the read token cannot write");
    assert_eq!(write(&s, None, request(&[(&cpu, 1.0, now)])).await.0, 401);

    // Bad payloads: 400 with a message, nothing stored.
    let (status, text) = write(&s, Some(WRITE_TOKEN), b"plain text".to_vec()).await;
    assert_eq!(status, 400);
    assert!(text.contains("snappy"), "{text}");
    let (status, text) = write(&s, Some(WRITE_TOKEN), request(&[(&cpu, f64::NAN, now - 10_000)])).await;
    assert_eq!(status, 400);
    assert!(text.contains("not a finite number"), "{text}");
    let (status, text) = write(&s, Some(WRITE_TOKEN), request(&[(&[("job", "x")], 1.0, now)])).await;
    assert_eq!((status, text.as_str()), (400, "series 0: no __name__ label"));
    // Outside the accepted window: refused one by one, the rest stored.
    let (status, text) =
        write(&s, Some(WRITE_TOKEN), request(&[(&cpu, 13.0, now - 10_000), (&cpu, 1.0, now + 3_600_000)])).await;
    assert_eq!(status, 400);
    assert!(text.contains("refused 1 of 2 points"), "{text}");

    // Stored under oxmon's names: the REST API sees cpu.usage of web-1.
    let latest = s.data("/v1/metrics?agent_id=web-1&metric_name=cpu.usage&limit=10").await;
    let values: Vec<f64> = latest.as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(values, vec![13.0, 12.0, 11.0, 10.0], "{latest}");

    // Readers: the read token (bearer or basic), a user's token; not the write token.
    let q = format!("/api/v1/query?query=cpu_usage&time={}", now as f64 / 1000.0);
    let (status, body) = get(&s, READ_TOKEN, &q).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["result"][0]["metric"],
        json!({"__name__": "cpu_usage", "agent_id": "web-1", "instance": "web-1", "job": "node"})
    );
    assert_eq!(body["data"]["result"][0]["value"][1], "13");
    assert_eq!(get(&s, &s.token, &q).await.0, 200);
    assert_eq!(get(&s, WRITE_TOKEN, &q).await.0, 401);
    let basic = s.http.get(s.url(&q)).basic_auth("grafana", Some(READ_TOKEN)).send().await.unwrap();
    assert_eq!(basic.status().as_u16(), 200);
    let form = s
        .http
        .post(s.url("/api/v1/query"))
        .bearer_auth(READ_TOKEN)
        .form(&[("query", "count(cpu_usage)"), ("time", &(now as f64 / 1000.0).to_string())])
        .send()
        .await
        .unwrap();
    let form: Value = form.json().await.unwrap();
    assert_eq!(form["data"]["result"][0]["value"][1], "1", "{form}");

    // Prometheus's error format and status codes.
    let (status, body) = get(&s, READ_TOKEN, "/api/v1/query?query=sum(").await;
    assert_eq!((status, body["status"].as_str(), body["errorType"].as_str()), (400, Some("error"), Some("bad_data")));
    let (status, body) = get(&s, READ_TOKEN, "/api/v1/query?query=histogram_quantile(0.9,cpu_usage)").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("histogram_quantile"), "{body}");
    let (status, body) = get(&s, READ_TOKEN, "/api/v1/query_range?query=up&start=10&end=5&step=1").await;
    assert_eq!((status, body["errorType"].as_str()), (400, Some("bad_data")));
    let (status, body) = get(&s, READ_TOKEN, "/api/v1/series").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("no match[] parameter provided")));

    // Discovery and build info.
    let (_, series) = get(&s, READ_TOKEN, "/api/v1/series?match[]=cpu_usage").await;
    assert_eq!(series["data"].as_array().unwrap().len(), 1, "{series}");
    let (_, labels) = get(&s, READ_TOKEN, "/api/v1/labels").await;
    assert_eq!(labels["data"], json!(["__name__", "agent_id", "instance", "job"]));
    let (_, values) = get(&s, READ_TOKEN, "/api/v1/label/__name__/values").await;
    assert_eq!(values["data"], json!(["cpu_usage"]));
    let (_, meta) = get(&s, READ_TOKEN, "/api/v1/metadata").await;
    assert_eq!(meta["data"]["cpu_usage"][0]["type"], "gauge");
    let (_, info) = get(&s, READ_TOKEN, "/api/v1/status/buildinfo").await;
    assert_eq!(info["data"]["version"], "2.42.0");

    // Remote-written samples are evaluated by the alert rules.
    let rule = json!({"name": "very hot", "rule_type": "threshold", "metric": "cpu.usage", "severity": "critical",
        "config_json": {"operator": "gt", "value": 95}});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(write(&s, Some(WRITE_TOKEN), request(&[(&cpu, 99.0, now - 5_000)])).await.0, 204);
    eventually("the remote-written sample to fire the rule", async || {
        let active = s.data("/v1/alerts/active").await;
        active.as_array().unwrap().iter().any(|a| a["agent_id"] == "web-1" && a["rule_name"] == "very hot")
    })
    .await;
}

#[test]
fn prometheus_tokens_are_checked_at_start() {
    use oxmon_server::config::ServerConfig;
    let err = ServerConfig::from_toml_and_env("[prometheus]\nread_token = \"short\"", None, &[]).unwrap_err();
    assert!(err.to_string().contains("prometheus.read_token must be at least 16 characters"), "{err}");
    let err = ServerConfig::from_toml_and_env("[prometheus]\nmax_samples = 0", None, &[]).unwrap_err();
    assert!(err.to_string().contains("prometheus.max_samples"), "{err}");
    let err = ServerConfig::from_toml_and_env("[prometheus]\nread_tokn = \"x\"", None, &[]).unwrap_err();
    assert!(err.to_string().contains("read_tokn"), "{err}");
    let vars = [("OXMON_SERVER_PROMETHEUS__WRITE_TOKEN".to_owned(), "12345678901234567890".to_owned())];
    let ok = ServerConfig::from_toml_and_env("", None, &vars).unwrap();
    assert_eq!(ok.prometheus.write_token.as_deref(), Some("12345678901234567890"));
}
