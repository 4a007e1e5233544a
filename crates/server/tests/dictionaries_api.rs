//! `/v1/dictionaries` over a real server.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn built_ins_are_listed_protected_and_user_entries_survive_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(tmp.path())).await;
    let types = s.data("/v1/dictionaries/types?limit=100").await;
    let keys: Vec<&str> = types.as_array().unwrap().iter().map(|t| t["dict_type"].as_str().unwrap()).collect();
    assert_eq!(keys[..3], ["channel_type", "severity", "rule_type"]);
    assert_eq!(types[0]["count"], 5);

    let sev = s.data("/v1/dictionaries/type/severity").await;
    assert_eq!(sev[2]["dict_key"], "critical");
    assert_eq!(sev[2]["dict_value"], "3");
    assert_eq!(sev[2]["is_system"], true);
    let critical = sev[2]["id"].as_str().unwrap().to_owned();
    let (status, body) = s.call(Method::DELETE, &format!("/v1/dictionaries/{critical}"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (403, Some("built-in dictionary items cannot be deleted")));
    let (status, body) = s.call(Method::DELETE, "/v1/dictionaries/types/severity", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (403, Some("built-in dictionary types cannot be deleted")));
    // Built-ins can be disabled.
    let (status, body) =
        s.call(Method::PUT, &format!("/v1/dictionaries/{critical}"), Some(json!({"enabled": false}))).await;
    assert_eq!((status, &body["data"]["enabled"]), (200, &json!(false)));
    assert_eq!(s.data("/v1/dictionaries/type/severity?enabled_only=true").await.as_array().unwrap().len(), 2);

    let (status, body) = s
        .call(
            Method::POST,
            "/v1/dictionaries/types",
            Some(json!({"dict_type": "team", "dict_type_label": "Teams", "sort_order": 50})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .call(Method::POST, "/v1/dictionaries", Some(json!({"dict_type": "team", "dict_key": "ops", "dict_label": "Ops", "extra_json": "{\"lead\":\"ana\"}"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let ops = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) =
        s.call(Method::PUT, "/v1/dictionaries/types/team", Some(json!({"dict_type_label": "Owning teams"}))).await;
    assert_eq!((status, body["data"]["dict_type_label"].as_str()), (200, Some("Owning teams")));
    s.stop().await;

    // 0.1 deleted user-created types at every start; they stay now, and a
    // disabled built-in stays disabled.
    let s = TestServer::start_with(config(tmp.path())).await;
    let types = s.data("/v1/dictionaries/types?limit=100").await;
    let team = types.as_array().unwrap().iter().find(|t| t["dict_type"] == "team").unwrap();
    assert_eq!((team["dict_type_label"].as_str(), team["count"].as_i64()), (Some("Owning teams"), Some(1)));
    assert_eq!(s.data(&format!("/v1/dictionaries/{critical}")).await["enabled"], false);
    let (status, body) = s.call(Method::DELETE, &format!("/v1/dictionaries/{ops}"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Dictionary item deleted")));
    let (status, body) = s.call(Method::DELETE, "/v1/dictionaries/types/team", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Dictionary type deleted")));
    s.stop().await;
}

#[tokio::test]
async fn bad_dictionary_requests_are_explained() {
    let s = TestServer::start().await;
    let cases = [
        (
            Method::POST,
            "/v1/dictionaries",
            json!({"dict_type": "t", "dict_key": "", "dict_label": "x"}),
            400,
            "dict_key is required",
        ),
        (
            Method::POST,
            "/v1/dictionaries",
            json!({"dict_type": "t", "dict_key": "k", "dict_label": "x", "extra_json": "{"}),
            400,
            "extra_json is not valid JSON",
        ),
        (
            Method::POST,
            "/v1/dictionaries",
            json!({"dict_type": "severity", "dict_key": "info", "dict_label": "x"}),
            409,
            "dictionary 'severity' already has the key 'info'",
        ),
        (
            Method::POST,
            "/v1/dictionaries/types",
            json!({"dict_type": "severity", "dict_type_label": "x"}),
            409,
            "dictionary type 'severity' already exists",
        ),
        (Method::PUT, "/v1/dictionaries/types/nope", json!({"sort_order": 1}), 404, "Dictionary type not found"),
        (Method::PUT, "/v1/dictionaries/nope", json!({"enabled": true}), 404, "Dictionary item not found"),
        (Method::DELETE, "/v1/dictionaries/nope", json!({}), 404, "Dictionary item not found"),
    ];
    for (m, path, body, status, message) in cases {
        let (got, resp) = s.call(m.clone(), path, Some(body.clone())).await;
        assert_eq!(got, status, "{m} {path} {body}: {resp}");
        assert!(resp["err_msg"].as_str().unwrap().starts_with(message), "{m} {path}: {}", resp["err_msg"]);
    }
    s.stop().await;
}
