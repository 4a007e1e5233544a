//! The raw, all-optional form of the agent config: what the TOML file and the
//! environment may set before defaults and validation are applied.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::env::*;
use super::{
    AgentConfig, BackoffConfig, CaPem, ConfigError, DEFAULT_BUFFER_MAX_SIZE, DEFAULT_ENDPOINT, DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_INTERVAL_SECS, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_REQUEST_TIMEOUT_SECS, MIN_MAX_MESSAGE_BYTES, Secret,
    TlsOptions, endpoint_uri,
};

/// Keys of `agent.toml`; every oxmon 0.1 key is still accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    pub agent_id: Option<String>,
    pub server_endpoint: Option<String>,
    pub tls: Option<bool>,
    pub tls_ca_file: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    pub auth_token: Option<String>,
    pub collection_interval_secs: Option<u64>,
    pub buffer_max_size: Option<usize>,
    pub max_message_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub procfs_path: Option<PathBuf>,
    pub sysfs_path: Option<PathBuf>,
    pub rootfs_path: Option<PathBuf>,
    pub exclude_interfaces: Option<Vec<String>>,
}

impl ConfigFile {
    /// Parses TOML text; `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |span| line_of(text, span.start));
            ConfigError::Parse { origin: origin.to_owned(), line, message: e.message().to_owned() }
        })
    }

    /// Overrides every key whose `OXMON_AGENT_<KEY>` variable is set to a non-empty value.
    pub fn apply_env(&mut self, env: &impl Env) -> Result<(), ConfigError> {
        override_with(&mut self.agent_id, env, ENV_AGENT_ID)?;
        override_with(&mut self.server_endpoint, env, ENV_SERVER_ENDPOINT)?;
        if let Some(v) = var(env, ENV_TLS) {
            self.tls = Some(
                parse_bool(&v)
                    .ok_or_else(|| ConfigError::Env { key: ENV_TLS, reason: "expected true or false".to_owned() })?,
            );
        }
        override_with(&mut self.tls_ca_file, env, ENV_TLS_CA_FILE)?;
        override_with(&mut self.tls_server_name, env, ENV_TLS_SERVER_NAME)?;
        override_with(&mut self.auth_token, env, ENV_AUTH_TOKEN)?;
        override_with(&mut self.collection_interval_secs, env, ENV_COLLECTION_INTERVAL_SECS)?;
        override_with(&mut self.buffer_max_size, env, ENV_BUFFER_MAX_SIZE)?;
        override_with(&mut self.max_message_bytes, env, ENV_MAX_MESSAGE_BYTES)?;
        override_with(&mut self.request_timeout_secs, env, ENV_REQUEST_TIMEOUT_SECS)?;
        override_with(&mut self.procfs_path, env, ENV_PROCFS_PATH)?;
        override_with(&mut self.sysfs_path, env, ENV_SYSFS_PATH)?;
        override_with(&mut self.rootfs_path, env, ENV_ROOTFS_PATH)?;
        if let Some(v) = var(env, ENV_EXCLUDE_INTERFACES) {
            self.exclude_interfaces =
                Some(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect());
        }
        Ok(())
    }

    /// Applies defaults and checks every value; `hostname` supplies the default `agent_id`.
    pub fn validate(self, hostname: impl FnOnce() -> Option<String>) -> Result<AgentConfig, ConfigError> {
        let agent_id = match self.agent_id {
            Some(id) => {
                let id = id.trim().to_owned();
                if id.is_empty() {
                    return Err(invalid("agent_id", "must not be empty"));
                }
                id
            }
            None => hostname().ok_or(ConfigError::NoHostname)?,
        };

        let tls = self.tls.unwrap_or(false);
        let endpoint = endpoint_uri(self.server_endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT), tls)?;

        let ca_pem = match self.tls_ca_file {
            Some(path) => match std::fs::read(&path) {
                Ok(pem) => Some(CaPem(pem)),
                Err(source) => return Err(ConfigError::CaFile { path, source }),
            },
            None => None,
        };
        let server_name = match self.tls_server_name {
            Some(name) if name.trim().is_empty() => {
                return Err(invalid("tls_server_name", "must not be empty"));
            }
            other => other.map(|n| n.trim().to_owned()),
        };

        let auth_token = match self.auth_token {
            Some(token) => {
                let token = token.trim().to_owned();
                if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    // Never echo the token itself.
                    return Err(invalid("auth_token", "must be non-empty printable ASCII"));
                }
                if !agent_id.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(invalid(
                        "agent_id",
                        "must be printable ASCII without spaces when auth_token is set \
                         (it is sent as agent-id metadata)",
                    ));
                }
                Some(Secret(token))
            }
            None => None,
        };

        let interval = self.collection_interval_secs.unwrap_or(DEFAULT_INTERVAL_SECS);
        if interval == 0 {
            return Err(invalid("collection_interval_secs", "must be greater than 0"));
        }
        let buffer_max_size = NonZeroUsize::new(self.buffer_max_size.unwrap_or(DEFAULT_BUFFER_MAX_SIZE))
            .ok_or_else(|| invalid("buffer_max_size", "must be greater than 0"))?;
        let max_message_bytes = self.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
        if max_message_bytes < MIN_MAX_MESSAGE_BYTES {
            return Err(ConfigError::Invalid {
                key: "max_message_bytes",
                reason: format!("must be at least {MIN_MAX_MESSAGE_BYTES}"),
            });
        }
        let timeout = self.request_timeout_secs.unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS);
        if timeout == 0 {
            return Err(invalid("request_timeout_secs", "must be greater than 0"));
        }

        Ok(AgentConfig {
            agent_id,
            endpoint,
            tls: TlsOptions { ca_pem, server_name },
            auth_token,
            collection_interval: Duration::from_secs(interval),
            buffer_max_size,
            max_message_bytes,
            request_timeout: Duration::from_secs(timeout),
            procfs_path: self.procfs_path.unwrap_or_else(|| PathBuf::from("/proc")),
            sysfs_path: self.sysfs_path.unwrap_or_else(|| PathBuf::from("/sys")),
            rootfs_path: self.rootfs_path.unwrap_or_else(|| PathBuf::from("/")),
            exclude_interfaces: self.exclude_interfaces,
            backoff: BackoffConfig::default(),
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
        })
    }
}

fn invalid(key: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid { key, reason: reason.to_owned() }
}

/// A set, non-empty (after trimming) variable; an empty value counts as unset.
fn var(env: &impl Env, key: &str) -> Option<String> {
    env.var(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn override_with<T>(slot: &mut Option<T>, env: &impl Env, key: &'static str) -> Result<(), ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    if let Some(v) = var(env, key) {
        // The value is not echoed: it may be the auth token.
        let parsed = v.parse().map_err(|e: T::Err| ConfigError::Env { key, reason: e.to_string() })?;
        *slot = Some(parsed);
    }
    Ok(())
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// 1-based line number of byte offset `pos` in `text`.
fn line_of(text: &str, pos: usize) -> usize {
    let pos = pos.min(text.len());
    text.as_bytes()[..pos].iter().filter(|&&b| b == b'\n').count() + 1
}
