//! Cross-origin access: none by default; only the configured origins, and
//! never with credentials.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use support::*;

/// A request from a page on `origin`: (status, Access-Control-Allow-Origin,
/// Access-Control-Allow-Credentials).
async fn from_origin(s: &TestServer, method: Method, origin: &str) -> (u16, Option<String>, Option<String>) {
    let mut req = s.http.request(method.clone(), s.url("/v1/agents")).header("Origin", origin);
    if method == Method::OPTIONS {
        req = req
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization");
    } else {
        req = req.bearer_auth(&s.token);
    }
    let resp = req.send().await.unwrap();
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), header("access-control-allow-origin"), header("access-control-allow-credentials"))
}

#[tokio::test]
async fn no_origin_gets_cross_origin_access_by_default() {
    let s = TestServer::start().await;
    for method in [Method::GET, Method::OPTIONS] {
        let (_, allow_origin, credentials) = from_origin(&s, method.clone(), "https://evil.example").await;
        assert_eq!((allow_origin, credentials), (None, None), "{method}");
    }
    s.stop().await;
}

#[tokio::test]
async fn only_configured_origins_get_cross_origin_access_without_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(tmp.path());
    config.http.cors_allowed_origins = vec!["https://console.example.com".into()];
    let s = TestServer::start_with(config).await;

    let (status, allow_origin, credentials) = from_origin(&s, Method::GET, "https://console.example.com").await;
    assert_eq!((status, allow_origin.as_deref(), credentials), (200, Some("https://console.example.com"), None));
    let (status, allow_origin, _) = from_origin(&s, Method::OPTIONS, "https://console.example.com").await;
    assert_eq!((status, allow_origin.as_deref()), (200, Some("https://console.example.com")), "preflight");

    for method in [Method::GET, Method::OPTIONS] {
        let (_, allow_origin, credentials) = from_origin(&s, method.clone(), "https://evil.example").await;
        assert_eq!((allow_origin, credentials), (None, None), "{method}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_configured_origin_may_read_the_trace_id_and_the_total_count() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(tmp.path());
    config.http.cors_allowed_origins = vec!["https://console.example.com".into()];
    let s = TestServer::start_with(config).await;
    let resp = s
        .http
        .get(s.url("/v1/agents"))
        .header("Origin", "https://console.example.com")
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    let exposed = resp.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    let exposed: Vec<&str> = exposed.split(',').map(str::trim).collect();
    assert!(exposed.contains(&"x-trace-id") && exposed.contains(&"x-total-count"), "{exposed:?}");
    assert_eq!(resp.headers()["x-total-count"], "0");
    s.stop().await;
}
