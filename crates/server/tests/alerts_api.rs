//! `/v1/alerts` (events) over a real server. Events are inserted through
//! storage, as the alert engine writes them.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use oxmon_storage::management::{AlertEvent, STATUS_OPEN, STATUS_RESOLVED};
use reqwest::Method;
use serde_json::json;
use support::*;

fn event(rule: &str, agent: &str, severity: &str, ts: i64, status: i64) -> AlertEvent {
    AlertEvent {
        id: String::new(),
        rule_id: rule.into(),
        rule_name: format!("rule {rule}"),
        agent_id: agent.into(),
        metric_name: "disk.used_percent".into(),
        severity: severity.into(),
        message: "disk.used_percent [mount=/] has been above 90.0".into(),
        value: 93.5,
        threshold: 90.0,
        timestamp_ms: ts,
        predicted_breach_ms: None,
        status,
        labels: r#"{"mount":"/"}"#.into(),
        first_triggered_at_ms: Some(ts - 60_000),
        created_at: 0,
        updated_at: 0,
    }
}

async fn insert(s: &TestServer, events: Vec<AlertEvent>) -> Vec<String> {
    let m = s.server.state.management.clone();
    tokio::task::spawn_blocking(move || m.insert_alert_events(events, 1).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[tokio::test]
async fn alert_events_can_be_listed_acknowledged_resolved_and_summarised() {
    let s = TestServer::start().await;
    let now = now_ms();
    let ids = insert(
        &s,
        vec![
            event("r1", "web-1", "critical", now - 3_000, STATUS_OPEN),
            event("r1", "web-2", "warning", now - 2_000, STATUS_OPEN),
            event("r2", "web-1", "critical", now - 1_000, STATUS_RESOLVED),
            event("r2", "web-3", "critical", now - 3 * 86_400_000, STATUS_OPEN),
        ],
    )
    .await;

    let history = s.data("/v1/alerts/history").await;
    assert_eq!(history.as_array().unwrap().len(), 3, "default: the last day");
    assert_eq!(history[0]["status"], 3, "recoveries are stored as resolved");
    assert_eq!(history[0]["labels"], json!({"mount": "/"}));
    let crit = s.data("/v1/alerts/history?agent_id__eq=web-1&severity__eq=CRITICAL").await;
    assert_eq!(crit.as_array().unwrap().len(), 2);
    assert_eq!(s.data("/v1/alerts/history?limit=1&offset=1").await[0]["agent_id"], "web-2");

    let active = s.data("/v1/alerts/active").await;
    assert_eq!(active.as_array().unwrap().len(), 3, "open ones of the last 7 days");
    assert!(active[0]["first_triggered_at"].as_str().is_some());

    let (status, body) = s.call(Method::POST, &format!("/v1/alerts/history/{}/acknowledge", ids[0]), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Alert acknowledged")));
    let (status, body) = s.call(Method::POST, &format!("/v1/alerts/history/{}/acknowledge", ids[2]), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (409, Some("the alert is already resolved")));
    let (status, body) = s.call(Method::POST, &format!("/v1/alerts/history/{}/resolve", ids[0]), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Alert resolved")));
    let (status, body) = s.call(Method::POST, "/v1/alerts/history/nope/resolve", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (404, Some("Alert not found")));
    assert_eq!(s.data("/v1/alerts/active").await.as_array().unwrap().len(), 2);

    let summary = s.data("/v1/alerts/summary").await;
    assert_eq!(summary["total"], 3);
    assert_eq!((summary["active_count"].as_i64(), summary["recovered_count"].as_i64()), (Some(1), Some(2)));
    assert_eq!(summary["by_agent"], json!({"web-1": 2, "web-2": 1}));
    assert_eq!(s.data("/v1/alerts/summary?hours=100").await["total"], 4);
    let (status, body, _) = s.get("/v1/alerts/summary?hours=0").await;
    assert_eq!((status, body["err_msg"].as_str()), (400, Some("hours must be an integer from 1 to 8760, got \"0\"")));
    let (status, _, _) = s.get("/v1/alerts/history?severity__eq=fatal").await;
    assert_eq!(status, 400);

    // A recovery closes the open events of its own series (rule, agent,
    // labels), and only those.
    let later = insert(
        &s,
        vec![
            event("r2", "web-3", "critical", now - 500, STATUS_OPEN),
            event("r1", "web-2", "warning", now - 400, STATUS_RESOLVED),
        ],
    )
    .await;
    let active: Vec<String> = s
        .data("/v1/alerts/active")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(active, [later[0].clone(), ids[3].clone()], "web-2's warning recovered");
    s.stop().await;
}
