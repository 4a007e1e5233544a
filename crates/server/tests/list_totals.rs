//! `X-Total-Count` on paged lists, over one real server: more items than a
//! page for several resources, and the header is the number of items that
//! match the filters, whatever `limit` and `offset` are.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use oxmon_storage::management::{AlertEvent, NotificationLogRecord, STATUS_OPEN, STATUS_RESOLVED};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

/// The default page size.
const PAGE: usize = 20;

/// GET `path` as the admin: (`X-Total-Count`, the listed items). The items
/// of `/v1/notifications/logs` are `data.items`, and its body `total` must
/// agree with the header.
async fn page(s: &TestServer, path: &str) -> (u64, Vec<Value>) {
    let resp = s.http.get(s.url(path)).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET {path}");
    let header = resp.headers().get("x-total-count").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap();
    let total: u64 = header.unwrap_or_else(|| panic!("GET {path}: no X-Total-Count")).parse().unwrap();
    let data = &body["data"];
    let items = if data.is_object() {
        assert_eq!(data["total"], total, "GET {path}: body total and header differ");
        data["items"].as_array().unwrap().clone()
    } else {
        data.as_array().unwrap_or_else(|| panic!("GET {path}: {body}")).clone()
    };
    (total, items)
}

/// `path` (with its filters) matches `expected` items: the header says so on
/// the default page, with `limit=0`, past the end, and it is the number of
/// items a page large enough to hold them all lists.
async fn check(s: &TestServer, path: &str, expected: usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (total, items) = page(s, path).await;
    assert_eq!((total, items.len()), (expected as u64, expected.min(PAGE)), "GET {path}");
    let (total, all) = page(s, &format!("{path}{sep}limit=1000")).await;
    assert_eq!((total, all.len()), (expected as u64, expected), "GET {path}: the header is the real count");
    let (total, none) = page(s, &format!("{path}{sep}limit=0")).await;
    assert_eq!((total, none.len()), (expected as u64, 0), "GET {path} with limit=0");
    let (total, tail) = page(s, &format!("{path}{sep}limit=3&offset={}", expected.saturating_sub(1))).await;
    assert_eq!((total, tail.len()), (expected as u64, expected.min(1)), "GET {path}: last page");
    let (total, _) = page(s, &format!("{path}{sep}offset={}", expected + 5)).await;
    assert_eq!(total, expected as u64, "GET {path} past the end");
}

/// How many items `path` lists when one page holds them all.
async fn count(s: &TestServer, path: &str) -> usize {
    let sep = if path.contains('?') { '&' } else { '?' };
    page(s, &format!("{path}{sep}limit=1000")).await.1.len()
}

async fn post(s: &TestServer, path: &str, body: Value) -> Value {
    let (status, body) = s.call(Method::POST, path, Some(body)).await;
    assert!(status == 200 || status == 201, "POST {path}: {status} {body}");
    body["data"].clone()
}

fn event(agent: &str, severity: &str, ts: i64, status: i64) -> AlertEvent {
    AlertEvent {
        id: String::new(),
        rule_id: "r1".into(),
        rule_name: "rule r1".into(),
        agent_id: agent.into(),
        metric_name: "cpu.usage".into(),
        severity: severity.into(),
        message: "cpu.usage has been above 90.0".into(),
        value: 95.0,
        threshold: 90.0,
        timestamp_ms: ts,
        predicted_breach_ms: None,
        status,
        labels: "{}".into(),
        first_triggered_at_ms: Some(ts),
        created_at: 0,
        updated_at: 0,
    }
}

fn log(channel: &str, status: &str, at: i64) -> NotificationLogRecord {
    NotificationLogRecord {
        id: String::new(),
        alert_event_id: format!("ev-{at}"),
        rule_id: "r1".into(),
        rule_name: "rule r1".into(),
        agent_id: "agent-00".into(),
        channel_id: channel.into(),
        channel_name: format!("{channel} name"),
        channel_type: "webhook".into(),
        status: status.into(),
        error_message: (status == "failed").then(|| "HTTP 500".into()),
        duration_ms: 12,
        recipient_count: 1,
        severity: "critical".into(),
        created_at_ms: at,
        http_status_code: Some(200),
        response_body: None,
        request_body: Some("{}".into()),
        retry_count: 0,
        recipient_details: Some("[]".into()),
        api_message_id: None,
        api_error_code: None,
    }
}

#[tokio::test]
async fn paged_lists_tell_the_total_matching_their_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(tmp.path());
    config.cert_check.enabled = false; // the domains below are never checked
    let s = TestServer::start_with(config).await;
    let t = now_ms() - 1_000;

    // Agents and metrics: 23 agents report; agent-00 sends 22 metric names.
    let names: Vec<String> = (0..21).map(|i| format!("custom.metric_{i:02}")).chain(["cpu.usage".into()]).collect();
    for a in 0..23 {
        let points = if a == 0 {
            names.iter().map(|n| point(n, &[], t, 1.0)).collect()
        } else {
            vec![point("cpu.usage", &[], t, 1.0)]
        };
        let reply = s.report(batch(&format!("agent-{a:02}"), points)).await;
        assert!(reply.success, "{reply:?}");
    }
    for id in ["ghost-1", "ghost-2"] {
        post(&s, "/v1/agents/whitelist", json!({"agent_id": id})).await;
    }
    check(&s, "/v1/agents", 25).await; // 23 seen + 2 whitelisted, never seen
    check(&s, "/v1/agents/whitelist", 2).await;
    check(&s, "/v1/metrics/names", 22).await;
    check(&s, "/v1/metrics/agents", 23).await;
    let long_ago = format!(
        "timestamp__gte={}&timestamp__lte={}",
        q(&rfc3339(t - 400 * 86_400_000)),
        q(&rfc3339(t - 399 * 86_400_000))
    );
    check(&s, &format!("/v1/metrics/names?{long_ago}"), 0).await;
    check(&s, "/v1/metrics", 44).await;
    check(&s, "/v1/metrics?agent_id__eq=agent-00", 22).await;
    check(&s, "/v1/metrics?metric_name__eq=cpu.usage", 23).await;
    check(&s, "/v1/metrics?agent_id__eq=agent-05&metric_name__eq=cpu.usage", 1).await;

    // Rules: 22 more than the server started with.
    let before = count(&s, "/v1/alerts/rules").await;
    for i in 0..22 {
        let rule = json!({"name": format!("rule {i}"), "rule_type": "threshold", "metric": "cpu.usage",
            "config_json": "{\"operator\":\"gt\",\"value\":1000}"});
        post(&s, "/v1/alerts/rules", rule).await;
    }
    check(&s, "/v1/alerts/rules", before + 22).await;

    // Alert history: 25 events, as the engine stores them.
    let events: Vec<AlertEvent> = (0..25)
        .map(|i| {
            let agent = if i < 21 { "agent-01" } else { "agent-02" };
            let severity = if i % 5 == 0 { "warning" } else { "critical" };
            event(agent, severity, t - 1_000 * i, if i < 22 { STATUS_OPEN } else { STATUS_RESOLVED })
        })
        .collect();
    let m = s.server.state.management.clone();
    tokio::task::spawn_blocking(move || m.insert_alert_events(events, 1).unwrap()).await.unwrap();
    check(&s, "/v1/alerts/history", 25).await;
    check(&s, "/v1/alerts/history?agent_id__eq=agent-01", 21).await;
    check(&s, "/v1/alerts/history?agent_id__eq=agent-02&severity__eq=warning", 0).await;
    check(&s, "/v1/alerts/history?severity__eq=warning", 5).await;
    check(&s, "/v1/alerts/active", 22).await;

    // Certificate domains: 23, three of them disabled.
    let domains: Vec<Value> = (0..23).map(|i| json!({"domain": format!("site-{i}.test")})).collect();
    let created = post(&s, "/v1/certs/domains/batch", json!({"domains": domains})).await;
    for d in &created.as_array().unwrap()[..3] {
        let path = format!("/v1/certs/domains/{}", d["id"].as_str().unwrap());
        let (status, body) = s.call(Method::PUT, &path, Some(json!({"enabled": false}))).await;
        assert_eq!(status, 200, "{body}");
    }
    check(&s, "/v1/certs/domains", 23).await;
    check(&s, "/v1/certs/domains?enabled__eq=false", 3).await;
    check(&s, "/v1/certs/domains?enabled__eq=true", 20).await;
    check(&s, "/v1/certs/domains?domain__contains=site-1", 11).await; // site-1, site-10 .. site-19

    // Notification logs: 23, as the notifier stores them.
    let m = s.server.state.management.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..23 {
            let channel = if i < 15 { "c1" } else { "c2" };
            let status = if i % 4 == 0 { "failed" } else { "success" };
            m.insert_notification_log(log(channel, status, t - 1_000 * i)).unwrap();
        }
    })
    .await
    .unwrap();
    check(&s, "/v1/notifications/logs", 23).await;
    check(&s, "/v1/notifications/logs?channel_id=c2", 8).await;
    check(&s, "/v1/notifications/logs?status=failed", 6).await;
    check(&s, "/v1/notifications/logs?channel_id=c1&status=failed", 4).await;

    // A channel's recipients, paged in memory.
    let recipients: Vec<String> = (0..24).map(|i| format!("http://127.0.0.1:9/{i}")).collect();
    let channel = post(
        &s,
        "/v1/notifications/channels/config",
        json!({"name": "hook", "channel_type": "webhook", "recipients": recipients}),
    )
    .await;
    check(&s, &format!("/v1/notifications/channels/{}/recipients", channel["id"].as_str().unwrap()), 24).await;
    s.stop().await;
}
