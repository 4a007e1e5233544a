//! What one channel send did: the [`SendReport`] that becomes a
//! notification-log row, and the UTF-8-safe truncation of logged bodies.

use std::error::Error as StdError;
use std::time::Instant;

use serde_json::{Value, json};

/// Bodies stored in notification logs are cut to this many bytes.
pub const MAX_LOGGED_BODY: usize = 4000;
/// Appended to a body that was cut.
pub const TRUNCATED_SUFFIX: &str = "... [truncated]";

/// The outcome of sending one alert through one channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendReport {
    /// True only when every recipient got the notification.
    pub success: bool,
    pub error_message: Option<String>,
    /// HTTP status of the last response (HTTP channels only).
    pub http_status_code: Option<u16>,
    /// Last response body, truncated to [`MAX_LOGGED_BODY`].
    pub response_body: Option<String>,
    /// The payload sent, secrets redacted, truncated; `None` for SMS.
    pub request_body: Option<String>,
    /// Retries (attempts beyond the first) summed over recipients.
    pub retry_count: u32,
    pub recipient_details: Vec<RecipientResult>,
    /// Provider message ids (SMS), comma-separated.
    pub api_message_id: Option<String>,
    /// Error code a provider returned in its body (`errcode`, `Code`, ...).
    pub api_error_code: Option<String>,
    pub duration_ms: u64,
}

/// Whether one recipient (address, URL or phone number) got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient; robot URLs have their access tokens redacted.
    pub recipient: String,
    pub ok: bool,
    pub error: Option<String>,
}

impl SendReport {
    /// A send that failed before anything went out.
    pub fn failed(error: impl Into<String>) -> Self {
        Self { error_message: Some(error.into()), ..Self::default() }
    }

    /// The `recipient_details` column: `[{recipient, status, error?}]`
    /// with `status` `success` or `failed`, as oxmon 0.1 stores it.
    pub fn recipient_details_json(&self) -> String {
        let items: Vec<Value> = self
            .recipient_details
            .iter()
            .map(|r| {
                let mut o = json!({"recipient": r.recipient, "status": if r.ok { "success" } else { "failed" }});
                if let Some(e) = &r.error {
                    o["error"] = Value::String(e.clone());
                }
                o
            })
            .collect();
        Value::Array(items).to_string()
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary and appends
/// [`TRUNCATED_SUFFIX`] when anything was cut (0.1 panicked when the cut
/// fell inside a multi-byte character).
pub fn truncate_utf8(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + TRUNCATED_SUFFIX.len());
    out.push_str(&s[..end]);
    out.push_str(TRUNCATED_SUFFIX);
    out
}

/// An error and its causes, joined by `": "`.
pub(crate) fn error_text(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// The result of delivering to one recipient, retries included.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Delivery {
    pub(crate) error: Option<String>,
    pub(crate) http_status: Option<u16>,
    /// Untruncated (but size-capped) body of the last response.
    pub(crate) response_body: Option<String>,
    pub(crate) retries: u32,
    pub(crate) api_error_code: Option<String>,
    pub(crate) message_id: Option<String>,
}

impl Delivery {
    pub(crate) fn failed(error: impl Into<String>) -> Self {
        Self { error: Some(error.into()), ..Self::default() }
    }

    #[cfg(test)]
    pub(crate) fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Gathers per-recipient deliveries into one [`SendReport`].
#[derive(Debug)]
pub(crate) struct ReportBuilder {
    started: Instant,
    report: SendReport,
    message_ids: Vec<String>,
}

impl ReportBuilder {
    /// `request_body` is logged as given, after truncation (redact first).
    pub(crate) fn new(request_body: Option<String>) -> Self {
        let report =
            SendReport { request_body: request_body.map(|b| truncate_utf8(&b, MAX_LOGGED_BODY)), ..Default::default() };
        Self { started: Instant::now(), report, message_ids: Vec::new() }
    }

    pub(crate) fn record(&mut self, recipient: String, d: Delivery) {
        let r = &mut self.report;
        r.retry_count += d.retries;
        if d.http_status.is_some() {
            r.http_status_code = d.http_status;
        }
        if let Some(body) = &d.response_body {
            r.response_body = Some(truncate_utf8(body, MAX_LOGGED_BODY));
        }
        if d.api_error_code.is_some() {
            r.api_error_code = d.api_error_code.clone();
        }
        if let Some(id) = d.message_id {
            self.message_ids.push(id);
        }
        r.recipient_details.push(RecipientResult { recipient, ok: d.error.is_none(), error: d.error });
    }

    /// Success only when there was at least one recipient and all got it.
    pub(crate) fn finish(mut self) -> SendReport {
        let r = &mut self.report;
        let total = r.recipient_details.len();
        let failed: Vec<&RecipientResult> = r.recipient_details.iter().filter(|d| !d.ok).collect();
        r.success = total > 0 && failed.is_empty();
        r.error_message = if total == 0 {
            Some("no recipients: nothing was sent".into())
        } else if let Some(first) = failed.first() {
            let what = first.error.as_deref().unwrap_or("failed");
            Some(truncate_utf8(
                &format!("{} of {total} recipients failed; {}: {what}", failed.len(), first.recipient),
                MAX_LOGGED_BODY,
            ))
        } else {
            None
        };
        if !self.message_ids.is_empty() {
            r.api_message_id = Some(self.message_ids.join(","));
        }
        r.duration_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_at_a_char_boundary() {
        assert_eq!(truncate_utf8("short", 10), "short");
        // "é" is 2 bytes: a cut at byte 3 would split the second one.
        assert_eq!(truncate_utf8("éé", 3), "é... [truncated]");
        let long = "告警".repeat(1000); // 6000 bytes
        let t = truncate_utf8(&long, MAX_LOGGED_BODY);
        assert!(t.ends_with(TRUNCATED_SUFFIX));
        assert_eq!(t.len(), 3999 + TRUNCATED_SUFFIX.len(), "4000 is inside a character, so cut at 3999");
    }

    #[test]
    fn report_fails_when_any_recipient_failed_or_there_were_none() {
        let mut b = ReportBuilder::new(Some("{}".into()));
        b.record("a".into(), Delivery { retries: 1, message_id: Some("m1".into()), ..Delivery::default() });
        b.record("b".into(), Delivery { retries: 2, ..Delivery::failed("HTTP 500") });
        let r = b.finish();
        assert!(!r.success);
        assert_eq!(r.retry_count, 3);
        assert_eq!(r.error_message.as_deref(), Some("1 of 2 recipients failed; b: HTTP 500"));
        assert_eq!(r.api_message_id.as_deref(), Some("m1"));
        assert_eq!(
            r.recipient_details_json(),
            r#"[{"recipient":"a","status":"success"},{"error":"HTTP 500","recipient":"b","status":"failed"}]"#
        );

        let none = ReportBuilder::new(None).finish();
        assert!(!none.success);
        assert!(none.error_message.unwrap().starts_with("no recipients"));

        let mut ok = ReportBuilder::new(None);
        ok.record("a".into(), Delivery::default());
        assert!(ok.finish().success);
    }
}
