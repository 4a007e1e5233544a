//! SMS (spec §6.7) through a generic HTTP gateway, Aliyun or Tencent Cloud,
//! chosen by the config's `provider`. Request bodies are never logged (they
//! carry phone numbers).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::alert::Alert;
use crate::channel::{BoxFuture, Channel, SMS};
use crate::http::HttpClient;
use crate::report::{ReportBuilder, SendReport};

pub mod aliyun;
mod config;
mod generic;
pub mod tencent;

pub use config::{AliyunConfig, GenericConfig, SmsConfig, TencentConfig};

#[derive(Debug)]
pub struct Sms {
    config: SmsConfig,
    http: HttpClient,
}

impl Sms {
    pub fn new(config: SmsConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    async fn deliver(&self, alert: &Alert, recipients: &[String]) -> SendReport {
        let text = text(alert);
        let mut report = ReportBuilder::new(None);
        let phones: Vec<&str> = recipients.iter().map(|r| r.trim()).filter(|r| !r.is_empty()).collect();
        match &self.config {
            SmsConfig::Generic(c) => generic::send(&self.http, c, alert, &text, &phones, &mut report).await,
            SmsConfig::Aliyun(c) => aliyun::send(&self.http, c, &text, &phones, &mut report).await,
            SmsConfig::Tencent(c) => tencent::send(&self.http, c, &text, &phones, &mut report).await,
        }
        report.finish()
    }
}

impl Channel for Sms {
    fn channel_type(&self) -> &'static str {
        SMS
    }

    fn send<'a>(&'a self, alert: &'a Alert, recipients: &'a [String]) -> BoxFuture<'a, SendReport> {
        Box::pin(self.deliver(alert, recipients))
    }
}

/// `[oxmon][<severity>][RECOVERED] <rule name> <agent>: <message>`, the
/// recovery tag and rule name only when there are.
pub fn text(alert: &Alert) -> String {
    let rule = if alert.rule_name.is_empty() { String::new() } else { format!(" {}", alert.rule_name) };
    format!("[oxmon][{}]{}{} {}: {}", alert.severity, alert.recovered_tag(), rule, alert.agent_id, alert.message)
}

fn now() -> std::time::Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Percent-encoding of RFC 3986: everything but `A-Za-z0-9-_.~`, in upper
/// case hex (what Aliyun's signature requires).
pub fn rfc3986_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `endpoint` as a base URL: kept when it has a scheme (tests use
/// `http://127.0.0.1:port`), else `https://<endpoint>`; no trailing `/`.
fn base_url(endpoint: &str) -> String {
    let e = endpoint.trim_end_matches('/');
    if e.starts_with("http://") || e.starts_with("https://") { e.to_owned() } else { format!("https://{e}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertStatus, sample};

    #[test]
    fn text_is_0_1s() {
        let mut a = sample();
        assert_eq!(
            text(&a),
            "[oxmon][critical] High CPU web-1: cpu.usage has been above 90.0 for the configured duration on web-1"
        );
        a.rule_name.clear();
        a.status = AlertStatus::Recovered;
        a.message = "m".into();
        assert_eq!(text(&a), "[oxmon][critical][RECOVERED] web-1: m");
    }

    #[test]
    fn rfc3986_keeps_only_unreserved() {
        assert_eq!(rfc3986_encode("a-b_c.d~e f*g/h+i=é"), "a-b_c.d~e%20f%2Ag%2Fh%2Bi%3D%C3%A9");
        assert_eq!(base_url("dysmsapi.aliyuncs.com"), "https://dysmsapi.aliyuncs.com");
        assert_eq!(base_url("http://127.0.0.1:9/"), "http://127.0.0.1:9");
    }
}
