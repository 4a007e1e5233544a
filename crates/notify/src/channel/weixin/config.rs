//! WeCom config: `webhook_url`.

use std::fmt;

use crate::channel::fields::Fields;
use crate::channel::{ConfigError, redact_url};

pub struct WeComConfig {
    pub(crate) webhook_url: String,
}

impl WeComConfig {
    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, ConfigError> {
        f.only(&["webhook_url"])?;
        Ok(Self { webhook_url: f.url("webhook_url")? })
    }
}

impl fmt::Debug for WeComConfig {
    /// The robot URL carries its key: shown redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeComConfig").field("webhook_url", &redact_url(&self.webhook_url)).finish()
    }
}
