//! `NotificationChannel`: one notification channel of the server
//! (`/v1/notifications/channels/config`) with its recipients, named
//! `<namespace>/<name>` on the server.
//!
//! The channel's type is `spec.type`; its settings sit in the field of the
//! same name. Credentials never appear in the spec: SMTP passwords, robot
//! signing secrets, SMS keys, secret webhook headers and robot URLs (whose
//! query holds the access token) are `SecretKeyRef`s, resolved by the
//! operator when it writes the channel.

// NB: kube's `printcolumn(...)` attributes repeat `type_ = "string"`, which clippy
// mistakes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use kube::CustomResource;
use kube::KubeSchema;
use oxmon_common::rule::Severity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{HasSyncStatus, SecretKeyRef, SyncStatus, default_severity, default_true};

/// Spec of a `NotificationChannel`.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "oxmon.io",
    version = "v1alpha1",
    kind = "NotificationChannel",
    namespaced,
    status = "NotificationChannelStatus",
    derive = "PartialEq",
    shortname = "oxnc",
    category = "oxmon",
    doc = "A notification channel of the oxmon server, kept in sync by oxmon-operator (server name: <namespace>/<name>).",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Min Severity", type_ = "string", json_path = ".spec.minSeverity"),
    printcolumn(name = "Enabled", type_ = "boolean", json_path = ".spec.enabled", priority = 1),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(
    validation = ("has(self.email) == (self.type == 'email')", "spec.email is required when type is email, and allowed only then"),
    validation = ("!has(self.webhook) || self.type == 'webhook'", "spec.webhook is allowed only when type is webhook"),
    validation = ("has(self.sms) == (self.type == 'sms')", "spec.sms is required when type is sms, and allowed only then"),
    validation = ("has(self.dingtalk) == (self.type == 'dingtalk')", "spec.dingtalk is required when type is dingtalk, and allowed only then"),
    validation = ("has(self.weixin) == (self.type == 'weixin')", "spec.weixin is required when type is weixin, and allowed only then")
)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelSpec {
    /// Kind of channel; it cannot be changed (create another NotificationChannel instead).
    #[serde(rename = "type")]
    #[x_kube(validation = ("self == oldSelf", "type cannot be changed; create another NotificationChannel"))]
    pub channel_type: ChannelType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Lowest alert severity sent to this channel.
    #[serde(default = "default_severity")]
    #[schemars(with = "super::SeverityName")]
    pub min_severity: Severity,
    /// A disabled channel is kept on the server but sends nothing.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// E-mail addresses (`email`), phone numbers (`sms`) or URLs (`webhook`; for `dingtalk`
    /// and `weixin` they replace the robot's `webhookUrl`).
    #[serde(default)]
    #[schemars(length(max = 256), inner(length(min = 1, max = 2048)))]
    pub recipients: Vec<String>,
    /// Settings of an `email` channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSpec>,
    /// Settings of a `webhook` channel (optional: without them the alert is posted as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    /// Settings of an `sms` channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsSpec>,
    /// Settings of a `dingtalk` robot channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dingtalk: Option<DingTalkSpec>,
    /// Settings of a `weixin` (WeCom) robot channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weixin: Option<WeixinSpec>,
}

/// Status of a `NotificationChannel`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelStatus {
    #[serde(flatten)]
    pub sync: SyncStatus,
    /// `resourceVersion` of each referenced Secret when the channel was last written: a
    /// Secret that changes since is written to the server again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_versions: BTreeMap<String, String>,
}

/// The server's channel types (`channel_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelType {
    Email,
    Webhook,
    Sms,
    Dingtalk,
    Weixin,
}

/// How an `email` channel talks TLS to its SMTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// TLS from the first byte (default on ports other than 25 and 587).
    Implicit,
    /// STARTTLS, required (default on ports 25 and 587).
    Starttls,
    /// Plaintext, for local relays.
    None,
}

/// SMTP settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = ("!has(self.smtpPasswordSecretRef) || has(self.smtpUsername)", "smtpPasswordSecretRef needs smtpUsername"))]
#[serde(rename_all = "camelCase")]
pub struct EmailSpec {
    #[schemars(length(min = 1, max = 253))]
    pub smtp_host: String,
    #[schemars(range(min = 1, max = 65535))]
    pub smtp_port: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub smtp_username: Option<String>,
    /// The SMTP password (AUTH is used when both username and password are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_password_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub from_name: Option<String>,
    #[schemars(length(min = 3, max = 320))]
    pub from_email: String,
    /// Default by port: 25 and 587 use `starttls`, others `implicit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SmtpTls>,
    /// PEM file (on the server) of a private CA to trust instead of the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub ca_file: Option<String>,
}

/// Webhook settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = ("self.headers.all(h, !(h in self.headerSecretRefs))", "a header is set in both headers and headerSecretRefs"))]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    /// JSON body with `{{placeholder}}`s (values are JSON-escaped); without it the alert is posted as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub body_template: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 64))]
    pub headers: BTreeMap<String, String>,
    /// Extra request headers whose values come from Secrets (e.g. `Authorization`).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 64))]
    pub header_secret_refs: BTreeMap<String, SecretKeyRef>,
}

/// SMS settings: exactly one provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = (
    "(has(self.generic) ? 1 : 0) + (has(self.aliyun) ? 1 : 0) + (has(self.tencent) ? 1 : 0) == 1",
    "exactly one of generic, aliyun and tencent must be set"
))]
#[serde(rename_all = "camelCase")]
pub struct SmsSpec {
    /// A gateway that takes `POST {"to", "message"}` with a bearer API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<GenericSmsSpec>,
    /// Alibaba Cloud SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliyun: Option<AliyunSmsSpec>,
    /// Tencent Cloud SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tencent: Option<TencentSmsSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenericSmsSpec {
    #[schemars(length(min = 1, max = 2048))]
    pub gateway_url: String,
    pub api_key_secret_ref: SecretKeyRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AliyunSmsSpec {
    #[schemars(length(min = 1, max = 256))]
    pub access_key_id: String,
    pub access_key_secret_ref: SecretKeyRef,
    #[schemars(length(min = 1, max = 256))]
    pub sign_name: String,
    #[schemars(length(min = 1, max = 256))]
    pub template_code: String,
    /// A JSON object in a string; default `{"msg": "<text>"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub template_param: Option<String>,
    /// Host name or `http(s)://host[:port]`; default `dysmsapi.aliyuncs.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub endpoint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TencentSmsSpec {
    #[schemars(length(min = 1, max = 256))]
    pub secret_id: String,
    pub secret_key_ref: SecretKeyRef,
    #[schemars(length(min = 1, max = 256))]
    pub sdk_app_id: String,
    #[schemars(length(min = 1, max = 256))]
    pub sign_name: String,
    #[schemars(length(min = 1, max = 256))]
    pub template_id: String,
    /// Template parameters; default `["<text>"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 1024)))]
    pub template_params: Vec<String>,
    /// Host name or `http(s)://host[:port]`; default `sms.tencentcloudapi.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub endpoint: Option<String>,
    /// Default `ap-guangzhou`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub region: Option<String>,
}

/// DingTalk robot settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = (
    "has(self.webhookUrl) != has(self.webhookUrlSecretRef)",
    "exactly one of webhookUrl and webhookUrlSecretRef must be set"
))]
#[serde(rename_all = "camelCase")]
pub struct DingTalkSpec {
    /// The robot URL (`https://oapi.dingtalk.com/robot/send?access_token=…`); its token is a
    /// credential, so prefer `webhookUrlSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub webhook_url: Option<String>,
    /// The robot URL, from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_secret_ref: Option<SecretKeyRef>,
    /// The robot's signing secret (`SEC…`); requests are signed when it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
    #[serde(default)]
    pub is_at_all: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 64)))]
    pub at_mobiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 128)))]
    pub at_user_ids: Vec<String>,
}

/// WeCom (WeChat Work) robot settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = (
    "has(self.webhookUrl) != has(self.webhookUrlSecretRef)",
    "exactly one of webhookUrl and webhookUrlSecretRef must be set"
))]
#[serde(rename_all = "camelCase")]
pub struct WeixinSpec {
    /// The robot URL (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`); its key is a
    /// credential, so prefer `webhookUrlSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub webhook_url: Option<String>,
    /// The robot URL, from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_secret_ref: Option<SecretKeyRef>,
}

// === impl ChannelType ===

impl ChannelType {
    /// The server's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Email => "email",
            ChannelType::Webhook => "webhook",
            ChannelType::Sms => "sms",
            ChannelType::Dingtalk => "dingtalk",
            ChannelType::Weixin => "weixin",
        }
    }
}

impl SmtpTls {
    /// The server's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Implicit => "implicit",
            SmtpTls::Starttls => "starttls",
            SmtpTls::None => "none",
        }
    }
}

// === impl NotificationChannelSpec ===

impl NotificationChannelSpec {
    /// Every Secret key the spec refers to, in a stable order.
    pub fn secret_refs(&self) -> Vec<&SecretKeyRef> {
        let mut refs: Vec<&SecretKeyRef> = Vec::new();
        if let Some(e) = &self.email {
            refs.extend(&e.smtp_password_secret_ref);
        }
        if let Some(w) = &self.webhook {
            refs.extend(w.header_secret_refs.values());
        }
        if let Some(s) = &self.sms {
            refs.extend(s.generic.as_ref().map(|g| &g.api_key_secret_ref));
            refs.extend(s.aliyun.as_ref().map(|a| &a.access_key_secret_ref));
            refs.extend(s.tencent.as_ref().map(|t| &t.secret_key_ref));
        }
        if let Some(d) = &self.dingtalk {
            refs.extend(&d.webhook_url_secret_ref);
            refs.extend(&d.secret_ref);
        }
        if let Some(w) = &self.weixin {
            refs.extend(&w.webhook_url_secret_ref);
        }
        refs.sort();
        refs.dedup();
        refs
    }
}

impl HasSyncStatus for NotificationChannel {
    fn sync_status(&self) -> Option<&SyncStatus> {
        self.status.as_ref().map(|s| &s.sync)
    }
}
