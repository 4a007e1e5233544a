//! The operator's static token (`[auth] operator_token`): objects it
//! creates belong to custom resources (`source = crd`); users cannot change
//! them, and the operator cannot change anything users made.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const OPERATOR: &str = "operator-token-0123456789";

async fn server() -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = support::config(tmp.path());
    config.auth.operator_token = Some(OPERATOR.into());
    (TestServer::start_with(config).await, tmp)
}

async fn as_operator(s: &TestServer, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, body, _) = s.call_as(Some(OPERATOR), method, path, body).await;
    (status, body)
}

#[tokio::test]
async fn operator_objects_are_marked_crd_and_owned_by_the_operator_only() {
    let (s, _tmp) = server().await;
    let kinds = [
        (
            "/v1/alerts/rules",
            json!({"name": "default/cpu", "rule_type": "threshold", "metric": "cpu.usage",
                   "config_json": {"operator": "gt", "value": 90}}),
            json!({"severity": "critical"}),
            "AlertRule",
        ),
        (
            "/v1/notifications/channels/config",
            json!({"name": "default/hook", "channel_type": "webhook", "recipients": ["http://127.0.0.1:9/x"]}),
            json!({"min_severity": "critical"}),
            "NotificationChannel",
        ),
        (
            "/v1/notifications/silence-windows",
            json!({"name": "default/night", "start_time": "01:00", "end_time": "02:00"}),
            json!({"end_time": "03:00"}),
            "SilenceWindow",
        ),
    ];
    for (path, create, change, kind) in kinds {
        let (status, body) = as_operator(&s, Method::POST, path, Some(create.clone())).await;
        assert_eq!(status, 201, "{path}: {body}");
        assert_eq!(body["data"]["source"], "crd", "{path}");
        let id = body["data"]["id"].as_str().unwrap().to_owned();
        let one = format!("{path}/{id}");

        // Users: 409 naming the custom resource kind, for every change.
        for (method, b) in [(Method::PUT, Some(change.clone())), (Method::DELETE, None)] {
            let (status, body) = s.call(method.clone(), &one, b).await;
            assert_eq!(status, 409, "{method} {one}: {body}");
            let msg = body["err_msg"].as_str().unwrap();
            assert!(msg.contains(&format!("managed by a Kubernetes {kind} custom resource")), "{msg}");
        }
        // The operator changes and deletes its own objects.
        let (status, body) = as_operator(&s, Method::PUT, &one, Some(change)).await;
        assert_eq!(status, 200, "{one}: {body}");
        let (status, body) = as_operator(&s, Method::DELETE, &one, None).await;
        assert_eq!(status, 200, "{one}: {body}");

        // ...but never what a user created.
        let (status, body) = s.call(Method::POST, path, Some(create)).await;
        assert_eq!((status, body["data"]["source"].as_str()), (201, Some("api")), "{path}: {body}");
        let user_id = body["data"]["id"].as_str().unwrap().to_owned();
        let (status, body) = as_operator(&s, Method::DELETE, &format!("{path}/{user_id}"), None).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["err_msg"].as_str().unwrap().contains("created through the REST API"), "{body}");
    }
    // The operator token reads like any token, and has no password.
    let (status, _) = as_operator(&s, Method::GET, "/v1/agents", None).await;
    assert_eq!(status, 200);
    let (status, body) = as_operator(
        &s,
        Method::POST,
        "/v1/auth/password",
        Some(json!({"current_password": "a", "new_password": "bbbbbbbbbb"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A near miss is just an invalid token.
    let (status, body, _) = s.call_as(Some("operator-token-012345678"), Method::GET, "/v1/agents", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("invalid token")));
    s.stop().await;
}

#[tokio::test]
async fn silence_windows_can_be_changed_with_validation() {
    let s = TestServer::start().await;
    let path = "/v1/notifications/silence-windows";
    let (status, body) =
        s.call(Method::POST, path, Some(json!({"start_time": "01:00", "end_time": "02:00", "name": "n"}))).await;
    assert_eq!(status, 201, "{body}");
    let one = format!("{path}/{}", body["data"]["id"].as_str().unwrap());
    let (status, body) = s
        .call(Method::PUT, &one, Some(json!({"end_time": "04:30", "timezone": "Asia/Tokyo", "recurrence": "Weekdays"})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["data"]["end_time"].as_str(), body["data"]["timezone"].as_str(), body["data"]["recurrence"].as_str()),
        (Some("04:30"), Some("Asia/Tokyo"), Some("weekdays"))
    );
    let (status, body) = s.call(Method::PUT, &one, Some(json!({"recurrence": null, "name": null}))).await;
    assert_eq!(
        (status, body["data"]["recurrence"].clone(), body["data"]["name"].clone()),
        (200, Value::Null, Value::Null)
    );
    for (bad, message) in [
        (json!({"start_time": "25:00"}), "start_time must be a time of day"),
        (json!({"timezone": "Mars/Base"}), "not a known IANA time zone"),
    ] {
        let (status, body) = s.call(Method::PUT, &one, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["err_msg"].as_str().unwrap().contains(message), "{bad}: {body}");
    }
    assert_eq!(s.data(path).await[0]["end_time"], "04:30", "a refused change stores nothing");
    let (status, body) = s.call(Method::PUT, &format!("{path}/missing"), Some(json!({}))).await;
    assert_eq!((status, body["err_msg"].as_str()), (404, Some("Silence window not found")));
    s.stop().await;
}
