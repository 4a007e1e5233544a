//! Tencent Cloud SMS: one `POST https://<endpoint>/` for all phones, signed
//! with TC3-HMAC-SHA256. Success is no `Response.Error`; each phone then
//! succeeded when its `SendStatusSet` entry says `Code == "Ok"`.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::config::TencentConfig;
use super::{base_url, now};
use crate::http::{HttpClient, Verdict, classify_status};
use crate::report::{Delivery, ReportBuilder};

pub(super) async fn send(
    http: &HttpClient,
    c: &TencentConfig,
    text: &str,
    phones: &[&str],
    report: &mut ReportBuilder,
) {
    if phones.is_empty() {
        return;
    }
    let numbers: Vec<String> = phones.iter().map(|p| international(p)).collect();
    let params = if c.template_params.is_empty() { vec![text.to_owned()] } else { c.template_params.clone() };
    let body = json!({
        "PhoneNumberSet": numbers,
        "SmsSdkAppId": c.sdk_app_id,
        "SignName": c.sign_name,
        "TemplateId": c.template_id,
        "TemplateParamSet": params,
    })
    .to_string();
    let base = base_url(&c.endpoint);
    let host = base.split_once("://").map_or(base.as_str(), |(_, h)| h).to_owned();
    let url = format!("{base}/");
    let client = http.client();
    let d = http
        .deliver(
            || {
                // Signed per attempt: the timestamp must be fresh.
                let ts = i64::try_from(now().as_secs()).unwrap_or(0);
                client
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .header("X-TC-Action", "SendSms")
                    .header("X-TC-Version", "2021-01-11")
                    .header("X-TC-Timestamp", ts.to_string())
                    .header("X-TC-Region", &c.region)
                    .header("Authorization", authorization(&c.secret_id, c.secret_key.expose(), &host, &body, ts))
                    .body(body.clone())
            },
            classify,
        )
        .await;
    if let Some(e) = &d.error {
        tracing::warn!(retries = d.retries, error = %e, "Tencent SMS notification failed");
    }
    record_per_phone(phones, &numbers, d, report);
}

/// Spreads one request's answer over its phones. The request's retries,
/// status and body are recorded once, with the first phone.
fn record_per_phone(phones: &[&str], numbers: &[String], d: Delivery, report: &mut ReportBuilder) {
    let statuses: Vec<Value> = d
        .response_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|v| v.pointer("/Response/SendStatusSet").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    let mut shared = Some(Delivery { error: None, message_id: None, ..d.clone() });
    for (i, (phone, number)) in phones.iter().zip(numbers).enumerate() {
        let mut one = shared.take().unwrap_or_default();
        if let Some(e) = &d.error {
            one.error = Some(e.clone());
        } else {
            let status = statuses
                .iter()
                .find(|s| s.get("PhoneNumber").and_then(Value::as_str) == Some(number.as_str()))
                .or_else(|| statuses.get(i));
            match status {
                Some(s) if s.get("Code").and_then(Value::as_str) == Some("Ok") => {
                    one.message_id = s.get("SerialNo").and_then(Value::as_str).map(str::to_owned);
                }
                Some(s) => {
                    let code = s.get("Code").and_then(Value::as_str).unwrap_or("unknown");
                    let msg = s.get("Message").and_then(Value::as_str).unwrap_or("");
                    one.error = Some(format!("Tencent SMS error {code}: {msg}"));
                    one.api_error_code = Some(code.to_owned());
                }
                None => one.error = Some("Tencent SMS answer has no status for this number".into()),
            }
        }
        report.record((*phone).to_owned(), one);
    }
}

/// `+86` is prepended to numbers without a country code.
pub fn international(phone: &str) -> String {
    if phone.starts_with('+') { phone.to_owned() } else { format!("+86{phone}") }
}

/// The `Authorization` header value of TC3-HMAC-SHA256 for service `sms`.
pub fn authorization(secret_id: &str, secret_key: &str, host: &str, payload: &str, timestamp: i64) -> String {
    let date = Timestamp::from_second(timestamp)
        .map(|t| t.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let scope = format!("{date}/sms/tc3_request");
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/json\nhost:{host}\n\ncontent-type;host\n{}",
        hex::encode(Sha256::digest(payload.as_bytes()))
    );
    let string_to_sign =
        format!("TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, b"sms");
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    format!("TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `Response.Error` is an API error (retried); otherwise delivered, and the
/// per-number statuses decide each phone.
fn classify(status: StatusCode, body: &str) -> Verdict {
    if !status.is_success() {
        return classify_status(status, body);
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Verdict::retry("Tencent SMS answered with a body that is not JSON", None);
    };
    match v.pointer("/Response/Error") {
        Some(e) => {
            let code = e.get("Code").and_then(Value::as_str).unwrap_or("unknown");
            let msg = e.get("Message").and_then(Value::as_str).unwrap_or("");
            Verdict::retry(format!("Tencent SMS error {code}: {msg}"), Some(code.to_owned()))
        }
        None => Verdict::delivered(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_a_country_code() {
        assert_eq!(international("13800138000"), "+8613800138000");
        assert_eq!(international("+447700900000"), "+447700900000");
    }

    #[test]
    fn per_number_statuses_decide_each_phone() {
        let body = r#"{"Response":{"SendStatusSet":[
            {"PhoneNumber":"+8613800000001","Code":"Ok","SerialNo":"s1"},
            {"PhoneNumber":"+8613800000002","Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"limit"}]}}"#;
        let d =
            Delivery { http_status: Some(200), response_body: Some(body.into()), retries: 1, ..Delivery::default() };
        let mut report = ReportBuilder::new(None);
        let numbers = vec!["+8613800000001".to_owned(), "+8613800000002".to_owned()];
        record_per_phone(&["13800000001", "13800000002"], &numbers, d, &mut report);
        let r = report.finish();
        assert!(!r.success);
        assert_eq!(r.retry_count, 1, "one request: its retries count once");
        assert_eq!(r.api_message_id.as_deref(), Some("s1"));
        assert_eq!(r.api_error_code.as_deref(), Some("LimitExceeded.PhoneNumberDailyLimit"));
        assert!(r.recipient_details[0].ok);
        assert_eq!(
            r.recipient_details[1].error.as_deref(),
            Some("Tencent SMS error LimitExceeded.PhoneNumberDailyLimit: limit")
        );
    }
}
