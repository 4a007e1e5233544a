//! E-mail over SMTP (spec §6.4): one plain-text message per recipient, a new
//! connection each. Implicit TLS (port 465), STARTTLS (587 and 25, or
//! `tls = "starttls"`, required, never opportunistic) or plaintext
//! (`tls = "none"`, for local relays).

use std::fmt;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use crate::alert::Alert;
use crate::channel::{BoxFuture, Channel, EMAIL};
use crate::http::{Attempt, NetConfig, Verdict, with_retries};
use crate::report::{Delivery, ReportBuilder, SendReport, error_text};

mod config;

pub use config::{EmailConfig, TlsMode};

pub struct Email {
    config: EmailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    net: NetConfig,
}

impl Email {
    pub fn new(config: EmailConfig, net: NetConfig) -> Self {
        let tls = match config.tls {
            TlsMode::Implicit => Tls::Wrapper(config.tls_parameters.clone()),
            TlsMode::StartTls => Tls::Required(config.tls_parameters.clone()),
            TlsMode::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            .port(config.port)
            .tls(tls)
            // Per step (connect, each command); the whole message has `request_timeout`.
            .timeout(Some(net.connect_timeout));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Self { transport: builder.build(), config, net }
    }

    /// The plain-text body: `Alert:`, `Rule:` (if named), `Agent:`, `Metric:`,
    /// `Labels:` (if any), `Value:`, `Threshold:`, `Message:`, `Time:`.
    pub fn body(alert: &Alert) -> String {
        let mut s = format!("Alert: {}", alert.severity);
        if alert.is_recovered() {
            s.push_str(" [RECOVERED]");
        }
        if !alert.rule_name.is_empty() {
            s.push_str(&format!("\nRule: {}", alert.rule_name));
        }
        s.push_str(&format!("\nAgent: {}\nMetric: {}", alert.agent_id, alert.metric));
        let labels = alert.labels_text();
        if !labels.is_empty() {
            s.push_str(&format!("\nLabels: {labels}"));
        }
        s.push_str(&format!(
            "\nValue: {:.2}\nThreshold: {:.2}\nMessage: {}\nTime: {}",
            alert.value,
            alert.threshold,
            alert.message,
            alert.time_text()
        ));
        s
    }

    async fn deliver(&self, alert: &Alert, recipients: &[String]) -> SendReport {
        let subject = alert.title();
        let body = Self::body(alert);
        let logged = json!({
            "from_name": self.config.from.name,
            "from_email": self.config.from.email.to_string(),
            "subject": subject,
            "body": body,
        });
        let mut report = ReportBuilder::new(Some(logged.to_string()));
        for to in recipients {
            let d = match self.message(to, &subject, &body) {
                Ok(message) => with_retries(&self.net.retry_backoff, || self.attempt(message.clone())).await,
                Err(e) => Delivery::failed(e),
            };
            if let Some(e) = &d.error {
                tracing::warn!(host = %self.config.host, retries = d.retries, error = %e, "e-mail notification failed");
            }
            report.record(to.clone(), d);
        }
        report.finish()
    }

    fn message(&self, to: &str, subject: &str, body: &str) -> Result<Message, String> {
        let to: Mailbox = to.trim().parse().map_err(|e| format!("invalid e-mail address {to:?}: {e}"))?;
        Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    async fn attempt(&self, message: Message) -> Attempt {
        let timeout = self.net.request_timeout;
        match tokio::time::timeout(timeout, self.transport.send(message)).await {
            Err(_) => Attempt::transport(format!("SMTP send timed out after {} ms", timeout.as_millis())),
            Ok(Ok(response)) => {
                let text = format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "));
                Attempt { http_status: None, response_body: Some(text), verdict: Verdict::delivered() }
            }
            Ok(Err(e)) => {
                // A permanent (5xx) rejection will not change on retry.
                let retry = !e.is_permanent();
                let error = format!("SMTP: {}", error_text(&e));
                let code = e.status().map(|c| c.to_string());
                Attempt {
                    http_status: None,
                    response_body: None,
                    verdict: Verdict::Failed { error, api_error_code: code, retry },
                }
            }
        }
    }
}

impl Channel for Email {
    fn channel_type(&self) -> &'static str {
        EMAIL
    }

    fn send<'a>(&'a self, alert: &'a Alert, recipients: &'a [String]) -> BoxFuture<'a, SendReport> {
        Box::pin(self.deliver(alert, recipients))
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email").field("config", &self.config).field("net", &self.net).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertStatus, sample};

    #[test]
    fn body_is_0_1s_layout() {
        assert_eq!(
            Email::body(&sample()),
            "Alert: critical\nRule: High CPU\nAgent: web-1\nMetric: cpu.usage\nLabels: core=0, mount=/\nValue: 95.50\n\
             Threshold: 90.00\nMessage: cpu.usage has been above 90.0 for the configured duration on web-1\n\
             Time: 2024-05-01T12:00:00+00:00"
        );
        let mut a = sample();
        a.status = AlertStatus::Recovered;
        a.rule_name.clear();
        a.labels = Default::default();
        assert!(Email::body(&a).starts_with("Alert: critical [RECOVERED]\nAgent: web-1\nMetric: cpu.usage\nValue:"));
    }
}
