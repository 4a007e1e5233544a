//! Notification channels as the server manages them: type names (with the
//! `sms_*` spellings 0.1's seeds and dictionary used), config validation,
//! redaction for responses, and seeding (`init-channels`).
//!
//! A channel's `config_json` is checked by building the channel with the
//! notify crate, so a stored channel always loads (0.1 stored anything and
//! dropped broken channels silently at reload).

use oxmon_common::rule::{Severity, Source};
use oxmon_storage::management::ChannelRecord;
use serde_json::{Map, Value};

/// Channel types the API accepts, as stored.
pub const CHANNEL_TYPES: &[&str] = &["email", "webhook", "sms", "dingtalk", "weixin"];

/// The redaction marker of responses; a client that sends a fetched config
/// back unchanged keeps the stored secret.
pub const REDACTED: &str = "***";

/// Why a channel definition was refused; the message says what to fix.
#[derive(Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// 0.1's `unknown_channel_type`.
    UnknownType(String),
    /// 0.1's `missing_config`: not a JSON object, or empty.
    MissingConfig(String),
    /// 0.1's `invalid_config`: the channel type rejects it.
    InvalidConfig(String),
    /// Another field (name, min_severity) is wrong.
    Field(String),
}

impl ChannelError {
    pub fn message(&self) -> &str {
        match self {
            ChannelError::UnknownType(m)
            | ChannelError::MissingConfig(m)
            | ChannelError::InvalidConfig(m)
            | ChannelError::Field(m) => m,
        }
    }
}

/// A channel definition before it is checked (API body or seed entry).
#[derive(Debug)]
pub struct NewChannel {
    pub name: String,
    pub channel_type: String,
    pub description: Option<String>,
    pub min_severity: Option<String>,
    pub enabled: Option<bool>,
    pub config: Option<Value>,
}

/// Checks a new channel as it will be stored.
pub fn check_new(c: NewChannel, source: Source) -> Result<ChannelRecord, ChannelError> {
    let name = check_name(c.name)?;
    let mut config = config_object(c.config.as_ref())?;
    let channel_type = normalize(&c.channel_type, &mut config)?;
    require_settings(channel_type, &config)?;
    let config_json = Value::Object(config).to_string();
    validate(channel_type, &config_json)?;
    Ok(ChannelRecord {
        id: String::new(),
        name,
        channel_type: channel_type.into(),
        description: c.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()),
        min_severity: check_severity(c.min_severity.as_deref().unwrap_or("info"))?,
        enabled: c.enabled.unwrap_or(true),
        config_json,
        source: source.as_str().into(),
        created_at: 0,
        updated_at: 0,
    })
}

pub fn check_name(raw: String) -> Result<String, ChannelError> {
    let name = raw.trim().to_owned();
    if name.is_empty() {
        return Err(ChannelError::Field("name must not be empty".into()));
    }
    Ok(name)
}

pub fn check_severity(raw: &str) -> Result<String, ChannelError> {
    raw.parse::<Severity>()
        .map(|s| s.as_str().to_owned())
        .map_err(|e| ChannelError::Field(format!("min_severity: {e}")))
}

/// Recipients as stored: trimmed, empty ones dropped (the store drops
/// duplicates).
pub fn clean_recipients(raw: Vec<String>) -> Vec<String> {
    raw.into_iter().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect()
}

/// Maps a requested type to the stored one: `sms_aliyun`, `sms_tencent` and
/// `sms_generic` (0.1's seed and dictionary names) are the `sms` type with
/// that `provider`, which is set in the config unless it names another.
pub fn normalize(channel_type: &str, config: &mut Map<String, Value>) -> Result<&'static str, ChannelError> {
    let requested = channel_type.trim().to_ascii_lowercase();
    if let Some(provider) = requested.strip_prefix("sms_") {
        if !matches!(provider, "aliyun" | "tencent" | "generic") {
            return Err(unknown_type(channel_type));
        }
        match config.get("provider").and_then(Value::as_str) {
            Some(p) if p != provider => {
                return Err(ChannelError::InvalidConfig(format!(
                    "channel_type {channel_type:?} conflicts with config provider {p:?}"
                )));
            }
            _ => {
                config.insert("provider".into(), Value::String(provider.into()));
            }
        }
        return Ok("sms");
    }
    CHANNEL_TYPES.iter().copied().find(|t| *t == requested).ok_or_else(|| unknown_type(channel_type))
}

fn unknown_type(channel_type: &str) -> ChannelError {
    ChannelError::UnknownType(format!(
        "unknown channel_type {channel_type:?}; expected one of {} (or sms_aliyun, sms_tencent, sms_generic)",
        CHANNEL_TYPES.join(", ")
    ))
}

/// Parses `config_json` as sent: a JSON object, or that object encoded as a
/// string (0.1's form); absent is an empty object.
pub fn config_object(value: Option<&Value>) -> Result<Map<String, Value>, ChannelError> {
    let missing = |why: &str| ChannelError::MissingConfig(format!("config_json {why}"));
    let object = match value {
        None | Some(Value::Null) => Map::new(),
        Some(Value::String(text)) if text.trim().is_empty() => Map::new(),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return Err(missing("must be a JSON object")),
            Err(e) => return Err(missing(&format!("is not valid JSON: {e}"))),
        },
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(missing("must be a JSON object or a string holding one")),
    };
    Ok(object)
}

/// 0.1's `missing_config`: every type but `webhook` (whose settings are all
/// optional) needs settings.
pub fn require_settings(channel_type: &str, config: &Map<String, Value>) -> Result<(), ChannelError> {
    if config.is_empty() && channel_type != "webhook" {
        return Err(ChannelError::MissingConfig(format!(
            "config_json is required: a JSON object with the {channel_type} channel's settings"
        )));
    }
    Ok(())
}

/// Checks a config for a (normalised) type by building the channel.
pub fn validate(channel_type: &str, config_json: &str) -> Result<(), ChannelError> {
    oxmon_notify::channel::ChannelConfig::parse(channel_type, config_json)
        .map(drop)
        .map_err(|e| ChannelError::InvalidConfig(format!("invalid {channel_type} config: {e}")))
}

/// The config as responses show it: secrets and robot-URL tokens replaced.
pub fn redacted(config_json: &str) -> String {
    oxmon_notify::redact_config(config_json)
}

/// Puts stored secrets back where an update sends the redaction marker
/// (a fetched config sent back unchanged), at any depth.
pub fn restore_redacted(new: &mut Value, stored: &Value) {
    match (new, stored) {
        (Value::Object(n), Value::Object(s)) => {
            for (k, v) in n.iter_mut() {
                if let Some(old) = s.get(k) {
                    restore_redacted(v, old);
                }
            }
        }
        (Value::Array(n), Value::Array(s)) => {
            for (v, old) in n.iter_mut().zip(s) {
                restore_redacted(v, old);
            }
        }
        (v @ Value::String(_), old) if v.as_str().is_some_and(|s| s.contains(REDACTED)) => *v = old.clone(),
        _ => {}
    }
}

/// A recipient as responses and logs show it: a URL (a DingTalk or WeCom
/// robot, a webhook) with its token-like query parameters and password
/// replaced by the redaction marker; addresses and numbers as they are.
pub fn redacted_recipient(recipient: &str) -> String {
    if recipient.contains("://") { oxmon_notify::channel::redact_url(recipient) } else { recipient.to_owned() }
}

/// The recipients of an update as they will be stored: one that carries
/// the redaction marker and equals the redacted form of a stored recipient
/// (a fetched list sent back unchanged) gets the stored value back; one
/// that carries the marker and matches nothing is refused, since storing
/// the marker would break delivery silently.
pub fn restore_recipients(sent: Vec<String>, stored: &[String]) -> Result<Vec<String>, ChannelError> {
    sent.into_iter()
        .map(|r| {
            if !r.contains(REDACTED) {
                return Ok(r);
            }
            stored.iter().find(|s| redacted_recipient(s) == r).cloned().ok_or_else(|| {
                ChannelError::Field(format!(
                    "recipient {r:?} contains the redaction marker {REDACTED} but matches no stored recipient; \
                     send the full value"
                ))
            })
        })
        .collect()
}

/// 0.1's `recipient_type` of a channel type.
pub fn recipient_type(channel_type: &str) -> Option<&'static str> {
    oxmon_notify::recipient_type(channel_type)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sms_spellings_of_0_1_become_the_sms_type_with_a_provider() {
        let mut c = Map::new();
        assert_eq!(normalize("sms_aliyun", &mut c), Ok("sms"));
        assert_eq!(c["provider"], "aliyun");
        let mut c = json!({"provider": "tencent"}).as_object().unwrap().clone();
        assert!(matches!(normalize("sms_aliyun", &mut c), Err(ChannelError::InvalidConfig(_))));
        assert_eq!(normalize("Webhook", &mut Map::new()), Ok("webhook"));
        let err = normalize("pager", &mut Map::new()).unwrap_err();
        assert!(err.message().starts_with("unknown channel_type \"pager\""), "{err:?}");
        assert!(matches!(normalize("sms_other", &mut Map::new()), Err(ChannelError::UnknownType(_))));
    }

    #[test]
    fn configs_are_objects_given_as_objects_or_strings() {
        assert_eq!(config_object(Some(&json!("{\"a\":1}"))).unwrap()["a"], 1);
        assert_eq!(config_object(Some(&json!({"a": 1}))).unwrap()["a"], 1);
        for bad in [json!("[1]"), json!("{oops"), json!(5)] {
            assert!(matches!(config_object(Some(&bad)), Err(ChannelError::MissingConfig(_))), "{bad}");
        }
        for empty in [Some(json!("{}")), Some(json!({})), Some(json!("")), Some(Value::Null), None] {
            let config = config_object(empty.as_ref()).unwrap();
            assert!(require_settings("webhook", &config).is_ok());
            assert!(matches!(require_settings("email", &config), Err(ChannelError::MissingConfig(_))));
        }
    }

    #[test]
    fn recipient_urls_hide_tokens_keys_and_passwords() {
        let cases = [
            (
                "https://oapi.dingtalk.com/robot/send?access_token=abc123",
                "https://oapi.dingtalk.com/robot/send?access_token=***",
            ),
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1&debug=1",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***&debug=1",
            ),
            ("http://hooks.local/x?token=t0k&env=prod", "http://hooks.local/x?token=***&env=prod"),
            ("https://bot:s3cret@hooks.local/alert", "https://bot:***@hooks.local/alert"),
            ("ops@example.com", "ops@example.com"),
            ("+8613800000000", "+8613800000000"),
        ];
        for (stored, shown) in cases {
            assert_eq!(redacted_recipient(stored), shown);
        }
    }

    #[test]
    fn recipients_sent_back_redacted_keep_the_stored_values() {
        let stored = vec!["https://h/x?token=abc".to_owned(), "https://h/y?token=def".to_owned(), "a@b".to_owned()];
        let sent = vec!["https://h/y?token=***".to_owned(), "a@b".to_owned(), "https://h/z?token=new".to_owned()];
        assert_eq!(
            restore_recipients(sent, &stored).unwrap(),
            ["https://h/y?token=def", "a@b", "https://h/z?token=new"]
        );
        let err = restore_recipients(vec!["https://other/?token=***".into()], &stored).unwrap_err();
        assert!(err.message().contains("matches no stored recipient"), "{err:?}");
    }

    #[test]
    fn a_config_sent_back_redacted_keeps_the_stored_secrets() {
        let stored =
            json!({"smtp_password": "hunter2", "webhook_url": "https://x/?access_token=abc", "n": [{"secret": "s"}]});
        let mut sent = json!({"smtp_password": "***", "webhook_url": "https://x/?access_token=***", "n": [{"secret": "***"}], "new": "***x"});
        restore_redacted(&mut sent, &stored);
        assert_eq!(
            sent,
            json!({"smtp_password": "hunter2", "webhook_url": "https://x/?access_token=abc", "n": [{"secret": "s"}], "new": "***x"})
        );
        let mut changed = json!({"smtp_password": "new"});
        restore_redacted(&mut changed, &stored);
        assert_eq!(changed["smtp_password"], "new");
    }
}
