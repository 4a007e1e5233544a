//! The SMS channel against a real HTTP receiver: the generic gateway, and
//! Aliyun and Tencent Cloud with their signatures recomputed here from what
//! was received.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use oxmon_notify::build_channel;
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use support::http::{Receiver, Reply};
use support::{alert, http};

const TEXT: &str =
    "[oxmon][critical] High CPU web-1: cpu.usage has been above 90.0 for the configured duration on web-1";

#[tokio::test]
async fn generic_gateway_gets_one_bearer_post_per_phone() {
    let rx =
        Receiver::start(|i, _| if i == 0 { Reply::ok("{}") } else { Reply::Status(400, "bad number".into()) }).await;
    let config = json!({"gateway_url": rx.url("/sms/send"), "api_key": "k3y"});
    let channel = build_channel("sms", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &["13800000001".into(), "bogus".into()]).await;
    assert!(!report.success, "the second number failed");
    assert!(report.request_body.is_none(), "SMS bodies are never logged");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2, "a 400 is not retried");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer k3y"));
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(reqs[0].json(), json!({"to": "13800000001", "message": TEXT}));
    assert!(report.recipient_details[0].ok);
    assert_eq!(report.recipient_details[1].error.as_deref(), Some("HTTP 400 Bad Request: bad number"));
}

#[tokio::test]
async fn generic_gateway_takes_0_1s_url_headers_and_a_json_escaped_body_template() {
    let rx = Receiver::always("{}").await;
    // The `config` of 0.1's seed example `默认通用短信`, pointed at the receiver.
    let config = json!({
        "url": rx.url("/send"),
        "method": "POST",
        "headers": {"Authorization": "Bearer YOUR_TOKEN"},
        "body_template": "{\"phone\": \"{{recipient}}\", \"content\": \"[{{severity}}] {{message}}\", \"v\": {{value}}}"
    });
    let channel = build_channel("sms", &config.to_string(), &http()).unwrap();
    let mut a = alert();
    a.message = "disk \"/\" is full\n{{recipient}}".into();
    let report = channel.send(&a, &["13800000001".into(), "+44 7700 900000".into()]).await;
    assert!(report.success, "{report:?}");
    assert!(report.request_body.is_none(), "SMS bodies are never logged");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2, "one request per phone");
    for (req, phone) in reqs.iter().zip(["13800000001", "+44 7700 900000"]) {
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/send"));
        assert_eq!(req.headers.get_all("authorization").iter().count(), 1);
        assert_eq!(req.header("authorization"), Some("Bearer YOUR_TOKEN"));
        assert_eq!(req.header("content-type"), Some("application/json"));
        // Valid JSON although the message holds quotes and a newline; a
        // placeholder inside a value is not expanded again.
        assert_eq!(
            req.json(),
            json!({"phone": phone, "content": "[critical] disk \"/\" is full\n{{recipient}}", "v": 95.5})
        );
    }
}

#[tokio::test]
async fn generic_gateway_can_put_without_a_key() {
    let rx = Receiver::always("{}").await;
    let config = json!({"gateway_url": rx.url("/sms"), "method": "put", "headers": {"X-Api-Token": "t0k"}});
    let channel = build_channel("sms", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &["13800000001".into()]).await;
    assert!(report.success, "{report:?}");
    let req = &rx.requests()[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(req.header("x-api-token"), Some("t0k"));
    assert_eq!(req.header("authorization"), None, "no api_key, no bearer token");
    assert_eq!(req.json(), json!({"to": "13800000001", "message": TEXT}));
}

/// RFC 3986 encoding, written independently of the channel's.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn aliyun_requests_carry_a_valid_pop_signature() {
    let rx = Receiver::always(r#"{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"r"}"#).await;
    let config = json!({"provider": "aliyun", "access_key_id": "LTAIid", "access_key_secret": "sec/ret+",
                        "sign_name": "oxmon", "template_code": "SMS_1", "endpoint": rx.url("")});
    let channel = build_channel("sms", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &["13800000001".into()]).await;
    assert!(report.success, "{report:?}");
    assert_eq!(report.api_message_id.as_deref(), Some("900619746936498440^0"));

    let req = &rx.requests()[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/"));
    let raw = req.query.clone().unwrap();
    assert!(!raw.contains('+'), "RFC 3986, not form encoding: {raw}");
    let mut params = req.query_pairs();
    let signature = params.iter().position(|(k, _)| k == "Signature").map(|i| params.remove(i).1).unwrap();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("Action"), "SendSms");
    assert_eq!(get("Version"), "2017-05-25");
    assert_eq!(get("Format"), "JSON");
    assert_eq!(get("SignatureMethod"), "HMAC-SHA1");
    assert_eq!(get("SignatureVersion"), "1.0");
    assert_eq!(get("AccessKeyId"), "LTAIid");
    assert_eq!(get("PhoneNumbers"), "13800000001");
    assert_eq!(get("SignName"), "oxmon");
    assert_eq!(get("TemplateCode"), "SMS_1");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&get("TemplateParam")).unwrap(), json!({"msg": TEXT}));
    let ts = get("Timestamp");
    assert!(ts.len() == 20 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    assert!(get("SignatureNonce").parse::<u128>().is_ok());

    params.sort();
    let canonical: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    let string_to_sign = format!("GET&%2F&{}", encode(&canonical.join("&")));
    let mut mac = Hmac::<Sha1>::new_from_slice(b"sec/ret+&").unwrap();
    mac.update(string_to_sign.as_bytes());
    assert_eq!(signature, STANDARD.encode(mac.finalize().into_bytes()));
}

#[tokio::test]
async fn aliyun_error_codes_fail_with_the_code() {
    let rx = Receiver::always(r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"limit"}"#).await;
    let config = json!({"provider": "aliyun", "access_key_id": "i", "access_key_secret": "s", "sign_name": "n",
                        "template_code": "SMS_1", "template_param": "{\"code\":\"1234\"}", "endpoint": rx.url("/")});
    let channel = build_channel("sms", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &["13800000001".into()]).await;
    assert!(!report.success);
    assert_eq!(report.api_error_code.as_deref(), Some("isv.BUSINESS_LIMIT_CONTROL"));
    assert_eq!(report.retry_count, 2);
    assert_eq!(rx.requests()[0].param("TemplateParam").as_deref(), Some("{\"code\":\"1234\"}"));
}

fn hmac256(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

#[tokio::test]
async fn tencent_posts_once_with_a_valid_tc3_signature_and_reports_each_number() {
    let answer = r#"{"Response":{"SendStatusSet":[
        {"SerialNo":"2028:1","PhoneNumber":"+8613800000001","Code":"Ok","Message":"send success"},
        {"SerialNo":"","PhoneNumber":"+447700900000","Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"bad"}],
        "RequestId":"q"}}"#;
    let rx = Receiver::always(answer).await;
    let config = json!({"provider": "tencent", "secret_id": "AKIDx", "secret_key": "key", "sdk_app_id": "1400000000",
                        "sign_name": "oxmon", "template_id": "123", "endpoint": rx.url(""), "region": "ap-beijing"});
    let channel = build_channel("sms", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &["13800000001".into(), "+447700900000".into()]).await;
    assert!(!report.success, "one number failed");
    assert_eq!(report.api_message_id.as_deref(), Some("2028:1"));
    assert_eq!(report.recipient_details[0].recipient, "13800000001");
    assert!(report.recipient_details[0].ok);
    assert_eq!(
        report.recipient_details[1].error.as_deref(),
        Some("Tencent SMS error InvalidParameterValue.IncorrectPhoneNumber: bad")
    );

    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1, "one request for all numbers");
    let req = &reqs[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/"));
    assert_eq!(
        req.json(),
        json!({"PhoneNumberSet": ["+8613800000001", "+447700900000"], "SmsSdkAppId": "1400000000",
               "SignName": "oxmon", "TemplateId": "123", "TemplateParamSet": [TEXT]})
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("x-tc-action"), Some("SendSms"));
    assert_eq!(req.header("x-tc-version"), Some("2021-01-11"));
    assert_eq!(req.header("x-tc-region"), Some("ap-beijing"));
    let ts: i64 = req.header("x-tc-timestamp").unwrap().parse().unwrap();
    let host = req.header("host").unwrap();
    assert_eq!(host, rx.addr.to_string());

    let date = jiff::Timestamp::from_second(ts).unwrap().strftime("%Y-%m-%d").to_string();
    let scope = format!("{date}/sms/tc3_request");
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/json\nhost:{host}\n\ncontent-type;host\n{}",
        hex::encode(Sha256::digest(req.body.as_bytes()))
    );
    let to_sign = format!("TC3-HMAC-SHA256\n{ts}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let key = hmac256(&hmac256(&hmac256(b"TC3key", &date), "sms"), "tc3_request");
    let expected = format!(
        "TC3-HMAC-SHA256 Credential=AKIDx/{scope}, SignedHeaders=content-type;host, Signature={}",
        hex::encode(hmac256(&key, &to_sign))
    );
    assert_eq!(req.header("authorization"), Some(expected.as_str()));
}

#[tokio::test]
async fn tencent_response_errors_fail_every_number() {
    let rx = Receiver::always(
        r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"sig"},"RequestId":"q"}}"#,
    )
    .await;
    let config = json!({"provider": "tencent", "secret_id": "i", "secret_key": "k", "sdk_app_id": "1",
                        "sign_name": "n", "template_id": "t", "template_params": ["a", "b"], "endpoint": rx.url("")});
    let channel = build_channel("sms", &config.to_string(), &http()).unwrap();
    let report = channel.send(&alert(), &["1".into(), "2".into()]).await;
    assert!(!report.success);
    assert_eq!(report.retry_count, 2, "counted once for the one request");
    assert_eq!(report.api_error_code.as_deref(), Some("AuthFailure.SignatureFailure"));
    assert!(report.recipient_details.iter().all(|r| !r.ok));
    assert_eq!(rx.requests()[0].json()["TemplateParamSet"], json!(["a", "b"]));
}
