//! Webhook config: `body_template` and `headers`, both optional.

use std::fmt;

use reqwest::header::{HeaderName, HeaderValue};

use crate::channel::ConfigError;
use crate::channel::fields::Fields;

const KEYS: &[&str] = &["body_template", "headers"];

pub struct WebhookConfig {
    pub(crate) body_template: Option<String>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

impl WebhookConfig {
    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, ConfigError> {
        f.only(KEYS)?;
        let mut headers = Vec::new();
        for (name, value) in f.string_map("headers")? {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| f.error(format!("headers: {name:?} is not a valid header name")))?;
            let mut v = HeaderValue::from_str(&value)
                .map_err(|_| f.error(format!("headers: the value of {name:?} is not a valid header value")))?;
            v.set_sensitive(true);
            headers.push((n, v));
        }
        Ok(Self { body_template: f.opt_string("body_template")?, headers })
    }
}

impl fmt::Debug for WebhookConfig {
    /// Header values may be credentials: only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("body_template", &self.body_template)
            .field("headers", &self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .finish()
    }
}
