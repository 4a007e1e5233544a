//! The DingTalk and WeCom robot channels against a real HTTP receiver:
//! payloads, the DingTalk signature (recomputed here), `errcode` failures
//! and target selection.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use oxmon_notify::build_channel;
use serde_json::json;
use sha2::Sha256;
use support::http::{Receiver, Reply};
use support::{alert, http};

const OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

#[tokio::test]
async fn dingtalk_signs_with_the_ms_timestamp_and_sends_0_1s_markdown() {
    let rx = Receiver::always(OK).await;
    let config = json!({"webhook_url": rx.url("/robot/send?access_token=tok"), "secret": "SECabc",
                        "at_mobiles": ["13800000000"]});
    let channel = build_channel("dingtalk", &config.to_string(), &http()).unwrap();
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let report = channel.send(&alert(), &[]).await;
    assert!(report.success, "{report:?}");

    let req = &rx.requests()[0];
    assert_eq!(req.path, "/robot/send");
    assert_eq!(req.param("access_token").as_deref(), Some("tok"));
    let ts = req.param("timestamp").unwrap();
    assert!(ts.parse::<u128>().unwrap() >= before, "milliseconds, taken at send time");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"SECabc").unwrap();
    mac.update(format!("{ts}\nSECabc").as_bytes());
    assert_eq!(req.param("sign").unwrap(), STANDARD.encode(mac.finalize().into_bytes()));
    assert!(!req.query.as_deref().unwrap().contains('+'), "the signature is URL-encoded");

    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json();
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(body["markdown"]["title"], "[oxmon][critical] High CPU - web-1");
    assert_eq!(
        body["markdown"]["text"],
        "### [oxmon][critical] High CPU - web-1\n\n- **Severity**: critical\n- **Rule**: High CPU\n\
         - **Agent**: web-1\n- **Metric**: cpu.usage\n- **Labels**: core=0\n- **Value**: 95.50\n\
         - **Threshold**: 90.00\n- **Time**: 2024-05-01T12:00:00+00:00\n\n\
         > cpu.usage has been above 90.0 for the configured duration on web-1 @13800000000"
    );
    assert_eq!(body["at"], json!({"isAtAll": false, "atMobiles": ["13800000000"]}));
    assert_eq!(report.recipient_details[0].recipient, rx.url("/robot/send?access_token=***"));
}

#[tokio::test]
async fn dingtalk_joins_the_signature_with_a_question_mark_when_the_url_has_no_query() {
    let rx = Receiver::always(OK).await;
    let config = json!({"webhook_url": rx.url("/robot/send"), "secret": "s"});
    let channel = build_channel("dingtalk", &config.to_string(), &http()).unwrap();
    assert!(channel.send(&alert(), &[]).await.success);
    let req = &rx.requests()[0];
    assert!(req.query.as_deref().unwrap().starts_with("timestamp="), "{:?}", req.query);
    assert!(req.param("sign").is_some());
}

#[tokio::test]
async fn dingtalk_errcode_in_a_200_is_a_failure_with_its_code() {
    let rx = Receiver::always(r#"{"errcode":310000,"errmsg":"sign not match"}"#).await;
    let config = json!({"webhook_url": rx.url("/robot/send?access_token=t")});
    let channel = build_channel("dingtalk", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &[]).await;
    assert!(!report.success);
    assert_eq!(report.http_status_code, Some(200));
    assert_eq!(report.api_error_code.as_deref(), Some("310000"));
    assert_eq!(report.retry_count, 2);
    assert_eq!(report.recipient_details[0].error.as_deref(), Some("DingTalk error 310000: sign not match"));
    assert!(rx.requests()[0].query.as_deref().is_some_and(|q| !q.contains("sign=")), "no secret, no signature");
}

#[tokio::test]
async fn dingtalk_recipients_replace_the_configured_url() {
    let configured = Receiver::always(OK).await;
    let extra = Receiver::start(|i, _| if i == 0 { Reply::ok(OK) } else { Reply::ok(r#"{"errcode":130101}"#) }).await;
    let config = json!({"webhook_url": configured.url("/robot/send"), "is_at_all": true});
    let channel = build_channel("dingtalk", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &[extra.url("/a"), extra.url("/b")]).await;
    assert!(configured.requests().is_empty());
    assert_eq!(extra.requests()[0].path, "/a");
    assert!(extra.requests()[0].json()["markdown"]["text"].as_str().unwrap().ends_with(" @所有人"));
    assert!(!report.success, "the second robot kept answering errcode 130101");
    assert!(report.recipient_details[0].ok && !report.recipient_details[1].ok);
}

#[tokio::test]
async fn weixin_sends_0_1s_markdown_and_checks_errcode() {
    let rx = Receiver::start(|i, _| {
        if i == 0 { Reply::ok(OK) } else { Reply::ok(r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#) }
    })
    .await;
    let config = json!({"webhook_url": rx.url("/cgi-bin/webhook/send?key=k1")});
    let channel = build_channel("weixin", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &[]).await;
    assert!(report.success, "{report:?}");
    let req = &rx.requests()[0];
    assert_eq!(req.param("key").as_deref(), Some("k1"));
    assert_eq!(
        req.json(),
        json!({"msgtype": "markdown", "markdown": {"content":
            "### [oxmon][critical] High CPU - web-1\n> **Severity**: critical\n> **Rule**: High CPU\n\
             > **Agent**: web-1\n> **Metric**: cpu.usage\n> **Labels**: core=0\n> **Value**: 95.50\n\
             > **Threshold**: 90.00\n> **Time**: 2024-05-01T12:00:00+00:00\n\n\
             cpu.usage has been above 90.0 for the configured duration on web-1"}})
    );
    assert_eq!(report.recipient_details[0].recipient, rx.url("/cgi-bin/webhook/send?key=***"));

    let failing = channel.send(&alert(), &[]).await;
    assert!(!failing.success);
    assert_eq!(failing.api_error_code.as_deref(), Some("93000"));
    assert_eq!(failing.recipient_details[0].error.as_deref(), Some("WeCom error 93000: invalid webhook url"));
}
