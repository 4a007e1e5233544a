//! A small typed client of the oxmon server's REST API: the rule, channel,
//! silence-window and active-alert endpoints the reconcilers need, with the
//! operator token as bearer.
//!
//! Answers come in the server's envelope `{err_code, err_msg, trace_id,
//! data}`. Errors are classified for the reconcilers: the server refused the
//! request (4xx, with its message), or it could not be reached or failed
//! (transport errors, timeouts, 5xx), which is worth retrying.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Items per page of list requests (the server's maximum).
const PAGE: usize = 1000;

/// The oxmon server, as the operator sees it.
#[derive(Clone)]
pub struct OxmonClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Why a request to the server did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Not reached, timed out, or failed on its side (5xx): retry later.
    #[error("oxmon server unavailable: {detail}")]
    Unavailable { detail: String },
    /// The server refused the request; `message` is its `err_msg`.
    #[error("oxmon server refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// An answer that is not the server's envelope or not the expected data.
    #[error("unexpected answer from the oxmon server to {request}: {detail}")]
    Protocol { request: String, detail: String },
}

/// A rule as `GET /v1/alerts/rules/{id}` returns it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub rule_type: String,
    pub metric: String,
    pub agent_pattern: String,
    pub severity: String,
    pub enabled: bool,
    /// A JSON object encoded as a string.
    pub config_json: String,
    pub silence_secs: i64,
    pub source: String,
}

/// A rule as the list returns it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RuleSummary {
    pub id: String,
    pub name: String,
    pub source: String,
}

/// Body of `POST /v1/alerts/rules` and `PUT /v1/alerts/rules/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleBody {
    pub name: String,
    pub rule_type: String,
    pub metric: String,
    pub agent_pattern: String,
    pub severity: String,
    pub enabled: bool,
    pub config_json: Value,
    pub silence_secs: i64,
}

/// A channel's stored row (`/v1/notifications/channels/config/{id}`); secrets
/// in `config_json` are redacted (`***`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub channel_type: String,
    pub description: Option<String>,
    pub min_severity: String,
    pub enabled: bool,
    pub config_json: String,
    pub source: String,
}

/// A channel with its recipients (`/v1/notifications/channels/{id}`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ChannelOverview {
    pub id: String,
    pub recipients: Vec<String>,
}

/// Body of `POST /v1/notifications/channels/config` and `PUT …/config/{id}`.
/// `description` is always sent: an empty one clears it on `PUT`.
#[derive(Clone, PartialEq, Serialize)]
pub struct ChannelBody {
    pub name: String,
    pub channel_type: String,
    pub description: String,
    pub min_severity: String,
    pub enabled: bool,
    /// The settings, secrets included.
    pub config_json: Value,
    pub recipients: Vec<String>,
}

/// A silence window as the list returns it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Window {
    pub id: String,
    pub name: Option<String>,
    pub start_time: String,
    pub end_time: String,
    pub recurrence: Option<String>,
    pub timezone: String,
    pub source: String,
}

/// Body of `POST /v1/notifications/silence-windows` and `PUT …/{id}`;
/// `recurrence: null` means daily.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowBody {
    pub name: String,
    pub start_time: String,
    pub end_time: String,
    pub recurrence: Option<String>,
    pub timezone: String,
}

/// An open or acknowledged alert (`/v1/alerts/active`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ActiveAlert {
    pub id: String,
    pub rule_id: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    err_code: i64,
    #[serde(default)]
    err_msg: String,
    data: Option<T>,
}

// === impl OxmonClient ===

impl OxmonClient {
    /// A client of the server at `base` (`http://oxmon-server:8080`), sending `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, ServerError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| ServerError::Unavailable { detail: format!("cannot build an HTTP client: {e}") })?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), token: token.to_owned() })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    // --- rules ---

    pub async fn rules(&self) -> Result<Vec<RuleSummary>, ServerError> {
        self.list("/v1/alerts/rules").await
    }

    /// One rule, or `None` when there is none with this id.
    pub async fn rule(&self, id: &str) -> Result<Option<Rule>, ServerError> {
        optional(self.call(Method::GET, &format!("/v1/alerts/rules/{}", segment(id)), None::<&()>).await)
    }

    pub async fn create_rule(&self, body: &RuleBody) -> Result<Rule, ServerError> {
        self.call(Method::POST, "/v1/alerts/rules", Some(body)).await
    }

    pub async fn update_rule(&self, id: &str, body: &RuleBody) -> Result<Rule, ServerError> {
        self.call(Method::PUT, &format!("/v1/alerts/rules/{}", segment(id)), Some(body)).await
    }

    /// Deletes a rule; `false` when there was none.
    pub async fn delete_rule(&self, id: &str) -> Result<bool, ServerError> {
        self.delete(&format!("/v1/alerts/rules/{}", segment(id))).await
    }

    /// Open and acknowledged alerts of the last 7 days.
    pub async fn active_alerts(&self) -> Result<Vec<ActiveAlert>, ServerError> {
        self.list("/v1/alerts/active").await
    }

    // --- channels ---

    pub async fn channels(&self) -> Result<Vec<ChannelRow>, ServerError> {
        self.list("/v1/notifications/channels/config").await
    }

    /// One channel row, or `None` when there is none with this id.
    pub async fn channel(&self, id: &str) -> Result<Option<ChannelRow>, ServerError> {
        let path = format!("/v1/notifications/channels/config/{}", segment(id));
        optional(self.call(Method::GET, &path, None::<&()>).await)
    }

    /// A channel's recipients, or `None` when there is no channel with this id.
    pub async fn channel_recipients(&self, id: &str) -> Result<Option<Vec<String>>, ServerError> {
        let path = format!("/v1/notifications/channels/{}", segment(id));
        let overview: Option<ChannelOverview> = optional(self.call(Method::GET, &path, None::<&()>).await)?;
        Ok(overview.map(|o| o.recipients))
    }

    pub async fn create_channel(&self, body: &ChannelBody) -> Result<ChannelRow, ServerError> {
        self.call(Method::POST, "/v1/notifications/channels/config", Some(body)).await
    }

    pub async fn update_channel(&self, id: &str, body: &ChannelBody) -> Result<ChannelRow, ServerError> {
        let path = format!("/v1/notifications/channels/config/{}", segment(id));
        self.call(Method::PUT, &path, Some(body)).await
    }

    /// Deletes a channel; `false` when there was none.
    pub async fn delete_channel(&self, id: &str) -> Result<bool, ServerError> {
        self.delete(&format!("/v1/notifications/channels/config/{}", segment(id))).await
    }

    // --- silence windows ---

    pub async fn windows(&self) -> Result<Vec<Window>, ServerError> {
        self.list("/v1/notifications/silence-windows").await
    }

    pub async fn create_window(&self, body: &WindowBody) -> Result<Window, ServerError> {
        self.call(Method::POST, "/v1/notifications/silence-windows", Some(body)).await
    }

    pub async fn update_window(&self, id: &str, body: &WindowBody) -> Result<Window, ServerError> {
        let path = format!("/v1/notifications/silence-windows/{}", segment(id));
        self.call(Method::PUT, &path, Some(body)).await
    }

    /// Deletes a window; `false` when there was none.
    pub async fn delete_window(&self, id: &str) -> Result<bool, ServerError> {
        self.delete(&format!("/v1/notifications/silence-windows/{}", segment(id))).await
    }

    // --- plumbing ---

    /// Every item of a paged list.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ServerError> {
        let mut all = Vec::new();
        loop {
            let page: Vec<T> =
                self.call(Method::GET, &format!("{path}?limit={PAGE}&offset={}", all.len()), None::<&()>).await?;
            let full = page.len() == PAGE;
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    async fn delete(&self, path: &str) -> Result<bool, ServerError> {
        let deleted: Option<Value> = optional(self.call_raw(Method::DELETE, path, None::<&()>).await)?;
        Ok(deleted.is_some())
    }

    /// A request whose answer must carry `data`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ServerError> {
        let request = format!("{method} {path}");
        let data = self.call_raw(method, path, body).await?;
        serde_json::from_value(data).map_err(|e| ServerError::Protocol { request, detail: e.to_string() })
    }

    /// A request; returns `data` (`null` when absent).
    async fn call_raw(&self, method: Method, path: &str, body: Option<&impl Serialize>) -> Result<Value, ServerError> {
        let request = format!("{method} {path}");
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| ServerError::Unavailable { detail: transport_error(e) })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| ServerError::Unavailable { detail: format!("reading the answer to {request}: {e}") })?;
        let envelope: Option<Envelope<Value>> = serde_json::from_str(&text).ok();
        if status.is_server_error() {
            let message = envelope.map(|e| e.err_msg).unwrap_or_else(|| snippet(&text));
            return Err(ServerError::Unavailable { detail: format!("{request} answered {status}: {message}") });
        }
        let Some(envelope) = envelope else {
            return Err(ServerError::Protocol {
                request,
                detail: format!("HTTP {status} without the JSON envelope: {}", snippet(&text)),
            });
        };
        if !status.is_success() || envelope.err_code != 0 {
            let status = if status.is_success() { StatusCode::BAD_REQUEST } else { status };
            return Err(ServerError::Refused { status: status.as_u16(), message: envelope.err_msg });
        }
        Ok(envelope.data.unwrap_or(Value::Null))
    }
}

impl fmt::Debug for OxmonClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OxmonClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl fmt::Debug for ChannelBody {
    /// Leaves out `config_json`, which holds secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelBody")
            .field("name", &self.name)
            .field("channel_type", &self.channel_type)
            .field("description", &self.description)
            .field("min_severity", &self.min_severity)
            .field("enabled", &self.enabled)
            .field("recipients", &self.recipients.len())
            .finish_non_exhaustive()
    }
}

// === impl ServerError ===

impl ServerError {
    /// The HTTP status of a refusal.
    pub fn refused_status(&self) -> Option<u16> {
        match self {
            ServerError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `Ok(None)` for a 404.
fn optional<T>(result: Result<T, ServerError>) -> Result<Option<T>, ServerError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ServerError::Refused { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Percent-encodes a path segment (server ids are plain, but never trust that).
fn segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A transport error with its causes, without the URL's query.
fn transport_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The start of a body that is not an envelope, for messages.
fn snippet(text: &str) -> String {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn snippets_stop_at_a_character_boundary() {
        let text = "é".repeat(150);
        assert_eq!(snippet(&text).len(), 200);
        assert_eq!(snippet("short"), "short");
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let client = OxmonClient::new("http://127.0.0.1:1/", "secret-token-0123456789").unwrap();
        let debug = format!("{client:?}");
        assert!(debug.contains("http://127.0.0.1:1") && !debug.contains("secret-token"), "{debug}");
    }
}
