//! What the DingTalk and WeCom robots share: their targets (the config's
//! `webhook_url`, or the recipient URLs when there are any) and their
//! answers (HTTP 200 with an `errcode` in the body).

use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::channel::fields::check_url;
use crate::channel::redact_url;
use crate::http::{HttpClient, Verdict, classify_status};
use crate::report::{Delivery, ReportBuilder, SendReport};

/// The recipient URLs, or the configured URL when there are none.
pub(crate) fn targets<'a>(webhook_url: &'a str, recipients: &'a [String]) -> Vec<&'a str> {
    if recipients.is_empty() { vec![webhook_url] } else { recipients.iter().map(String::as_str).collect() }
}

/// Posts the JSON `body` to every target of a robot (`robot` names it in
/// errors and logs), passing each target URL through `sign` first.
pub(crate) async fn post_to_targets(
    http: &HttpClient,
    robot: &'static str,
    webhook_url: &str,
    recipients: &[String],
    body: String,
    sign: impl Fn(Url) -> Url,
) -> SendReport {
    let mut report = ReportBuilder::new(Some(body.clone()));
    for target in targets(webhook_url, recipients) {
        let d = match check_url(target) {
            Err(e) => Delivery::failed(format!("recipient {e}")),
            Ok(url) => {
                // One signature per target; its retries reuse it.
                let url = sign(url);
                let client = http.client();
                http.deliver(
                    || {
                        client
                            .post(url.clone())
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(body.clone())
                    },
                    |status, body| classify(robot, status, body),
                )
                .await
            }
        };
        let shown = redact_url(target);
        if let Some(e) = &d.error {
            tracing::warn!(url = %shown, retries = d.retries, error = %e, "{robot} notification failed");
        }
        report.record(shown, d);
    }
    report.finish()
}

/// Success is a 2xx status with `errcode == 0` in a JSON body; any other
/// `errcode` is a failure carrying that code (retried, as oxmon 0.1 did:
/// rate limiting is reported this way).
pub(crate) fn classify(robot: &str, status: StatusCode, body: &str) -> Verdict {
    if !status.is_success() {
        return classify_status(status, body);
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let Some(v) = parsed else {
        return Verdict::retry(format!("{robot} answered with a body that is not JSON"), None);
    };
    match v.get("errcode").and_then(Value::as_i64) {
        Some(0) => Verdict::delivered(),
        Some(code) => {
            let msg = v.get("errmsg").and_then(Value::as_str).unwrap_or("unknown error");
            Verdict::retry(format!("{robot} error {code}: {msg}"), Some(code.to_string()))
        }
        None => Verdict::retry(format!("{robot} answer has no errcode"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcode_decides_success() {
        assert_eq!(classify("DingTalk", StatusCode::OK, r#"{"errcode":0,"errmsg":"ok"}"#), Verdict::delivered());
        assert_eq!(
            classify("DingTalk", StatusCode::OK, r#"{"errcode":310000,"errmsg":"sign not match"}"#),
            Verdict::retry("DingTalk error 310000: sign not match", Some("310000".into()))
        );
        assert!(matches!(classify("WeCom", StatusCode::OK, "<html>"), Verdict::Failed { retry: true, .. }));
        assert!(matches!(classify("WeCom", StatusCode::FORBIDDEN, ""), Verdict::Failed { retry: false, .. }));
    }

    #[test]
    fn recipients_replace_the_configured_url() {
        assert_eq!(targets("https://a", &[]), vec!["https://a"]);
        let r = vec!["https://b".to_owned(), "https://c".to_owned()];
        assert_eq!(targets("https://a", &r), vec!["https://b", "https://c"]);
    }
}
