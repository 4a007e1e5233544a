//! Reading a channel config object key by key, so every error names the
//! key it is about.

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::channel::ConfigError;
use crate::secret::Secret;

/// Parses `config_json` as a JSON object.
pub(crate) fn parse_object(config_json: &str) -> Result<Map<String, Value>, ConfigError> {
    match serde_json::from_str::<Value>(config_json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ConfigError::Missing(", got another JSON value".into())),
        Err(e) => Err(ConfigError::Missing(format!(": {e}"))),
    }
}

/// The keys of one channel config.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    channel_type: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(channel_type: &'static str, map: &'a Map<String, Value>) -> Self {
        Self { channel_type, map }
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { channel_type: self.channel_type, message: message.into() }
    }

    /// Present and not `null`.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A required, non-blank string.
    pub(crate) fn string(&self, key: &str) -> Result<String, ConfigError> {
        self.opt_string(key)?.ok_or_else(|| self.error(format!("{key} is required")))
    }

    /// An optional string; blank counts as absent.
    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(other) => Err(self.error(format!("{key} must be a string, got {other}"))),
        }
    }

    pub(crate) fn secret(&self, key: &str) -> Result<Secret, ConfigError> {
        self.string(key).map(Secret::new)
    }

    pub(crate) fn opt_secret(&self, key: &str) -> Result<Option<Secret>, ConfigError> {
        Ok(self.opt_string(key)?.map(Secret::new))
    }

    /// A required TCP port, 1 to 65535.
    pub(crate) fn port(&self, key: &str) -> Result<u16, ConfigError> {
        let v = self.get(key).ok_or_else(|| self.error(format!("{key} is required")))?;
        v.as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| self.error(format!("{key} must be a port number from 1 to 65535, got {v}")))
    }

    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.error(format!("{key} must be true or false, got {other}"))),
        }
    }

    /// An optional list of strings (absent = empty).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        let bad = |v: &Value| self.error(format!("{key} must be a list of strings, got {v}"));
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v @ Value::Array(items)) => {
                items.iter().map(|i| i.as_str().map(str::to_owned).ok_or_else(|| bad(v))).collect()
            }
            Some(other) => Err(bad(other)),
        }
    }

    /// An optional object of string values.
    pub(crate) fn string_map(&self, key: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let bad = |v: &Value| self.error(format!("{key} must be an object of string values, got {v}"));
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v @ Value::Object(m)) => {
                m.iter().map(|(k, val)| val.as_str().map(|s| (k.clone(), s.to_owned())).ok_or_else(|| bad(v))).collect()
            }
            Some(other) => Err(bad(other)),
        }
    }

    /// Optional HTTP headers: an object of string values, each a valid header
    /// name and value. Values are marked sensitive (they may be credentials).
    pub(crate) fn headers(&self, key: &str) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
        let mut headers = Vec::new();
        for (name, value) in self.string_map(key)? {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| self.error(format!("{key}: {name:?} is not a valid header name")))?;
            let mut v = HeaderValue::from_str(&value)
                .map_err(|_| self.error(format!("{key}: the value of {name:?} is not a valid header value")))?;
            v.set_sensitive(true);
            headers.push((n, v));
        }
        Ok(headers)
    }

    /// A required `http://` or `https://` URL.
    pub(crate) fn url(&self, key: &str) -> Result<String, ConfigError> {
        let s = self.string(key)?;
        check_url(&s).map_err(|e| self.error(format!("{key} {e}")))?;
        Ok(s)
    }

    /// Refuses keys outside `allowed`.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.error(format!("unknown key {k:?}; known keys: {}", allowed.join(", ")))),
            None => Ok(()),
        }
    }
}

/// Checks that `s` is an absolute `http`/`https` URL with a host.
/// Parses an http(s) URL; the error quotes it with its secrets redacted
/// (it reaches logs and notification logs).
pub(crate) fn check_url(s: &str) -> Result<reqwest::Url, String> {
    let shown = || crate::channel::redact_url(s);
    let u = reqwest::Url::parse(s).map_err(|e| format!("must be an http(s) URL, got {:?}: {e}", shown()))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("must be an http(s) URL, got {:?}", shown()));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bad_url_is_quoted_without_its_secrets() {
        let e = check_url("htp//hooks.local/x?token=abc123&env=1").unwrap_err();
        assert!(!e.contains("abc123") && e.contains("token=***"), "{e}");
        let e = check_url("ftp://bot:hunter2@hooks.local/x").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    fn with<T>(v: Value, f: impl FnOnce(&Fields<'_>) -> T) -> T {
        let Value::Object(m) = v else { panic!("object") };
        f(&Fields::new("email", &m))
    }

    #[test]
    fn errors_name_the_key() {
        let e = with(json!({"smtp_port": "25"}), |f| f.port("smtp_port").unwrap_err());
        assert_eq!(e.to_string(), "email config: smtp_port must be a port number from 1 to 65535, got \"25\"");
        let e = with(json!({"a": 1}), |f| f.string("smtp_host").unwrap_err());
        assert_eq!(e.to_string(), "email config: smtp_host is required");
        let e = with(json!({"smtp_hots": "x"}), |f| f.only(&["smtp_host"]).unwrap_err());
        assert_eq!(e.to_string(), "email config: unknown key \"smtp_hots\"; known keys: smtp_host");
        let e = with(json!({"u": "ftp://x"}), |f| f.url("u").unwrap_err());
        assert!(e.to_string().starts_with("email config: u must be an http(s) URL"), "{e}");
        let e = with(json!({"l": ["a", 1]}), |f| f.strings("l").unwrap_err());
        assert!(e.to_string().contains("l must be a list of strings"), "{e}");
    }

    #[test]
    fn blank_and_null_optional_values_are_absent() {
        assert_eq!(
            with(json!({"a": "  ", "b": null}), |f| (f.opt_string("a"), f.opt_string("b"))),
            (Ok(None), Ok(None))
        );
        assert_eq!(with(json!({}), |f| f.bool_or("x", true)), Ok(true));
    }
}
