//! The webhook channel against a real HTTP receiver on loopback: payloads,
//! escaping, headers, retries, timeouts and per-recipient results.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::time::{Duration, Instant};

use oxmon_common::metric::Labels;
use oxmon_notify::build_channel;
use serde_json::json;
use support::http::{Receiver, Reply};
use support::{alert, http, http_with};

#[tokio::test]
async fn default_body_is_0_1s_json_with_configured_headers() {
    let rx = Receiver::always("ok").await;
    let config = json!({"headers": {"Authorization": "Bearer t0ken", "X-Source": "oxmon"}}).to_string();
    let channel = build_channel("webhook", &config, &http()).unwrap();
    let report = channel.send(&alert(), &[rx.url("/hook")]).await;
    assert!(report.success, "{report:?}");
    assert_eq!((report.http_status_code, report.retry_count), (Some(200), 0));

    let req = &rx.requests()[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hook"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(req.header("x-source"), Some("oxmon"));
    assert_eq!(
        req.json(),
        json!({"alert_id": "a1", "rule_id": "r1", "rule_name": "High CPU", "agent_id": "web-1", "metric": "cpu.usage",
               "severity": "critical", "message": "cpu.usage has been above 90.0 for the configured duration on web-1",
               "value": 95.5, "threshold": 90.0, "timestamp": "2024-05-01T12:00:00+00:00", "labels": {"core": "0"},
               "status": "firing"})
    );
    assert_eq!(report.request_body.as_deref(), Some(req.body.as_str()));
}

#[tokio::test]
async fn template_values_cannot_break_the_json() {
    let rx = Receiver::always("").await;
    let template = r#"{"text": "[{{severity}}] {{agent_id}}: {{message}}", "labels": "{{labels}}", "v": {{value}}, "s": "{{status}}"}"#;
    let channel = build_channel("webhook", &json!({ "body_template": template }).to_string(), &http()).unwrap();
    let mut a = alert();
    a.message = "quote \" backslash \\ newline \n tab \t".into();
    a.labels = Labels::from_pairs([("mount", "/mnt/\"evil\", \"x\": \"y")]);
    let report = channel.send(&a, &[rx.url("/t")]).await;
    assert!(report.success, "{report:?}");
    let body = rx.requests()[0].json();
    assert_eq!(
        body,
        json!({"text": "[critical] web-1: quote \" backslash \\ newline \n tab \t",
               "labels": "mount=/mnt/\"evil\", \"x\": \"y", "v": 95.5, "s": "firing"})
    );
}

#[tokio::test]
async fn a_receiver_failing_twice_then_answering_gives_two_retries() {
    let rx = Receiver::start(|i, _| if i < 2 { Reply::Status(503, "busy".into()) } else { Reply::ok("done") }).await;
    let channel = build_channel("webhook", "{}", &http()).unwrap();
    let report = channel.send(&alert(), &[rx.url("/flaky")]).await;
    assert!(report.success, "{report:?}");
    assert_eq!(report.retry_count, 2);
    assert_eq!(report.response_body.as_deref(), Some("done"));
    assert_eq!(rx.requests().len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_fail_the_send() {
    let rx = Receiver::start(|_, _| Reply::Status(404, "no such hook".into())).await;
    let channel = build_channel("webhook", "{}", &http()).unwrap();
    let report = channel.send(&alert(), &[rx.url("/gone")]).await;
    assert!(!report.success);
    assert_eq!((report.retry_count, report.http_status_code), (0, Some(404)));
    assert_eq!(report.recipient_details[0].error.as_deref(), Some("HTTP 404 Not Found: no such hook"));
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn a_receiver_that_never_answers_fails_within_the_timeout() {
    let rx = Receiver::start(|_, _| Reply::Hang).await;
    let channel = build_channel("webhook", "{}", &http_with(Duration::from_millis(200))).unwrap();
    let started = Instant::now();
    // The outer bound only keeps a broken timeout from hanging the suite.
    let report =
        tokio::time::timeout(Duration::from_secs(20), channel.send(&alert(), &[rx.url("/hang")])).await.unwrap();
    assert!(!report.success);
    assert_eq!(report.retry_count, 2, "timeouts are retried");
    assert_eq!(report.recipient_details[0].error.as_deref(), Some("request timed out after 200 ms"));
    assert_eq!(rx.requests().len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(600), "three attempts of 200 ms each");
}

#[tokio::test]
async fn one_failing_url_fails_the_send_and_is_reported_alone() {
    let good = Receiver::always("ok").await;
    let bad = Receiver::start(|_, _| Reply::Status(500, "boom".into())).await;
    let channel = build_channel("webhook", "{}", &http()).unwrap();
    let refused = "http://127.0.0.1:1/closed".to_owned();
    let report = channel.send(&alert(), &[good.url("/a"), bad.url("/b"), refused.clone(), "not a url".into()]).await;
    assert!(!report.success);
    let d = &report.recipient_details;
    assert!(d[0].ok);
    assert_eq!(d[1].error.as_deref(), Some("HTTP 500 Internal Server Error: boom"));
    assert!(d[2].error.as_deref().unwrap().starts_with("cannot connect"), "{d:?}");
    assert!(d[3].error.as_deref().unwrap().starts_with("recipient must be an http(s) URL"), "{d:?}");
    assert_eq!(report.retry_count, 4, "the 500 and the refused connection were retried twice each");
    assert_eq!(good.requests().len(), 1);
}

#[tokio::test]
async fn no_recipients_is_a_failure_not_a_silent_success() {
    let channel = build_channel("webhook", "{}", &http()).unwrap();
    let report = channel.send(&alert(), &[]).await;
    assert!(!report.success);
    assert_eq!(report.error_message.as_deref(), Some("no recipients: nothing was sent"));
}

#[tokio::test]
async fn secrets_in_urls_stay_out_of_the_report() {
    let rx = Receiver::start(|_, _| Reply::Status(500, "".into())).await;
    let channel = build_channel("webhook", "{}", &http()).unwrap();
    let report = channel.send(&alert(), &[rx.url("/hook?token=s3cret&x=1")]).await;
    let text = format!("{report:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(report.recipient_details[0].recipient, rx.url("/hook?token=***&x=1"));
}

#[tokio::test]
async fn long_multibyte_bodies_are_logged_truncated_at_a_character_boundary() {
    let rx = Receiver::start(|_, _| Reply::Status(500, "错误".repeat(3000))).await;
    let channel = build_channel("webhook", "{}", &http()).unwrap();
    let mut a = alert();
    a.message = "磁盘告警".repeat(1000); // 12000 bytes of 3-byte characters
    let report = channel.send(&a, &[rx.url("/long")]).await;
    assert_eq!(rx.requests()[0].json()["message"], a.message, "the receiver gets it whole");
    for logged in [report.request_body.unwrap(), report.response_body.unwrap()] {
        assert!(logged.ends_with("... [truncated]"), "{logged}");
        assert!(logged.len() <= 4000 + "... [truncated]".len());
    }
}
