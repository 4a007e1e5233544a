//! The raw, all-optional form of the agent config: what the TOML file and the
//! environment may set before defaults and validation are applied.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use oxmon_collector::{Collectors, ContainerConfig};
use serde::Deserialize;

use super::env::*;
use super::{
    AgentConfig, BackoffConfig, CaPem, ConfigError, DEFAULT_BUFFER_MAX_SIZE, DEFAULT_ENDPOINT, DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_INTERVAL_SECS, DEFAULT_LOG_PERIOD, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_REQUEST_TIMEOUT_SECS,
    DEFAULT_SUMMARY_INTERVAL, MIN_MAX_MESSAGE_BYTES, Secret, Setting, TlsOptions, endpoint_uri,
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
    pub disabled_collectors: Option<Vec<String>>,
    pub container_log_path: Option<PathBuf>,
    pub container_include_namespaces: Option<Vec<String>>,
    pub container_exclude_namespaces: Option<Vec<String>>,
    pub max_containers: Option<usize>,
    /// The `OXMON_AGENT_*` variables that overrode a key, so errors name what was really set.
    #[serde(skip)]
    pub from_env: Vec<&'static str>,
}

/// How a value is shown in an error.
#[derive(Clone, Copy)]
enum Show {
    /// Quoted, as a TOML string.
    Text,
    /// Never (credentials).
    Secret,
}

impl ConfigFile {
    /// Parses TOML text; `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let start = e.span().map(|span| span.start);
            let line = start.map_or(1, |pos| line_of(text, pos));
            let message = match start.and_then(|pos| key_at(text, pos)) {
                // Type and range errors do not say which key they are about.
                Some(key) if !e.message().contains(&format!("`{key}`")) => format!("{key}: {}", e.message()),
                _ => e.message().to_owned(),
            };
            ConfigError::Parse { origin: origin.to_owned(), line, message }
        })
    }

    /// Overrides every key whose `OXMON_AGENT_<KEY>` variable is set to a non-empty value.
    pub fn apply_env(&mut self, env: &impl Env) -> Result<(), ConfigError> {
        let mut vars = EnvReader { env, applied: std::mem::take(&mut self.from_env) };
        vars.apply(&mut self.agent_id, ENV_AGENT_ID, Show::Text)?;
        vars.apply(&mut self.server_endpoint, ENV_SERVER_ENDPOINT, Show::Text)?;
        if let Some(v) = vars.get(ENV_TLS) {
            let parsed = parse_bool(&v).ok_or_else(|| ConfigError::Invalid {
                setting: env_setting(ENV_TLS, &v, Show::Text),
                reason: "expected true or false".to_owned(),
            })?;
            self.tls = Some(parsed);
        }
        vars.apply(&mut self.tls_ca_file, ENV_TLS_CA_FILE, Show::Text)?;
        vars.apply(&mut self.tls_server_name, ENV_TLS_SERVER_NAME, Show::Text)?;
        vars.apply(&mut self.auth_token, ENV_AUTH_TOKEN, Show::Secret)?;
        vars.apply(&mut self.collection_interval_secs, ENV_COLLECTION_INTERVAL_SECS, Show::Text)?;
        vars.apply(&mut self.buffer_max_size, ENV_BUFFER_MAX_SIZE, Show::Text)?;
        vars.apply(&mut self.max_message_bytes, ENV_MAX_MESSAGE_BYTES, Show::Text)?;
        vars.apply(&mut self.request_timeout_secs, ENV_REQUEST_TIMEOUT_SECS, Show::Text)?;
        vars.apply(&mut self.procfs_path, ENV_PROCFS_PATH, Show::Text)?;
        vars.apply(&mut self.sysfs_path, ENV_SYSFS_PATH, Show::Text)?;
        vars.apply(&mut self.rootfs_path, ENV_ROOTFS_PATH, Show::Text)?;
        if let Some(v) = vars.get(ENV_EXCLUDE_INTERFACES) {
            self.exclude_interfaces = Some(comma_list(&v));
        }
        if let Some(v) = vars.get(ENV_DISABLED_COLLECTORS) {
            self.disabled_collectors = Some(comma_list(&v));
        }
        vars.apply(&mut self.container_log_path, ENV_CONTAINER_LOG_PATH, Show::Text)?;
        if let Some(v) = vars.get(ENV_CONTAINER_INCLUDE_NAMESPACES) {
            self.container_include_namespaces = Some(comma_list(&v));
        }
        if let Some(v) = vars.get(ENV_CONTAINER_EXCLUDE_NAMESPACES) {
            self.container_exclude_namespaces = Some(comma_list(&v));
        }
        vars.apply(&mut self.max_containers, ENV_MAX_CONTAINERS, Show::Text)?;
        self.from_env = vars.applied;
        Ok(())
    }

    /// Applies defaults and checks every value; `hostname` supplies the default `agent_id`.
    pub fn validate(self, hostname: impl FnOnce() -> Option<String>) -> Result<AgentConfig, ConfigError> {
        let agent_id = match &self.agent_id {
            Some(id) => {
                let trimmed = id.trim().to_owned();
                if trimmed.is_empty() {
                    return Err(self.invalid("agent_id", ENV_AGENT_ID, Some(text(id)), "must not be empty"));
                }
                trimmed
            }
            None => hostname().ok_or(ConfigError::NoHostname)?,
        };

        let tls = self.tls.unwrap_or(false);
        let endpoint = match &self.server_endpoint {
            Some(raw) => endpoint_uri(raw, tls)
                .map_err(|reason| self.invalid("server_endpoint", ENV_SERVER_ENDPOINT, Some(text(raw)), &reason))?,
            None => endpoint_uri(DEFAULT_ENDPOINT, tls).map_err(|reason| ConfigError::Invalid {
                setting: Setting { name: "server_endpoint", from_env: false, value: None },
                reason: format!("the default {DEFAULT_ENDPOINT} {reason}"),
            })?,
        };

        let ca_pem = match &self.tls_ca_file {
            Some(path) => match std::fs::read(path) {
                Ok(pem) => Some(CaPem(pem)),
                Err(source) => return Err(ConfigError::CaFile { path: path.clone(), source }),
            },
            None => None,
        };
        let server_name = match &self.tls_server_name {
            Some(name) if name.trim().is_empty() => {
                return Err(self.invalid(
                    "tls_server_name",
                    ENV_TLS_SERVER_NAME,
                    Some(text(name)),
                    "must not be empty",
                ));
            }
            other => other.as_ref().map(|n| n.trim().to_owned()),
        };

        let auth_token = match &self.auth_token {
            Some(token) => {
                let token = token.trim().to_owned();
                if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    // Never echo the token itself.
                    return Err(self.invalid("auth_token", ENV_AUTH_TOKEN, None, "must be non-empty printable ASCII"));
                }
                if !agent_id.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(self.invalid(
                        "agent_id",
                        ENV_AGENT_ID,
                        Some(text(&agent_id)),
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
            return Err(self.invalid(
                "collection_interval_secs",
                ENV_COLLECTION_INTERVAL_SECS,
                Some("0".to_owned()),
                "must be greater than 0",
            ));
        }
        let buffer_max_size =
            NonZeroUsize::new(self.buffer_max_size.unwrap_or(DEFAULT_BUFFER_MAX_SIZE)).ok_or_else(|| {
                self.invalid("buffer_max_size", ENV_BUFFER_MAX_SIZE, Some("0".to_owned()), "must be greater than 0")
            })?;
        let max_message_bytes = self.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
        if max_message_bytes < MIN_MAX_MESSAGE_BYTES {
            return Err(self.invalid(
                "max_message_bytes",
                ENV_MAX_MESSAGE_BYTES,
                Some(max_message_bytes.to_string()),
                &format!("must be at least {MIN_MAX_MESSAGE_BYTES}"),
            ));
        }
        let timeout = self.request_timeout_secs.unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS);
        if timeout == 0 {
            return Err(self.invalid(
                "request_timeout_secs",
                ENV_REQUEST_TIMEOUT_SECS,
                Some("0".to_owned()),
                "must be greater than 0",
            ));
        }

        let mut collectors = Collectors::ALL;
        for name in self.disabled_collectors.iter().flatten() {
            let Some(switch) = collectors.switch(name) else {
                let list = self.disabled_collectors.as_deref().unwrap_or_default();
                return Err(self.invalid(
                    "disabled_collectors",
                    ENV_DISABLED_COLLECTORS,
                    Some(format!("{list:?}")),
                    &format!("unknown collector {name:?}; the collectors are {}", Collectors::NAMES.join(", ")),
                ));
            };
            *switch = false;
        }
        let defaults = ContainerConfig::default();
        let containers = ContainerConfig {
            log_path: self.container_log_path.clone().unwrap_or(defaults.log_path),
            include_namespaces: self.container_include_namespaces.clone().unwrap_or_default(),
            exclude_namespaces: self.container_exclude_namespaces.clone().unwrap_or_default(),
            max_containers: self.max_containers.unwrap_or(defaults.max_containers),
        };

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
            collectors,
            containers,
            backoff: BackoffConfig::default(),
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            log_period: DEFAULT_LOG_PERIOD,
            summary_interval: DEFAULT_SUMMARY_INTERVAL,
        })
    }

    /// An invalid value of `key`, named by its variable `var` when the environment set it.
    /// `value` is shown as written in the file (strings quoted); `None` hides it.
    fn invalid(&self, key: &'static str, var: &'static str, value: Option<String>, reason: &str) -> ConfigError {
        let from_env = self.from_env.contains(&var);
        let setting = Setting { name: if from_env { var } else { key }, from_env, value };
        ConfigError::Invalid { setting, reason: reason.to_owned() }
    }
}

/// Reads `OXMON_AGENT_*` variables and remembers which ones were set.
struct EnvReader<'a, E> {
    env: &'a E,
    applied: Vec<&'static str>,
}

impl<E: Env> EnvReader<'_, E> {
    /// The variable's value when it is set and not blank.
    fn get(&mut self, var: &'static str) -> Option<String> {
        let value = self.env.var(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())?;
        self.applied.push(var);
        Some(value)
    }

    /// Parses `var` into `slot` when it is set.
    fn apply<T>(&mut self, slot: &mut Option<T>, var: &'static str, show: Show) -> Result<(), ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        if let Some(v) = self.get(var) {
            let parsed = v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                setting: env_setting(var, &v, show),
                reason: e.to_string(),
            })?;
            *slot = Some(parsed);
        }
        Ok(())
    }
}

/// The non-empty, trimmed items of a comma-separated variable.
fn comma_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `var` set to `value`, shown unless it is a secret.
fn env_setting(var: &'static str, value: &str, show: Show) -> Setting {
    let value = match show {
        Show::Text => Some(text(value)),
        Show::Secret => None,
    };
    Setting { name: var, from_env: true, value }
}

/// A string value as TOML writes it (quoted, escaped).
fn text(value: &str) -> String {
    format!("{value:?}")
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

/// The key of the `key = value` line holding byte offset `pos`, if that line has one.
fn key_at(text: &str, pos: usize) -> Option<&str> {
    let pos = pos.min(text.len());
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let (key, _) = text[start..end].split_once('=')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')).then_some(key)
}
