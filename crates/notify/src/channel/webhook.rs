//! Generic webhook: one JSON POST per recipient URL (spec §6.3). The body is
//! 0.1's JSON object, or `body_template` with placeholders replaced by
//! JSON-string-escaped values so that no value can break the JSON.

use oxmon_common::metric::push_json_string;
use oxmon_common::settings::redact;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};

use crate::alert::Alert;
use crate::channel::fields::check_url;
use crate::channel::{BoxFuture, Channel, WEBHOOK, redact_url};
use crate::http::{HttpClient, classify_status};
use crate::report::{Delivery, ReportBuilder, SendReport};

mod config;

pub use config::WebhookConfig;

#[derive(Debug)]
pub struct Webhook {
    config: WebhookConfig,
    http: HttpClient,
}

/// Placeholders a `body_template` may use.
pub const PLACEHOLDERS: &[&str] = &[
    "alert_id",
    "rule_id",
    "rule_name",
    "agent_id",
    "metric",
    "value",
    "threshold",
    "severity",
    "message",
    "timestamp",
    "labels",
    "status",
];

impl Webhook {
    pub fn new(config: WebhookConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    /// The request body for `alert`.
    pub fn render(&self, alert: &Alert) -> String {
        match &self.config.body_template {
            Some(t) => render_template(t, alert),
            None => default_body(alert).to_string(),
        }
    }

    async fn deliver(&self, alert: &Alert, recipients: &[String]) -> SendReport {
        let body = self.render(alert);
        let mut report = ReportBuilder::new(Some(redacted_body(&body)));
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &self.config.headers {
            headers.insert(name.clone(), value.clone());
        }
        for target in recipients {
            let d = match check_url(target) {
                Err(e) => Delivery::failed(format!("recipient {e}")),
                Ok(url) => {
                    let client = self.http.client();
                    self.http
                        .deliver(
                            || client.post(url.clone()).headers(headers.clone()).body(body.clone()),
                            classify_status,
                        )
                        .await
                }
            };
            let shown = redact_url(target);
            if let Some(e) = &d.error {
                tracing::warn!(url = %shown, retries = d.retries, error = %e, "webhook notification failed");
            }
            report.record(shown, d);
        }
        report.finish()
    }
}

impl Channel for Webhook {
    fn channel_type(&self) -> &'static str {
        WEBHOOK
    }

    fn send<'a>(&'a self, alert: &'a Alert, recipients: &'a [String]) -> BoxFuture<'a, SendReport> {
        Box::pin(self.deliver(alert, recipients))
    }
}

/// oxmon 0.1's body: `{alert_id, rule_id, rule_name, agent_id, metric,
/// severity, message, value, threshold, timestamp, labels, status}` (keys
/// sorted, as 0.1's serializer wrote them).
pub fn default_body(alert: &Alert) -> Value {
    let labels: Map<String, Value> = alert.labels.iter().map(|(k, v)| (k.to_owned(), Value::from(v))).collect();
    json!({
        "alert_id": alert.id,
        "rule_id": alert.rule_id,
        "rule_name": alert.rule_name,
        "agent_id": alert.agent_id,
        "metric": alert.metric,
        "severity": alert.severity.as_str(),
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "timestamp": alert.time_text(),
        "labels": labels,
        "status": alert.status.as_str(),
    })
}

/// Replaces each `{{name}}` of [`PLACEHOLDERS`] by its value escaped as the
/// inside of a JSON string; unknown `{{...}}` stay as written. One pass, so
/// a value that itself contains `{{...}}` is not expanded again.
pub fn render_template(template: &str, alert: &Alert) -> String {
    render_template_with(template, alert, &[])
}

/// [`render_template`] with `extra` placeholders (name, value) besides
/// [`PLACEHOLDERS`], escaped the same way (the SMS gateway's `recipient`).
pub fn render_template_with(template: &str, alert: &Alert, extra: &[(&str, &str)]) -> String {
    let lookup = |name: &str| {
        extra.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()).or_else(|| placeholder(alert, name))
    };
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}").and_then(|end| lookup(after[..end].trim()).map(|v| (end, v))) {
            Some((end, value)) => {
                push_escaped(&mut out, &value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn placeholder(alert: &Alert, name: &str) -> Option<String> {
    Some(match name {
        "alert_id" => alert.id.clone(),
        "rule_id" => alert.rule_id.clone(),
        "rule_name" => alert.rule_name.clone(),
        "agent_id" => alert.agent_id.clone(),
        "metric" => alert.metric.clone(),
        "value" => format!("{:.2}", alert.value),
        "threshold" => format!("{:.2}", alert.threshold),
        "severity" => alert.severity.as_str().to_owned(),
        "message" => alert.message.clone(),
        "timestamp" => alert.time_text(),
        "labels" => alert.labels_text(),
        "status" => alert.status.as_str().to_owned(),
        _ => return None,
    })
}

/// `value` JSON-escaped, without the surrounding quotes.
fn push_escaped(out: &mut String, value: &str) {
    let mut quoted = String::with_capacity(value.len() + 2);
    push_json_string(&mut quoted, value);
    out.push_str(&quoted[1..quoted.len() - 1]);
}

/// The body as logged: JSON bodies with secret keys redacted.
fn redacted_body(body: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(body) else { return body.to_owned() };
    let before = v.clone();
    redact(&mut v);
    if v == before { body.to_owned() } else { v.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::sample;

    #[test]
    fn template_values_are_json_escaped_and_expanded_once() {
        let mut a = sample();
        a.message = "disk \"/\" full\n{{agent_id}}".into();
        a.labels = oxmon_common::metric::Labels::one("mount", "/mnt/\"q\"");
        let t = r#"{"text": "[{{severity}}] {{agent_id}}: {{message}}", "l": "{{labels}}", "v": {{value}}, "x": "{{nope}}"}"#;
        let body = render_template(t, &a);
        assert_eq!(
            body,
            r#"{"text": "[critical] web-1: disk \"/\" full\n{{agent_id}}", "l": "mount=/mnt/\"q\"", "v": 95.50, "x": "{{nope}}"}"#
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["text"], "[critical] web-1: disk \"/\" full\n{{agent_id}}");
    }

    #[test]
    fn default_body_is_0_1s_object() {
        let body = default_body(&sample()).to_string();
        assert_eq!(
            body,
            concat!(
                r#"{"agent_id":"web-1","alert_id":"a1","labels":{"core":"0","mount":"/"},"#,
                r#""message":"cpu.usage has been above 90.0 for the configured duration on web-1","#,
                r#""metric":"cpu.usage","rule_id":"r1","rule_name":"High CPU","severity":"critical","#,
                r#""status":"firing","threshold":90.0,"timestamp":"2024-05-01T12:00:00+00:00","value":95.5}"#
            )
        );
    }

    #[test]
    fn logged_bodies_hide_secret_keys() {
        assert_eq!(redacted_body(r#"{"b":1,"a":2}"#), r#"{"b":1,"a":2}"#, "untouched when nothing is secret");
        assert_eq!(redacted_body(r#"{"token":"t","a":2}"#), r#"{"a":2,"token":"***"}"#);
        assert_eq!(redacted_body("plain text"), "plain text");
    }
}
