//! Replays oxmon 0.1 client traffic against a real server: requests shaped
//! exactly as 0.1's API documentation (spec/api.md) and its web console
//! send them, including GET -> edit -> PUT round trips of every resource
//! (which send back read-only fields the server does not take) and fields
//! 0.1 ignored. Each step checks the status, the envelope and its trace id.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

/// A 0.1 client session: the admin's token and the ids it has seen.
struct Client<'a> {
    s: &'a TestServer,
    token: Option<String>,
    ids: HashMap<&'static str, String>,
    requests: usize,
}

/// What a step expects: status, `err_code`, and optionally `err_msg`.
type Expect = (u16, i64, Option<&'static str>);

const OK: Expect = (200, 0, Some("success"));
const CREATED: Expect = (201, 0, Some("success"));

impl<'a> Client<'a> {
    fn new(s: &'a TestServer) -> Self {
        Self { s, token: Some(s.token.clone()), ids: HashMap::new(), requests: 0 }
    }

    /// `{name}` in `text` replaced by the id saved under that name.
    fn fill(&self, text: &str) -> String {
        self.ids.iter().fold(text.to_owned(), |t, (k, v)| t.replace(&format!("{{{k}}}"), v))
    }

    /// Sends one request and checks the envelope; returns `data`.
    async fn send(&mut self, method: Method, path: &str, body: Option<Value>, expect: Expect) -> Value {
        let path = self.fill(path);
        let body = body.map(|b| serde_json::from_str(&self.fill(&b.to_string())).unwrap());
        let (status, resp, trace) = self.s.call_as(self.token.as_deref(), method.clone(), &path, body).await;
        self.requests += 1;
        let what = format!("{method} {path}");
        assert_eq!(status, expect.0, "{what}: {resp}");
        assert_eq!(resp["err_code"].as_i64(), Some(expect.1), "{what}: {resp}");
        if let Some(msg) = expect.2 {
            assert_eq!(resp["err_msg"], msg, "{what}: {resp}");
        }
        assert!(resp.as_object().unwrap().contains_key("data"), "{what}: no data key: {resp}");
        assert_eq!(resp["trace_id"].as_str(), Some(trace.as_str()), "{what}: X-Trace-Id");
        if expect.1 != 0 {
            assert!(resp["data"].is_null(), "{what}: {resp}");
        }
        resp["data"].clone()
    }

    /// Sends and saves `data.id` under `name`.
    async fn create(&mut self, name: &'static str, path: &str, body: Value, expect: Expect) -> Value {
        let data = self.send(Method::POST, path, Some(body), expect).await;
        self.ids.insert(name, data["id"].as_str().unwrap().to_owned());
        data
    }

    /// GET `get`, apply `edit` to the object, PUT the whole of it to `put`
    /// (as 0.1's console does); returns the PUT's `data`.
    async fn round_trip(&mut self, get: &str, put: &str, edit: impl FnOnce(&mut Value)) -> Value {
        let mut object = self.send(Method::GET, get, None, OK).await;
        edit(&mut object);
        self.send(Method::PUT, put, Some(object), OK).await
    }
}

#[tokio::test]
async fn a_0_1_client_session_replays_with_the_same_statuses_and_envelopes() {
    let s = TestServer::start().await;
    let mut c = Client::new(&s);
    let t = now_ms();
    s.report(batch("web-01", vec![point("cpu.usage", &[], t - 1000, 42.0)])).await;

    // Auth and health (§5.1): public routes, then an unauthenticated call.
    c.token = None;
    c.send(Method::GET, "/v1/health", None, OK).await;
    let login = c
        .send(Method::POST, "/v1/auth/login", Some(json!({"username": "admin", "password": ADMIN_PASSWORD})), OK)
        .await;
    assert!(login["token"].as_str().is_some() && login["expires_in"].as_u64().is_some(), "{login}");
    c.send(
        Method::POST,
        "/v1/auth/login",
        Some(json!({"username": "admin", "password": "wrong"})),
        (401, 1002, Some("invalid credentials")),
    )
    .await;
    c.send(Method::GET, "/v1/agents", None, (401, 1002, Some("missing authorization header"))).await;
    c.token = Some(s.token.clone());

    // Agent whitelist (§5.3); the console edits an entry as listed.
    let entry = c.create("wl", "/v1/agents/whitelist", json!({"agent_id": "web-01", "description": "web"}), OK).await;
    assert_eq!(entry["token"].as_str().unwrap().len(), 44, "{entry}");
    c.send(Method::GET, "/v1/agents/whitelist?limit=1000", None, OK).await;
    let mut listed = c.send(Method::GET, "/v1/agents/whitelist", None, OK).await[0].clone();
    listed["description"] = json!("web tier");
    let updated = c.send(Method::PUT, "/v1/agents/whitelist/{wl}", Some(listed), OK).await;
    assert_eq!((updated["description"].as_str(), updated["token"].clone()), (Some("web tier"), Value::Null));
    c.send(Method::POST, "/v1/agents/whitelist/{wl}/token", None, OK).await;
    c.send(Method::GET, "/v1/agents?limit=20&offset=0", None, OK).await;
    c.send(Method::GET, "/v1/agents/web-01/latest", None, OK).await;
    c.send(Method::GET, "/v1/agents/nobody/latest", None, (404, 1004, Some("Agent not found"))).await;

    // Metrics (§5.4), as mock-query-check.sh asks for them.
    c.send(Method::GET, "/v1/metrics?agent_id__eq=web-01&metric_name__eq=cpu.usage&limit=20", None, OK).await;
    c.send(Method::GET, "/v1/metrics/names", None, OK).await;
    c.send(Method::GET, "/v1/metrics/agents", None, OK).await;
    let summary = c.send(Method::GET, "/v1/metrics/summary?agent_id=web-01&metric_name=cpu.usage", None, OK).await;
    assert_eq!(summary["count"], 1, "{summary}");

    // Alert rules (§5.5): an extra `description`, 0.1's `trend`, the
    // console's round trip of a rule, and 0.1's `/rules/config` miss.
    let rule = json!({"name": "Console CPU", "rule_type": "threshold", "metric": "cpu.usage", "agent_pattern": "*",
        "severity": "warning", "enabled": true, "silence_secs": 600, "description": "from the console",
        "config_json": "{\"operator\":\"greater_than\",\"value\":80.0,\"duration_secs\":60}"});
    c.create("rule", "/v1/alerts/rules", rule, CREATED).await;
    let trend = json!({"name": "Console disk trend", "rule_type": "trend", "metric": "disk.used_percent",
        "severity": "warning", "silence_secs": 3600,
        "config_json": "{\"predict_threshold\":95.0,\"horizon_secs\":86400,\"min_data_points\":3}"});
    let trend = c.create("trend", "/v1/alerts/rules", trend, CREATED).await;
    assert_eq!(trend["rule_type"], "trend_prediction", "{trend}");
    c.send(Method::GET, "/v1/alerts/rules", None, OK).await;
    let edited = c
        .round_trip("/v1/alerts/rules/{rule}", "/v1/alerts/rules/{rule}", |r| {
            r["severity"] = json!("critical");
            r["description"] = json!("still ignored");
        })
        .await;
    assert_eq!((edited["severity"].as_str(), edited["rule_type"].as_str()), (Some("critical"), Some("threshold")));
    let edited =
        c.round_trip("/v1/alerts/rules/{trend}", "/v1/alerts/rules/{trend}", |r| r["rule_type"] = json!("trend")).await;
    assert_eq!(edited["rule_type"], "trend_prediction");
    c.send(Method::PUT, "/v1/alerts/rules/{rule}/enable", Some(json!({"enabled": false})), OK).await;
    c.send(Method::GET, "/v1/alerts/rules/config", None, (404, 1004, Some("Rule not found"))).await;

    // Alert events (§5.6).
    c.send(Method::GET, "/v1/alerts/history?limit=20&offset=0", None, OK).await;
    c.send(Method::GET, "/v1/alerts/active", None, OK).await;
    c.send(Method::GET, "/v1/alerts/summary?hours=24", None, OK).await;
    c.send(Method::POST, "/v1/alerts/history/1/acknowledge", None, (404, 1004, Some("Alert not found"))).await;

    // Certificate domains (§5.7, §5.8); the console sends a domain back.
    let d = json!({"domain": "example.test", "port": 443, "check_interval_secs": 3600, "note": "shop"});
    c.create("domain", "/v1/certs/domains", d, CREATED).await;
    let batch = json!({"domains": [{"domain": "a.example.test"}, {"domain": "b.example.test", "port": 8443}]});
    c.send(Method::POST, "/v1/certs/domains/batch", Some(batch), CREATED).await;
    c.send(Method::POST, "/v1/certs/domains", Some(json!({"domain": "example.test"})), (409, 1101, None)).await;
    c.send(Method::GET, "/v1/certs/domains?enabled__eq=true&domain__contains=example&limit=20", None, OK).await;
    let edited = c
        .round_trip("/v1/certs/domains/{domain}", "/v1/certs/domains/{domain}", |d| d["note"] = json!("shop v2"))
        .await;
    assert_eq!(edited["note"], "shop v2");
    c.send(Method::GET, "/v1/certs/status", None, OK).await;
    c.send(Method::GET, "/v1/certs/summary", None, OK).await;
    c.send(Method::GET, "/v1/certificates?limit=20", None, OK).await;
    c.send(Method::GET, "/v1/certs/status/example.test", None, (404, 1105, None)).await;

    // Notification channels (§5.9): created as 0.1 documents them, then
    // both views sent back (the overview carries recipients and their type).
    let hook = json!({"name": "ops-hook", "channel_type": "webhook", "description": "ops", "min_severity": "warning",
        "config_json": "{}", "recipients": ["http://127.0.0.1:9/hook"]});
    c.create("hook", "/v1/notifications/channels/config", hook, CREATED).await;
    let mail_config = json!({"smtp_host": "127.0.0.1", "smtp_port": 25, "from_email": "oxmon@example.test",
        "smtp_username": "u", "smtp_password": "hunter2"});
    let mail = json!({"name": "mail", "channel_type": "email", "config_json": mail_config.to_string(),
        "recipients": ["ops@example.test"]});
    c.create("mail", "/v1/notifications/channels/config", mail, CREATED).await;
    c.send(Method::GET, "/v1/notifications/channels?limit=20", None, OK).await;
    c.send(Method::GET, "/v1/notifications/channels/config", None, OK).await;
    let edited = c
        .round_trip("/v1/notifications/channels/config/{mail}", "/v1/notifications/channels/config/{mail}", |ch| {
            ch["description"] = json!("mail v2");
        })
        .await;
    assert_eq!(edited["description"], "mail v2");
    let id = c.ids["mail"].clone();
    let stored = s.server.state.management(move |m| m.channel(&id)).await.unwrap().unwrap();
    assert!(stored.config_json.contains("hunter2"), "a redacted secret sent back keeps its value");
    let edited = c
        .round_trip("/v1/notifications/channels/{hook}", "/v1/notifications/channels/config/{hook}", |ch| {
            ch["min_severity"] = json!("critical");
        })
        .await;
    assert_eq!(edited["min_severity"], "critical");
    let recipients = json!({"recipients": ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]});
    c.send(Method::PUT, "/v1/notifications/channels/{hook}/recipients", Some(recipients), OK).await;
    let listed = c.send(Method::GET, "/v1/notifications/channels/{hook}/recipients", None, OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    // Silence windows (§5.10): 0.1 consoles send seconds.
    let window = json!({"start_time": "02:00:00", "end_time": "04:30:00", "recurrence": "daily"});
    let window = c.create("window", "/v1/notifications/silence-windows", window, CREATED).await;
    assert_eq!((window["start_time"].as_str(), window["end_time"].as_str()), (Some("02:00"), Some("04:30")));
    c.send(Method::GET, "/v1/notifications/silence-windows?limit=20", None, OK).await;
    c.send(
        Method::DELETE,
        "/v1/notifications/silence-windows/{window}",
        None,
        (200, 0, Some("Silence window deleted")),
    )
    .await;

    // Logs, dashboard and system (§5.11, §5.12).
    let logs = c.send(Method::GET, "/v1/notifications/logs?limit=20&offset=0", None, OK).await;
    assert!(logs["items"].is_array() && logs["total"].is_u64(), "{logs}");
    c.send(Method::GET, "/v1/notifications/logs/summary", None, OK).await;
    c.send(Method::GET, "/v1/dashboard/overview", None, OK).await;
    c.send(Method::GET, "/v1/system/config", None, OK).await;
    c.send(Method::GET, "/v1/system/storage", None, OK).await;
    c.send(Method::POST, "/v1/system/storage/cleanup", None, OK).await;

    // System configs (§5.13): a runtime key of the console's own.
    let cfg = json!({"config_key": "ui_theme", "config_type": "runtime", "display_name": "Theme",
        "description": "console theme", "config_json": "{\"value\":\"dark\"}"});
    c.create("cfg", "/v1/system/configs", cfg, CREATED).await;
    c.send(Method::GET, "/v1/system/configs", None, OK).await;
    let edited = c
        .round_trip("/v1/system/configs/{cfg}", "/v1/system/configs/{cfg}", |r| {
            r["display_name"] = json!("Colour theme");
            r["config_json"] = json!({"value": "light"});
        })
        .await;
    assert_eq!(
        (edited["display_name"].as_str(), edited["config_json"]["value"].as_str()),
        (Some("Colour theme"), Some("light"))
    );
    let window_setting = c.send(Method::GET, "/v1/system/configs?limit=100", None, OK).await;
    let window_setting = window_setting
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["config_key"] == "notification_aggregation_window")
        .unwrap();
    c.ids.insert("agg", window_setting["id"].as_str().unwrap().to_owned());
    c.round_trip("/v1/system/configs/{agg}", "/v1/system/configs/{agg}", |r| r["config_json"] = json!({"value": 30}))
        .await;
    c.send(Method::DELETE, "/v1/system/configs/{cfg}", None, (200, 0, Some("System config deleted"))).await;

    // Dictionaries (§5.14): types and items, each sent back as fetched.
    c.send(Method::GET, "/v1/dictionaries/types", None, OK).await;
    let env = json!({"dict_type": "env", "dict_type_label": "Environment", "sort_order": 5, "description": "d"});
    let env = c.send(Method::POST, "/v1/dictionaries/types", Some(env), CREATED).await;
    let item = json!({"dict_type": "env", "dict_key": "prod", "dict_label": "Production", "dict_value": "p",
        "sort_order": 1, "enabled": true, "description": "d", "extra_json": "{\"color\":\"red\"}"});
    c.create("item", "/v1/dictionaries", item, CREATED).await;
    c.send(Method::GET, "/v1/dictionaries/type/env?enabled_only=true", None, OK).await;
    let edited =
        c.round_trip("/v1/dictionaries/{item}", "/v1/dictionaries/{item}", |i| i["dict_label"] = json!("Prod")).await;
    assert_eq!((edited["dict_label"].as_str(), edited["dict_key"].as_str()), (Some("Prod"), Some("prod")));
    let mut summary = c.send(Method::GET, "/v1/dictionaries/types", None, OK).await;
    let summary = summary.as_array_mut().unwrap().iter_mut().find(|t| t["dict_type"] == "env").unwrap().take();
    let mut summary = summary;
    summary["dict_type_label"] = json!("Environments");
    let edited = c.send(Method::PUT, "/v1/dictionaries/types/env", Some(summary), OK).await;
    assert_eq!(edited["dict_type_label"], "Environments");
    let mut env = env;
    env["sort_order"] = json!(6);
    c.send(Method::PUT, "/v1/dictionaries/types/env", Some(env), OK).await;
    let severity = c.send(Method::GET, "/v1/dictionaries/type/severity", None, OK).await[0].clone();
    c.ids.insert("sev", severity["id"].as_str().unwrap().to_owned());
    c.round_trip("/v1/dictionaries/{sev}", "/v1/dictionaries/{sev}", |i| i["sort_order"] = json!(9)).await;
    c.send(Method::DELETE, "/v1/dictionaries/{sev}", None, (403, 1999, None)).await;
    c.send(Method::DELETE, "/v1/dictionaries/{item}", None, (200, 0, Some("Dictionary item deleted"))).await;
    c.send(Method::DELETE, "/v1/dictionaries/types/env", None, (200, 0, Some("Dictionary type deleted"))).await;

    // Deletes (§5.3, §5.5, §5.8, §5.9).
    c.send(Method::DELETE, "/v1/alerts/rules/{rule}", None, (200, 0, Some("Rule deleted"))).await;
    c.send(Method::DELETE, "/v1/alerts/rules/{rule}", None, (404, 1004, Some("Rule not found"))).await;
    c.send(Method::DELETE, "/v1/notifications/channels/config/{hook}", None, (200, 0, Some("Channel deleted"))).await;
    let deleted = c.send(Method::DELETE, "/v1/certs/domains/{domain}", None, OK).await;
    assert_eq!(deleted["deleted"], true);
    c.send(Method::DELETE, "/v1/agents/whitelist/web-01", None, OK).await;

    // Password change revokes the caller's token (§5.1).
    let change = json!({"current_password": ADMIN_PASSWORD, "new_password": "another-password-2"});
    c.send(Method::POST, "/v1/auth/password", Some(change), (200, 0, Some("password changed, please login again")))
        .await;
    c.send(Method::GET, "/v1/agents", None, (401, 1002, Some("token revoked"))).await;

    assert!(c.requests >= 40, "{} requests replayed", c.requests);
    s.stop().await;
}

/// Bodies with fields the server does not know are accepted (0.1 ignored
/// them) on every write, while an unknown key inside a typed rule config,
/// where a typo would change what the rule does, is refused by name.
#[tokio::test]
async fn unknown_body_fields_are_ignored_but_unknown_rule_config_keys_are_named() {
    let s = TestServer::start().await;
    let mut c = Client::new(&s);
    let extra = |mut v: Value| {
        v["id"] = json!("123");
        v["created_at"] = json!("2026-01-01T00:00:00Z");
        v["colour"] = json!("red");
        v
    };
    c.create("wl", "/v1/agents/whitelist", extra(json!({"agent_id": "a-1"})), OK).await;
    c.send(Method::PUT, "/v1/agents/whitelist/{wl}", Some(extra(json!({"description": "d"}))), OK).await;
    let rule = json!({"name": "r", "rule_type": "threshold", "metric": "cpu.usage",
        "config_json": {"operator": "gt", "value": 1}});
    c.create("rule", "/v1/alerts/rules", extra(rule), CREATED).await;
    c.send(Method::PUT, "/v1/alerts/rules/{rule}", Some(extra(json!({"severity": "critical"}))), OK).await;
    c.send(Method::PUT, "/v1/alerts/rules/{rule}/enable", Some(extra(json!({"enabled": true}))), OK).await;
    c.create("d", "/v1/certs/domains", extra(json!({"domain": "x.example.test"})), CREATED).await;
    c.send(Method::PUT, "/v1/certs/domains/{d}", Some(extra(json!({"port": 8443}))), OK).await;
    let batch = json!({"domains": [extra(json!({"domain": "y.example.test"}))], "colour": 1});
    c.send(Method::POST, "/v1/certs/domains/batch", Some(batch), CREATED).await;
    let ch = json!({"name": "h", "channel_type": "webhook"});
    c.create("ch", "/v1/notifications/channels/config", extra(ch), CREATED).await;
    c.send(Method::PUT, "/v1/notifications/channels/config/{ch}", Some(extra(json!({"enabled": false}))), OK).await;
    c.send(Method::PUT, "/v1/notifications/channels/{ch}/recipients", Some(extra(json!({"recipients": []}))), OK).await;
    let w = json!({"start_time": "01:00", "end_time": "02:00"});
    c.create("w", "/v1/notifications/silence-windows", extra(w), CREATED).await;
    c.send(Method::PUT, "/v1/notifications/silence-windows/{w}", Some(extra(json!({"end_time": "03:00"}))), OK).await;
    let cfg = json!({"config_key": "k", "config_type": "runtime", "display_name": "K", "config_json": {"value": 1}});
    c.create("cfg", "/v1/system/configs", extra(cfg), CREATED).await;
    c.send(Method::PUT, "/v1/system/configs/{cfg}", Some(extra(json!({"enabled": false}))), OK).await;
    c.send(
        Method::POST,
        "/v1/dictionaries/types",
        Some(extra(json!({"dict_type": "t", "dict_type_label": "T"}))),
        CREATED,
    )
    .await;
    c.send(Method::PUT, "/v1/dictionaries/types/t", Some(extra(json!({"sort_order": 1}))), OK).await;
    let item = json!({"dict_type": "t", "dict_key": "k", "dict_label": "K"});
    c.create("item", "/v1/dictionaries", extra(item), CREATED).await;
    c.send(Method::PUT, "/v1/dictionaries/{item}", Some(extra(json!({"sort_order": 2}))), OK).await;

    let typo = json!({"name": "r2", "rule_type": "threshold", "metric": "cpu.usage",
        "config_json": {"operator": "gt", "value": 1, "duration": 60}});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(typo)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["err_msg"].as_str().unwrap().contains("unknown field `duration`"), "{body}");
    s.stop().await;
}

/// Requests 0.1 accepted that 0.2 refused at first: the rule type `trend`
/// (a key of 0.1's own dictionary), `HH:MM:SS` silence times, and runtime
/// settings other than the two the server uses.
#[tokio::test]
async fn requests_0_1_accepted_are_accepted_and_normalised() {
    let s = TestServer::start().await;
    for (rule_type, stored) in
        [("trend", "trend_prediction"), (" Trend ", "trend_prediction"), ("THRESHOLD", "threshold")]
    {
        let config =
            if stored == "threshold" { json!({"operator": "gt", "value": 1}) } else { json!({"predict_threshold": 9}) };
        let rule = json!({"name": format!("r {rule_type}"), "rule_type": rule_type, "metric": "cpu.usage", "config_json": config});
        let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
        assert_eq!((status, body["data"]["rule_type"].as_str()), (201, Some(stored)), "{rule_type}: {body}");
    }

    let sw = "/v1/notifications/silence-windows";
    let (status, body) =
        s.call(Method::POST, sw, Some(json!({"start_time": "22:15:00", "end_time": "06:00:00"}))).await;
    assert_eq!(
        (status, body["data"]["start_time"].as_str(), body["data"]["end_time"].as_str()),
        (201, Some("22:15"), Some("06:00")),
        "{body}"
    );
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = s.call(Method::PUT, &format!("{sw}/{id}"), Some(json!({"end_time": "07:30:00"}))).await;
    assert_eq!((status, body["data"]["end_time"].as_str()), (200, Some("07:30")), "{body}");
    for (bad, message) in [
        ("02:00:30", "start_time has minute precision; seconds must be 00, got \"02:00:30\""),
        ("24:00:00", "start_time must be a time of day as HH:MM"),
        ("02:00:0x", "start_time must be a time of day as HH:MM"),
    ] {
        let (status, body) = s.call(Method::POST, sw, Some(json!({"start_time": bad, "end_time": "04:00"}))).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["err_msg"].as_str().unwrap().contains(message), "{bad}: {body}");
    }

    let configs = "/v1/system/configs";
    let setting = |key: &str, cfg: Value| json!({"config_key": key, "config_type": "runtime", "display_name": key, "config_json": cfg});
    for cfg in [json!({"value": "dark"}), json!("{\"value\": [1, 2]}")] {
        let key = format!("console_{}", cfg.is_string());
        let (status, body) = s.call(Method::POST, configs, Some(setting(&key, cfg.clone()))).await;
        assert_eq!(status, 201, "{cfg}: {body}");
        assert_eq!(body["data"]["config_key"], key.as_str());
    }
    // The keys the server uses are still checked.
    let (status, body) = s
        .call(
            Method::PUT,
            &format!("{configs}/{}", first_id(&s, "notification_log_retention").await),
            Some(json!({"config_json": {"value": "forever"}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["err_msg"].as_str().unwrap().contains("notification_log_retention: value must be an integer"),
        "{body}"
    );
    let (status, body) = s.call(Method::POST, configs, Some(setting("no_value", json!({"v": 1})))).await;
    assert_eq!(
        (status, body["err_msg"].as_str()),
        (400, Some("no_value: config must be a JSON object with a \"value\""))
    );
    s.stop().await;
}

async fn first_id(s: &TestServer, key: &str) -> String {
    let rows = s.data("/v1/system/configs?limit=100").await;
    rows.as_array().unwrap().iter().find(|r| r["config_key"] == key).unwrap()["id"].as_str().unwrap().to_owned()
}
