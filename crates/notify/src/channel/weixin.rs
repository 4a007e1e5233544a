//! WeCom (WeChat Work) group robot (spec §6.6): a markdown message to the
//! configured robot URL or to each recipient URL. No signing, no mentions.

use serde_json::{Value, json};

use crate::alert::Alert;
use crate::channel::{BoxFuture, Channel, WEIXIN, robot};
use crate::http::HttpClient;
use crate::report::SendReport;

mod config;

pub use config::WeComConfig;

#[derive(Debug)]
pub struct WeCom {
    config: WeComConfig,
    http: HttpClient,
}

impl WeCom {
    pub fn new(config: WeComConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    /// `{"msgtype": "markdown", "markdown": {"content": ...}}`.
    pub fn payload(alert: &Alert) -> Value {
        json!({ "msgtype": "markdown", "markdown": { "content": Self::markdown(alert) } })
    }

    /// `### <title>`, quoted field lines, a blank line, the message.
    pub fn markdown(alert: &Alert) -> String {
        let mut s = format!("### {}\n> **Severity**: {}", alert.title(), alert.severity);
        if !alert.rule_name.is_empty() {
            s.push_str(&format!("\n> **Rule**: {}", alert.rule_name));
        }
        s.push_str(&format!("\n> **Agent**: {}\n> **Metric**: {}", alert.agent_id, alert.metric));
        let labels = alert.labels_text();
        if !labels.is_empty() {
            s.push_str(&format!("\n> **Labels**: {labels}"));
        }
        s.push_str(&format!(
            "\n> **Value**: {:.2}\n> **Threshold**: {:.2}\n> **Time**: {}\n\n{}",
            alert.value,
            alert.threshold,
            alert.time_text(),
            alert.message
        ));
        s
    }

    async fn deliver(&self, alert: &Alert, recipients: &[String]) -> SendReport {
        let body = Self::payload(alert).to_string();
        robot::post_to_targets(&self.http, "WeCom", &self.config.webhook_url, recipients, body, |url| url).await
    }
}

impl Channel for WeCom {
    fn channel_type(&self) -> &'static str {
        WEIXIN
    }

    fn send<'a>(&'a self, alert: &'a Alert, recipients: &'a [String]) -> BoxFuture<'a, SendReport> {
        Box::pin(self.deliver(alert, recipients))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::sample;

    #[test]
    fn markdown_is_0_1s_layout() {
        assert_eq!(
            WeCom::markdown(&sample()),
            "### [oxmon][critical] High CPU - web-1\n> **Severity**: critical\n> **Rule**: High CPU\n\
             > **Agent**: web-1\n> **Metric**: cpu.usage\n> **Labels**: core=0, mount=/\n> **Value**: 95.50\n\
             > **Threshold**: 90.00\n> **Time**: 2024-05-01T12:00:00+00:00\n\n\
             cpu.usage has been above 90.0 for the configured duration on web-1"
        );
    }
}
