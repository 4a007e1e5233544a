//! `/v1/notifications/channels*` and `/v1/notifications/logs*` over a real
//! server, with test sends to a real HTTP receiver on loopback.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use oxmon_storage::management::Management;
use reqwest::Method;
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::*;

const CONFIG: &str = "/v1/notifications/channels/config";
const CHANNELS: &str = "/v1/notifications/channels";

async fn create(s: &TestServer, body: Value) -> Value {
    let (status, body) = s.call(Method::POST, CONFIG, Some(body)).await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

fn stored_config(s: &TestServer, id: &str) -> Value {
    let m = Management::open(&s.dir).unwrap();
    serde_json::from_str(&m.channel(id).unwrap().unwrap().config_json).unwrap()
}

#[tokio::test]
async fn channels_are_created_listed_updated_and_deleted_with_secrets_redacted() {
    let s = TestServer::start().await;
    // 0.1's body: config_json as a string.
    let ding = create(
        &s,
        json!({"name": "ops robot", "channel_type": "dingtalk", "min_severity": "warning",
               "config_json": "{\"webhook_url\":\"https://oapi.dingtalk.com/robot/send?access_token=tok123\",\"secret\":\"SECabc\"}"}),
    )
    .await;
    let id = ding["id"].as_str().unwrap().to_owned();
    assert_eq!((ding["enabled"].as_bool(), ding["source"].as_str()), (Some(true), Some("api")));
    let shown = ding["config_json"].as_str().unwrap();
    assert!(!shown.contains("SECabc") && !shown.contains("tok123"), "secrets leak: {shown}");

    let mail = create(
        &s,
        json!({"name": "mail", "channel_type": "email", "recipients": ["a@example.com", " b@example.com ", ""],
               "config_json": {"smtp_host": "smtp.example.com", "smtp_port": 587, "from_name": "oxmon",
                               "from_email": "oxmon@example.com", "smtp_username": "u", "smtp_password": "hunter2"}}),
    )
    .await;
    assert!(!mail["config_json"].as_str().unwrap().contains("hunter2"));

    // Overview: newest first, recipients and their type.
    let list = s.data(CHANNELS).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["name"], "mail");
    assert_eq!(list[0]["recipients"], json!(["a@example.com", "b@example.com"]));
    assert_eq!(list[0]["recipient_type"], "email");
    assert_eq!(list[1]["recipient_type"], "webhook_url");
    let one = s.data(&format!("{CHANNELS}/{id}")).await;
    assert_eq!((one["name"].as_str(), one["min_severity"].as_str()), (Some("ops robot"), Some("warning")));
    let rows = s.data(&format!("{CONFIG}?limit=1&offset=1")).await;
    assert_eq!(rows[0]["name"], "ops robot");
    assert!(!s.data(&format!("{CONFIG}/{id}")).await["config_json"].as_str().unwrap().contains("SECabc"));

    // A fetched (redacted) config sent back keeps the stored secrets.
    let (status, body) = s
        .call(
            Method::PUT,
            &format!("{CONFIG}/{id}"),
            Some(json!({"config_json": one_config(&s, &id).await, "min_severity": "critical", "enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["data"]["min_severity"].as_str(), body["data"]["enabled"].as_bool()),
        (Some("critical"), Some(false))
    );
    let stored = stored_config(&s, &id);
    assert_eq!(stored["secret"], "SECabc");
    assert_eq!(stored["webhook_url"], "https://oapi.dingtalk.com/robot/send?access_token=tok123");

    // Recipients.
    let path = format!("{CHANNELS}/{id}/recipients");
    let (status, body) = s.call(Method::PUT, &path, Some(json!({"recipients": ["http://x/1", "http://x/2"]}))).await;
    assert_eq!((status, body["data"].clone()), (200, json!(["http://x/1", "http://x/2"])));
    assert_eq!(s.data(&format!("{path}?limit=1&offset=1")).await, json!(["http://x/2"]));

    // Delete.
    let (status, body) = s.call(Method::DELETE, &format!("{CONFIG}/{id}"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Channel deleted")));
    for (method, p) in [
        (Method::GET, format!("{CHANNELS}/{id}")),
        (Method::GET, format!("{CONFIG}/{id}")),
        (Method::DELETE, format!("{CONFIG}/{id}")),
        (Method::PUT, format!("{CONFIG}/{id}")),
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::POST, format!("{CHANNELS}/{id}/test")),
    ] {
        let body = matches!(method, Method::PUT).then(|| json!({"recipients": []}));
        let (status, resp) = s.call(method.clone(), &p, body).await;
        assert_eq!((status, resp["err_msg"].as_str()), (404, Some("Channel not found")), "{method} {p}");
    }
    assert!(Management::open(&s.dir).unwrap().channel_recipients(&id).unwrap().is_empty());
    s.stop().await;
}

async fn one_config(s: &TestServer, id: &str) -> Value {
    let text = s.data(&format!("{CONFIG}/{id}")).await["config_json"].as_str().unwrap().to_owned();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn bad_channels_are_refused_with_0_1_codes_and_nothing_is_stored() {
    let s = TestServer::start().await;
    create(&s, json!({"name": "hook", "channel_type": "webhook"})).await;
    let cases = [
        (json!({"name": "x", "channel_type": "pager", "config_json": {"a": 1}}), 400, 1999, "unknown_channel_type"),
        (json!({"name": "x", "channel_type": "email"}), 400, 1999, "missing_config"),
        (json!({"name": "x", "channel_type": "email", "config_json": "{oops"}), 400, 1999, "missing_config"),
        (json!({"name": "x", "channel_type": "email", "config_json": {"smtp_port": 25}}), 400, 1999, "invalid_config"),
        (json!({"name": "x", "channel_type": "dingtalk", "config_json": {"secret": "s"}}), 400, 1999, "invalid_config"),
        (json!({"name": " ", "channel_type": "webhook"}), 400, 1001, "name must not be empty"),
        (json!({"name": "x", "channel_type": "webhook", "min_severity": "loud"}), 400, 1001, "min_severity"),
        (json!({"name": "hook", "channel_type": "webhook"}), 409, 1005, "Channel name already exists"),
    ];
    for (body, status, code, message) in cases {
        let (got, resp) = s.call(Method::POST, CONFIG, Some(body.clone())).await;
        assert_eq!((got, resp["err_code"].as_i64()), (status, Some(code)), "{body} -> {resp}");
        assert!(resp["err_msg"].as_str().unwrap().contains(message), "{body} -> {resp}");
    }
    assert_eq!(s.data(CONFIG).await.as_array().unwrap().len(), 1, "nothing stored");
    for path in [format!("{CHANNELS}?limit=x"), format!("{CONFIG}?offset=-1")] {
        let (status, body, _) = s.get(&path).await;
        assert_eq!((status, body["err_code"].as_i64()), (400, Some(1001)), "{path}: {body}");
    }

    // 0.1's SMS type names are the sms type with that provider.
    let sms = create(
        &s,
        json!({"name": "aliyun", "channel_type": "sms_aliyun", "recipients": ["13800138000"],
               "config_json": {"access_key_id": "id", "access_key_secret": "k", "sign_name": "s", "template_code": "SMS_1"}}),
    )
    .await;
    assert_eq!(sms["channel_type"], "sms");
    assert_eq!(stored_config(&s, sms["id"].as_str().unwrap())["provider"], "aliyun");

    // A rejected update changes nothing.
    let id = sms["id"].as_str().unwrap();
    for (body, message) in [
        (json!({"channel_type": "email"}), "channel_type cannot be changed"),
        (json!({"config_json": {"provider": "aliyun"}}), "invalid_config"),
        (json!({"name": "hook"}), "Channel name already exists"),
    ] {
        let (status, resp) = s.call(Method::PUT, &format!("{CONFIG}/{id}"), Some(body.clone())).await;
        assert!(status == 400 || status == 409, "{body} -> {status} {resp}");
        assert!(resp["err_msg"].as_str().unwrap().contains(message), "{body} -> {resp}");
    }
    assert_eq!(stored_config(&s, id)["access_key_secret"], "k");
    s.stop().await;
}

#[tokio::test]
async fn test_sends_reach_the_receiver_and_are_logged() {
    let s = TestServer::start().await;
    let hook = Receiver::start().await;
    let ok = create(
        &s,
        json!({"name": "hook", "channel_type": "webhook", "enabled": false, "min_severity": "critical",
               "recipients": [format!("{}/alerts", hook.url)]}),
    )
    .await;
    let ok_id = ok["id"].as_str().unwrap();
    let (status, body) = s.call(Method::POST, &format!("{CHANNELS}/{ok_id}/test"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Test notification sent")), "{body}");
    let got = hook.wait_for(1).await;
    assert_eq!((got[0].method.as_str(), got[0].uri.as_str()), ("POST", "/alerts"));
    let sent = got[0].json();
    assert_eq!((sent["agent_id"].as_str(), sent["severity"].as_str()), (Some("test-agent"), Some("info")));

    // A receiver that keeps failing: the test reports the failure.
    let bad = Receiver::start().await;
    bad.script(&[500, 500, 500, 500]);
    let failing =
        create(&s, json!({"name": "broken", "channel_type": "webhook", "recipients": [format!("{}/x", bad.url)]}))
            .await;
    let bad_id = failing["id"].as_str().unwrap();
    let (status, body) = s.call(Method::POST, &format!("{CHANNELS}/{bad_id}/test"), None).await;
    assert_eq!((status, body["err_code"].as_i64()), (500, Some(1500)), "{body}");
    assert!(body["err_msg"].as_str().unwrap().contains("500"), "{body}");

    // Both sends are logged.
    let logs = s.data("/v1/notifications/logs").await;
    assert_eq!(logs["total"], 2, "{logs}");
    let items = logs["items"].as_array().unwrap();
    assert_eq!(items[0]["status"], "failed", "newest first");
    assert_eq!(items[0]["channel_name"], "broken");
    assert_eq!(items[1]["status"], "success");
    assert_eq!((items[1]["channel_id"].as_str(), items[1]["agent_id"].as_str()), (Some(ok_id), Some("test-agent")));
    let details: Value = serde_json::from_str(items[0]["recipient_details"].as_str().unwrap()).unwrap();
    assert_eq!(details[0]["recipient"], format!("{}/x", bad.url));

    let only_ok = s.data(&format!("/v1/notifications/logs?status=success&channel_id={ok_id}")).await;
    assert_eq!(only_ok["total"], 1);
    let summary = s.data("/v1/notifications/logs/summary").await;
    assert_eq!(summary, json!({"total": 2, "success": 1, "failed": 1}));
    let typed = s.data("/v1/notifications/logs/summary?channel_type=email").await;
    assert_eq!(typed["total"], 0);
    let future = s.data("/v1/notifications/logs?start_time=4102444800").await;
    assert_eq!(future["total"], 0);

    for (path, message) in [
        ("/v1/notifications/logs?status=maybe", "status must be success or failed"),
        ("/v1/notifications/logs?start_time=yesterday", "start_time must be Unix seconds"),
        ("/v1/notifications/logs?limit=-1", "limit must be a non-negative integer"),
        ("/v1/notifications/logs/summary?end_time=x", "end_time must be Unix seconds"),
    ] {
        let (status, body, _) = s.get(path).await;
        assert_eq!((status, body["err_code"].as_i64()), (400, Some(1001)), "{path}");
        assert!(body["err_msg"].as_str().unwrap().contains(message), "{path}: {body}");
    }
    s.stop().await;
}

fn stored_recipients(s: &TestServer, id: &str) -> Vec<String> {
    Management::open(&s.dir).unwrap().channel_recipients(id).unwrap()
}

#[tokio::test]
async fn secrets_in_recipient_urls_are_redacted_everywhere_and_kept_on_round_trips() {
    let s = TestServer::start().await;
    let ding_url = "https://oapi.dingtalk.com/robot/send?access_token=ding-secret";
    let wecom_url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-secret";
    let hook_url = "https://bot:pass-secret@hooks.example/alert?token=hook-secret&env=prod";
    let created = create(
        &s,
        json!({"name": "hooks", "channel_type": "webhook", "config_json": {},
               "recipients": [ding_url, wecom_url, hook_url]}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let shown = json!([
        "https://oapi.dingtalk.com/robot/send?access_token=***",
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
        "https://bot:***@hooks.example/alert?token=***&env=prod"
    ]);

    let list = s.data(CHANNELS).await;
    assert_eq!(list[0]["recipients"], shown, "channel list");
    assert_eq!(s.data(&format!("{CHANNELS}/{id}")).await["recipients"], shown, "one channel");
    assert_eq!(s.data(&format!("{CHANNELS}/{id}/recipients")).await, shown, "recipients");
    for path in [CHANNELS.to_owned(), format!("{CHANNELS}/{id}"), format!("{CHANNELS}/{id}/recipients")] {
        let (_, _, text) = s.get(&path).await;
        assert!(!text.contains("secret"), "{path}: {text}");
    }

    // GET -> edit -> PUT: the redacted recipients sent back keep their values.
    let mut sent: Vec<Value> = shown.as_array().unwrap().clone();
    sent.push(json!("https://new.example/x?token=fresh"));
    let (status, body) =
        s.call(Method::PUT, &format!("{CHANNELS}/{id}/recipients"), Some(json!({"recipients": sent}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][3], "https://new.example/x?token=***", "the response is redacted too");
    assert_eq!(stored_recipients(&s, &id), [ding_url, wecom_url, hook_url, "https://new.example/x?token=fresh"]);

    let (status, body) =
        s.call(Method::PUT, &format!("{CONFIG}/{id}"), Some(json!({"recipients": [shown[1].clone()]}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_recipients(&s, &id), [wecom_url]);

    // A marker that matches no stored recipient is refused, never stored.
    let (status, body) = s
        .call(
            Method::PUT,
            &format!("{CHANNELS}/{id}/recipients"),
            Some(json!({"recipients": ["https://other.example/?token=***"]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["err_msg"].as_str().unwrap().contains("matches no stored recipient"), "{body}");
    assert_eq!(stored_recipients(&s, &id), [wecom_url]);
    s.stop().await;
}
