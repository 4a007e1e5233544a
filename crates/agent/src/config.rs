//! Agent configuration: built-in defaults < TOML file < `OXMON_AGENT_*` environment,
//! validated once at load into [`AgentConfig`].

mod env;
mod file;
#[cfg(test)]
mod tests;

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Uri;
use oxmon_common::proto::DEFAULT_MAX_MESSAGE_BYTES;

pub use env::{Env, NoEnv, ProcessEnv};

use file::ConfigFile;

/// Config file read when `oxmon-agent` is started without an argument.
pub const DEFAULT_PATH: &str = "config/agent.toml";

/// Smallest accepted `max_message_bytes`: every single data point must fit in a request.
pub const MIN_MAX_MESSAGE_BYTES: usize = 4 * 1024;

const DEFAULT_ENDPOINT: &str = "127.0.0.1:9090";
const DEFAULT_INTERVAL_SECS: u64 = 10;
const DEFAULT_BUFFER_MAX_SIZE: usize = 1000;
const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 10;
const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_LOG_PERIOD: Duration = Duration::from_secs(60);
const DEFAULT_SUMMARY_INTERVAL: Duration = Duration::from_secs(600);

/// The oxmon-server ports, for the hint given when `server_endpoint` is the HTTP port.
pub(crate) const SERVER_GRPC_PORT: u16 = 9090;
pub(crate) const SERVER_HTTP_PORT: u16 = 8080;

/// Validated agent configuration.
///
/// Built by [`AgentConfig::load`] / [`AgentConfig::from_toml_str`]; the fields are public so
/// that tests and embedding code can adjust a loaded config (for example shorten
/// [`AgentConfig::backoff`]).
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Reported as batch `agent_id`, on every point and (with auth) as `agent-id` metadata.
    pub agent_id: String,
    /// Server URI; TLS is used exactly when its scheme is `https`.
    pub endpoint: Uri,
    /// Trust settings for an `https` endpoint (ignored for `http`).
    pub tls: TlsOptions,
    /// Whitelist token; when set every call carries `authorization` and `agent-id` metadata.
    pub auth_token: Option<Secret>,
    pub collection_interval: Duration,
    /// Capacity of the local buffer, in batches (one batch per collection cycle).
    pub buffer_max_size: NonZeroUsize,
    /// Upper bound of one encoded `ReportMetrics` request.
    pub max_message_bytes: usize,
    /// Deadline of one RPC, and of connecting / the TLS handshake.
    pub request_timeout: Duration,
    pub procfs_path: PathBuf,
    pub sysfs_path: PathBuf,
    pub rootfs_path: PathBuf,
    /// Interfaces the network collector skips; `None` keeps the collector's default list.
    pub exclude_interfaces: Option<Vec<String>>,
    /// Which collectors run: all but those of `disabled_collectors`.
    pub collectors: oxmon_collector::Collectors,
    /// `container_log_path`, `container_include_namespaces`,
    /// `container_exclude_namespaces`, `max_containers`.
    pub containers: oxmon_collector::ContainerConfig,
    /// Retry delays after a failed report (not a TOML key).
    pub backoff: BackoffConfig,
    /// How long shutdown keeps trying to send the buffer (not a TOML key).
    pub flush_timeout: Duration,
    /// Repeated warnings about one ongoing condition (failing reports, refused data) are
    /// logged once per this period, with a count of the repeats in between (not a TOML key).
    pub log_period: Duration,
    /// How often the running totals (sent, dropped, refused, buffered) are logged at INFO
    /// (not a TOML key).
    pub summary_interval: Duration,
}

/// Trust settings of the TLS client.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// PEM CA bundle read from `tls_ca_file`; without it the system and webpki roots are used.
    pub ca_pem: Option<CaPem>,
    /// Name verified against the server certificate instead of the endpoint host.
    pub server_name: Option<String>,
}

/// PEM-encoded CA certificates.
#[derive(Clone, PartialEq, Eq)]
pub struct CaPem(pub Vec<u8>);

/// A credential whose `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Jittered exponential backoff parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Delay ceiling of the first retry.
    pub base: Duration,
    /// Largest delay ever returned.
    pub max: Duration,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML text is malformed or a value has the wrong type; `message` starts with the key
    /// when the parser's own message does not name it.
    #[error("{origin}:{line}: {message}")]
    Parse { origin: String, line: usize, message: String },
    #[error("invalid {setting}: {reason}")]
    Invalid { setting: Setting, reason: String },
    #[error("cannot read tls_ca_file {path}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("agent_id is not set and the hostname is unavailable")]
    NoHostname,
}

/// A configured value as the operator wrote it, for error messages: `key = value` when it
/// came from the file, `OXMON_AGENT_KEY=value` when it came from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The TOML key, or the environment variable that set it.
    pub name: &'static str,
    pub from_env: bool,
    /// The value (strings quoted); `None` for secrets, which are never echoed.
    pub value: Option<String>,
}

// === impl AgentConfig ===

impl AgentConfig {
    /// Loads `path`, or [`DEFAULT_PATH`] when `None` (built-in defaults if that file is absent),
    /// then applies the environment.
    pub fn load(path: Option<&Path>, env: &impl Env) -> Result<Self, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p, true),
            None => (Path::new(DEFAULT_PATH), false),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::Read { path: path.to_owned(), source }),
        };
        Self::from_toml(&text, &path.display().to_string(), env)
    }

    /// Builds a config from TOML text (empty text = defaults), then applies the environment.
    ///
    /// Pass [`NoEnv`] as `env` to ignore the process environment.
    pub fn from_toml_str(text: &str, env: &impl Env) -> Result<Self, ConfigError> {
        Self::from_toml(text, "<config>", env)
    }

    fn from_toml(text: &str, origin: &str, env: &impl Env) -> Result<Self, ConfigError> {
        let mut file = ConfigFile::parse(text, origin)?;
        file.apply_env(env)?;
        file.validate(hostname)
    }

    /// `true` when reports go over TLS (`https` endpoint).
    pub fn uses_tls(&self) -> bool {
        self.endpoint.scheme_str() == Some("https")
    }
}

// === impl Secret ===

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for CaPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaPem({} bytes)", self.0.len())
    }
}

// === impl Setting ===

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, self.from_env) {
            (None, _) => f.write_str(self.name),
            (Some(value), true) => write!(f, "{}={value}", self.name),
            (Some(value), false) => write!(f, "{} = {value}", self.name),
        }
    }
}

// === impl BackoffConfig ===

impl Default for BackoffConfig {
    fn default() -> Self {
        Self { base: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

/// The host name, the default `agent_id`.
fn hostname() -> Option<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// Normalises and checks `server_endpoint`: a value with `://` is used verbatim, otherwise
/// `http://` (`https://` when `tls`) is prefixed. The result must be `http(s)://host[:port]`
/// with a valid host and port and nothing else (tonic would ignore a path, so one is refused
/// rather than silently dropped). The error is the reason only; the caller names the setting.
fn endpoint_uri(raw: &str, tls: bool) -> Result<Uri, String> {
    const SHAPE: &str = "expected host:port or http(s)://host:port";
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let text =
        if raw.contains("://") { raw.to_owned() } else { format!("{}://{raw}", if tls { "https" } else { "http" }) };
    let uri: Uri = text.parse().map_err(|e| format!("not a valid URI ({e}); {SHAPE}"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if tls => return Err("tls = true needs an https:// endpoint".to_owned()),
        Some("http") => {}
        _ => return Err(format!("the scheme must be http or https; {SHAPE}")),
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("missing host; {SHAPE}"));
    };
    if authority.as_str().contains('@') {
        return Err(format!("must not contain user info; {SHAPE}"));
    }
    check_host(authority.host()).map_err(|reason| format!("{reason}; {SHAPE}"))?;
    // `Authority` keeps whatever follows the last `:` of the host part as the port.
    let port_text = match authority.as_str().rsplit_once(':') {
        Some((_, port)) if !authority.as_str().ends_with(']') => Some(port),
        _ => None,
    };
    if let Some(port) = port_text
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(format!("the port must be a number from 1 to 65535, not {port:?}"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        let rest = uri.path_and_query().map_or("", |p| p.as_str());
        return Err(format!("unexpected path {rest:?}; {SHAPE}"));
    }
    Ok(uri)
}

/// A DNS name, an IPv4 address or a bracketed IPv6 address.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("missing host".to_owned());
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().map(|_| ()).map_err(|_| format!("bad IPv6 address {host:?}"));
    }
    // A fully qualified name may end with a dot.
    let name = host.strip_suffix('.').unwrap_or(host);
    let name_ok = name.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if name_ok { Ok(()) } else { Err(format!("bad host name {host:?}")) }
}
