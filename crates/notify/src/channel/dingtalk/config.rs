//! DingTalk config: `webhook_url`, optional `secret` and mentions.

use std::fmt;

use crate::channel::fields::Fields;
use crate::channel::{ConfigError, redact_url};
use crate::secret::Secret;

const KEYS: &[&str] = &["webhook_url", "secret", "is_at_all", "at_mobiles", "at_user_ids"];

pub struct DingTalkConfig {
    pub(crate) webhook_url: String,
    pub(crate) secret: Option<Secret>,
    pub(crate) is_at_all: bool,
    pub(crate) at_mobiles: Vec<String>,
    pub(crate) at_user_ids: Vec<String>,
}

impl DingTalkConfig {
    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, ConfigError> {
        f.only(KEYS)?;
        Ok(Self {
            webhook_url: f.url("webhook_url")?,
            secret: f.opt_secret("secret")?,
            is_at_all: f.bool_or("is_at_all", false)?,
            at_mobiles: f.strings("at_mobiles")?,
            at_user_ids: f.strings("at_user_ids")?,
        })
    }
}

impl fmt::Debug for DingTalkConfig {
    /// The robot URL carries its access token: shown redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DingTalkConfig")
            .field("webhook_url", &redact_url(&self.webhook_url))
            .field("secret", &self.secret)
            .field("is_at_all", &self.is_at_all)
            .field("at_mobiles", &self.at_mobiles)
            .field("at_user_ids", &self.at_user_ids)
            .finish()
    }
}
