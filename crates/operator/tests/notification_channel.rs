//! `NotificationChannel` reconciles against a real oxmon server: secrets
//! come from Kubernetes Secrets (and reach the channel: a test send carries
//! them), a changed Secret is written again, a missing one is reported,
//! redacted configs compare as unchanged, and drift, refusals and deletion
//! behave as for every kind.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use kube::runtime::controller::Action;
use oxmon_operator::crd::notification_channel::{NotificationChannel, NotificationChannelSpec};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

fn channel(name: &str, spec: Value) -> NotificationChannel {
    let spec: NotificationChannelSpec = serde_json::from_value(spec).unwrap();
    persisted(NotificationChannel::new(name, spec), 1, true)
}

fn hook(url: &str) -> NotificationChannel {
    channel(
        "hook",
        json!({"type": "webhook", "minSeverity": "warning", "recipients": [url],
               "webhook": {"headers": {"X-Team": "ops"},
                           "headerSecretRefs": {"Authorization": {"name": "hook-auth", "key": "token"}}}}),
    )
}

/// Sends the server's test alert through channel `id`.
async fn test_send(s: &TestServer, id: &str) {
    let (status, body) = s.admin(Method::POST, &format!("/v1/notifications/channels/{id}/test"), None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn secrets_come_from_kubernetes_and_a_changed_secret_is_written_again() {
    let s = TestServer::start().await;
    let receiver = Receiver::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = hook(&receiver.url);

    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "hook-auth", Some(secret("hook-auth", "7", &[("token", "Bearer s3cret\n")]))).await;
    let (status, obj) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(ready(&status).0, "True", "{status}");
    assert_eq!(status["secretVersions"], json!({"hook-auth/token": "7"}));
    let id = status["serverId"].as_str().unwrap().to_owned();
    assert_eq!(expect_event(&mut api).await.1, "Created");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));

    let row = s.data(&format!("/v1/notifications/channels/config/{id}")).await;
    assert_eq!(
        (&row["name"], &row["channel_type"], &row["min_severity"], &row["source"]),
        (&json!("default/hook"), &json!("webhook"), &json!("warning"), &json!("crd"))
    );
    assert!(!row["config_json"].as_str().unwrap().contains("s3cret"), "the server redacts it: {row}");
    assert_eq!(s.data(&format!("/v1/notifications/channels/{id}")).await["recipients"], json!([receiver.url]));
    test_send(&s, &id).await;
    assert_eq!(receiver.header_values("authorization"), ["Bearer s3cret"], "the trailing newline is dropped");
    assert_eq!(receiver.header_values("x-team"), ["ops"]);

    // The same Secret version: nothing is written, though the config shows only `***`.
    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "hook-auth", Some(secret("hook-auth", "7", &[("token", "Bearer s3cret")]))).await;
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    api.assert_idle();

    // A new version of the Secret is written to the server.
    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "hook-auth", Some(secret("hook-auth", "8", &[("token", "Bearer n3w")]))).await;
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(status["secretVersions"], json!({"hook-auth/token": "8"}));
    assert_eq!(expect_event(&mut api).await.1, "Updated");
    finished(task).await.unwrap();
    test_send(&s, &id).await;
    assert_eq!(receiver.header_values("authorization"), ["Bearer s3cret", "Bearer n3w"]);
    s.stop().await;
}

#[tokio::test]
async fn a_missing_secret_or_key_is_reported_and_nothing_is_written() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = hook("http://127.0.0.1:9/hook");

    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "hook-auth", None).await;
    let (status, obj) = expect_status_patch(&mut api, &obj).await;
    let (ready_status, reason, message) = ready(&status);
    assert_eq!((ready_status.as_str(), reason.as_str()), ("False", "SecretNotFound"));
    assert_eq!(
        message,
        "webhook.headerSecretRefs.Authorization: Secret \"hook-auth\" not found in namespace \"default\""
    );
    assert_eq!(expect_event(&mut api).await.1, "SecretNotFound");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC), "the Secret's arrival triggers the next try");

    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "hook-auth", Some(secret("hook-auth", "1", &[("other", "x")]))).await;
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(ready(&status).2, "webhook.headerSecretRefs.Authorization: Secret \"hook-auth\" has no key \"token\"");
    assert_eq!(expect_event(&mut api).await.1, "SecretNotFound");
    finished(task).await.unwrap();
    assert_eq!(s.data("/v1/notifications/channels/config").await, json!([]));
    s.stop().await;
}

#[tokio::test]
async fn a_config_the_server_refuses_is_reported_with_its_message() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = channel(
        "mail",
        json!({"type": "email", "recipients": ["ops@example.com"],
               "email": {"smtpHost": "smtp.example.com", "smtpPort": 587, "fromEmail": "not an address",
                         "smtpUsername": "alerts", "smtpPasswordSecretRef": {"name": "smtp", "key": "password"}}}),
    );
    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "smtp", Some(secret("smtp", "3", &[("password", "pw")]))).await;
    let (status, _) = expect_status_patch(&mut api, &obj).await;
    let (ready_status, reason, message) = ready(&status);
    assert_eq!((ready_status.as_str(), reason.as_str()), ("False", "Invalid"));
    assert!(message.contains("from_email must be an e-mail address"), "{message}");
    assert!(!message.contains("pw\""), "{message}");
    assert_eq!(status.get("secretVersions"), None, "nothing was written");
    assert_eq!(expect_event(&mut api).await.1, "Invalid");
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    s.stop().await;
}

#[tokio::test]
async fn robot_urls_and_signing_secrets_from_secrets_compare_as_unchanged() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = channel(
        "robot",
        json!({"type": "dingtalk", "minSeverity": "critical",
               "dingtalk": {"webhookUrlSecretRef": {"name": "robot", "key": "url"},
                            "secretRef": {"name": "robot", "key": "sign"}, "atMobiles": ["13800138000"]}}),
    );
    let robot =
        secret("robot", "5", &[("url", "https://oapi.dingtalk.com/robot/send?access_token=t0ken"), ("sign", "SECabc")]);
    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "robot", Some(robot.clone())).await;
    let (status, obj) = expect_status_patch(&mut api, &obj).await;
    assert_eq!(status["secretVersions"], json!({"robot/sign": "5", "robot/url": "5"}));
    let id = status["serverId"].as_str().unwrap().to_owned();
    assert_eq!(expect_event(&mut api).await.1, "Created");
    finished(task).await.unwrap();
    let shown =
        s.data(&format!("/v1/notifications/channels/config/{id}")).await["config_json"].as_str().unwrap().to_owned();
    assert!(!shown.contains("t0ken") && !shown.contains("SECabc"), "{shown}");

    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "robot", Some(robot)).await;
    assert_eq!(finished(task).await.unwrap(), Action::requeue(RESYNC));
    api.assert_idle();
    s.stop().await;
}

#[tokio::test]
async fn drift_is_restored_and_deletion_removes_the_channel() {
    let s = TestServer::start().await;
    let (ctx, mut api) = context(&s.url());
    let obj = channel(
        "sms",
        json!({"type": "sms", "description": "on-call", "recipients": ["+15550100", " +15550100 ", "+15550101"],
               "sms": {"generic": {"gatewayUrl": "https://sms.example.com/send",
                                   "apiKeySecretRef": {"name": "sms", "key": "apiKey"}}}}),
    );
    let sms = secret("sms", "1", &[("apiKey", "k3y")]);
    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "sms", Some(sms.clone())).await;
    let (status, obj) = expect_status_patch(&mut api, &obj).await;
    let id = status["serverId"].as_str().unwrap().to_owned();
    assert_eq!(expect_event(&mut api).await.1, "Created");
    finished(task).await.unwrap();
    let one = format!("/v1/notifications/channels/{id}");
    assert_eq!(s.data(&one).await["recipients"], json!(["+15550100", "+15550101"]));

    // Changed behind the operator's back: restored.
    let change = json!({"min_severity": "critical", "description": "", "recipients": ["+15550199"],
                        "config_json": {"provider": "generic", "gateway_url": "https://evil.example/send", "api_key": "***"}});
    let (code, body) = s.operator(Method::PUT, &format!("/v1/notifications/channels/config/{id}"), Some(change)).await;
    assert_eq!(code, 200, "{body}");
    let task = support::reconcile(&obj, &ctx);
    expect_secret_read(&mut api, "sms", Some(sms.clone())).await;
    assert_eq!(expect_event(&mut api).await.1, "Updated");
    finished(task).await.unwrap();
    let restored = s.data(&one).await;
    assert_eq!((&restored["min_severity"], &restored["description"]), (&json!("info"), &json!("on-call")));
    assert_eq!(restored["recipients"], json!(["+15550100", "+15550101"]));
    let row = s.data(&format!("/v1/notifications/channels/config/{id}")).await;
    assert!(row["config_json"].as_str().unwrap().contains("sms.example.com"), "{row}");

    // Deleted with the custom resource.
    let gone = deleting(obj);
    let task = support::reconcile(&gone, &ctx);
    assert_eq!(expect_event(&mut api).await.1, "Deleted");
    expect_finalizer_removed(&mut api, &gone).await;
    assert_eq!(finished(task).await.unwrap(), Action::await_change());
    assert_eq!(s.admin(Method::GET, &one, None).await.0, 404);
    s.stop().await;
}
