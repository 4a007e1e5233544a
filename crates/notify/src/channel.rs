//! The [`Channel`] trait, the five channel types, and building a channel
//! from its stored `config_json`.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use oxmon_common::settings::{is_secret_key, redact};
use serde_json::Value;

use crate::alert::Alert;
use crate::http::HttpClient;
use crate::report::SendReport;

pub mod dingtalk;
pub mod email;
mod fields;
mod robot;
pub mod sms;
pub mod webhook;
pub mod weixin;

/// A boxed, sendable future (what [`Channel::send`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One configured notification target type.
pub trait Channel: Send + Sync + Debug {
    /// One of [`CHANNEL_TYPES`].
    fn channel_type(&self) -> &'static str;

    /// Sends `alert` to `recipients` (addresses, URLs or phone numbers,
    /// depending on the type). Never fails as such: failures are in the
    /// report. Bounded in time by the channel's [`crate::NetConfig`].
    fn send<'a>(&'a self, alert: &'a Alert, recipients: &'a [String]) -> BoxFuture<'a, SendReport>;
}

pub const EMAIL: &str = "email";
pub const WEBHOOK: &str = "webhook";
pub const SMS: &str = "sms";
pub const DINGTALK: &str = "dingtalk";
pub const WEIXIN: &str = "weixin";

/// The channel types the server accepts.
pub const CHANNEL_TYPES: &[&str] = &[EMAIL, WEBHOOK, SMS, DINGTALK, WEIXIN];

/// What the recipients of a channel type are (oxmon 0.1's `recipient_type`):
/// `email` → `email`, `sms` → `phone`, robots and webhooks → `webhook_url`.
pub fn recipient_type(channel_type: &str) -> Option<&'static str> {
    match channel_type {
        EMAIL => Some("email"),
        SMS => Some("phone"),
        WEBHOOK | DINGTALK | WEIXIN => Some("webhook_url"),
        _ => None,
    }
}

/// Why a channel config was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown channel type {0:?}: expected one of email, webhook, sms, dingtalk, weixin")]
    UnknownType(String),
    #[error("config_json must be a non-empty JSON object{0}")]
    Missing(String),
    #[error("{channel_type} config: {message}")]
    Invalid { channel_type: &'static str, message: String },
}

impl ConfigError {
    /// 0.1's error names: `unknown_channel_type`, `missing_config`,
    /// `invalid_config`.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigError::UnknownType(_) => "unknown_channel_type",
            ConfigError::Missing(_) => "missing_config",
            ConfigError::Invalid { .. } => "invalid_config",
        }
    }
}

/// A channel config, validated and typed.
#[derive(Debug)]
pub enum ChannelConfig {
    Email(email::EmailConfig),
    Webhook(webhook::WebhookConfig),
    Sms(sms::SmsConfig),
    DingTalk(dingtalk::DingTalkConfig),
    WeCom(weixin::WeComConfig),
}

impl ChannelConfig {
    /// Parses and checks `config_json` for `channel_type`; errors name the
    /// offending key. Unknown keys are refused, so typos do not pass.
    pub fn parse(channel_type: &str, config_json: &str) -> Result<Self, ConfigError> {
        let ty = CHANNEL_TYPES
            .iter()
            .copied()
            .find(|t| *t == channel_type)
            .ok_or_else(|| ConfigError::UnknownType(channel_type.to_owned()))?;
        let map = fields::parse_object(config_json)?;
        // A webhook needs no settings at all; every other type does.
        if map.is_empty() && ty != WEBHOOK {
            return Err(ConfigError::Missing(", got {}".into()));
        }
        let f = fields::Fields::new(ty, &map);
        Ok(match ty {
            EMAIL => ChannelConfig::Email(email::EmailConfig::parse(&f)?),
            WEBHOOK => ChannelConfig::Webhook(webhook::WebhookConfig::parse(&f)?),
            SMS => ChannelConfig::Sms(sms::SmsConfig::parse(&f)?),
            DINGTALK => ChannelConfig::DingTalk(dingtalk::DingTalkConfig::parse(&f)?),
            _ => ChannelConfig::WeCom(weixin::WeComConfig::parse(&f)?),
        })
    }

    pub fn build(self, http: &HttpClient) -> Arc<dyn Channel> {
        match self {
            ChannelConfig::Email(c) => Arc::new(email::Email::new(c, http.net().clone())),
            ChannelConfig::Webhook(c) => Arc::new(webhook::Webhook::new(c, http.clone())),
            ChannelConfig::Sms(c) => Arc::new(sms::Sms::new(c, http.clone())),
            ChannelConfig::DingTalk(c) => Arc::new(dingtalk::DingTalk::new(c, http.clone())),
            ChannelConfig::WeCom(c) => Arc::new(weixin::WeCom::new(c, http.clone())),
        }
    }
}

/// Validates `config_json` for `channel_type` and builds the channel.
/// Errors say which key is wrong.
pub fn build_channel(
    channel_type: &str,
    config_json: &str,
    http: &HttpClient,
) -> Result<Arc<dyn Channel>, ConfigError> {
    Ok(ChannelConfig::parse(channel_type, config_json)?.build(http))
}

/// A channel config JSON fit for API responses: secret keys (`password`,
/// `secret`, `token`, `api_key`, `access_key_secret`, `secret_key`, ...)
/// become `"***"`, as do access tokens in URLs and credential headers.
/// Text that is not JSON is replaced whole by `"***"`.
pub fn redact_config(config_json: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(config_json) else { return "\"***\"".into() };
    redact(&mut v);
    redact_deep(&mut v, false);
    v.to_string()
}

fn redact_deep(v: &mut Value, in_headers: bool) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if in_headers && is_secret_header(k) && val.is_string() {
                    *val = Value::String("***".into());
                } else {
                    redact_deep(val, k.eq_ignore_ascii_case("headers"));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact_deep(i, false)),
        Value::String(s) if s.contains("://") => *s = redact_url(s),
        _ => {}
    }
}

fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "authorization" | "proxy-authorization" | "cookie") || is_secret_key(&n.replace('-', "_"))
}

/// `url` with its password and secret query values (`access_token`, `key`,
/// `sign`, `secret`, ...) replaced by `***`: robot URLs carry their token in
/// the query string.
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, v)) if !v.is_empty() && is_secret_param(k) => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "key" | "sign" | "signature" | "sig") || is_secret_key(&n)
}

fn redact_userinfo(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else { return base.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_types_are_0_1s() {
        assert_eq!(recipient_type("email"), Some("email"));
        assert_eq!(recipient_type("sms"), Some("phone"));
        for t in ["webhook", "dingtalk", "weixin"] {
            assert_eq!(recipient_type(t), Some("webhook_url"));
        }
        assert_eq!(recipient_type("sms_aliyun"), None);
    }

    #[test]
    fn configs_are_redacted_for_api_responses() {
        let c = r#"{"smtp_host":"mail","smtp_password":"p","webhook_url":"https://oapi.dingtalk.com/robot/send?access_token=abc&x=1",
                   "secret":"SEC1","headers":{"Authorization":"Bearer t","X-Trace":"1"},"access_key_secret":"k","secret_key":"s"}"#;
        let v: Value = serde_json::from_str(&redact_config(c)).unwrap();
        assert_eq!(v["smtp_host"], "mail");
        assert_eq!(v["smtp_password"], "***");
        assert_eq!(v["secret"], "***");
        assert_eq!(v["access_key_secret"], "***");
        assert_eq!(v["secret_key"], "***");
        assert_eq!(v["webhook_url"], "https://oapi.dingtalk.com/robot/send?access_token=***&x=1");
        assert_eq!(v["headers"]["Authorization"], "***");
        assert_eq!(v["headers"]["X-Trace"], "1");
        assert_eq!(redact_config("not json"), "\"***\"");
    }

    #[test]
    fn urls_lose_tokens_keys_and_passwords() {
        assert_eq!(
            redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
        );
        assert_eq!(redact_url("https://u:pw@hooks.example.com/a?b=c#f"), "https://u:***@hooks.example.com/a?b=c#f");
        assert_eq!(redact_url("https://hooks.example.com/plain"), "https://hooks.example.com/plain");
    }

    #[test]
    fn unknown_types_and_empty_configs_are_refused_with_0_1s_kinds() {
        let http = HttpClient::new(Default::default()).unwrap();
        let e = build_channel("sms_aliyun", "{}", &http).unwrap_err();
        assert_eq!(e.kind(), "unknown_channel_type");
        for bad in ["", "[]", "nope"] {
            assert_eq!(build_channel("webhook", bad, &http).unwrap_err().kind(), "missing_config", "{bad:?}");
        }
        assert_eq!(build_channel("email", "{}", &http).unwrap_err().kind(), "missing_config");
        assert_eq!(build_channel("webhook", "{}", &http).unwrap().channel_type(), "webhook");
    }
}
