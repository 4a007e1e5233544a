//! DingTalk robot (spec §6.5): a markdown message with optional mentions,
//! signed with HMAC-SHA256 over the millisecond timestamp when a `secret`
//! is configured.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Url;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::alert::Alert;
use crate::channel::{BoxFuture, Channel, DINGTALK, robot};
use crate::http::HttpClient;
use crate::report::SendReport;

mod config;

pub use config::DingTalkConfig;

#[derive(Debug)]
pub struct DingTalk {
    config: DingTalkConfig,
    http: HttpClient,
}

impl DingTalk {
    pub fn new(config: DingTalkConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    /// `{"msgtype": "markdown", "markdown": {title, text}, "at": {...}}`;
    /// `atMobiles`/`atUserIds` only when configured.
    pub fn payload(&self, alert: &Alert) -> Value {
        let c = &self.config;
        let mut at = json!({ "isAtAll": c.is_at_all });
        if !c.at_mobiles.is_empty() {
            at["atMobiles"] = json!(c.at_mobiles);
        }
        if !c.at_user_ids.is_empty() {
            at["atUserIds"] = json!(c.at_user_ids);
        }
        json!({
            "msgtype": "markdown",
            "markdown": { "title": alert.title(), "text": self.markdown(alert) },
            "at": at,
        })
    }

    /// `### <title>`, bullet lines, then the message quoted with mentions.
    pub fn markdown(&self, alert: &Alert) -> String {
        let c = &self.config;
        let mut s = format!("### {}\n\n- **Severity**: {}", alert.title(), alert.severity);
        if !alert.rule_name.is_empty() {
            s.push_str(&format!("\n- **Rule**: {}", alert.rule_name));
        }
        s.push_str(&format!("\n- **Agent**: {}\n- **Metric**: {}", alert.agent_id, alert.metric));
        let labels = alert.labels_text();
        if !labels.is_empty() {
            s.push_str(&format!("\n- **Labels**: {labels}"));
        }
        s.push_str(&format!(
            "\n- **Value**: {:.2}\n- **Threshold**: {:.2}\n- **Time**: {}\n\n> {}",
            alert.value,
            alert.threshold,
            alert.time_text(),
            alert.message
        ));
        if c.is_at_all {
            s.push_str(" @所有人");
        } else {
            for who in c.at_mobiles.iter().chain(&c.at_user_ids) {
                s.push_str(" @");
                s.push_str(who);
            }
        }
        s
    }

    async fn deliver(&self, alert: &Alert, recipients: &[String]) -> SendReport {
        let body = self.payload(alert).to_string();
        // A signature is valid for an hour, so a target's retries reuse it.
        let sign = |url| match &self.config.secret {
            Some(secret) => sign_url(url, now_ms(), secret.expose()),
            None => url,
        };
        robot::post_to_targets(&self.http, "DingTalk", &self.config.webhook_url, recipients, body, sign).await
    }
}

impl Channel for DingTalk {
    fn channel_type(&self) -> &'static str {
        DINGTALK
    }

    fn send<'a>(&'a self, alert: &'a Alert, recipients: &'a [String]) -> BoxFuture<'a, SendReport> {
        Box::pin(self.deliver(alert, recipients))
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `Base64(HMAC-SHA256(key = secret, "<timestamp_ms>\n<secret>"))`.
pub fn signature(timestamp_ms: i64, secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Appends `timestamp` and the URL-encoded `sign` to the query, with `?` or
/// `&` as the URL needs (0.1 always used `&`).
pub fn sign_url(mut url: Url, timestamp_ms: i64, secret: &str) -> Url {
    url.query_pairs_mut()
        .append_pair("timestamp", &timestamp_ms.to_string())
        .append_pair("sign", &signature(timestamp_ms, secret));
    url
}

#[cfg(test)]
mod tests;
