//! Aliyun SMS: per phone `GET https://<endpoint>/?<query>` signed with POP
//! RPC signature v1 (HMAC-SHA1). Success is `Code == "OK"`; `BizId` is the
//! message id.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::Sha1;

use super::config::AliyunConfig;
use super::{base_url, now, rfc3986_encode};
use crate::http::{HttpClient, Verdict, classify_status};
use crate::report::ReportBuilder;

pub(super) async fn send(http: &HttpClient, c: &AliyunConfig, text: &str, phones: &[&str], report: &mut ReportBuilder) {
    let client = http.client();
    let base = base_url(&c.endpoint);
    for phone in phones {
        let t = now();
        let timestamp = Timestamp::from_second(i64::try_from(t.as_secs()).unwrap_or(0))
            .map(|ts| ts.to_zoned(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let query = signed_query(c, phone, text, &timestamp, &t.as_nanos().to_string());
        let url = format!("{base}/?{query}");
        let d = http.deliver(|| client.get(&url), classify).await;
        if let Some(e) = &d.error {
            tracing::warn!(retries = d.retries, error = %e, "Aliyun SMS notification failed");
        }
        report.record((*phone).to_owned(), d);
    }
}

/// The request's query string: parameters sorted by name, RFC 3986
/// encoded, then `Signature`.
pub fn signed_query(c: &AliyunConfig, phone: &str, text: &str, timestamp: &str, nonce: &str) -> String {
    let template_param = c.template_param.clone().unwrap_or_else(|| json!({ "msg": text }).to_string());
    let mut params: Vec<(&str, &str)> = vec![
        ("AccessKeyId", &c.access_key_id),
        ("Action", "SendSms"),
        ("Format", "JSON"),
        ("PhoneNumbers", phone),
        ("SignName", &c.sign_name),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", nonce),
        ("SignatureVersion", "1.0"),
        ("TemplateCode", &c.template_code),
        ("TemplateParam", &template_param),
        ("Timestamp", timestamp),
        ("Version", "2017-05-25"),
    ];
    params.sort_by(|a, b| a.0.cmp(b.0));
    let canonical: Vec<String> =
        params.iter().map(|(k, v)| format!("{}={}", rfc3986_encode(k), rfc3986_encode(v))).collect();
    let canonical = canonical.join("&");
    let signature = signature(&canonical, c.access_key_secret.expose());
    format!("{canonical}&Signature={}", rfc3986_encode(&signature))
}

/// Base64(HMAC-SHA1(key = secret + "&", "GET&%2F&" + encode(canonical))).
pub fn signature(canonical_query: &str, access_key_secret: &str) -> String {
    let string_to_sign = format!("GET&%2F&{}", rfc3986_encode(canonical_query));
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(format!("{access_key_secret}&").as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `Code == "OK"` (with a 2xx) delivers; another `Code` is an API error,
/// retried like 0.1 unless the status is a client error.
fn classify(status: StatusCode, body: &str) -> Verdict {
    let by_status = classify_status(status, body);
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let code = parsed.as_ref().and_then(|v| v.get("Code")).and_then(Value::as_str);
    match code {
        Some("OK") if status.is_success() => Verdict::Delivered {
            message_id: parsed.as_ref().and_then(|v| v.get("BizId")).and_then(Value::as_str).map(str::to_owned),
        },
        Some(code) => {
            let msg = parsed.as_ref().and_then(|v| v.get("Message")).and_then(Value::as_str).unwrap_or("unknown error");
            let retry = status.is_success() || matches!(by_status, Verdict::Failed { retry: true, .. });
            Verdict::Failed {
                error: format!("Aliyun SMS error {code}: {msg}"),
                api_error_code: Some(code.to_owned()),
                retry,
            }
        }
        None if status.is_success() => Verdict::retry("Aliyun SMS answer has no Code", None),
        None => by_status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_code() {
        assert_eq!(
            classify(StatusCode::OK, r#"{"Code":"OK","BizId":"b1","Message":"OK"}"#),
            Verdict::Delivered { message_id: Some("b1".into()) }
        );
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"bad number"}"#),
            Verdict::Failed {
                error: "Aliyun SMS error isv.MOBILE_NUMBER_ILLEGAL: bad number".into(),
                api_error_code: Some("isv.MOBILE_NUMBER_ILLEGAL".into()),
                retry: false
            }
        );
        assert!(matches!(
            classify(StatusCode::OK, r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL"}"#),
            Verdict::Failed { retry: true, .. }
        ));
    }
}
