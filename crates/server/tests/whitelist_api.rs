//! `/v1/agents/whitelist` over a real server, with the issued tokens used
//! for real over gRPC.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use oxmon_common::proto::metric_service_client::MetricServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;
use tonic::transport::Channel;

async fn report_with(s: &TestServer, agent: &str, token: &str) -> Result<bool, tonic::Code> {
    let channel = Channel::from_shared(format!("http://{}", s.server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut req = tonic::Request::new(batch(agent, vec![point("cpu.usage", &[], now_ms(), 1.0)]));
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    req.metadata_mut().insert("agent-id", agent.parse().unwrap());
    MetricServiceClient::new(channel).report_metrics(req).await.map(|r| r.into_inner().success).map_err(|e| e.code())
}

async fn auth_server() -> (tempfile::TempDir, TestServer) {
    let tmp = tempfile::tempdir().unwrap();
    let s =
        TestServer::start_with(oxmon_server::config::ServerConfig { require_agent_auth: true, ..config(tmp.path()) })
            .await;
    (tmp, s)
}

#[tokio::test]
async fn whitelist_lifecycle_issues_rotates_and_revokes_tokens() {
    let (_tmp, s) = auth_server().await;
    let (status, body) =
        s.call(Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": "web-1", "description": "front"}))).await;
    assert_eq!(status, 200, "{body}");
    let created = &body["data"];
    let (id, token) = (created["id"].as_str().unwrap().to_owned(), created["token"].as_str().unwrap().to_owned());
    assert_eq!(token.len(), 44);
    assert_eq!(created["agent_id"], "web-1");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(report_with(&s, "web-1", &token).await, Ok(true));

    s.call(Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": "db-1"}))).await;
    let list = s.data("/v1/agents/whitelist").await;
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|e| e["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["db-1", "web-1"], "newest first");
    let web = &list[1];
    assert_eq!(web["token"], Value::Null, "tokens are never listed");
    assert_eq!(web["description"], "front");
    assert_eq!(web["status"], "active");
    assert_eq!(list[0]["status"], "unknown");
    assert_eq!(s.data("/v1/agents/whitelist?limit=1&offset=1").await[0]["agent_id"], "web-1");

    // Duplicate: 409, and the existing token still works.
    let (status, body) = s.call(Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": "web-1"}))).await;
    assert_eq!(
        (status, body["err_code"].as_i64(), body["err_msg"].as_str()),
        (409, Some(1005), Some("Agent 'web-1' already exists"))
    );
    assert_eq!(report_with(&s, "web-1", &token).await, Ok(true));

    let (status, body) =
        s.call(Method::PUT, &format!("/v1/agents/whitelist/{id}"), Some(json!({"description": "edge"}))).await;
    assert_eq!((status, body["data"]["description"].as_str()), (200, Some("edge")));
    let (_, body) = s.call(Method::PUT, &format!("/v1/agents/whitelist/{id}"), Some(json!({}))).await;
    assert_eq!(body["data"]["description"], Value::Null, "absent clears, as in 0.1");

    let (status, body) = s.call(Method::POST, &format!("/v1/agents/whitelist/{id}/token"), None).await;
    assert_eq!(status, 200);
    let new_token = body["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["agent_id"], "web-1");
    assert_eq!(report_with(&s, "web-1", &token).await, Err(tonic::Code::Unauthenticated), "old token revoked");
    assert_eq!(report_with(&s, "web-1", &new_token).await, Ok(true));

    // Delete by agent id (0.1 accepted both).
    let (status, body) = s.call(Method::DELETE, "/v1/agents/whitelist/web-1", None).await;
    assert_eq!((status, body["err_msg"].as_str(), &body["data"]), (200, Some("success"), &Value::Null));
    assert_eq!(report_with(&s, "web-1", &new_token).await, Err(tonic::Code::Unauthenticated));
    let agents = s.data("/v1/agents").await;
    assert_eq!(agents[0]["agent_id"], "db-1");
    assert_eq!(agents[1]["agent_id"], "web-1", "its history stays listed");
    assert_eq!(agents[1]["whitelisted"], false);
    s.stop().await;
}

#[tokio::test]
async fn bad_whitelist_requests_are_explained_and_change_nothing() {
    let (_tmp, s) = auth_server().await;
    let cases = [
        (Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": ""})), 400, "agent_id is required"),
        (Method::POST, "/v1/agents/whitelist", Some(json!({})), 400, "agent_id is required"),
        (
            Method::POST,
            "/v1/agents/whitelist",
            Some(json!({"agent_id": "has space"})),
            400,
            "agent_id must be at most 256 printable ASCII characters without spaces (it travels as gRPC metadata)",
        ),
        (
            Method::PUT,
            "/v1/agents/whitelist/404",
            Some(json!({"description": "x"})),
            404,
            "Agent with id '404' not found",
        ),
        (Method::POST, "/v1/agents/whitelist/404/token", None, 404, "Agent with id '404' not found"),
        (Method::DELETE, "/v1/agents/whitelist/404", None, 404, "Agent with id '404' not found"),
    ];
    for (m, path, body, status, message) in cases {
        let (got, resp) = s.call(m.clone(), path, body).await;
        assert_eq!((got, resp["err_msg"].as_str()), (status, Some(message)), "{m} {path}");
    }
    let (status, body) = s.call(Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": 7}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["err_msg"].as_str().unwrap().contains("agent_id"), "{body}");
    assert_eq!(s.data("/v1/agents/whitelist").await, json!([]));
    s.stop().await;
}

/// `DELETE /v1/agents/{id}`: the agent leaves `/v1/agents` and the whitelist
/// (its token stops working), its open alerts are resolved, and a restart
/// (whose shutdown flushes agent activity) does not bring it back.
#[tokio::test]
async fn a_forgotten_agent_stays_forgotten_across_a_restart() {
    let (tmp, s) = auth_server().await;
    let (status, body) = s.call(Method::POST, "/v1/agents/whitelist", Some(json!({"agent_id": "mock-1"}))).await;
    assert_eq!(status, 200, "{body}");
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    let rule = json!({"name": "hot", "rule_type": "threshold", "metric": "cpu.usage", "severity": "critical",
        "config_json": "{\"operator\":\"gt\",\"value\":0.5,\"duration_secs\":0}"});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(report_with(&s, "mock-1", &token).await, Ok(true));
    // Evaluation runs after the ack, on the engine's thread.
    let mut active = Value::Null;
    for _ in 0..100 {
        active = s.data("/v1/alerts/active").await;
        if active.as_array().unwrap().iter().any(|e| e["agent_id"] == "mock-1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");

    let (status, body) = s.call(Method::DELETE, "/v1/agents/mock-1", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"agent_id": "mock-1", "whitelist_removed": true, "alerts_resolved": 1}));
    let ids = |agents: Value| -> Vec<String> {
        agents.as_array().unwrap().iter().map(|a| a["agent_id"].as_str().unwrap().to_owned()).collect()
    };
    assert!(ids(s.data("/v1/agents").await).is_empty());
    assert!(s.data("/v1/agents/whitelist").await.as_array().unwrap().is_empty());
    assert!(s.data("/v1/alerts/active").await.as_array().unwrap().is_empty());
    assert_eq!(report_with(&s, "mock-1", &token).await, Err(tonic::Code::Unauthenticated), "the token is gone");
    let (status, body) = s.call(Method::DELETE, "/v1/agents/mock-1", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["err_msg"], "Agent not found");

    let dir = s.stop().await;
    let s =
        TestServer::start_with(oxmon_server::config::ServerConfig { require_agent_auth: true, ..config(&dir) }).await;
    assert!(ids(s.data("/v1/agents").await).is_empty(), "not saved again by the flush at shutdown");
    drop(tmp);
}
