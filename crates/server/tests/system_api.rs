//! `/v1/system/*` over a real server.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn runtime_settings_are_seeded_validated_and_drive_the_effective_config() {
    let s = TestServer::start().await;
    let config = s.data("/v1/system/config").await;
    assert_eq!(config["notification_aggregation_window_secs"], 60);
    assert_eq!(config["alert_rules_count"], 9, "the default rules");
    assert_eq!(config["retention_days"], 7);

    let rows = s.data("/v1/system/configs").await;
    let keys: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["config_key"].as_str().unwrap()).collect();
    assert!(
        keys.contains(&"notification_aggregation_window") && keys.contains(&"notification_log_retention"),
        "{keys:?}"
    );
    let window =
        rows.as_array().unwrap().iter().find(|r| r["config_key"] == "notification_aggregation_window").unwrap();
    assert_eq!(window["config_json"], json!({"value": 60}));
    let id = window["id"].as_str().unwrap().to_owned();

    let (status, body) = s
        .call(Method::PUT, &format!("/v1/system/configs/{id}"), Some(json!({"config_json": "{\"value\": 120}"})))
        .await;
    assert_eq!((status, &body["data"]["config_json"]), (200, &json!({"value": 120})), "{body}");
    assert_eq!(s.data("/v1/system/config").await["notification_aggregation_window_secs"], 120);

    let (status, body) =
        s.call(Method::PUT, &format!("/v1/system/configs/{id}"), Some(json!({"config_json": {"value": -5}}))).await;
    assert_eq!(status, 400);
    assert!(body["err_msg"].as_str().unwrap().contains("value must be an integer from 0 to 86400"), "{body}");

    let create = |key: &str, ty: &str, cfg: serde_json::Value| json!({"config_key": key, "config_type": ty, "display_name": "x", "config_json": cfg});
    let cases = [
        (
            create("notification_aggregation_window", "runtime", json!({"value": 5})),
            409,
            "config_key 'notification_aggregation_window' already exists",
        ),
        (
            create("my_key", "runtime", json!({"other": 5})),
            400,
            "my_key: config must be a JSON object with a \"value\"",
        ),
        (create("x", "email", json!({"value": 5})), 400, "config_type must be \"runtime\""),
        (create("notification_log_retention", "runtime", json!("{nope")), 400, "config_json is not valid JSON"),
    ];
    for (body, status, message) in cases {
        let (got, resp) = s.call(Method::POST, "/v1/system/configs", Some(body.clone())).await;
        assert_eq!(got, status, "{body} -> {resp}");
        assert!(resp["err_msg"].as_str().unwrap().contains(message), "{}", resp["err_msg"]);
    }

    let (status, body) = s.call(Method::DELETE, &format!("/v1/system/configs/{id}"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("System config deleted")));
    let (status, body, _) = s.get(&format!("/v1/system/configs/{id}")).await;
    assert_eq!((status, body["err_msg"].as_str()), (404, Some("System config not found")));
    assert_eq!(s.data("/v1/system/config").await["notification_aggregation_window_secs"], 60, "back to the default");

    let (status, body) = s
        .call(
            Method::POST,
            "/v1/system/configs",
            Some(create("notification_aggregation_window", "runtime", json!({"value": 30}))),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn secrets_in_configuration_rows_are_never_returned() {
    let s = TestServer::start().await;
    let m = s.server.state.management.clone();
    let id = tokio::task::spawn_blocking(move || {
        let row = oxmon_storage::management::ConfigRecord {
            id: String::new(),
            config_key: "legacy_mail".into(),
            config_type: "email".into(),
            provider: None,
            display_name: "mail".into(),
            description: None,
            config_json: r#"{"smtp_host":"mail.example.com","smtp_password":"hunter2"}"#.into(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        };
        match m.create_config(row, 1).unwrap() {
            oxmon_storage::management::Write::Done(r) => r.id,
            other => panic!("{other:?}"),
        }
    })
    .await
    .unwrap();
    let row = s.data(&format!("/v1/system/configs/{id}")).await;
    assert_eq!(row["config_json"], json!({"smtp_host": "mail.example.com", "smtp_password": "***"}));
    let (_, list, _) = s.get("/v1/system/configs?limit=100").await;
    assert!(!list.to_string().contains("hunter2"));
    s.stop().await;
}

#[tokio::test]
async fn storage_lists_partitions_and_cleanup_removes_expired_ones() {
    let s = TestServer::start().await;
    assert!(s.report(batch("a", vec![point("m", &[], now_ms(), 1.0)])).await.success);
    // A partition from 30 days ago, written below the API's validation.
    let old = oxmon_storage::Sample {
        timestamp_ms: now_ms() - 30 * 86_400_000,
        agent_id: "a".into(),
        metric_name: "m".into(),
        value: 1.0,
        labels: Default::default(),
    };
    s.server.state.writer.write(vec![old]).await.unwrap();
    let storage = s.data("/v1/system/storage").await;
    assert_eq!(storage["total_partitions"], 2);
    assert!(storage["total_size_bytes"].as_u64().unwrap() > 0);
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    assert_eq!(storage["partitions"][1]["date"], today.as_str(), "oldest first");

    let (status, body) = s.call(Method::POST, "/v1/system/storage/cleanup", None).await;
    assert_eq!((status, &body["data"]["partitions_removed"]), (200, &json!(1)), "{body}");
    assert_eq!(s.data("/v1/system/storage").await["total_partitions"], 1);
    s.stop().await;
}
