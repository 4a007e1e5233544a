//! `NotificationChannel` ↔ `/v1/notifications/channels/config`.
//!
//! The desired `config_json` is built from the spec with every
//! `SecretKeyRef` resolved. The server shows configs with secrets redacted
//! (`***`), so the comparison treats a redacted part as equal and the
//! Secrets are tracked by `resourceVersion` instead: the channel is written
//! again when its spec, what the server shows, or any referenced Secret
//! changed.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Change, Context, Removed, ServerKind, SyncError, Synced};
use crate::crd::SecretKeyRef;
use crate::crd::notification_channel::{
    ChannelType, DingTalkSpec, EmailSpec, NotificationChannel, NotificationChannelSpec, SmsSpec, WebhookSpec,
    WeixinSpec,
};
use crate::server::{ChannelBody, ChannelRow, OxmonClient, ServerError};

/// What the server shows in place of a secret.
const REDACTED: &str = "***";

/// Status fields of a synced channel.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersions {
    pub secret_versions: BTreeMap<String, String>,
}

impl ServerKind for NotificationChannel {
    type Extra = SecretVersions;

    async fn sync(
        &self,
        ctx: &Context,
        server_name: &str,
        known_id: Option<&str>,
    ) -> Result<Synced<SecretVersions>, SyncError> {
        let namespace = self.namespace().unwrap_or_default();
        let mut secrets = Secrets::new(Api::namespaced(ctx.kube.clone(), &namespace), &namespace);
        let config_json = config(&self.spec, &mut secrets).await?;
        let body = ChannelBody {
            name: server_name.to_owned(),
            channel_type: self.spec.channel_type.as_str().to_owned(),
            description: self.spec.description.as_deref().map(str::trim).unwrap_or_default().to_owned(),
            min_severity: self.spec.min_severity.as_str().to_owned(),
            enabled: self.spec.enabled,
            config_json,
            recipients: recipients(&self.spec.recipients),
        };
        let versions = secrets.versions;
        let secrets_changed = self.status.as_ref().map(|s| &s.secret_versions) != Some(&versions);
        let server = &ctx.server;
        let (server_id, change) = match find(server, server_name, known_id).await? {
            Some((row, _)) if row.channel_type != body.channel_type => {
                server.delete_channel(&row.id).await?;
                (server.create_channel(&body).await?.id, Change::Created)
            }
            Some((row, shown)) if !secrets_changed && matches(&row, &shown, &body) => (row.id, Change::Unchanged),
            Some((row, _)) => (server.update_channel(&row.id, &body).await?.id, Change::Updated),
            None => (server.create_channel(&body).await?.id, Change::Created),
        };
        Ok(Synced { server_id, change, extra: SecretVersions { secret_versions: versions } })
    }

    async fn remove(&self, ctx: &Context, server_name: &str, known_id: Option<&str>) -> Result<Removed, ServerError> {
        let Some((row, _)) = find(&ctx.server, server_name, known_id).await? else { return Ok(Removed::Missing) };
        match ctx.server.delete_channel(&row.id).await {
            Ok(true) => Ok(Removed::Deleted),
            Ok(false) => Ok(Removed::Missing),
            Err(ServerError::Refused { status: 409, .. }) => Ok(Removed::NotOwned),
            Err(e) => Err(e),
        }
    }
}

/// Reads the Secrets a channel refers to, noting their versions.
struct Secrets {
    api: Api<Secret>,
    namespace: String,
    fetched: HashMap<String, Secret>,
    /// `<secret>/<key>` → the Secret's `resourceVersion`.
    versions: BTreeMap<String, String>,
}

impl Secrets {
    fn new(api: Api<Secret>, namespace: &str) -> Self {
        Self { api, namespace: namespace.to_owned(), fetched: HashMap::new(), versions: BTreeMap::new() }
    }

    /// The value of a key, without a trailing newline (files made with
    /// `echo` end in one).
    async fn value(&mut self, r: &SecretKeyRef, field: &str) -> Result<String, SyncError> {
        if !self.fetched.contains_key(&r.name) {
            let secret = self.api.get_opt(&r.name).await.map_err(SyncError::Kube)?.ok_or_else(|| {
                SyncError::Secret(format!("{field}: Secret {:?} not found in namespace {:?}", r.name, self.namespace))
            })?;
            self.fetched.insert(r.name.clone(), secret);
        }
        let secret = &self.fetched[&r.name];
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&r.key))
            .map(|b| b.0.clone())
            .or_else(|| secret.string_data.as_ref().and_then(|d| d.get(&r.key)).map(|s| s.clone().into_bytes()))
            .ok_or_else(|| SyncError::Secret(format!("{field}: Secret {:?} has no key {:?}", r.name, r.key)))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            SyncError::Secret(format!("{field}: key {:?} of Secret {:?} is not UTF-8 text", r.key, r.name))
        })?;
        let version = secret.meta().resource_version.clone().unwrap_or_default();
        self.versions.insert(format!("{}/{}", r.name, r.key), version);
        Ok(text.trim_end_matches(['\n', '\r']).to_owned())
    }
}

/// The server's `config_json` for the spec, secrets resolved.
async fn config(spec: &NotificationChannelSpec, secrets: &mut Secrets) -> Result<Value, SyncError> {
    let missing = |field: &str| SyncError::Spec(format!("spec.{field} is required when type is {field}"));
    match spec.channel_type {
        ChannelType::Email => email(spec.email.as_ref().ok_or_else(|| missing("email"))?, secrets).await,
        ChannelType::Webhook => webhook(spec.webhook.as_ref(), secrets).await,
        ChannelType::Sms => sms(spec.sms.as_ref().ok_or_else(|| missing("sms"))?, secrets).await,
        ChannelType::Dingtalk => dingtalk(spec.dingtalk.as_ref().ok_or_else(|| missing("dingtalk"))?, secrets).await,
        ChannelType::Weixin => weixin(spec.weixin.as_ref().ok_or_else(|| missing("weixin"))?, secrets).await,
    }
}

async fn email(e: &EmailSpec, secrets: &mut Secrets) -> Result<Value, SyncError> {
    let mut c = Map::new();
    c.insert("smtp_host".into(), json!(e.smtp_host));
    c.insert("smtp_port".into(), json!(e.smtp_port));
    c.insert("from_email".into(), json!(e.from_email));
    put(&mut c, "from_name", e.from_name.clone());
    put(&mut c, "smtp_username", e.smtp_username.clone());
    if let Some(r) = &e.smtp_password_secret_ref {
        c.insert("smtp_password".into(), json!(secrets.value(r, "email.smtpPasswordSecretRef").await?));
    }
    put(&mut c, "tls", e.tls.map(|t| t.as_str().to_owned()));
    put(&mut c, "ca_file", e.ca_file.clone());
    Ok(Value::Object(c))
}

async fn webhook(w: Option<&WebhookSpec>, secrets: &mut Secrets) -> Result<Value, SyncError> {
    let mut c = Map::new();
    let Some(w) = w else { return Ok(Value::Object(c)) };
    put(&mut c, "body_template", w.body_template.clone());
    let mut headers: Map<String, Value> = w.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    for (name, r) in &w.header_secret_refs {
        headers.insert(name.clone(), json!(secrets.value(r, &format!("webhook.headerSecretRefs.{name}")).await?));
    }
    if !headers.is_empty() {
        c.insert("headers".into(), Value::Object(headers));
    }
    Ok(Value::Object(c))
}

async fn sms(s: &SmsSpec, secrets: &mut Secrets) -> Result<Value, SyncError> {
    let mut c = Map::new();
    match (&s.generic, &s.aliyun, &s.tencent) {
        (Some(g), None, None) => {
            c.insert("provider".into(), json!("generic"));
            c.insert("gateway_url".into(), json!(g.gateway_url));
            c.insert(
                "api_key".into(),
                json!(secrets.value(&g.api_key_secret_ref, "sms.generic.apiKeySecretRef").await?),
            );
        }
        (None, Some(a), None) => {
            c.insert("provider".into(), json!("aliyun"));
            c.insert("access_key_id".into(), json!(a.access_key_id));
            let secret = secrets.value(&a.access_key_secret_ref, "sms.aliyun.accessKeySecretRef").await?;
            c.insert("access_key_secret".into(), json!(secret));
            c.insert("sign_name".into(), json!(a.sign_name));
            c.insert("template_code".into(), json!(a.template_code));
            put(&mut c, "template_param", a.template_param.clone());
            put(&mut c, "endpoint", a.endpoint.clone());
        }
        (None, None, Some(t)) => {
            c.insert("provider".into(), json!("tencent"));
            c.insert("secret_id".into(), json!(t.secret_id));
            c.insert("secret_key".into(), json!(secrets.value(&t.secret_key_ref, "sms.tencent.secretKeyRef").await?));
            c.insert("sdk_app_id".into(), json!(t.sdk_app_id));
            c.insert("sign_name".into(), json!(t.sign_name));
            c.insert("template_id".into(), json!(t.template_id));
            if !t.template_params.is_empty() {
                c.insert("template_params".into(), json!(t.template_params));
            }
            put(&mut c, "endpoint", t.endpoint.clone());
            put(&mut c, "region", t.region.clone());
        }
        _ => return Err(SyncError::Spec("spec.sms needs exactly one of generic, aliyun and tencent".into())),
    }
    Ok(Value::Object(c))
}

async fn dingtalk(d: &DingTalkSpec, secrets: &mut Secrets) -> Result<Value, SyncError> {
    let mut c = Map::new();
    let url = robot_url("dingtalk", d.webhook_url.as_deref(), d.webhook_url_secret_ref.as_ref(), secrets).await?;
    c.insert("webhook_url".into(), json!(url));
    if let Some(r) = &d.secret_ref {
        c.insert("secret".into(), json!(secrets.value(r, "dingtalk.secretRef").await?));
    }
    c.insert("is_at_all".into(), json!(d.is_at_all));
    if !d.at_mobiles.is_empty() {
        c.insert("at_mobiles".into(), json!(d.at_mobiles));
    }
    if !d.at_user_ids.is_empty() {
        c.insert("at_user_ids".into(), json!(d.at_user_ids));
    }
    Ok(Value::Object(c))
}

async fn weixin(w: &WeixinSpec, secrets: &mut Secrets) -> Result<Value, SyncError> {
    let url = robot_url("weixin", w.webhook_url.as_deref(), w.webhook_url_secret_ref.as_ref(), secrets).await?;
    Ok(json!({ "webhook_url": url }))
}

async fn robot_url(
    kind: &str,
    url: Option<&str>,
    secret: Option<&SecretKeyRef>,
    secrets: &mut Secrets,
) -> Result<String, SyncError> {
    match (url, secret) {
        (Some(url), None) => Ok(url.to_owned()),
        (None, Some(r)) => secrets.value(r, &format!("{kind}.webhookUrlSecretRef")).await,
        _ => Err(SyncError::Spec(format!("spec.{kind} needs exactly one of webhookUrl and webhookUrlSecretRef"))),
    }
}

fn put(c: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(v) = value {
        c.insert(key.into(), Value::String(v));
    }
}

/// Recipients as the server keeps them: trimmed, no empty ones, no duplicates.
fn recipients(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for r in raw.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        if !out.iter().any(|o| o == r) {
            out.push(r.to_owned());
        }
    }
    out
}

/// The operator's channel (by id when known, else by name) with its recipients.
async fn find(
    server: &OxmonClient,
    server_name: &str,
    known_id: Option<&str>,
) -> Result<Option<(ChannelRow, Vec<String>)>, ServerError> {
    let mut row = match known_id {
        Some(id) => server.channel(id).await?,
        None => None,
    };
    if row.is_none() {
        row = server.channels().await?.into_iter().find(|c| c.name == server_name);
    }
    let Some(row) = row else { return Ok(None) };
    let recipients = server.channel_recipients(&row.id).await?.unwrap_or_default();
    Ok(Some((row, recipients)))
}

fn matches(row: &ChannelRow, shown_recipients: &[String], body: &ChannelBody) -> bool {
    let description = Some(body.description.as_str()).filter(|d| !d.is_empty());
    let shown: Option<Value> = serde_json::from_str(&row.config_json).ok();
    row.name == body.name
        && row.description.as_deref() == description
        && row.min_severity == body.min_severity
        && row.enabled == body.enabled
        && shown_recipients.len() == body.recipients.len()
        && shown_recipients.iter().zip(&body.recipients).all(|(shown, want)| matches_redacted(want, shown))
        && shown.is_some_and(|shown| config_matches(&body.config_json, &shown))
}

/// Whether the server's (redacted) config can be `desired`: equal, except
/// that a `***` in the shown value stands for any text.
fn config_matches(desired: &Value, shown: &Value) -> bool {
    match (desired, shown) {
        (Value::Object(d), Value::Object(s)) => {
            d.len() == s.len() && d.iter().all(|(k, v)| s.get(k).is_some_and(|sv| config_matches(v, sv)))
        }
        (Value::Array(d), Value::Array(s)) => d.len() == s.len() && d.iter().zip(s).all(|(d, s)| config_matches(d, s)),
        (Value::String(d), Value::String(s)) => matches_redacted(d, s),
        (Value::Number(d), Value::Number(s)) => d.as_f64() == s.as_f64(),
        (_, Value::String(s)) => s == REDACTED,
        (d, s) => d == s,
    }
}

/// `shown` with each `***` matching any text.
fn matches_redacted(desired: &str, shown: &str) -> bool {
    if !shown.contains(REDACTED) {
        return desired == shown;
    }
    let parts: Vec<&str> = shown.split(REDACTED).collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !desired.starts_with(first) || desired.len() < first.len() + last.len() || !desired.ends_with(last) {
        return false;
    }
    let mut rest = &desired[first.len()..desired.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_parts_match_any_text() {
        assert!(matches_redacted("abc", "abc"));
        assert!(!matches_redacted("abc", "abd"));
        assert!(matches_redacted("hunter2", "***"));
        let url = "https://oapi.dingtalk.com/robot/send?access_token=t0ken";
        assert!(matches_redacted(url, "https://oapi.dingtalk.com/robot/send?access_token=***"));
        assert!(!matches_redacted(url, "https://other.example/robot/send?access_token=***"));
        assert!(matches_redacted("https://u:pw@h/x?key=k", "https://u:***@h/x?key=***"));
        assert!(!matches_redacted("ab", "ab***ab"), "prefix and suffix must not overlap");
    }

    #[test]
    fn configs_compare_with_redaction_numbers_and_key_sets() {
        let desired = json!({"smtp_host": "h", "smtp_port": 587, "smtp_password": "pw", "tls": "starttls"});
        let shown = json!({"smtp_host": "h", "smtp_port": 587.0, "smtp_password": "***", "tls": "starttls"});
        assert!(config_matches(&desired, &shown));
        let changed = json!({"smtp_host": "h2", "smtp_port": 587, "smtp_password": "***", "tls": "starttls"});
        assert!(!config_matches(&desired, &changed));
        let fewer = json!({"smtp_host": "h", "smtp_port": 587, "smtp_password": "***"});
        assert!(!config_matches(&desired, &fewer));
        assert!(config_matches(&json!({"n": 5}), &json!({"n": "***"})), "a redacted number");
    }

    #[test]
    fn recipients_are_trimmed_and_deduplicated_in_order() {
        let raw = [" b ", "a", "", "b", "c"].map(String::from);
        assert_eq!(recipients(&raw), ["b", "a", "c"]);
    }
}
