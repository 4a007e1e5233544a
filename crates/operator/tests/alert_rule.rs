//! `AlertRule` reconciles against a real oxmon server, with every
//! Kubernetes request asserted: finalizer, create, update, unchanged
//! resync, drift, a spec the server refuses, a server that is down, a rule
//! owned by the REST API, firing alerts, and deletion.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::time::Duration;

use kube::runtime::controller::Action;
use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_common::proto::{MetricBatchProto, MetricDataPointProto};
use oxmon_operator::crd::alert_rule::{AlertRule, AlertRuleSpec};
use oxmon_operator::reconcile;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

fn rule(name: &str, spec: Value) -> AlertRule {
    let spec: AlertRuleSpec = serde_json::from_value(spec).unwrap();
    persisted(AlertRule::new(name, spec), 1, true)
}

fn cpu_rule() -> AlertRule {
    rule(
        "cpu",
        json!({"type": "threshold", "metric": "cpu.usage", "severity": "critical",
               "threshold": {"operator": "gt", "value": 90, "durationSecs": 60}}),
    )
}

/// Reconciles a new rule to Ready and returns it as patched, with its server id.
async fn create(
    s: &TestServer,
    ctx: &std::sync::Arc<reconcile::Context>,
    api: &mut ApiServer,
    obj: &AlertRule,
) -> (AlertRule, String) {
    let task = support::reconcile(obj, ctx);
    let (status, patched) = expect_status_patch(api, obj).await;
    assert_eq!(ready(&status).0, "True", "{status}");
    let id = status["serverId"].as_str().unwrap().to_owned();
    assert_eq!(expect_event(api).await.1, "Created");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    assert_eq!(
        s.data(&format!("/v1/alerts/rules/{id}")).await["name"],
        format!("default/{}", obj.metadata.name.as_deref().unwrap())
    );
    (patched, id)
}

#[tokio::test]
async fn a_new_rule_first_gets_the_finalizer_and_nothing_else() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let mut obj = cpu_rule();
    obj.metadata.finalizers = None;
    let task = support::reconcile(&obj, &ctx);
    expect_finalizer_added(&mut api, &obj).await;
    assert_eq!(finished(task).await.unwrap(), Action::await_change());
    api.assert_idle();
    assert_eq!(
        s.data("/v1/alerts/rules?limit=1000").await.as_array().unwrap().iter().filter(|r| r["source"] == "crd").count(),
        0
    );
    s.stop().await;
}

#[tokio::test]
async fn a_rule_is_created_on_the_server_and_reported_ready() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = cpu_rule();
    let task = support::reconcile(&obj, &ctx);
    let (status, patched) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(ready(&status), ("True".into(), "Synced".into(), "the server object matches the spec".into()));
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!((status["firing"].clone(), status["activeAlerts"].clone()), (json!(false), json!(0)));
    assert_eq!(status["conditions"][0]["observedGeneration"], 1);
    let id = status["serverId"].as_str().unwrap().to_owned();
    let (kind, reason, note) = expect_event(&mut api).await;
    assert_eq!(
        (kind.as_str(), reason.as_str(), note.as_str()),
        ("Normal", "Created", "created default/cpu on the oxmon server")
    );
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));

    let stored = s.data(&format!("/v1/alerts/rules/{id}")).await;
    assert_eq!(
        (&stored["name"], &stored["rule_type"], &stored["metric"], &stored["severity"], &stored["source"]),
        (&json!("default/cpu"), &json!("threshold"), &json!("cpu.usage"), &json!("critical"), &json!("crd"))
    );
    assert_eq!(
        (&stored["agent_pattern"], &stored["enabled"], &stored["silence_secs"]),
        (&json!("*"), &json!(true), &json!(600))
    );
    let config: Value = serde_json::from_str(stored["config_json"].as_str().unwrap()).unwrap();
    assert_eq!(config, json!({"operator": "greater_than", "value": 90.0, "duration_secs": 60}));

    // A resync of the synced object writes nothing: no status patch, no event.
    let task = support::reconcile(&patched, &ctx);
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    api.assert_idle();
    s.stop().await;
}

#[tokio::test]
async fn a_spec_change_updates_the_server_rule() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let (mut obj, id) = create(&s, &ctx, &mut api, &cpu_rule()).await;
    obj.spec.threshold.as_mut().unwrap().value = 75.0;
    obj.spec.agent_pattern = "web-*".into();
    obj.spec.enabled = false;
    obj.metadata.generation = Some(2);

    let task = support::reconcile(&obj, &ctx);
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    assert_eq!((status["observedGeneration"].clone(), status.get("serverId")), (json!(2), Some(&json!(id))));
    assert_eq!(expect_event(&mut api).await.1, "Updated");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    let stored = s.data(&format!("/v1/alerts/rules/{id}")).await;
    assert_eq!((&stored["agent_pattern"], &stored["enabled"]), (&json!("web-*"), &json!(false)));
    assert!(stored["config_json"].as_str().unwrap().contains("\"value\":75.0"), "{stored}");
    s.stop().await;
}

#[tokio::test]
async fn drift_behind_the_operators_back_is_restored_on_resync() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let (obj, id) = create(&s, &ctx, &mut api, &cpu_rule()).await;
    let one = format!("/v1/alerts/rules/{id}");

    // Changed (only the operator token can change it; say a second operator).
    let change =
        json!({"severity": "info", "metric": "memory.used_percent", "config_json": {"operator": "lt", "value": 1}});
    assert_eq!(s.operator(Method::PUT, &one, Some(change)).await.0, 200);
    let task = support::reconcile(&obj, &ctx);
    assert_eq!(expect_event(&mut api).await.1, "Updated");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    let stored = s.data(&one).await;
    assert_eq!((&stored["severity"], &stored["metric"]), (&json!("critical"), &json!("cpu.usage")));
    assert!(stored["config_json"].as_str().unwrap().contains("greater_than"), "{stored}");

    // Deleted: created again, and the new id goes to the status.
    assert_eq!(s.operator(Method::DELETE, &one, None).await.0, 200);
    let task = support::reconcile(&obj, &ctx);
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    let new_id = status["serverId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert_eq!(expect_event(&mut api).await.1, "Created");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    assert_eq!(s.data(&format!("/v1/alerts/rules/{new_id}")).await["name"], "default/cpu");
    s.stop().await;
}

#[tokio::test]
async fn a_lost_server_id_finds_the_rule_by_name() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let (mut obj, id) = create(&s, &ctx, &mut api, &cpu_rule()).await;
    obj.status = None;
    let task = support::reconcile(&obj, &ctx);
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(status["serverId"], json!(id), "the same rule, not a second one");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    api.assert_idle();
    s.stop().await;
}

#[tokio::test]
async fn a_spec_the_server_refuses_is_reported_with_its_message() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = rule(
        "bad-glob",
        json!({"type": "threshold", "metric": "cpu.usage", "agentPattern": "web-[",
               "threshold": {"operator": "gt", "value": 90}}),
    );
    let task = support::reconcile(&obj, &ctx);
    let (status, patched) = expect_status_patch(&mut api, &obj).await;
    let (ready_status, reason, message) = ready(&status);
    assert_eq!((ready_status.as_str(), reason.as_str()), ("False", "Invalid"));
    assert!(message.contains("agent_pattern \"web-[\" is not a valid glob"), "{message}");
    assert_eq!(status.get("serverId"), None);
    let (kind, reason, note) = expect_event(&mut api).await;
    assert_eq!((kind.as_str(), reason.as_str(), note), ("Warning", "Invalid", message));
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC), "no hot retry: the spec must change");

    // Resyncs try again but change nothing while the spec is the same.
    let task = support::reconcile(&patched, &ctx);
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    api.assert_idle();
    assert!(
        s.data("/v1/alerts/rules?limit=1000").await.as_array().unwrap().iter().all(|r| r["name"] != "default/bad-glob")
    );
    s.stop().await;
}

#[tokio::test]
async fn an_unreachable_server_is_reported_and_retried_with_backoff() {
    let (ctx, mut api) = context(&dead_url().await);
    let obj = cpu_rule();
    let task = support::reconcile(&obj, &ctx);
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    let (ready_status, reason, message) = ready(&status);
    assert_eq!((ready_status.as_str(), reason.as_str()), ("False", "ServerUnavailable"));
    assert!(message.starts_with("oxmon server unavailable:"), "{message}");
    assert_eq!(expect_event(&mut api).await.1, "ServerUnavailable");
    let error = finished(task).await.unwrap_err();
    assert!(error.to_string().contains("oxmon server unavailable"), "{error}");

    let obj = std::sync::Arc::new(obj);
    let delays: Vec<Action> = (0..3).map(|_| reconcile::error_policy(obj.clone(), &error, ctx.clone())).collect();
    assert_eq!(delays, [1, 2, 4].map(|s| Action::requeue(Duration::from_secs(s))), "exponential backoff per object");
}

#[tokio::test]
async fn a_rule_created_through_the_rest_api_is_a_conflict_and_left_alone() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let (status, body) = s
        .admin(
            Method::POST,
            "/v1/alerts/rules",
            Some(json!({"name": "default/cpu", "rule_type": "threshold", "metric": "disk.used_percent",
                        "config_json": {"operator": "gt", "value": 50}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let user_id = body["data"]["id"].as_str().unwrap().to_owned();

    let obj = cpu_rule();
    let task = support::reconcile(&obj, &ctx);
    let (status, patched) = expect_status_patch(&mut api, &obj).await;
    let (ready_status, reason, message) = ready(&status);
    assert_eq!((ready_status.as_str(), reason.as_str()), ("False", "Conflict"));
    assert!(message.contains("was created through the REST API; the operator leaves it alone"), "{message}");
    assert_eq!(expect_event(&mut api).await.1, "Conflict");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));

    // Deleting the custom resource leaves the user's rule too.
    let gone = deleting(patched);
    let task = support::reconcile(&gone, &ctx);
    let (_, _, note) = expect_event(&mut api).await;
    assert!(note.contains("created through the REST API; left alone"), "{note}");
    expect_finalizer_removed(&mut api, &gone).await;
    assert_eq!(finished(task).await.unwrap(), Action::await_change());
    let stored = s.data(&format!("/v1/alerts/rules/{user_id}")).await;
    assert_eq!((&stored["metric"], &stored["source"]), (&json!("disk.used_percent"), &json!("api")));
    s.stop().await;
}

#[tokio::test]
async fn deleting_the_resource_deletes_the_server_rule_then_the_finalizer() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let (obj, id) = create(&s, &ctx, &mut api, &cpu_rule()).await;
    let gone = deleting(obj);
    let task = support::reconcile(&gone, &ctx);
    let (kind, reason, note) = expect_event(&mut api).await;
    assert_eq!(
        (kind.as_str(), reason.as_str(), note.as_str()),
        ("Normal", "Deleted", "deleted default/cpu from the oxmon server")
    );
    expect_finalizer_removed(&mut api, &gone).await;
    assert_eq!(finished(task).await.unwrap(), Action::await_change());
    let (status, _) = s.admin(Method::GET, &format!("/v1/alerts/rules/{id}"), None).await;
    assert_eq!(status, 404);

    // Deleting again (the server object already gone) still lets the resource go.
    let task = support::reconcile(&gone, &ctx);
    assert_eq!(expect_event(&mut api).await.1, "Deleted");
    expect_finalizer_removed(&mut api, &gone).await;
    assert_eq!(finished(task).await.unwrap(), Action::await_change());
    s.stop().await;
}

#[tokio::test]
async fn deleting_while_the_server_is_down_keeps_the_finalizer() {
    let (ctx, mut api) = context(&dead_url().await);
    let gone = deleting(cpu_rule());
    let task = support::reconcile(&gone, &ctx);
    let error = finished(task).await.unwrap_err();
    assert!(error.to_string().contains("oxmon server unavailable"), "{error}");
    api.assert_idle();
}

#[tokio::test]
async fn a_changed_type_replaces_the_server_rule() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let (mut obj, id) = create(&s, &ctx, &mut api, &cpu_rule()).await;
    obj.spec = serde_json::from_value(json!({"type": "rate_of_change", "metric": "cpu.usage",
                                              "rateOfChange": {"rateThreshold": 20}}))
    .unwrap();
    obj.metadata.generation = Some(2);
    let task = support::reconcile(&obj, &ctx);
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    let new_id = status["serverId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert_eq!(expect_event(&mut api).await.1, "Created");
    finished(task).await.unwrap();
    assert_eq!(s.data(&format!("/v1/alerts/rules/{new_id}")).await["rule_type"], "rate_of_change");
    assert_eq!(s.admin(Method::GET, &format!("/v1/alerts/rules/{id}"), None).await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn firing_alerts_show_in_the_status() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = rule(
        "cpu-now",
        json!({"type": "threshold", "metric": "cpu.usage", "threshold": {"operator": "gt", "value": 90}}),
    );
    let (obj, id) = create(&s, &ctx, &mut api, &obj).await;
    assert_eq!(obj.status.as_ref().unwrap().firing, Some(false));

    let endpoint = format!("http://{}", s.server.grpc_addr);
    let channel = tonic::transport::Channel::from_shared(endpoint).unwrap().connect().await.unwrap();
    let mut grpc = MetricServiceClient::new(channel);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let point = MetricDataPointProto {
        timestamp_ms: now,
        agent_id: String::new(),
        metric_name: "cpu.usage".into(),
        value: 97.0,
        labels: Default::default(),
    };
    let batch = MetricBatchProto { agent_id: "web-1".into(), timestamp_ms: now, data_points: vec![point] };
    grpc.report_metrics(batch).await.unwrap();
    let mut fired = false;
    for _ in 0..200 {
        let active = s.data("/v1/alerts/active").await;
        if active.as_array().unwrap().iter().any(|a| a["rule_id"] == json!(id)) {
            fired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(fired, "the rule fired");

    let task = support::reconcile(&obj, &ctx);
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    assert_eq!((status["firing"].clone(), status["activeAlerts"].clone()), (json!(true), json!(1)));
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    api.assert_idle();
    s.stop().await;
}
