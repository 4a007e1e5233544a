//! The operator's configuration, from environment variables (the Helm chart
//! sets exactly these). A missing or bad value is an error that names the
//! variable; `main` prints it and exits with code 64.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Base URL of the oxmon server's HTTP API, e.g. `http://oxmon-server:8080` (required).
pub const ENV_SERVER_URL: &str = "OXMON_OPERATOR_SERVER_URL";
/// The server's `[auth] operator_token` (required).
pub const ENV_TOKEN: &str = "OXMON_OPERATOR_TOKEN";
/// Watch only this namespace; empty or unset: every namespace.
pub const ENV_NAMESPACE: &str = "OXMON_OPERATOR_NAMESPACE";
/// This replica's name: the lease holder identity.
pub const ENV_POD_NAME: &str = "POD_NAME";
/// Fallback identity outside a pod spec that sets `POD_NAME`.
pub const ENV_HOSTNAME: &str = "HOSTNAME";
/// Namespace of the lease (the operator's own).
pub const ENV_POD_NAMESPACE: &str = "POD_NAMESPACE";
/// Seconds between resyncs of a settled object (default 300).
pub const ENV_RESYNC_SECS: &str = "OXMON_OPERATOR_RESYNC_SECS";
/// Address of `/healthz` and `/readyz` (default `0.0.0.0:8081`).
pub const ENV_HEALTH_ADDR: &str = "OXMON_OPERATOR_HEALTH_ADDR";

/// The server's minimum operator-token length.
const MIN_TOKEN_LEN: usize = 16;

/// Where configuration values come from: the process environment, or a map in tests.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for HashMap<&str, &str> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).map(|v| (*v).to_owned())
    }
}

/// The validated configuration.
#[derive(Clone, PartialEq)]
pub struct Config {
    pub server_url: String,
    pub token: String,
    /// `None`: every namespace.
    pub namespace: Option<String>,
    /// Lease holder identity: `POD_NAME`, else `HOSTNAME`, else `oxmon-operator-<pid>`.
    pub identity: String,
    /// `None`: the namespace of the kube client (the in-cluster service account's).
    pub pod_namespace: Option<String>,
    pub resync: Duration,
    pub health_addr: SocketAddr,
}

/// A variable that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl Config {
    pub fn from_env(env: &impl Env) -> Result<Config, ConfigError> {
        let get = |key: &'static str| env.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let bad = |key: &'static str, problem: String| ConfigError { key, problem };

        let server_url = get(ENV_SERVER_URL).ok_or_else(|| {
            bad(ENV_SERVER_URL, "is required (the server's HTTP address, e.g. http://oxmon-server:8080)".into())
        })?;
        let rest = server_url.strip_prefix("http://").or_else(|| server_url.strip_prefix("https://"));
        if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(['?', '#', ' '])) {
            return Err(bad(
                ENV_SERVER_URL,
                format!("must be an http:// or https:// URL such as http://oxmon-server:8080, got {server_url:?}"),
            ));
        }

        let token =
            get(ENV_TOKEN).ok_or_else(|| bad(ENV_TOKEN, "is required (the server's [auth] operator_token)".into()))?;
        if token.len() < MIN_TOKEN_LEN {
            return Err(bad(ENV_TOKEN, format!("must be at least {MIN_TOKEN_LEN} characters, as the server requires")));
        }

        let resync = match get(ENV_RESYNC_SECS) {
            None => Duration::from_secs(300),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if secs >= 1 => Duration::from_secs(secs),
                _ => {
                    return Err(bad(
                        ENV_RESYNC_SECS,
                        format!("must be a whole number of seconds, at least 1, got {raw:?}"),
                    ));
                }
            },
        };

        let health_addr = match get(ENV_HEALTH_ADDR) {
            None => SocketAddr::from(([0, 0, 0, 0], 8081)),
            Some(raw) => raw.parse().map_err(|_| {
                bad(ENV_HEALTH_ADDR, format!("must be an address with a port such as 0.0.0.0:8081, got {raw:?}"))
            })?,
        };

        Ok(Config {
            server_url: server_url.trim_end_matches('/').to_owned(),
            token,
            namespace: get(ENV_NAMESPACE),
            identity: get(ENV_POD_NAME)
                .or_else(|| get(ENV_HOSTNAME))
                .unwrap_or_else(|| format!("oxmon-operator-{}", std::process::id())),
            pod_namespace: get(ENV_POD_NAMESPACE),
            resync,
            health_addr,
        })
    }
}

impl fmt::Debug for Config {
    /// Leaves out the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server_url", &self.server_url)
            .field("token", &"***")
            .field("namespace", &self.namespace)
            .field("identity", &self.identity)
            .field("pod_namespace", &self.pod_namespace)
            .field("resync", &self.resync)
            .field("health_addr", &self.health_addr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "operator-token-0123456789";

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut env: HashMap<&str, &str> =
            HashMap::from([(ENV_SERVER_URL, "http://oxmon-server:8080/"), (ENV_TOKEN, TOKEN)]);
        env.extend(pairs.iter().copied());
        Config::from_env(&env)
    }

    #[track_caller]
    fn check_err(pairs: &[(&'static str, &'static str)], key: &str, expected: &str) {
        let e = parse(pairs).unwrap_err();
        assert_eq!(e.key, key);
        assert!(e.to_string().contains(expected), "{e}");
    }

    #[test]
    fn defaults_apply_to_optional_variables() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.server_url, "http://oxmon-server:8080");
        assert_eq!(c.resync, Duration::from_secs(300));
        assert_eq!(c.health_addr, "0.0.0.0:8081".parse().unwrap());
        assert_eq!((c.namespace, c.pod_namespace), (None, None));
        assert!(c.identity.starts_with("oxmon-operator-"), "{}", c.identity);
        assert_eq!(parse(&[(ENV_HOSTNAME, "host-1")]).unwrap().identity, "host-1");
        let c = parse(&[
            (ENV_NAMESPACE, "monitoring"),
            (ENV_POD_NAME, "op-1"),
            (ENV_HOSTNAME, "ignored"),
            (ENV_POD_NAMESPACE, "oxmon"),
            (ENV_RESYNC_SECS, "30"),
            (ENV_HEALTH_ADDR, "127.0.0.1:9000"),
        ])
        .unwrap();
        assert_eq!(c.namespace.as_deref(), Some("monitoring"));
        assert_eq!((c.identity.as_str(), c.pod_namespace.as_deref()), ("op-1", Some("oxmon")));
        assert_eq!((c.resync, c.health_addr.port()), (Duration::from_secs(30), 9000));
        assert_eq!(parse(&[(ENV_NAMESPACE, " ")]).unwrap().namespace, None, "blank means every namespace");
    }

    #[test]
    fn missing_or_bad_values_name_their_variable() {
        check_err(&[(ENV_SERVER_URL, "")], ENV_SERVER_URL, "is required");
        check_err(&[(ENV_SERVER_URL, "oxmon-server:8080")], ENV_SERVER_URL, "must be an http:// or https:// URL");
        check_err(&[(ENV_SERVER_URL, "http://")], ENV_SERVER_URL, "must be an http");
        check_err(&[(ENV_TOKEN, "")], ENV_TOKEN, "is required");
        check_err(&[(ENV_TOKEN, "short")], ENV_TOKEN, "at least 16 characters");
        check_err(&[(ENV_RESYNC_SECS, "0")], ENV_RESYNC_SECS, "at least 1");
        check_err(&[(ENV_RESYNC_SECS, "5m")], ENV_RESYNC_SECS, "whole number of seconds");
        check_err(&[(ENV_HEALTH_ADDR, "8081")], ENV_HEALTH_ADDR, "address with a port");
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let debug = format!("{:?}", parse(&[]).unwrap());
        assert!(!debug.contains(TOKEN) && debug.contains("***"), "{debug}");
    }
}
