//! `/v1/alerts/rules` over a real server.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

fn cpu_rule() -> Value {
    // An oxmon 0.1 client's body: config_json is a string.
    json!({
        "name": "CPU hot",
        "rule_type": "threshold",
        "metric": "cpu.usage",
        "severity": "critical",
        "config_json": "{\"operator\":\"greater_than\",\"value\":90.0,\"duration_secs\":60}",
        "silence_secs": 300
    })
}

#[tokio::test]
async fn rules_can_be_created_read_changed_enabled_and_deleted() {
    let s = TestServer::start().await;
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(cpu_rule())).await;
    assert_eq!(status, 201, "{body}");
    let rule = &body["data"];
    let id = rule["id"].as_str().unwrap().to_owned();
    assert_eq!(rule["source"], "api");
    assert_eq!(rule["agent_pattern"], "*");
    assert_eq!(rule["enabled"], true);
    assert_eq!(rule["config_json"], "{\"operator\":\"greater_than\",\"value\":90.0,\"duration_secs\":60}");

    // A config object is accepted too, and cert rules need no metric.
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/alerts/rules",
            Some(json!({"name": "certs", "rule_type": "cert_expiration", "config_json": {"warning_days": 20}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["metric"], "certificate.days_until_expiry");
    assert_eq!(body["data"]["severity"], "info");

    let list = s.data("/v1/alerts/rules").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names[..2], ["certs", "CPU hot"], "newest first");
    assert_eq!(s.data("/v1/alerts/rules?limit=1&offset=1").await[0]["name"], "CPU hot");

    let detail = s.data(&format!("/v1/alerts/rules/{id}")).await;
    assert_eq!(detail["silence_secs"], 300);

    let (status, body) = s
        .call(
            Method::PUT,
            &format!("/v1/alerts/rules/{id}"),
            Some(json!({"severity": "WARNING", "agent_pattern": "web-*"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["data"]["severity"].as_str(), body["data"]["agent_pattern"].as_str()),
        (Some("warning"), Some("web-*"))
    );
    assert_eq!(body["data"]["name"], "CPU hot", "untouched fields stay");

    // A fetched rule can be sent back as is.
    let (status, body) = s.call(Method::PUT, &format!("/v1/alerts/rules/{id}"), Some(body["data"].clone())).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) =
        s.call(Method::PUT, &format!("/v1/alerts/rules/{id}/enable"), Some(json!({"enabled": false}))).await;
    assert_eq!((status, &body["data"]["enabled"]), (200, &json!(false)));

    let (status, body) = s.call(Method::DELETE, &format!("/v1/alerts/rules/{id}"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Rule deleted")));
    let (status, body, _) = s.get(&format!("/v1/alerts/rules/{id}")).await;
    assert_eq!(
        (status, body["err_code"].as_i64(), body["err_msg"].as_str()),
        (404, Some(1004), Some("Rule not found"))
    );
    s.stop().await;
}

#[tokio::test]
async fn invalid_rules_are_refused_with_the_reason_and_change_nothing() {
    let s = TestServer::start().await;
    let (_, body) = s.call(Method::POST, "/v1/alerts/rules", Some(cpu_rule())).await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let before = s.data(&format!("/v1/alerts/rules/{id}")).await;

    let with = |patch: Value| {
        let mut r = cpu_rule();
        r["name"] = json!("other");
        r.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        r
    };
    let creates = [
        (
            with(json!({"rule_type": "treshold"})),
            "rule_type must be one of threshold, rate_of_change, trend_prediction, cert_expiration, got \"treshold\"",
        ),
        (with(json!({"config_json": "{\"value\": 90}"})), "invalid threshold config: missing field `operator`"),
        (with(json!({"config_json": "{"})), "config_json is not valid JSON"),
        (with(json!({"config_json": 5})), "config_json must be a JSON object or a string holding one"),
        (with(json!({"severity": "fatal"})), "severity must be info, warning or critical, got \"fatal\""),
        (with(json!({"agent_pattern": "web-["})), "agent_pattern \"web-[\" is not a valid glob"),
        (with(json!({"metric": ""})), "metric is required"),
        (with(json!({"name": "  "})), "name is required"),
        (with(json!({"silence_secs": -1})), "silence_secs must be between 0 and 2592000"),
    ];
    for (body, message) in creates {
        let (status, resp) = s.call(Method::POST, "/v1/alerts/rules", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {resp}");
        assert!(resp["err_msg"].as_str().unwrap().contains(message), "{body}: {}", resp["err_msg"]);
    }
    let (status, resp) = s.call(Method::POST, "/v1/alerts/rules", Some(cpu_rule())).await;
    assert_eq!(
        (status, resp["err_code"].as_i64(), resp["err_msg"].as_str()),
        (409, Some(1005), Some("Rule name already exists"))
    );

    let (_, other) = s.call(Method::POST, "/v1/alerts/rules", Some(with(json!({})))).await;
    let other_id = other["data"]["id"].as_str().unwrap().to_owned();
    let updates = [
        (json!({"name": "CPU hot"}), 409, "Rule name already exists"),
        (json!({"rule_type": "rate_of_change"}), 400, "rule_type cannot be changed (the rule is a threshold)"),
        (json!({"config_json": "{\"operator\":\"eq\",\"value\":1}"}), 400, "unknown variant `eq`"),
        (json!({"enabled": "yes"}), 400, "invalid request body"),
    ];
    for (body, status, message) in updates {
        let (got, resp) = s.call(Method::PUT, &format!("/v1/alerts/rules/{other_id}"), Some(body.clone())).await;
        assert_eq!(got, status, "{body} -> {resp}");
        assert!(resp["err_msg"].as_str().unwrap().contains(message), "{body}: {}", resp["err_msg"]);
    }
    for (m, path) in [
        (Method::PUT, "/v1/alerts/rules/missing"),
        (Method::PUT, "/v1/alerts/rules/missing/enable"),
        (Method::DELETE, "/v1/alerts/rules/missing"),
    ] {
        let (status, resp) = s.call(m.clone(), path, Some(json!({"enabled": true}))).await;
        assert_eq!((status, resp["err_msg"].as_str()), (404, Some("Rule not found")), "{m} {path}");
    }
    assert_eq!(s.data(&format!("/v1/alerts/rules/{id}")).await, before, "rejected writes changed nothing");
    s.stop().await;
}

#[tokio::test]
async fn rules_owned_by_a_custom_resource_cannot_be_changed_here() {
    let s = TestServer::start().await;
    let m = s.server.state.management.clone();
    let rule = tokio::task::spawn_blocking(move || {
        let rule = oxmon_storage::management::RuleRecord {
            id: String::new(),
            name: "from-k8s".into(),
            rule_type: "threshold".into(),
            metric: "cpu.usage".into(),
            agent_pattern: "*".into(),
            severity: "warning".into(),
            enabled: true,
            config_json: r#"{"operator":"gt","value":80}"#.into(),
            silence_secs: 600,
            source: "crd".into(),
            created_at: 0,
            updated_at: 0,
        };
        match m.create_rule(rule, 1).unwrap() {
            oxmon_storage::management::Write::Done(r) => r,
            other => panic!("{other:?}"),
        }
    })
    .await
    .unwrap();
    let message = "rule 'from-k8s' is managed by a Kubernetes AlertRule custom resource; change it there";
    for (m, path, body) in [
        (Method::PUT, format!("/v1/alerts/rules/{}", rule.id), Some(json!({"severity": "info"}))),
        (Method::PUT, format!("/v1/alerts/rules/{}/enable", rule.id), Some(json!({"enabled": false}))),
        (Method::DELETE, format!("/v1/alerts/rules/{}", rule.id), None),
    ] {
        let (status, resp) = s.call(m.clone(), &path, body).await;
        assert_eq!(
            (status, resp["err_code"].as_i64(), resp["err_msg"].as_str()),
            (409, Some(1005), Some(message)),
            "{m} {path}"
        );
    }
    assert_eq!(s.data(&format!("/v1/alerts/rules/{}", rule.id)).await["severity"], "warning");
    s.stop().await;
}

#[tokio::test]
async fn a_fresh_install_has_the_default_rules_and_deleted_ones_stay_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(tmp.path())).await;
    let rules = s.data("/v1/alerts/rules?limit=100").await;
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 9);
    assert!(rules.iter().all(|r| r["source"] == "seed"));
    let metrics: Vec<&str> = rules.iter().map(|r| r["metric"].as_str().unwrap()).collect();
    assert!(metrics.contains(&"memory.used_percent") && metrics.contains(&"disk.used_percent"), "{metrics:?}");
    for r in rules {
        let (status, _) =
            s.call(Method::DELETE, &format!("/v1/alerts/rules/{}", r["id"].as_str().unwrap()), None).await;
        assert_eq!(status, 200);
    }
    s.stop().await;
    let s = TestServer::start_with(config(tmp.path())).await;
    assert_eq!(s.data("/v1/alerts/rules").await, json!([]), "deleted defaults do not come back");
    s.stop().await;
}
