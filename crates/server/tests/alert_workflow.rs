//! The alert workflow end to end, over a real server: samples reported over
//! gRPC are stored and evaluated; a breach becomes one stored event and one
//! notification per routed channel (real HTTP receivers), deduplicated
//! while it lasts, followed by one recovery notification; nothing is sent
//! inside a silence window; every send is logged.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::*;

const METRIC: &str = "e2e.temperature";

async fn setting_id(s: &TestServer, key: &str) -> String {
    let rows = s.data("/v1/system/configs?limit=100").await;
    rows.as_array().unwrap().iter().find(|r| r["config_key"] == key).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn report(s: &TestServer, labels: &[(&str, &str)], ts: i64, value: f64) {
    let reply = s.report(batch("e2e-host", vec![point(METRIC, labels, ts, value)])).await;
    assert!(reply.success, "{reply:?}");
}

/// Waits until the condition holds, up to 10 s.
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
async fn a_breach_is_notified_once_per_routed_channel_then_recovers_and_silence_holds_notifications() {
    let s = TestServer::start().await;
    // Aggregate for one second, so the test sees the timer flush quickly.
    let id = setting_id(&s, "notification_aggregation_window").await;
    let (status, body) =
        s.call(Method::PUT, &format!("/v1/system/configs/{id}"), Some(json!({"config_json": {"value": 1}}))).await;
    assert_eq!(status, 200, "{body}");

    let (hook, robot, quiet) = (Receiver::start().await, Receiver::start().await, Receiver::start().await);
    let channels = [
        json!({"name": "hook", "channel_type": "webhook", "min_severity": "warning",
               "recipients": [format!("{}/hook", hook.url)]}),
        json!({"name": "robot", "channel_type": "dingtalk", "min_severity": "critical",
               "config_json": {"webhook_url": format!("{}/robot/send?access_token=t", robot.url), "secret": "SECx"}}),
        // Routed away: below its floor, and another one disabled.
        json!({"name": "pager", "channel_type": "webhook", "min_severity": "critical",
               "recipients": [format!("{}/pager", quiet.url)]}),
        json!({"name": "off", "channel_type": "webhook", "enabled": false,
               "recipients": [format!("{}/off", quiet.url)]}),
    ];
    for c in channels {
        let (status, body) = s.call(Method::POST, "/v1/notifications/channels/config", Some(c)).await;
        assert_eq!(status, 201, "{body}");
    }
    let rule = json!({"name": "hot", "rule_type": "threshold", "metric": METRIC, "agent_pattern": "e2e-*",
        "severity": "warning", "silence_secs": 3600, "config_json": {"operator": "gt", "value": 80, "duration_secs": 20}});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");

    // Breaching, but not yet for 20 s: nothing.
    let t = now_ms() - 60_000;
    let disk = [("sensor", "inlet")];
    report(&s, &disk, t, 85.0).await;
    report(&s, &disk, t + 10_000, 86.0).await;
    // 20 s of breach: one event, one notification on each routed channel.
    report(&s, &disk, t + 20_000, 87.0).await;
    eventually("the first notification", async || !hook.requests().is_empty()).await;
    let fired = &hook.requests()[0];
    let body = fired.json();
    assert_eq!(
        (body["agent_id"].as_str(), body["metric"].as_str(), body["status"].as_str(), body["severity"].as_str()),
        (Some("e2e-host"), Some(METRIC), Some("firing"), Some("warning"))
    );
    assert_eq!(body["labels"], json!({"sensor": "inlet"}));
    assert_eq!(body["value"], 87.0);
    let history = s.data("/v1/alerts/history").await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(body["alert_id"], history[0]["id"], "the notification names the stored event");

    // Still breaching: deduplicated (silence_secs), nothing more is sent.
    report(&s, &disk, t + 30_000, 90.0).await;
    report(&s, &disk, t + 40_000, 91.0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.requests().len(), 1);
    assert!(robot.requests().is_empty(), "a warning does not reach a critical-only channel");
    assert!(quiet.requests().is_empty(), "routed away or disabled");

    // Three good evaluations: one recovery notification; the alert is no longer active.
    for i in 0..3 {
        report(&s, &disk, t + 50_000 + i * 1000, 40.0).await;
    }
    eventually("the recovery notification", async || hook.requests().len() == 2).await;
    let recovered = hook.requests()[1].json();
    assert_eq!(recovered["status"], "recovered");
    assert!(recovered["message"].as_str().unwrap().starts_with("[RECOVERED]"), "{recovered}");
    eventually("the alert to be resolved", async || s.data("/v1/alerts/active").await.as_array().unwrap().is_empty())
        .await;

    // A critical rule reaches the robot too (signed).
    let rule = json!({"name": "very hot", "rule_type": "threshold", "metric": METRIC, "severity": "critical",
        "config_json": {"operator": "gt", "value": 95}});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    let (hook_before, robot_before) = (hook.requests().len(), robot.requests().len());
    report(&s, &[("sensor", "outlet")], t + 60_000, 99.0).await;
    eventually("the critical notification", async || robot.requests().len() == robot_before + 1).await;
    let signed = &robot.requests()[robot_before];
    assert!(signed.uri.contains("access_token=t&timestamp=") && signed.uri.contains("&sign="), "{}", signed.uri);
    let markdown: Value = signed.json();
    assert_eq!(markdown["msgtype"], "markdown");
    eventually("the critical notification on the hook", async || hook.requests().len() == hook_before + 1).await;
    eventually("the critical notification on the pager", async || quiet.requests().len() == 1).await;
    assert_eq!(quiet.requests()[0].uri, "/pager", "the disabled channel gets nothing");

    // Inside a silence window (whatever the time now in its zone), a new
    // breach is stored but not sent.
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
    let start = now.checked_sub(jiff::Span::new().hours(1)).unwrap().strftime("%H:%M").to_string();
    let end = now.checked_add(jiff::Span::new().hours(1)).unwrap().strftime("%H:%M").to_string();
    let window = json!({"start_time": start, "end_time": end, "timezone": "Asia/Tokyo"});
    let (status, body) = s.call(Method::POST, "/v1/notifications/silence-windows", Some(window)).await;
    assert_eq!(status, 201, "{body}");
    let (hook_before, robot_before) = (hook.requests().len(), robot.requests().len());
    let events_before = s.data("/v1/alerts/history?limit=100").await.as_array().unwrap().len();
    report(&s, &[("sensor", "exhaust")], t + 61_000, 99.5).await;
    eventually("the silenced breach to be stored", async || {
        s.data("/v1/alerts/history?limit=100").await.as_array().unwrap().len() > events_before
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((hook.requests().len(), robot.requests().len()), (hook_before, robot_before), "silenced");
    assert_eq!(quiet.requests().len(), 1, "silenced");

    // Every send is logged, with its outcome.
    let logs = s.data("/v1/notifications/logs?limit=100").await;
    let items = logs["items"].as_array().unwrap();
    assert_eq!(logs["total"].as_u64(), Some(items.len() as u64));
    assert_eq!(items.len(), hook.requests().len() + robot.requests().len() + quiet.requests().len(), "{logs}");
    assert!(items.iter().all(|l| l["status"] == "success"), "{logs}");
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("oxmon_alert_events_total{kind=\"fired\"}"), "{metrics}");
    assert!(metrics.contains("oxmon_notifications_total{channel_type=\"webhook\",status=\"success\"}"), "{metrics}");
    s.stop().await;
}

/// The container metrics need nothing special: a threshold rule on
/// `container.memory_working_set` limited by `agent_pattern` fires per
/// container (its labels are the series'), only for matching agents; the
/// latest values and the built-in `metric_name` dictionary list them.
#[tokio::test]
async fn a_rule_on_a_container_metric_fires_per_container_of_matching_agents() {
    use oxmon_common::metric::{CONTAINER_MEMORY_WORKING_SET, CONTAINER_METRICS};
    let s = TestServer::start().await;
    let rule = json!({"name": "pod memory", "rule_type": "threshold", "metric": CONTAINER_MEMORY_WORKING_SET,
        "agent_pattern": "node-*", "severity": "warning", "config_json": {"operator": "gt", "value": 500_000_000}});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    let shop = [("namespace", "shop"), ("pod", "web-7d4b9"), ("container", "nginx")];
    let quiet = [("namespace", "shop"), ("pod", "web-7d4b9"), ("container", "sidecar")];
    let t = now_ms() - 10_000;
    for agent in ["node-1", "build-host"] {
        let points = vec![
            point(CONTAINER_MEMORY_WORKING_SET, &shop, t, 600_000_000.0),
            point(CONTAINER_MEMORY_WORKING_SET, &quiet, t, 20_000_000.0),
        ];
        let reply = s.report(batch(agent, points)).await;
        assert!(reply.success, "{reply:?}");
    }
    eventually("the container alert", async || !s.data("/v1/alerts/history").await.as_array().unwrap().is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let history = s.data("/v1/alerts/history").await;
    let events = history.as_array().unwrap();
    assert_eq!(events.len(), 1, "only node-1's breaching container: {history}");
    assert_eq!(
        (events[0]["agent_id"].as_str(), events[0]["metric_name"].as_str(), events[0]["value"].as_f64()),
        (Some("node-1"), Some(CONTAINER_MEMORY_WORKING_SET), Some(600_000_000.0))
    );
    assert_eq!(events[0]["labels"], json!({"namespace": "shop", "pod": "web-7d4b9", "container": "nginx"}));

    let latest = s.data("/v1/agents/node-1/latest").await;
    let names: Vec<&str> = latest.as_array().unwrap().iter().map(|i| i["metric_name"].as_str().unwrap()).collect();
    assert_eq!(names, [CONTAINER_MEMORY_WORKING_SET; 2], "{latest}");
    let dictionary = s.data("/v1/dictionaries/type/metric_name?limit=100").await;
    let keys: Vec<&str> = dictionary.as_array().unwrap().iter().map(|i| i["dict_key"].as_str().unwrap()).collect();
    assert!(CONTAINER_METRICS.iter().all(|m| keys.contains(m)), "{keys:?}");
}
