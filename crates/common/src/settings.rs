//! Runtime settings (`system_configs` rows of type `runtime`) and the
//! redaction of secrets in configuration JSON.

use serde_json::Value;

/// Seconds during which alerts of one rule are gathered into one
/// notification (0 = send at once).
pub const AGGREGATION_WINDOW: &str = "notification_aggregation_window";
/// Days notification logs are kept.
pub const LOG_RETENTION: &str = "notification_log_retention";

/// The runtime settings the server reads, with their defaults and limits.
pub const RUNTIME_SETTINGS: &[RuntimeSetting] = &[
    RuntimeSetting {
        key: AGGREGATION_WINDOW,
        display_name: "Notification aggregation window",
        description: "Seconds during which alerts of one rule are sent as one notification (0 = at once)",
        default: 60,
        max: 86_400,
    },
    RuntimeSetting {
        key: LOG_RETENTION,
        display_name: "Notification log retention",
        description: "Days notification logs are kept",
        default: 30,
        max: 3650,
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuntimeSetting {
    pub key: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub default: u64,
    pub max: u64,
}

impl RuntimeSetting {
    pub fn find(key: &str) -> Option<&'static RuntimeSetting> {
        RUNTIME_SETTINGS.iter().find(|s| s.key == key)
    }

    /// Checks a setting's config object: `{"value": <integer 0..=max>}`.
    pub fn check(&self, config: &Value) -> Result<u64, String> {
        let value = config
            .as_object()
            .and_then(|o| o.get("value"))
            .ok_or_else(|| format!("{}: config must be a JSON object with a \"value\"", self.key))?;
        match value.as_u64() {
            Some(v) if v <= self.max => Ok(v),
            _ => Err(format!("{}: value must be an integer from 0 to {}, got {value}", self.key, self.max)),
        }
    }
}

/// JSON keys whose values are secrets.
const SECRET_KEYS: &[&str] =
    &["password", "passwd", "pwd", "token", "secret", "api_key", "apikey", "credentials", "access_key"];

/// Whether a JSON key names a secret (case-insensitive substring match:
/// `smtp_password`, `access_key_secret`, `secret_key` …).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// Replaces every secret value in `value` (at any depth) by `"***"`.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !v.is_null() {
                    *v = Value::String("***".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = json!({"smtp_host": "mail", "smtp_password": "p", "nested": [{"secret_key": "s", "x": 1}],
                           "access_key_id": "id", "access_key_secret": "k", "token": null});
        redact(&mut v);
        assert_eq!(
            v,
            json!({"smtp_host": "mail", "smtp_password": "***", "nested": [{"secret_key": "***", "x": 1}],
                   "access_key_id": "***", "access_key_secret": "***", "token": null})
        );
    }

    #[test]
    fn runtime_settings_take_bounded_integers() {
        let s = RuntimeSetting::find(AGGREGATION_WINDOW).unwrap();
        assert_eq!(s.check(&json!({"value": 120})), Ok(120));
        assert!(s.check(&json!({"value": -1})).unwrap_err().contains("integer from 0 to 86400"));
        assert!(s.check(&json!({"value": "60"})).is_err());
        assert!(s.check(&json!({"val": 60})).unwrap_err().contains("with a \"value\""));
        assert!(RuntimeSetting::find("nope").is_none());
    }
}
