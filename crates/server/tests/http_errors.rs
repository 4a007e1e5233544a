//! Errors produced by the HTTP layer rather than a handler (an unknown
//! path, a wrong method, a body too large or not JSON, a URI or head hyper
//! refuses) carry the JSON envelope and `X-Trace-Id` like every other
//! error, over a real server.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response read off the wire.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends `request` as is (for requests no HTTP client will build) and reads
/// the response until the server closes the connection.
async fn raw(s: &TestServer, request: Vec<u8>) -> Raw {
    let mut stream = TcpStream::connect(s.server.http_addr).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(&request).await;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await.unwrap().unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Raw { status, headers, body: serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())) }
}

/// The envelope of an error: `err_code`, a message saying `says`, `data`
/// null, and the same trace id in the body and the header.
#[track_caller]
fn assert_envelope(status: u16, content_type: Option<&str>, trace: Option<&str>, body: &Value, says: &str) {
    assert_eq!(content_type, Some("application/json"), "status {status}: {body}");
    assert_eq!(body["err_code"], 1001, "status {status}: {body}");
    assert!(body["err_msg"].as_str().unwrap().contains(says), "status {status}: {body}");
    assert!(body.as_object().unwrap().contains_key("data") && body["data"].is_null(), "{body}");
    let id = body["trace_id"].as_str().unwrap();
    assert_eq!(id.len(), 16, "{body}");
    assert_eq!(trace, Some(id), "X-Trace-Id is the envelope's trace_id");
}

#[tokio::test]
async fn a_64_kib_query_string_gets_an_enveloped_414() {
    let s = TestServer::start().await;
    let query = "a".repeat(64 * 1024);
    let request = format!("GET /v1/health?x={query} HTTP/1.1\r\nhost: localhost\r\n\r\n");
    let r = raw(&s, request.into_bytes()).await;
    assert_eq!(r.status, 414);
    assert_envelope(r.status, r.header("content-type"), r.header("x-trace-id"), &r.body, "URI too long");

    // Just under hyper's limit, the request reaches the router.
    let query = "a".repeat(60 * 1024);
    let r = raw(&s, format!("GET /v1/health?x={query} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").into()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.stop().await;
}

#[tokio::test]
async fn oversized_headers_and_malformed_requests_get_the_envelope() {
    let s = TestServer::start().await;
    let big = "b".repeat(500 * 1024);
    let r = raw(&s, format!("GET /v1/health HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n").into_bytes()).await;
    assert_eq!(r.status, 431);
    assert_envelope(r.status, r.header("content-type"), r.header("x-trace-id"), &r.body, "headers too large");

    let r = raw(&s, b"GET /v1/health HTTP/1.1\r\nbad header\r\n\r\n".to_vec()).await;
    assert_eq!(r.status, 400);
    assert_envelope(r.status, r.header("content-type"), r.header("x-trace-id"), &r.body, "malformed HTTP request");
    s.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_the_envelope() {
    let s = TestServer::start().await;
    for path in ["/v1/nope", "/nope", "/v1/alerts/rules/x/y/z"] {
        let resp = s.http.get(s.url(path)).bearer_auth(&s.token).send().await.unwrap();
        let (status, ct, trace) = parts(&resp);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["err_code"], 1004, "{body}");
        assert!(body["err_msg"].as_str().unwrap().contains("no route for GET"), "{body}");
        assert_eq!(ct.as_deref(), Some("application/json"));
        assert_eq!(trace.as_deref(), body["trace_id"].as_str());
    }

    // A known path with a method it lacks: 405 with `Allow`, public or not.
    for (method, path, allowed) in [
        (Method::DELETE, "/v1/health", "GET,HEAD"),
        (Method::PATCH, "/v1/alerts/rules", "GET,HEAD,POST"),
        (Method::POST, "/v1/dictionaries/types/severity", "PUT,DELETE"),
    ] {
        let resp = s.http.request(method.clone(), s.url(path)).bearer_auth(&s.token).send().await.unwrap();
        let (status, ct, trace) = parts(&resp);
        let allow = resp.headers().get("allow").map(|v| v.to_str().unwrap().replace(' ', ""));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_envelope(status, ct.as_deref(), trace.as_deref(), &body, &format!("method {method} is not allowed"));
        let mut allow: Vec<String> = allow.unwrap().split(',').map(str::to_owned).collect();
        let mut allowed: Vec<String> = allowed.split(',').map(str::to_owned).collect();
        allow.sort();
        allowed.sort();
        assert_eq!(allow, allowed, "{method} {path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn bodies_over_1_mib_and_bodies_that_are_not_json_get_the_envelope() {
    let s = TestServer::start().await;
    let big = json!({"name": "x".repeat(1024 * 1024 + 1), "rule_type": "threshold"}).to_string();
    let resp = s
        .http
        .post(s.url("/v1/alerts/rules"))
        .bearer_auth(&s.token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let (status, ct, trace) = parts(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 413, "{body}");
    assert_envelope(status, ct.as_deref(), trace.as_deref(), &body, "invalid request body");

    for content_type in [None, Some("text/plain")] {
        let mut req = s.http.post(s.url("/v1/dictionaries/types")).bearer_auth(&s.token);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.body(r#"{"dict_type":"t","dict_type_label":"T"}"#).send().await.unwrap();
        let (status, ct, trace) = parts(&resp);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 415, "{content_type:?}: {body}");
        assert_envelope(status, ct.as_deref(), trace.as_deref(), &body, "Content-Type");
    }
    s.stop().await;
}

fn parts(resp: &reqwest::Response) -> (u16, Option<String>, Option<String>) {
    let h = |n: &str| resp.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), h("content-type"), h("x-trace-id"))
}
