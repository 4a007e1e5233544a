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
        Ok(Self { body_template: f.opt_string("body_template")?, headers: f.headers("headers")? })
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
