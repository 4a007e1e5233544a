//! `SilenceWindow` reconciles against a real oxmon server: create, update,
//! drift, a time zone the server does not know, a user's window of the
//! same name, and deletion.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use kube::runtime::controller::Action;
use oxmon_operator::crd::silence_window::{SilenceWindow, SilenceWindowSpec};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const WINDOWS: &str = "/v1/notifications/silence-windows";

fn window(name: &str, spec: Value) -> SilenceWindow {
    let spec: SilenceWindowSpec = serde_json::from_value(spec).unwrap();
    persisted(SilenceWindow::new(name, spec), 1, true)
}

async fn stored(s: &TestServer, id: &str) -> Option<Value> {
    s.data(&format!("{WINDOWS}?limit=1000")).await.as_array().unwrap().iter().find(|w| w["id"] == id).cloned()
}

#[tokio::test]
async fn a_window_is_created_updated_restored_and_deleted() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    // A user's window with the same name is neither matched nor touched.
    let user = json!({"name": "default/night", "start_time": "12:00", "end_time": "13:00"});
    let (code, body) = s.admin(Method::POST, WINDOWS, Some(user)).await;
    assert_eq!(code, 201, "{body}");
    let user_id = body["data"]["id"].as_str().unwrap().to_owned();

    let obj = window("night", json!({"startTime": "22:00", "endTime": "06:00", "recurrence": "weekdays"}));
    let task = support::reconcile(&obj, &ctx);
    let (status, mut obj) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(ready(&status).0, "True");
    let id = status["serverId"].as_str().unwrap().to_owned();
    assert_ne!(id, user_id);
    assert_eq!(expect_event(&mut api).await.1, "Created");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    let w = stored(&s, &id).await.unwrap();
    assert_eq!(
        (&w["name"], &w["start_time"], &w["end_time"], &w["recurrence"], &w["timezone"], &w["source"]),
        (&json!("default/night"), &json!("22:00"), &json!("06:00"), &json!("weekdays"), &json!("UTC"), &json!("crd"))
    );

    // Unchanged: nothing written.
    let task = support::reconcile(&obj, &ctx);
    finished(task).await.unwrap();
    api.assert_idle();

    // The spec changes: recurrence cleared, time zone set.
    obj.spec.recurrence = None;
    obj.spec.timezone = "Asia/Tokyo".into();
    obj.metadata.generation = Some(2);
    let task = support::reconcile(&obj, &ctx);
    let (status, obj) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(status["observedGeneration"], 2);
    assert_eq!(expect_event(&mut api).await.1, "Updated");
    finished(task).await.unwrap();
    let w = stored(&s, &id).await.unwrap();
    assert_eq!((&w["recurrence"], &w["timezone"]), (&Value::Null, &json!("Asia/Tokyo")));

    // Changed behind the operator's back: restored.
    let (code, _) = s.operator(Method::PUT, &format!("{WINDOWS}/{id}"), Some(json!({"end_time": "09:00"}))).await;
    assert_eq!(code, 200);
    let task = support::reconcile(&obj, &ctx);
    assert_eq!(expect_event(&mut api).await.1, "Updated");
    finished(task).await.unwrap();
    assert_eq!(stored(&s, &id).await.unwrap()["end_time"], "06:00");

    // Deleted behind its back: created again under a new id.
    assert_eq!(s.operator(Method::DELETE, &format!("{WINDOWS}/{id}"), None).await.0, 200);
    let task = support::reconcile(&obj, &ctx);
    let (status, obj) = expect_status_patch(&mut api, &obj).await;
    let new_id = status["serverId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert_eq!(expect_event(&mut api).await.1, "Created");
    finished(task).await.unwrap();

    // Deleted with the custom resource; the user's window stays.
    let gone = deleting(obj);
    let task = support::reconcile(&gone, &ctx);
    assert_eq!(expect_event(&mut api).await.1, "Deleted");
    expect_finalizer_removed(&mut api, &gone).await;
    assert_eq!(finished(task).await.unwrap(), Action::await_change());
    assert!(stored(&s, &new_id).await.is_none());
    assert_eq!(stored(&s, &user_id).await.unwrap()["start_time"], "12:00");
    s.stop().await;
}

#[tokio::test]
async fn an_unknown_time_zone_is_reported_with_the_servers_message() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = window("mars", json!({"startTime": "01:00", "endTime": "02:00", "timezone": "Mars/Base"}));
    let task = support::reconcile(&obj, &ctx);
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    let (ready_status, reason, message) = ready(&status);
    assert_eq!((ready_status.as_str(), reason.as_str()), ("False", "Invalid"));
    assert!(message.contains("timezone \"Mars/Base\" is not a known IANA time zone"), "{message}");
    assert_eq!(expect_event(&mut api).await.1, "Invalid");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    assert_eq!(s.data(WINDOWS).await, json!([]));
    s.stop().await;
}
