//! The environment seam: `OXMON_AGENT_<KEY>` variables, read through [`Env`] so tests
//! never touch the process environment.

use std::collections::HashMap;

pub const ENV_AGENT_ID: &str = "OXMON_AGENT_AGENT_ID";
pub const ENV_SERVER_ENDPOINT: &str = "OXMON_AGENT_SERVER_ENDPOINT";
pub const ENV_TLS: &str = "OXMON_AGENT_TLS";
pub const ENV_TLS_CA_FILE: &str = "OXMON_AGENT_TLS_CA_FILE";
pub const ENV_TLS_SERVER_NAME: &str = "OXMON_AGENT_TLS_SERVER_NAME";
pub const ENV_AUTH_TOKEN: &str = "OXMON_AGENT_AUTH_TOKEN";
pub const ENV_COLLECTION_INTERVAL_SECS: &str = "OXMON_AGENT_COLLECTION_INTERVAL_SECS";
pub const ENV_BUFFER_MAX_SIZE: &str = "OXMON_AGENT_BUFFER_MAX_SIZE";
pub const ENV_MAX_MESSAGE_BYTES: &str = "OXMON_AGENT_MAX_MESSAGE_BYTES";
pub const ENV_REQUEST_TIMEOUT_SECS: &str = "OXMON_AGENT_REQUEST_TIMEOUT_SECS";
pub const ENV_PROCFS_PATH: &str = "OXMON_AGENT_PROCFS_PATH";
pub const ENV_SYSFS_PATH: &str = "OXMON_AGENT_SYSFS_PATH";
pub const ENV_ROOTFS_PATH: &str = "OXMON_AGENT_ROOTFS_PATH";
/// Comma-separated interface names.
pub const ENV_EXCLUDE_INTERFACES: &str = "OXMON_AGENT_EXCLUDE_INTERFACES";
/// Comma-separated collector names.
pub const ENV_DISABLED_COLLECTORS: &str = "OXMON_AGENT_DISABLED_COLLECTORS";
pub const ENV_CONTAINER_LOG_PATH: &str = "OXMON_AGENT_CONTAINER_LOG_PATH";
/// Comma-separated namespaces.
pub const ENV_CONTAINER_INCLUDE_NAMESPACES: &str = "OXMON_AGENT_CONTAINER_INCLUDE_NAMESPACES";
/// Comma-separated namespaces.
pub const ENV_CONTAINER_EXCLUDE_NAMESPACES: &str = "OXMON_AGENT_CONTAINER_EXCLUDE_NAMESPACES";
pub const ENV_MAX_CONTAINERS: &str = "OXMON_AGENT_MAX_CONTAINERS";

/// A source of environment variables.
pub trait Env {
    /// The value of `key`, `None` when unset.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        // A non-UTF-8 value is passed on lossily; the key's parser then rejects it if needed.
        std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
    }
}

/// No variables at all: the config is exactly defaults + TOML.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEnv;

impl Env for NoEnv {
    fn var(&self, _key: &str) -> Option<String> {
        None
    }
}

impl<F> Env for F
where
    F: Fn(&str) -> Option<String>,
{
    fn var(&self, key: &str) -> Option<String> {
        self(key)
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}
