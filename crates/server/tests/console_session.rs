//! The browser session of the web console over a real server: the session
//! cookie, CSRF on state-changing requests, logout, expiry and revocation,
//! the downsampled range endpoint, and the console mounted beside the API.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use support::*;

struct Session {
    cookie: String,
    csrf: String,
    set_cookies: Vec<String>,
}

async fn session_login(s: &TestServer, extra: &[(&str, &str)]) -> (u16, Value, Session) {
    let mut req =
        s.http.post(s.url("/v1/auth/session")).json(&json!({"username": "admin", "password": ADMIN_PASSWORD}));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let set_cookies: Vec<String> =
        resp.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let body: Value = resp.json().await.unwrap();
    let value = |name: &str| {
        set_cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap().to_owned()))
            .unwrap_or_default()
    };
    let (token, csrf) = (value("oxmon_session"), value("oxmon_csrf"));
    let cookie = format!("oxmon_session={token}; oxmon_csrf={csrf}");
    (status, body, Session { cookie, csrf, set_cookies })
}

/// A request with the session cookie, and the CSRF header when given.
async fn with_cookie(
    s: &TestServer,
    cookie: &str,
    csrf: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.http.request(method, s.url(path)).header(COOKIE, cookie);
    if let Some(c) = csrf {
        req = req.header("X-CSRF-Token", c);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_session_cookie_authenticates_like_the_bearer_token_and_needs_csrf_to_change_state() {
    let s = TestServer::start().await;
    let (status, body, session) = session_login(&s, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["username"], "admin");
    assert_eq!(body["data"]["csrf_token"], session.csrf.as_str());
    assert!(body["data"].get("token").is_none(), "the token is not in the body: {body}");
    let session_cookie = session.set_cookies.iter().find(|c| c.starts_with("oxmon_session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
        assert!(session_cookie.contains(attr), "{session_cookie}");
    }
    assert!(!session_cookie.contains("Secure"), "plain HTTP: {session_cookie}");
    let csrf_cookie = session.set_cookies.iter().find(|c| c.starts_with("oxmon_csrf=")).unwrap();
    assert!(!csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    assert_eq!(session.csrf.len(), 64);

    // Reads with the cookie alone.
    let (status, body) = with_cookie(&s, &session.cookie, None, Method::GET, "/v1/agents", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = with_cookie(&s, &session.cookie, None, Method::GET, "/v1/auth/session", None).await;
    assert_eq!((status, body["data"]["username"].as_str()), (200, Some("admin")), "{body}");

    // Changes need the CSRF token echoed in the header.
    let rule = json!({"name": "cookie rule", "rule_type": "threshold", "metric": "cpu.usage", "severity": "warning",
        "config_json": "{\"operator\":\"greater_than\",\"value\":90.0,\"duration_secs\":0}"});
    for csrf in [None, Some(""), Some("0".repeat(64).as_str())] {
        let (status, body) =
            with_cookie(&s, &session.cookie, csrf, Method::POST, "/v1/alerts/rules", Some(rule.clone())).await;
        assert_eq!(status, 403, "{csrf:?}: {body}");
        assert!(body["err_msg"].as_str().unwrap().contains("X-CSRF-Token"), "{body}");
    }
    let rules = s.data("/v1/alerts/rules?limit=1000").await;
    assert!(rules.as_array().unwrap().iter().all(|r| r["name"] != "cookie rule"), "nothing was created");
    let (status, body) =
        with_cookie(&s, &session.cookie, Some(&session.csrf), Method::POST, "/v1/alerts/rules", Some(rule.clone()))
            .await;
    assert_eq!(status, 201, "{body}");

    // A cross-site form post carries no cookies (SameSite=Strict), and
    // without the header it is refused even when it does.
    let resp = s
        .http
        .post(s.url("/v1/alerts/history/x/acknowledge"))
        .header(COOKIE, &session.cookie)
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Bearer requests are unaffected by CSRF; no credentials at all is 401.
    let (status, _) = s.call(Method::POST, "/v1/alerts/history/x/acknowledge", None).await;
    assert_eq!(status, 404, "authenticated, the alert does not exist");
    let (status, body, _) = s.call_as(None, Method::POST, "/v1/alerts/history/x/acknowledge", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("missing authorization header")));
    let (status, body) = with_cookie(&s, "oxmon_session=garbage", None, Method::GET, "/v1/agents", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("invalid token")));

    // Logout needs the CSRF token too, and clears both cookies.
    let (status, _) = with_cookie(&s, &session.cookie, None, Method::DELETE, "/v1/auth/session", None).await;
    assert_eq!(status, 403);
    let resp = s
        .http
        .delete(s.url("/v1/auth/session"))
        .header(COOKIE, &session.cookie)
        .header("X-CSRF-Token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let cleared: Vec<_> = resp.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("oxmon_session=;") && c.contains("Max-Age=0")), "{cleared:?}");
    assert!(cleared.iter().any(|c| c.starts_with("oxmon_csrf=;") && c.contains("Max-Age=0")), "{cleared:?}");
    s.stop().await;
}

#[tokio::test]
async fn password_change_and_expiry_end_the_cookie_session_too() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.auth.jwt_secret = Some("a test secret of at least thirty-two bytes".into());
    cfg.http.secure_cookies = true;
    let s = TestServer::start_with(cfg).await;
    let (_, _, session) = session_login(&s, &[]).await;
    assert!(session.set_cookies.iter().all(|c| c.contains("; Secure")), "{:?}", session.set_cookies);

    // An expired token in the cookie: 401 with the expiry code.
    let claims = json!({"sub": "x", "username": "admin", "token_version": 0, "iat": 0, "exp": now_ms() / 1000 - 3600});
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"a test secret of at least thirty-two bytes"),
    )
    .unwrap();
    let (status, body) =
        with_cookie(&s, &format!("oxmon_session={expired}"), None, Method::GET, "/v1/agents", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("token expired")), "{body}");

    let body = json!({"current_password": ADMIN_PASSWORD, "new_password": "another-password-2"});
    let (status, resp) =
        with_cookie(&s, &session.cookie, Some(&session.csrf), Method::POST, "/v1/auth/password", Some(body)).await;
    assert_eq!(status, 200, "{resp}");
    let (status, body) = with_cookie(&s, &session.cookie, None, Method::GET, "/v1/agents", None).await;
    assert_eq!((status, body["err_msg"].as_str()), (401, Some("token revoked")), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn cookies_are_secure_behind_a_tls_proxy_and_bad_logins_set_none() {
    let s = TestServer::start().await;
    let (status, _, session) = session_login(&s, &[("X-Forwarded-Proto", "https")]).await;
    assert_eq!(status, 200);
    assert!(session.set_cookies.iter().all(|c| c.contains("; Secure")), "{:?}", session.set_cookies);
    let resp = s
        .http
        .post(s.url("/v1/auth/session"))
        .json(&json!({"username": "admin", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().get(SET_COOKIE).is_none());
    s.stop().await;
}

#[tokio::test]
async fn downsampling_gives_min_avg_max_and_count_per_step_for_every_series() {
    let s = TestServer::start().await;
    let now = now_ms();
    let step = 60_000;
    // Two days of one-minute samples on two cores, crossing midnight UTC.
    let start = (now - 2 * 86_400_000) / step * step + step;
    let mut points = Vec::new();
    let mut sent: Vec<(i64, &str, f64)> = Vec::new();
    let mut ts = start;
    let mut i = 0u32;
    while ts < now - step {
        for core in ["0", "1"] {
            let v = f64::from((i * 7 + if core == "0" { 0 } else { 3 }) % 100);
            points.push(point("cpu.core_usage", &[("core", core)], ts, v));
            sent.push((ts, core, v));
        }
        ts += step;
        i += 1;
    }
    for chunk in points.chunks(5000) {
        let reply = s.report(batch("ds-agent", chunk.to_vec())).await;
        assert!(reply.success, "{reply:?}");
    }

    let from = start;
    let to = now;
    let max_points = 60;
    let path = format!(
        "/v1/metrics/downsample?agent_id=ds-agent&metric_name=cpu.core_usage&timestamp__gte={}&timestamp__lte={}&max_points={max_points}",
        q(&rfc3339(from)),
        q(&rfc3339(to))
    );
    let data = s.data(&path).await;
    let series = data.as_array().unwrap();
    assert_eq!(series.len(), 2, "{data}");
    let step_ms = series[0]["step_ms"].as_i64().unwrap();
    assert_eq!(step_ms, 3_600_000, "2 days in 60 points: hourly");
    for (idx, core) in ["0", "1"].iter().enumerate() {
        let s_json = &series[idx];
        assert_eq!(s_json["labels"]["core"], *core);
        let buckets = s_json["points"].as_array().unwrap();
        assert!(buckets.len() <= max_points, "{}", buckets.len());
        // Expected buckets, computed from what was sent.
        let mut expected: std::collections::BTreeMap<i64, (f64, f64, f64, u64)> = Default::default();
        for &(ts, c, v) in sent.iter().filter(|(_, c, _)| c == core) {
            let _ = c;
            let b = ts.div_euclid(step_ms) * step_ms;
            let e = expected.entry(b).or_insert((f64::INFINITY, f64::NEG_INFINITY, 0.0, 0));
            e.0 = e.0.min(v);
            e.1 = e.1.max(v);
            e.2 += v;
            e.3 += 1;
        }
        assert_eq!(buckets.len(), expected.len());
        let total: u64 = buckets.iter().map(|b| b[4].as_u64().unwrap()).sum();
        assert_eq!(total as usize, sent.len() / 2, "every sample counted once");
        for (b, (start, (min, max, sum, count))) in buckets.iter().zip(expected) {
            assert_eq!(b[0].as_i64().unwrap(), start);
            assert_eq!(b[1].as_f64().unwrap(), min);
            assert!((b[2].as_f64().unwrap() - sum / count as f64).abs() < 1e-9);
            assert_eq!(b[3].as_f64().unwrap(), max);
            assert_eq!(b[4].as_u64().unwrap(), count);
        }
    }

    for (query, why) in [
        ("agent_id=ds-agent&metric_name=cpu.core_usage&max_points=0", "max_points"),
        ("agent_id=ds-agent&metric_name=cpu.core_usage&max_points=many", "max_points"),
        ("agent_id=ds-agent&metric_name=cpu.core_usage&max_points=10001", "max_points"),
        ("metric_name=cpu.core_usage", "agent_id"),
        ("agent_id=ds-agent&metric_name=cpu.core_usage&timestamp__gte=2020-01-01T00:00:00Z", "400 days"),
    ] {
        let (status, body, _) = s.get(&format!("/v1/metrics/downsample?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["err_msg"].as_str().unwrap().contains(why), "{query}: {body}");
    }
    // Default: the last hour in at most 300 buckets of the smallest round step.
    let data = s.data("/v1/metrics/downsample?agent_id=ds-agent&metric_name=cpu.core_usage").await;
    assert_eq!(data[0]["step_ms"], 15_000, "{data}");
    let (status, _, _) = s.call_as(None, Method::GET, "/v1/metrics/downsample?agent_id=a&metric_name=b", None).await;
    assert_eq!(status, 401);
    s.stop().await;
}

#[tokio::test]
async fn the_console_is_served_at_the_root_beside_the_api_docs_and_probes() {
    let s = TestServer::start().await;
    for (path, content_type) in [("/", "text/html"), ("/login", "text/html"), ("/hosts/x", "text/html")] {
        let resp = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with(content_type), "{path}");
        assert!(resp.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    }
    for path in ["/v1/health", "/metrics", "/docs/", "/v1/openapi.json"] {
        assert_eq!(s.http.get(s.url(path)).send().await.unwrap().status().as_u16(), 200, "{path}");
    }
    let (status, body, _) = s.call_as(None, Method::GET, "/no/such/page", None).await;
    assert_eq!((status, body["err_code"].as_i64().is_some()), (404, true), "unknown paths stay JSON 404s");

    let doc: Value = s.http.get(s.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["components"]["securitySchemes"]["cookie_auth"]["in"], "cookie");
    assert_eq!(doc["components"]["securitySchemes"]["cookie_auth"]["name"], "oxmon_session");
    let get = &doc["paths"]["/v1/agents"]["get"]["security"];
    assert!(get.as_array().unwrap().iter().any(|r| r.get("cookie_auth").is_some()), "{get}");
    let ds = &doc["paths"]["/v1/metrics/downsample"]["get"];
    assert!(ds["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "max_points"), "{ds}");
    assert!(doc["paths"]["/v1/auth/session"]["post"].is_object());
    s.stop().await;
}
