//! The OpenAPI document against the real server: every operation is
//! documented, every documented operation is routed, and real responses
//! validate against the schemas the document gives for their status.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod cert_sites;
mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

/// Every operation the server has. A route added without documentation
/// (mounted outside `routes!`) makes this list disagree with the document.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/password"),
    ("post", "/v1/auth/session"),
    ("get", "/v1/auth/session"),
    ("delete", "/v1/auth/session"),
    ("get", "/v1/agents"),
    ("get", "/v1/agents/{id}/latest"),
    ("delete", "/v1/agents/{id}"),
    ("get", "/v1/agents/whitelist"),
    ("post", "/v1/agents/whitelist"),
    ("put", "/v1/agents/whitelist/{id}"),
    ("delete", "/v1/agents/whitelist/{id}"),
    ("post", "/v1/agents/whitelist/{id}/token"),
    ("get", "/v1/metrics"),
    ("get", "/v1/metrics/names"),
    ("get", "/v1/metrics/agents"),
    ("get", "/v1/metrics/summary"),
    ("get", "/v1/metrics/series"),
    ("get", "/v1/metrics/downsample"),
    ("get", "/v1/alerts/rules"),
    ("post", "/v1/alerts/rules"),
    ("get", "/v1/alerts/rules/{id}"),
    ("put", "/v1/alerts/rules/{id}"),
    ("delete", "/v1/alerts/rules/{id}"),
    ("put", "/v1/alerts/rules/{id}/enable"),
    ("get", "/v1/alerts/history"),
    ("get", "/v1/alerts/active"),
    ("get", "/v1/alerts/summary"),
    ("post", "/v1/alerts/history/{id}/acknowledge"),
    ("post", "/v1/alerts/history/{id}/resolve"),
    ("get", "/v1/notifications/silence-windows"),
    ("post", "/v1/notifications/silence-windows"),
    ("put", "/v1/notifications/silence-windows/{id}"),
    ("delete", "/v1/notifications/silence-windows/{id}"),
    ("get", "/v1/system/config"),
    ("get", "/v1/system/storage"),
    ("post", "/v1/system/storage/cleanup"),
    ("get", "/v1/system/configs"),
    ("post", "/v1/system/configs"),
    ("get", "/v1/system/configs/{id}"),
    ("put", "/v1/system/configs/{id}"),
    ("delete", "/v1/system/configs/{id}"),
    ("get", "/v1/dictionaries/types"),
    ("post", "/v1/dictionaries/types"),
    ("put", "/v1/dictionaries/types/{dict_type}"),
    ("delete", "/v1/dictionaries/types/{dict_type}"),
    ("get", "/v1/dictionaries/type/{dict_type}"),
    ("post", "/v1/dictionaries"),
    ("get", "/v1/dictionaries/{id}"),
    ("put", "/v1/dictionaries/{id}"),
    ("delete", "/v1/dictionaries/{id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/certificates"),
    ("get", "/v1/certificates/{id}"),
    ("get", "/v1/certificates/{id}/chain"),
    ("post", "/v1/certs/domains"),
    ("get", "/v1/certs/domains"),
    ("post", "/v1/certs/domains/batch"),
    ("get", "/v1/certs/domains/{id}"),
    ("put", "/v1/certs/domains/{id}"),
    ("delete", "/v1/certs/domains/{id}"),
    ("post", "/v1/certs/domains/{id}/check"),
    ("get", "/v1/certs/domains/{id}/history"),
    ("post", "/v1/certs/check"),
    ("get", "/v1/certs/status"),
    ("get", "/v1/certs/status/{domain}"),
    ("get", "/v1/certs/summary"),
    ("get", "/v1/notifications/channels"),
    ("get", "/v1/notifications/channels/{id}"),
    ("post", "/v1/notifications/channels/{id}/test"),
    ("get", "/v1/notifications/channels/config"),
    ("post", "/v1/notifications/channels/config"),
    ("get", "/v1/notifications/channels/config/{id}"),
    ("put", "/v1/notifications/channels/config/{id}"),
    ("delete", "/v1/notifications/channels/config/{id}"),
    ("put", "/v1/notifications/channels/{id}/recipients"),
    ("get", "/v1/notifications/channels/{id}/recipients"),
    ("get", "/v1/notifications/logs"),
    ("get", "/v1/notifications/logs/summary"),
    ("get", "/v1/dashboard/overview"),
];

async fn document(s: &TestServer) -> Value {
    let resp = s.http.get(s.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the document is public");
    resp.json().await.unwrap()
}

fn documented_operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    ops.sort();
    ops
}

#[tokio::test]
async fn every_operation_is_documented_and_every_documented_operation_is_routed() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "oxmon API");
    assert_eq!(doc["components"]["securitySchemes"]["bearer_auth"]["scheme"], "bearer");

    let mut expected: Vec<(String, String)> =
        OPERATIONS.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    expected.sort();
    assert_eq!(documented_operations(&doc), expected);

    for (m, path) in OPERATIONS {
        let concrete = path.replace("{id}", "x").replace("{dict_type}", "x");
        let (status, body) = s.call(m.to_uppercase().parse::<Method>().unwrap(), &concrete, Some(json!({}))).await;
        assert_ne!(status, 405, "{m} {path} is not routed");
        let unrouted = body["err_msg"].as_str().is_some_and(|msg| msg.starts_with("no route for"));
        assert!(!unrouted, "{m} {path} is not routed");
    }

    let yaml = s.http.get(s.url("/v1/openapi.yaml")).send().await.unwrap();
    assert_eq!(yaml.headers()["content-type"], "text/yaml");
    assert!(yaml.text().await.unwrap().starts_with("openapi: 3.1.0"));
    s.stop().await;
}

/// Where `body` breaks the schema the document gives for this operation
/// and status.
#[track_caller]
fn schema_errors(doc: &Value, method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
    let response = response(doc, method, path, status);
    assert!(response.is_object(), "{method} {path}: status {status} is not documented (body {body})");
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {status}: no JSON schema");
    // Resolve `#/components/...` against the whole document; formats
    // (`date-time`) are checked too, as schemathesis does.
    let mut root = json!({ "components": doc["components"].clone() });
    root.as_object_mut().unwrap().extend(schema.as_object().unwrap().clone());
    let validator = jsonschema::draft202012::options().should_validate_formats(true).build(&root).unwrap();
    validator.iter_errors(body).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// The documented response of an operation for `status`, with a
/// `#/components/responses/...` reference resolved (Null when undocumented).
fn response(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let r = &doc["paths"][path][method]["responses"][status.to_string()];
    match r["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/responses/")) {
        Some(name) => doc["components"]["responses"][name].clone(),
        None => r.clone(),
    }
}

#[track_caller]
fn check(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let errors = schema_errors(doc, method, path, status, body);
    assert!(errors.is_empty(), "{method} {path} {status}: {errors:?}\nbody: {body}");
}

#[tokio::test]
async fn the_check_catches_a_body_that_breaks_the_schema() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let (_, mut body, _) = s.get("/v1/health").await;
    assert!(schema_errors(&doc, "get", "/v1/health", 200, &body).is_empty());
    body["data"]["uptime_secs"] = json!("long");
    body.as_object_mut().unwrap().remove("trace_id");
    let errors = schema_errors(&doc, "get", "/v1/health", 200, &body);
    assert_eq!(errors.len(), 2, "{errors:?}");
    s.stop().await;
}

#[tokio::test]
async fn real_responses_validate_against_the_document() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let t = now_ms();
    s.report(batch(
        "web-1",
        vec![point("cpu.usage", &[], t - 1000, 10.0), point("disk.used_percent", &[("mount", "/")], t - 1000, 50.0)],
    ))
    .await;

    let (status, body) = s.call(Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": "web-1"}))).await;
    check(&doc, "post", "/v1/agents/whitelist", status, &body);
    let id = body["data"]["id"].as_str().unwrap().to_owned();

    let gets = [
        ("/v1/health", "/v1/health"),
        ("/v1/agents", "/v1/agents"),
        ("/v1/agents/{id}/latest", "/v1/agents/web-1/latest"),
        ("/v1/agents/{id}/latest", "/v1/agents/nobody/latest"),
        ("/v1/agents/whitelist", "/v1/agents/whitelist"),
        ("/v1/metrics", "/v1/metrics?agent_id__eq=web-1"),
        ("/v1/metrics", "/v1/metrics?limit=x"),
        ("/v1/metrics/names", "/v1/metrics/names"),
        ("/v1/metrics/agents", "/v1/metrics/agents"),
        ("/v1/metrics/summary", "/v1/metrics/summary?agent_id=web-1&metric_name=cpu.usage"),
        ("/v1/metrics/summary", "/v1/metrics/summary"),
        ("/v1/metrics/series", "/v1/metrics/series?agent_id=web-1&metric_name=disk.used_percent"),
        ("/v1/system/config", "/v1/system/config"),
        ("/v1/system/storage", "/v1/system/storage"),
        ("/v1/system/configs", "/v1/system/configs"),
        ("/v1/system/configs/{id}", "/v1/system/configs/missing"),
        ("/v1/dictionaries/types", "/v1/dictionaries/types"),
        ("/v1/dictionaries/type/{dict_type}", "/v1/dictionaries/type/severity"),
        ("/v1/dictionaries/{id}", "/v1/dictionaries/missing"),
        ("/v1/alerts/history", "/v1/alerts/history"),
        ("/v1/alerts/active", "/v1/alerts/active"),
        ("/v1/alerts/summary", "/v1/alerts/summary"),
        ("/v1/alerts/summary", "/v1/alerts/summary?hours=x"),
    ];
    for (documented, concrete) in gets {
        let (status, body, _) = s.get(concrete).await;
        check(&doc, "get", documented, status, &body);
    }
    s.report(batch("gone-1", vec![point("cpu.usage", &[], t - 1000, 10.0)])).await;
    let calls = [
        ("delete", "/v1/agents/{id}", "/v1/agents/gone-1".to_owned(), None),
        ("delete", "/v1/agents/{id}", "/v1/agents/nobody".to_owned(), None),
        ("put", "/v1/agents/whitelist/{id}", format!("/v1/agents/whitelist/{id}"), Some(json!({"description": "d"}))),
        ("put", "/v1/agents/whitelist/{id}", "/v1/agents/whitelist/missing".to_owned(), Some(json!({}))),
        ("post", "/v1/agents/whitelist/{id}/token", format!("/v1/agents/whitelist/{id}/token"), None),
        ("delete", "/v1/agents/whitelist/{id}", format!("/v1/agents/whitelist/{id}"), None),
        (
            "post",
            "/v1/auth/password",
            "/v1/auth/password".to_owned(),
            Some(json!({"current_password": "x", "new_password": "y"})),
        ),
    ];
    for (m, documented, concrete, body) in calls {
        let (status, resp) = s.call(m.to_uppercase().parse().unwrap(), &concrete, body).await;
        check(&doc, m, documented, status, &resp);
    }
    let rule = json!({"name": "r", "rule_type": "threshold", "metric": "cpu.usage",
        "config_json": "{\"operator\":\"gt\",\"value\":1}"});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule.clone())).await;
    check(&doc, "post", "/v1/alerts/rules", status, &body);
    let rule_id = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    check(&doc, "post", "/v1/alerts/rules", status, &body);
    for (documented, concrete) in [
        ("/v1/alerts/rules", "/v1/alerts/rules".to_owned()),
        ("/v1/alerts/rules/{id}", format!("/v1/alerts/rules/{rule_id}")),
        ("/v1/alerts/rules/{id}", "/v1/alerts/rules/missing".to_owned()),
    ] {
        let (status, body, _) = s.get(&concrete).await;
        check(&doc, "get", documented, status, &body);
    }
    let (status, body) =
        s.call(Method::PUT, &format!("/v1/alerts/rules/{rule_id}/enable"), Some(json!({"enabled": false}))).await;
    check(&doc, "put", "/v1/alerts/rules/{id}/enable", status, &body);
    let (status, body) =
        s.call(Method::PUT, &format!("/v1/alerts/rules/{rule_id}"), Some(json!({"severity": "x"}))).await;
    check(&doc, "put", "/v1/alerts/rules/{id}", status, &body);
    let (status, body) = s.call(Method::DELETE, &format!("/v1/alerts/rules/{rule_id}"), None).await;
    check(&doc, "delete", "/v1/alerts/rules/{id}", status, &body);

    let sw = "/v1/notifications/silence-windows";
    let (status, body) = s.call(Method::POST, sw, Some(json!({"start_time": "02:00", "end_time": "04:00"}))).await;
    check(&doc, "post", sw, status, &body);
    let window_id = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = s.call(Method::POST, sw, Some(json!({"start_time": "2am", "end_time": "04:00"}))).await;
    check(&doc, "post", sw, status, &body);
    let (status, body, _) = s.get(sw).await;
    check(&doc, "get", sw, status, &body);
    let (status, body) = s.call(Method::PUT, &format!("{sw}/{window_id}"), Some(json!({"end_time": "05:00"}))).await;
    check(&doc, "put", "/v1/notifications/silence-windows/{id}", status, &body);
    let (status, body) = s.call(Method::PUT, &format!("{sw}/{window_id}"), Some(json!({"end_time": "5pm"}))).await;
    check(&doc, "put", "/v1/notifications/silence-windows/{id}", status, &body);
    let (status, body) = s.call(Method::DELETE, &format!("{sw}/{window_id}"), None).await;
    check(&doc, "delete", "/v1/notifications/silence-windows/{id}", status, &body);

    let (status, body) = s.call(Method::POST, "/v1/system/storage/cleanup", None).await;
    check(&doc, "post", "/v1/system/storage/cleanup", status, &body);
    let setting = json!({"config_key": "notification_log_retention", "config_type": "runtime", "display_name": "x",
        "config_json": {"value": 1}});
    let (status, body) = s.call(Method::POST, "/v1/system/configs", Some(setting)).await;
    check(&doc, "post", "/v1/system/configs", status, &body);
    let first = s.data("/v1/system/configs").await[0]["id"].as_str().unwrap().to_owned();
    let (status, body) =
        s.call(Method::PUT, &format!("/v1/system/configs/{first}"), Some(json!({"enabled": false}))).await;
    check(&doc, "put", "/v1/system/configs/{id}", status, &body);
    let (status, body) = s.call(Method::DELETE, &format!("/v1/system/configs/{first}"), None).await;
    check(&doc, "delete", "/v1/system/configs/{id}", status, &body);

    let (status, body) = s
        .call(Method::POST, "/v1/dictionaries", Some(json!({"dict_type": "t", "dict_key": "k", "dict_label": "K"})))
        .await;
    check(&doc, "post", "/v1/dictionaries", status, &body);
    let item = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = s.call(Method::PUT, &format!("/v1/dictionaries/{item}"), Some(json!({"sort_order": 3}))).await;
    check(&doc, "put", "/v1/dictionaries/{id}", status, &body);
    let (status, body) = s.call(Method::DELETE, &format!("/v1/dictionaries/{item}"), None).await;
    check(&doc, "delete", "/v1/dictionaries/{id}", status, &body);
    let (status, body) =
        s.call(Method::POST, "/v1/dictionaries/types", Some(json!({"dict_type": "u", "dict_type_label": "U"}))).await;
    check(&doc, "post", "/v1/dictionaries/types", status, &body);
    let (status, body) = s.call(Method::PUT, "/v1/dictionaries/types/u", Some(json!({"sort_order": 2}))).await;
    check(&doc, "put", "/v1/dictionaries/types/{dict_type}", status, &body);
    let (status, body) = s.call(Method::DELETE, "/v1/dictionaries/types/severity", None).await;
    check(&doc, "delete", "/v1/dictionaries/types/{dict_type}", status, &body);

    let (status, body) = s.call(Method::POST, "/v1/alerts/history/missing/acknowledge", None).await;
    check(&doc, "post", "/v1/alerts/history/{id}/acknowledge", status, &body);
    let (status, body) = s.call(Method::POST, "/v1/alerts/history/missing/resolve", None).await;
    check(&doc, "post", "/v1/alerts/history/{id}/resolve", status, &body);

    let (status, body) = s.login("admin", ADMIN_PASSWORD).await;
    check(&doc, "post", "/v1/auth/login", status, &body);
    let (status, body) = s.login("admin", "wrong").await;
    check(&doc, "post", "/v1/auth/login", status, &body);
    let (status, body, _) = s.call_as(None, Method::GET, "/v1/agents", None).await;
    check(&doc, "get", "/v1/agents", status, &body);
    s.stop().await;
}

#[tokio::test]
async fn certificate_responses_validate_against_the_document() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    // A self-signed site: untrusted, yet its certificate is inspected. Every
    // domain checked here is loopback (no name lookup leaves the machine).
    let site =
        cert_sites::Site::start("127.0.0.1", &cert_sites::self_signed(&cert_sites::Leaf::for_host("localhost", 9)))
            .await;

    let domains = "/v1/certs/domains";
    let (status, body) = s.call(Method::POST, domains, Some(json!({"domain": "localhost", "port": site.port()}))).await;
    check(&doc, "post", domains, status, &body);
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    for bad in [json!({"domain": "localhost"}), json!({"domain": ""}), json!({"domain": "a.test", "port": 0})] {
        let (status, body) = s.call(Method::POST, domains, Some(bad)).await;
        check(&doc, "post", domains, status, &body);
    }
    let batch = "/v1/certs/domains/batch";
    let disabled = json!({"domains": [{"domain": "127.0.0.9", "enabled": false}]});
    for body in [disabled.clone(), json!({"domains": []}), disabled] {
        let (status, resp) = s.call(Method::POST, batch, Some(body)).await;
        check(&doc, "post", batch, status, &resp);
    }
    let (status, body) = s.call(Method::POST, &format!("{domains}/{id}/check"), None).await;
    check(&doc, "post", "/v1/certs/domains/{id}/check", status, &body);
    assert_eq!(body["data"]["error"], "self-signed certificate (not trusted)", "{body}");
    let (status, body) = s.call(Method::POST, "/v1/certs/check", None).await;
    check(&doc, "post", "/v1/certs/check", status, &body);
    let cert = s.data("/v1/certificates").await[0]["id"].as_str().unwrap().to_owned();

    let gets = [
        ("/v1/certs/domains", "/v1/certs/domains?enabled__eq=true".to_owned()),
        ("/v1/certs/domains", "/v1/certs/domains?enabled__eq=x".to_owned()),
        ("/v1/certs/domains/{id}", format!("{domains}/{id}")),
        ("/v1/certs/domains/{id}", format!("{domains}/missing")),
        ("/v1/certs/domains/{id}/history", format!("{domains}/{id}/history")),
        ("/v1/certs/domains/{id}/history", format!("{domains}/missing/history")),
        ("/v1/certs/status", "/v1/certs/status".to_owned()),
        ("/v1/certs/status/{domain}", "/v1/certs/status/localhost".to_owned()),
        ("/v1/certs/status/{domain}", "/v1/certs/status/127.0.0.9".to_owned()),
        ("/v1/certs/status/{domain}", "/v1/certs/status/c.test".to_owned()),
        ("/v1/certs/summary", "/v1/certs/summary".to_owned()),
        ("/v1/certificates", "/v1/certificates?issuer__contains=x".to_owned()),
        ("/v1/certificates", "/v1/certificates".to_owned()),
        ("/v1/certificates", "/v1/certificates?not_after__lte=x".to_owned()),
        ("/v1/certificates/{id}", format!("/v1/certificates/{cert}")),
        ("/v1/certificates/{id}", "/v1/certificates/missing".to_owned()),
        ("/v1/certificates/{id}/chain", format!("/v1/certificates/{cert}/chain")),
        ("/v1/certificates/{id}/chain", "/v1/certificates/missing/chain".to_owned()),
    ];
    for (documented, concrete) in gets {
        let (status, body, _) = s.get(&concrete).await;
        check(&doc, "get", documented, status, &body);
    }
    let (status, body) = s.call(Method::POST, &format!("{domains}/missing/check"), None).await;
    check(&doc, "post", "/v1/certs/domains/{id}/check", status, &body);
    for body in [json!({"note": "n", "check_interval_secs": null}), json!({"port": 0})] {
        let (status, resp) = s.call(Method::PUT, &format!("{domains}/{id}"), Some(body)).await;
        check(&doc, "put", "/v1/certs/domains/{id}", status, &resp);
    }
    let (status, body) = s.call(Method::PUT, &format!("{domains}/missing"), Some(json!({}))).await;
    check(&doc, "put", "/v1/certs/domains/{id}", status, &body);
    let (status, body) = s.call(Method::DELETE, &format!("{domains}/{id}"), None).await;
    check(&doc, "delete", "/v1/certs/domains/{id}", status, &body);
    let (status, body) = s.call(Method::DELETE, &format!("{domains}/{id}"), None).await;
    check(&doc, "delete", "/v1/certs/domains/{id}", status, &body);
    s.stop().await;
}

#[tokio::test]
async fn channel_log_and_dashboard_responses_validate_against_the_document() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let hook = support::receiver::Receiver::start().await;
    let config = "/v1/notifications/channels/config";
    let (status, body) = s
        .call(
            Method::POST,
            config,
            Some(json!({"name": "hook", "channel_type": "webhook", "recipients": [format!("{}/h", hook.url)]})),
        )
        .await;
    check(&doc, "post", config, status, &body);
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    for bad in [json!({"name": "hook", "channel_type": "webhook"}), json!({"name": "x", "channel_type": "fax"})] {
        let (status, body) = s.call(Method::POST, config, Some(bad)).await;
        check(&doc, "post", config, status, &body);
    }
    let (status, body) = s.call(Method::POST, &format!("/v1/notifications/channels/{id}/test"), None).await;
    check(&doc, "post", "/v1/notifications/channels/{id}/test", status, &body);
    let calls = [
        ("put", "/v1/notifications/channels/config/{id}", format!("{config}/{id}"), Some(json!({"enabled": false}))),
        ("put", "/v1/notifications/channels/config/{id}", format!("{config}/missing"), Some(json!({}))),
        (
            "put",
            "/v1/notifications/channels/{id}/recipients",
            format!("/v1/notifications/channels/{id}/recipients"),
            Some(json!({"recipients": ["http://127.0.0.1:9/x"]})),
        ),
    ];
    for (m, documented, concrete, body) in calls {
        let (status, resp) = s.call(m.to_uppercase().parse().unwrap(), &concrete, body).await;
        check(&doc, m, documented, status, &resp);
    }
    let gets = [
        ("/v1/notifications/channels", "/v1/notifications/channels".to_owned()),
        ("/v1/notifications/channels/{id}", format!("/v1/notifications/channels/{id}")),
        ("/v1/notifications/channels/{id}", "/v1/notifications/channels/missing".to_owned()),
        ("/v1/notifications/channels/config", config.to_owned()),
        ("/v1/notifications/channels/config/{id}", format!("{config}/{id}")),
        ("/v1/notifications/channels/{id}/recipients", format!("/v1/notifications/channels/{id}/recipients")),
        ("/v1/notifications/logs", "/v1/notifications/logs".to_owned()),
        ("/v1/notifications/logs", "/v1/notifications/logs?status=x".to_owned()),
        ("/v1/notifications/logs/summary", "/v1/notifications/logs/summary".to_owned()),
        ("/v1/dashboard/overview", "/v1/dashboard/overview".to_owned()),
    ];
    for (documented, concrete) in gets {
        let (status, body, _) = s.get(&concrete).await;
        check(&doc, "get", documented, status, &body);
    }
    assert_eq!(s.data("/v1/notifications/logs").await["total"], 1, "the test send is logged");
    let (status, body) = s.call(Method::DELETE, &format!("{config}/{id}"), None).await;
    check(&doc, "delete", "/v1/notifications/channels/config/{id}", status, &body);
    s.stop().await;
}

#[tokio::test]
async fn swagger_ui_is_served_at_docs_without_a_token() {
    let s = TestServer::start().await;
    let page = s.http.get(s.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200, "/docs redirects to /docs/");
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let init = s.http.get(s.url("/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(init.contains("/v1/openapi.json"), "the UI reads our document: {init}");
    let missing = s.http.get(s.url("/docs/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    s.stop().await;
}

/// The mismatches schemathesis found in the first document (issue 9,
/// point 4), each checked against the document and the real server.
#[tokio::test]
async fn the_document_describes_the_errors_and_limits_the_server_has() {
    let s = TestServer::start().await;
    let doc = document(&s).await;

    // Every operation with a JSON body documents 413 and 415 (and 400),
    // and a body sent without the JSON content type gets a 415 as documented.
    let mut with_body = 0;
    for (m, path) in OPERATIONS {
        let op = &doc["paths"][*path][*m];
        if op["requestBody"].is_object() {
            with_body += 1;
            for status in [400, 413, 415] {
                assert!(response(&doc, m, path, status).is_object(), "{m} {path}: {status} not documented");
            }
            let concrete = path.replace("{id}", "x").replace("{dict_type}", "x");
            let req = s.http.request(m.to_uppercase().parse().unwrap(), s.url(&concrete)).bearer_auth(&s.token);
            let resp = req.body("{}").send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            assert_eq!(status, 415, "{m} {path}: {body}");
            check(&doc, m, path, status, &body);
        }
        if op["security"].is_array() {
            assert!(response(&doc, m, path, 401).is_object(), "{m} {path}: 401 not documented");
        }
    }
    assert!(with_body >= 20, "{with_body} operations with a JSON body");

    // Paging errors are documented on every list, including these two.
    for path in ["/v1/alerts/active", "/v1/dictionaries/types"] {
        let (status, body, _) = s.get(&format!("{path}?limit=x")).await;
        assert_eq!(status, 400, "{body}");
        check(&doc, "get", path, status, &body);
    }

    // `limit` and `offset` are int64 >= 0, and the server takes exactly that.
    let params = doc["paths"]["/v1/alerts/active"]["get"]["parameters"].as_array().unwrap();
    for name in ["limit", "offset"] {
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!((p["schema"]["format"].as_str(), p["schema"]["minimum"].as_i64()), (Some("int64"), Some(0)), "{p}");
    }
    for (query, status) in [
        ("offset=9223372036854775807", 200),
        ("offset=9223372036854775808", 400),
        ("limit=18446744073709551615", 400),
        ("limit=", 400),
        ("limit=-1", 400),
    ] {
        let (got, body, _) = s.get(&format!("/v1/alerts/active?{query}")).await;
        assert_eq!(got, status, "{query}: {body}");
    }

    // `hours` is bounded in the document as in the server.
    let hours = doc["paths"]["/v1/alerts/summary"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hours")
        .unwrap()["schema"]
        .clone();
    assert_eq!((hours["minimum"].as_i64(), hours["maximum"].as_i64()), (Some(1), Some(8760)), "{hours}");
    for (h, status) in [("8760", 200), ("2147483646", 400)] {
        let (got, body, _) = s.get(&format!("/v1/alerts/summary?hours={h}")).await;
        assert_eq!(got, status, "hours={h}: {body}");
        check(&doc, "get", "/v1/alerts/summary", got, &body);
    }

    // Required request fields are marked required; request bodies take
    // fields they do not know (no `additionalProperties: false`).
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (schema, fields) in [
        ("LoginBody", &["username", "password"][..]),
        ("PasswordBody", &["current_password", "new_password"]),
        ("CreateBody", &["agent_id"]),
        ("CreateDomain", &["domain"]),
        ("CreateRule", &["name", "rule_type"]),
        ("CreateWindow", &["start_time", "end_time"]),
    ] {
        let required: Vec<&str> =
            schemas[schema]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for f in fields {
            assert!(required.contains(f), "{schema}.{f} is not required: {required:?}");
        }
    }
    for (name, schema) in schemas {
        assert_ne!(schema["additionalProperties"], json!(false), "{name} refuses unknown fields");
    }

    // Responses: timestamps are date-time and every property is required.
    let detail = &schemas["RuleDetail"];
    assert_eq!(detail["properties"]["created_at"]["format"], "date-time");
    assert_eq!(schemas["EventItem"]["properties"]["predicted_breach"]["format"], "date-time");
    let props: Vec<&String> = schemas["CertDomainItem"]["properties"].as_object().unwrap().keys().collect();
    let required: Vec<&str> =
        schemas["CertDomainItem"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(props.len(), required.len(), "{required:?}");
    s.stop().await;
}

/// Issue 11: every paged list (an operation with a `limit` parameter)
/// declares `X-Total-Count` on its 200 response, and the server sends it;
/// no other operation declares it.
#[tokio::test]
async fn every_paged_list_declares_and_sends_x_total_count() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let (status, channel) = s
        .call(
            Method::POST,
            "/v1/notifications/channels/config",
            Some(json!({"name": "c", "channel_type": "webhook", "recipients": ["http://127.0.0.1:9/x"]})),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let (status, domain) = s.call(Method::POST, "/v1/certs/domains", Some(json!({"domain": "a.test"}))).await;
    assert_eq!(status, 201, "{domain}");

    let mut paged = 0;
    for (m, path) in OPERATIONS {
        let op = &doc["paths"][*path][*m];
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let has_limit = params.iter().any(|p| p["name"] == "limit" && p["in"] == "query");
        let header = &op["responses"]["200"]["headers"]["X-Total-Count"];
        if !has_limit {
            assert!(header.is_null(), "{m} {path} is not paged but declares X-Total-Count");
            continue;
        }
        paged += 1;
        assert_eq!(
            (header["schema"]["type"].as_str(), header["schema"]["minimum"].as_i64()),
            (Some("integer"), Some(0))
        );
        let id = if path.starts_with("/v1/certs") { &domain["data"]["id"] } else { &channel["data"]["id"] };
        let concrete = path.replace("{id}", id.as_str().unwrap()).replace("{dict_type}", "severity");
        let resp = s.http.get(s.url(&format!("{concrete}?limit=1"))).bearer_auth(&s.token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "GET {concrete}");
        let total = resp.headers().get("x-total-count").map(|v| v.to_str().unwrap().parse::<u64>());
        assert!(matches!(total, Some(Ok(_))), "GET {concrete}: X-Total-Count is {total:?}");
    }
    assert!(paged >= 20, "{paged} paged lists");
    s.stop().await;
}
