//! REST authentication over a real server: login, tokens, revocation,
//! throttling, the first admin and the persistent JWT key.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use serde_json::json;
use support::*;

/// The document's operations as (method, concrete path, needs a token).
async fn operations(s: &TestServer) -> Vec<(Method, String, bool)> {
    let doc: serde_json::Value = s.http.get(s.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            ops.push((
                method.to_uppercase().parse().unwrap(),
                path.replace("{id}", "1").replace("{dict_type}", "1"),
                secured,
            ));
        }
    }
    ops
}

#[tokio::test]
async fn every_operation_documented_as_secured_needs_a_valid_token_and_no_other_does() {
    let s = TestServer::start().await;
    let ops = operations(&s).await;
    assert!(ops.iter().filter(|o| o.2).count() >= 12, "{ops:?}");
    for (m, path, secured) in ops {
        if !secured {
            let status = s.http.request(m.clone(), s.url(&path)).json(&json!({})).send().await.unwrap().status();
            assert_ne!(status, 401, "{m} {path} is documented as public");
            continue;
        }
        let cases = [
            (None, "missing authorization header"),
            (Some("Basic YWRtaW46eA=="), "invalid authorization header"),
            (Some("Bearer "), "invalid authorization header"),
            (Some("Bearer not-a-jwt"), "invalid token"),
        ];
        for (header, message) in cases {
            let mut req = s.http.request(m.clone(), s.url(&path));
            if let Some(h) = header {
                req = req.header("authorization", h);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{m} {path} with {header:?}");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(
                (body["err_code"].as_i64(), body["err_msg"].as_str()),
                (Some(1002), Some(message)),
                "{m} {path}"
            );
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn expired_and_foreign_tokens_are_refused_with_0_1_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.auth.jwt_secret = Some("a-known-secret-for-this-test-only".into());
    let s = TestServer::start_with(cfg).await;
    let claims = |exp_offset: i64, version: i64| {
        let now = jiff::Timestamp::now().as_second();
        let me = s.server.state.management.user_by_name("admin").unwrap().unwrap();
        json!({"sub": me.id, "username": "admin", "token_version": version, "iat": now - 200, "exp": now + exp_offset})
    };
    let sign = |c: serde_json::Value, key: &[u8]| {
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &c, &jsonwebtoken::EncodingKey::from_secret(key))
            .unwrap()
    };
    let key = b"a-known-secret-for-this-test-only";
    let expired = sign(claims(-120, 0), key);
    let (status, body, _) = s.call_as(Some(&expired), Method::GET, "/v1/agents", None).await;
    assert_eq!((status, body["err_code"].as_i64(), body["err_msg"].as_str()), (401, Some(1003), Some("token expired")));
    let forged = sign(claims(600, 0), b"some other key entirely, not ours");
    let (status, body, _) = s.call_as(Some(&forged), Method::GET, "/v1/agents", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("invalid token")));
    let old_version = sign(claims(600, 7), key);
    let (status, body, _) = s.call_as(Some(&old_version), Method::GET, "/v1/agents", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("token revoked")));
    s.stop().await;
}

#[tokio::test]
async fn login_checks_credentials_and_explains_bad_bodies() {
    let s = TestServer::start().await;
    let (status, body) = s.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["expires_in"], 86400);
    assert_eq!(s.login("admin", "wrong").await.1["err_msg"], "invalid credentials");
    assert_eq!(s.login("nobody", "wrong").await.0, 401);
    let (status, body) = s.login("", "").await;
    assert_eq!((status, body["err_msg"].as_str()), (400, Some("username and password are required")));

    let resp = s
        .http
        .post(s.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["err_code"], 1001);
    assert!(body["err_msg"].as_str().unwrap().starts_with("invalid request body"), "{body}");

    let resp = s.http.post(s.url("/v1/auth/login")).body(r#"{"username":"a","password":"b"}"#).send().await.unwrap();
    assert_eq!(resp.status(), 415, "a JSON body needs its content type");

    let huge = "x".repeat(2 * 1024 * 1024);
    let resp =
        s.http.post(s.url("/v1/auth/login")).json(&json!({"username": huge, "password": "x"})).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["err_msg"].as_str().unwrap().contains("invalid request body"), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn changing_the_password_revokes_every_older_token() {
    let s = TestServer::start().await;
    let other = s.login("admin", ADMIN_PASSWORD).await.1["data"]["token"].as_str().unwrap().to_owned();
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let (status, body) = s.call(Method::POST, "/v1/auth/password", Some(change("wrong", "new-password-2"))).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("invalid credentials")));
    let (status, body) = s.call(Method::POST, "/v1/auth/password", Some(change(ADMIN_PASSWORD, "short"))).await;
    assert_eq!((status, body["err_msg"].as_str()), (400, Some("new_password must be at least 8 characters")));
    assert_eq!(s.call(Method::GET, "/v1/agents", None).await.0, 200, "rejected changes revoke nothing");

    let (status, body) =
        s.call(Method::POST, "/v1/auth/password", Some(change(ADMIN_PASSWORD, "new-password-2"))).await;
    assert_eq!(
        (status, body["err_msg"].as_str(), &body["data"]),
        (200, Some("password changed, please login again"), &serde_json::Value::Null)
    );
    for token in [s.token.as_str(), other.as_str()] {
        let (status, body, _) = s.call_as(Some(token), Method::GET, "/v1/agents", None).await;
        assert_eq!((status, body["err_msg"].as_str()), (401, Some("token revoked")));
    }
    assert_eq!(s.login("admin", ADMIN_PASSWORD).await.0, 401);
    let (status, body) = s.login("admin", "new-password-2").await;
    assert_eq!(status, 200);
    let fresh = body["data"]["token"].as_str().unwrap();
    assert_eq!(s.call_as(Some(fresh), Method::GET, "/v1/agents", None).await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled() {
    let s = TestServer::start().await;
    for _ in 0..5 {
        assert_eq!(s.login("admin", "guess").await.0, 401);
    }
    let resp = s
        .http
        .post(s.url("/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429, "even the right password waits");
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["err_msg"].as_str().unwrap().starts_with("too many failed logins"), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn without_a_configured_password_the_first_admin_gets_a_random_one_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.auth.default_password = None;
    let server = oxmon_server::app::start(cfg.clone(), Default::default()).await.unwrap();
    let password = server.initial_admin_password.clone().unwrap();
    assert_eq!(password.len(), 20);
    let http = reqwest::Client::new();
    let login = |pw: &str| {
        http.post(format!("http://{}/v1/auth/login", server.http_addr))
            .json(&json!({"username": "admin", "password": pw}))
            .send()
    };
    assert_eq!(login(&password).await.unwrap().status(), 200);
    assert_eq!(login("changeme").await.unwrap().status(), 401, "no working default password");
    server.shutdown().await;

    let again = oxmon_server::app::start(cfg, Default::default()).await.unwrap();
    assert_eq!(again.initial_admin_password, None, "generated once");
    again.shutdown().await;
}

#[tokio::test]
async fn tokens_survive_a_restart_without_a_configured_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(tmp.path())).await;
    let token = s.token.clone();
    s.stop().await;
    assert!(tmp.path().join("jwt.key").exists());
    let s = TestServer::start_with(config(tmp.path())).await;
    let (status, _, _) = s.call_as(Some(&token), Method::GET, "/v1/agents", None).await;
    assert_eq!(status, 200);
    s.stop().await;
}
