//! Server configuration: built-in defaults < TOML file < environment.
//!
//! Every key of oxmon 0.1's `server.toml` is accepted with the same meaning.
//! Unknown keys are an error naming the key, so a typo never silently falls
//! back to a default. Environment variables `OXMON_SERVER_<KEY>` override
//! top-level keys and `OXMON_SERVER_<SECTION>__<KEY>` keys of a section
//! (e.g. `OXMON_SERVER_GRPC_PORT=9191`, `OXMON_SERVER_AUTH__JWT_SECRET=...`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "OXMON_SERVER_";

/// Shortest static token accepted in the config.
pub const MIN_TOKEN_LEN: usize = 16;

/// Where `oxmon-server` looks for its config when given no path.
pub const DEFAULT_CONFIG_PATH: &str = "config/server.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The OS error is part of the message, not a `source`, so a printed
    /// error chain says it once.
    #[error("cannot read config file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("invalid config{}: {message}", origin.as_deref().map(|o| format!(" in {o}")).unwrap_or_default())]
    Invalid { origin: Option<String>, message: String },
}

fn invalid(origin: Option<&str>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { origin: origin.map(str::to_owned), message: message.into() }
}

/// The server's validated configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address both listeners bind to (oxmon 0.1 always bound 0.0.0.0).
    pub listen_address: IpAddr,
    pub grpc_port: u16,
    pub http_port: u16,
    pub data_dir: PathBuf,
    /// Day partitions older than this many days before today are deleted.
    pub retention_days: u32,
    pub require_agent_auth: bool,
    /// With `require_agent_auth`, a token accepted for any agent id (agents
    /// of a DaemonSet cannot each be whitelisted in advance). Per-agent
    /// whitelist tokens keep working beside it.
    pub agent_shared_token: Option<String>,
    /// Largest gRPC request accepted, in bytes.
    pub grpc_max_message_bytes: usize,
    pub auth: AuthConfig,
    pub cert_check: CertCheckConfig,
    pub tls: Option<TlsConfig>,
    pub log: LogConfig,
    pub http: HttpConfig,
    /// The Prometheus-compatible API (`/api/v1/...`).
    pub prometheus: PrometheusConfig,
    /// oxmon 0.1's `[notification]` section: accepted and ignored.
    pub notification: Option<LegacyNotification>,
    /// oxmon 0.1's `[alert]` section (`[[alert.rules]]`): accepted and ignored.
    pub alert: Option<LegacyAlert>,
}

/// The HTTP listener (REST API, docs, probes).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Origins (`scheme://host[:port]`) whose browser pages may call the API
    /// cross-origin. Empty (the default): no cross-origin access. `*` is
    /// refused: an API that holds secrets is not opened to every site. A
    /// list, or one string with the origins separated by commas (handy in
    /// an environment variable).
    #[serde(deserialize_with = "origin_list")]
    pub cors_allowed_origins: Vec<String>,
    /// Mark the console's session cookies `Secure` (set it when a TLS proxy
    /// that does not send `X-Forwarded-Proto: https` fronts the HTTP port).
    pub secure_cookies: bool,
}

/// `[prometheus]`: the Prometheus query API and the remote_write receiver.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// A bearer token that may only read through `/api/v1/*` (for a
    /// Grafana data source); users' tokens are accepted as well.
    pub read_token: Option<String>,
    /// A bearer token that may only write to `/api/v1/write` (for a
    /// Prometheus or vmagent `remote_write`); users' and agents' tokens are
    /// accepted as well.
    pub write_token: Option<String>,
    /// Samples one query may load (`--query.max-samples` of Prometheus).
    pub max_samples: usize,
    /// Longest a query may run, in seconds.
    pub query_timeout_secs: u64,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self { read_token: None, write_token: None, max_samples: 50_000_000, query_timeout_secs: 120 }
    }
}

/// `[notification]` of oxmon 0.1.0 to 0.1.3: TOML channels, silence windows
/// and an aggregation window; shortly before 0.1.4 only
/// `aggregation_window_secs` and `log_retention_days`. 0.1.4 moved all of
/// it to the database; so does this oxmon. Its keys are still checked, so a
/// typo is an error like anywhere else.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LegacyNotification {
    #[serde(default)]
    pub channels: Vec<toml::Value>,
    #[serde(default)]
    pub silence_windows: Vec<toml::Value>,
    pub aggregation_window_secs: Option<u64>,
    pub log_retention_days: Option<u32>,
}

/// `[alert]` of oxmon 0.1.0 to 0.1.3: rules in TOML (`[[alert.rules]]`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LegacyAlert {
    #[serde(default)]
    pub rules: Vec<toml::Value>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub jwt_secret: Option<String>,
    pub token_expire_secs: u64,
    pub default_username: String,
    pub default_password: Option<String>,
    /// Static bearer token of the Kubernetes operator. Objects created with
    /// it are owned by custom resources (`source = crd`): only this token may
    /// change them, and it may change nothing else.
    pub operator_token: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CertCheckConfig {
    pub enabled: bool,
    pub default_interval_secs: u64,
    pub tick_secs: u64,
    pub connect_timeout_secs: u64,
    pub max_concurrent: usize,
}

/// TLS for the gRPC listener: PEM files.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            grpc_port: 9090,
            http_port: 8080,
            data_dir: PathBuf::from("data"),
            retention_days: 7,
            require_agent_auth: false,
            agent_shared_token: None,
            grpc_max_message_bytes: oxmon_common::proto::DEFAULT_MAX_MESSAGE_BYTES,
            auth: AuthConfig::default(),
            cert_check: CertCheckConfig::default(),
            tls: None,
            log: LogConfig::default(),
            http: HttpConfig::default(),
            prometheus: PrometheusConfig::default(),
            notification: None,
            alert: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            token_expire_secs: 86_400,
            default_username: "admin".into(),
            default_password: None,
            operator_token: None,
        }
    }
}

impl Default for CertCheckConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_interval_secs: 86_400,
            tick_secs: 60,
            connect_timeout_secs: 10,
            max_concurrent: 10,
        }
    }
}

impl ServerConfig {
    /// Loads the config: `path` if given (it must exist), else
    /// [`DEFAULT_CONFIG_PATH`] if it exists, else built-in defaults; then
    /// applies overrides from `vars`, the process environment in production
    /// (passed in so tests never touch the real environment).
    pub fn load(path: Option<&Path>, vars: &[(String, String)]) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (read(p)?, Some(p.display().to_string())),
            None => {
                let p = Path::new(DEFAULT_CONFIG_PATH);
                if p.exists() { (read(p)?, Some(p.display().to_string())) } else { (String::new(), None) }
            }
        };
        Self::from_toml_and_env(&text, origin.as_deref(), vars)
    }

    /// Parses TOML text, then overrides keys from `vars` (environment
    /// variable name/value pairs; those without our prefix are ignored).
    pub fn from_toml_and_env(text: &str, origin: Option<&str>, vars: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| invalid(origin, e.message().to_owned()))?;
        // Keys set from the environment, so an error names the variable.
        let mut from_env: Vec<(String, &str, &str)> = Vec::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            let dotted = path.join(".");
            let parsed = if STRING_KEYS.contains(&dotted.as_str()) {
                toml::Value::String(value.clone())
            } else {
                parse_env_value(value)
            };
            set_path(&mut table, &path, parsed)
                .map_err(|m| invalid(Some(&format!("environment variable {name}")), m))?;
            // Secret values are not echoed in errors.
            let shown = if oxmon_common::settings::is_secret_key(name) { "***" } else { value.as_str() };
            from_env.push((dotted, name, shown));
        }
        let config: ServerConfig = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let message = e.into_inner().message().to_owned();
            match from_env.iter().find(|(k, _, _)| *k == key) {
                Some((_, name, value)) => {
                    invalid(Some(&format!("environment variable {name}={value:?}")), format!("{key}: {message}"))
                }
                // `unknown field` names the key itself (a section is kept).
                None if key == "." || (message.starts_with("unknown field") && !key.contains('.')) => {
                    invalid(origin, message)
                }
                None => invalid(origin, format!("{key}: {message}")),
            }
        })?;
        config.validate().map_err(|m| invalid(origin, m))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.retention_days == 0 {
            return Err("retention_days must be at least 1".into());
        }
        if self.grpc_max_message_bytes < 64 * 1024 {
            return Err("grpc_max_message_bytes must be at least 65536".into());
        }
        if self.auth.token_expire_secs == 0 {
            return Err("auth.token_expire_secs must be at least 1".into());
        }
        if self.cert_check.tick_secs == 0 || self.cert_check.max_concurrent == 0 {
            return Err("cert_check.tick_secs and cert_check.max_concurrent must be at least 1".into());
        }
        for (key, token) in [
            ("agent_shared_token", &self.agent_shared_token),
            ("auth.operator_token", &self.auth.operator_token),
            ("prometheus.read_token", &self.prometheus.read_token),
            ("prometheus.write_token", &self.prometheus.write_token),
        ] {
            if token.as_ref().is_some_and(|t| t.len() < MIN_TOKEN_LEN) {
                return Err(format!("{key} must be at least {MIN_TOKEN_LEN} characters (use a random value)"));
            }
        }
        if self.prometheus.max_samples == 0 || self.prometheus.query_timeout_secs == 0 {
            return Err("prometheus.max_samples and prometheus.query_timeout_secs must be at least 1".into());
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err("data_dir must not be empty".into());
        }
        for origin in &self.http.cors_allowed_origins {
            check_origin(origin).map_err(|why| format!("http.cors_allowed_origins: {origin:?} {why}"))?;
        }
        Ok(())
    }

    /// One line per deprecated section present, saying that it is ignored
    /// and what replaces it; the server logs them at WARN at start and the
    /// `init-*` commands print them.
    pub fn deprecation_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.notification.is_some() {
            out.push(
                "config: the [notification] section (oxmon 0.1.3 and earlier) is deprecated and ignored: the \
                 aggregation window and log retention are the runtime settings notification_aggregation_window and \
                 notification_log_retention (PUT /v1/system/configs/{key} or init-configs); channels and silence \
                 windows are loaded with init-channels"
                    .to_owned(),
            );
        }
        if self.alert.is_some() {
            out.push(
                "config: the [alert] section (oxmon 0.1.3 and earlier) is deprecated and ignored: alert rules live \
                 in the database (REST /v1/alerts/rules or init-rules)"
                    .to_owned(),
            );
        }
        out
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen_address, self.grpc_port)
    }

    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen_address, self.http_port)
    }

    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }
}

/// A list of origins, or one comma-separated string of them.
fn origin_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Origins {
        List(Vec<String>),
        Joined(String),
    }
    let list = match Origins::deserialize(d)? {
        Origins::List(list) => list,
        Origins::Joined(joined) => joined.split(',').map(str::to_owned).collect(),
    };
    Ok(list.into_iter().map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect())
}

/// An origin as browsers send it: `http` or `https`, a host, an optional
/// port, nothing else.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    if origin == "*" {
        return Err("is not allowed: list the origins that may call the API");
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Err("is not an origin: expected scheme://host[:port]");
    };
    if !matches!(scheme, "http" | "https") {
        return Err("is not an origin: the scheme must be http or https");
    }
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', '*', ' ']) {
        return Err("is not an origin: expected scheme://host[:port], without a path or wildcard");
    }
    if axum::http::HeaderValue::from_str(origin).is_err() {
        return Err("is not an origin: it holds characters a header cannot carry");
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_owned(), error })
}

/// Keys whose environment values are always strings: a password or token
/// such as `12345678` must not turn into a number.
const STRING_KEYS: &[&str] = &[
    "data_dir",
    "agent_shared_token",
    "auth.jwt_secret",
    "auth.default_username",
    "auth.default_password",
    "auth.operator_token",
    "prometheus.read_token",
    "prometheus.write_token",
    "tls.cert_file",
    "tls.key_file",
];

/// An environment value is read as a TOML value when it parses as one
/// (`9191`, `true`, `["a"]`), else as a plain string.
fn parse_env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [key] => {
            table.insert(key.clone(), value);
            Ok(())
        }
        [section, rest @ ..] => {
            let entry = table.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("`{section}` is not a section")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
        ServerConfig::from_toml_and_env(text, Some("server.toml"), &[])
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn bad_values_name_the_key_or_the_environment_variable_and_the_value() {
        let e = parse("grpc_port = 70000").unwrap_err().to_string();
        assert_eq!(e, "invalid config in server.toml: grpc_port: invalid value: integer `70000`, expected u16");
        let e = parse("[cert_check]\ntick_secs = -1").unwrap_err().to_string();
        assert!(e.contains("cert_check.tick_secs: invalid value: integer `-1`"), "{e}");
        let e = ServerConfig::from_toml_and_env("", None, &env(&[("OXMON_SERVER_HTTP_PORT", "99999")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid config in environment variable OXMON_SERVER_HTTP_PORT=\"99999\": http_port: invalid value: \
             integer `99999`, expected u16"
        );
        let e = ServerConfig::from_toml_and_env("", None, &env(&[("OXMON_SERVER_AUTH__JWT_SECRET", "")]))
            .map(|c| c.auth.jwt_secret);
        assert_eq!(e.unwrap().as_deref(), Some(""), "strings stay strings");
        let e = parse("retention_dayz = 7").unwrap_err().to_string();
        assert!(e.starts_with("invalid config in server.toml: unknown field `retention_dayz`"), "{e}");
    }

    #[test]
    fn cors_origins_are_listed_never_wildcarded() {
        assert!(parse("").unwrap().http.cors_allowed_origins.is_empty(), "no cross-origin access by default");
        let c = parse("[http]\ncors_allowed_origins = [\"https://console.example.com/\", \"http://127.0.0.1:3000\"]")
            .unwrap();
        assert_eq!(c.http.cors_allowed_origins, ["https://console.example.com", "http://127.0.0.1:3000"]);
        let c = ServerConfig::from_toml_and_env(
            "",
            None,
            &env(&[("OXMON_SERVER_HTTP__CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example")]),
        )
        .unwrap();
        assert_eq!(c.http.cors_allowed_origins, ["https://a.example", "https://b.example"]);
        for (bad, why) in [
            ("*", "\"*\" is not allowed"),
            ("https://*.example.com", "without a path or wildcard"),
            ("console.example.com", "expected scheme://host[:port]"),
            ("ftp://x", "scheme must be http or https"),
            ("https://x/path", "without a path"),
        ] {
            let e = parse(&format!("[http]\ncors_allowed_origins = [{bad:?}]")).unwrap_err().to_string();
            assert!(e.contains("http.cors_allowed_origins") && e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn secrets_from_the_environment_stay_strings_even_when_they_look_like_numbers() {
        let c = ServerConfig::from_toml_and_env(
            "",
            None,
            &env(&[
                ("OXMON_SERVER_AUTH__DEFAULT_PASSWORD", "12345678"),
                ("OXMON_SERVER_AUTH__JWT_SECRET", "true"),
                ("OXMON_SERVER_AGENT_SHARED_TOKEN", "1234567890123456"),
                ("OXMON_SERVER_GRPC_PORT", "9191"),
            ]),
        )
        .unwrap();
        assert_eq!(c.auth.default_password.as_deref(), Some("12345678"));
        assert_eq!(c.auth.jwt_secret.as_deref(), Some("true"));
        assert_eq!(c.agent_shared_token.as_deref(), Some("1234567890123456"));
        assert_eq!(c.grpc_port, 9191, "other keys are still read as TOML values");
    }

    #[test]
    fn static_tokens_come_from_file_or_environment_and_must_not_be_short() {
        let c = ServerConfig::from_toml_and_env(
            "agent_shared_token = \"0123456789abcdef\"",
            None,
            &env(&[("OXMON_SERVER_AUTH__OPERATOR_TOKEN", "fedcba9876543210x")]),
        )
        .unwrap();
        assert_eq!(c.agent_shared_token.as_deref(), Some("0123456789abcdef"));
        assert_eq!(c.auth.operator_token.as_deref(), Some("fedcba9876543210x"));
        let err = parse("[auth]\noperator_token = \"short\"").unwrap_err().to_string();
        assert!(err.contains("auth.operator_token must be at least 16 characters"), "{err}");
        let err = parse("agent_shared_token = \"short\"").unwrap_err().to_string();
        assert!(err.contains("agent_shared_token must be at least 16 characters"), "{err}");
    }

    #[test]
    fn empty_file_gives_the_documented_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, ServerConfig::default());
        assert_eq!(c.grpc_addr().to_string(), "0.0.0.0:9090");
        assert_eq!(c.http_addr().to_string(), "0.0.0.0:8080");
        assert_eq!(c.retention_days, 7);
        assert_eq!(c.auth.default_password, None, "no default password is shipped");
    }

    #[test]
    fn oxmon_0_1_example_config_loads() {
        let c = parse(
            r#"
grpc_port = 9090
http_port = 8080
data_dir = "data"
retention_days = 7
require_agent_auth = false

[auth]
jwt_secret = "your-secret-key-here"
token_expire_secs = 86400
default_username = "admin"
default_password = "changeme"

[cert_check]
enabled = true
default_interval_secs = 86400
tick_secs = 60
connect_timeout_secs = 10
max_concurrent = 10
"#,
        )
        .unwrap();
        assert_eq!(c.auth.jwt_secret.as_deref(), Some("your-secret-key-here"));
        assert_eq!(c.auth.default_password.as_deref(), Some("changeme"));
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let err = parse("grpc_prot = 1").unwrap_err().to_string();
        assert!(err.contains("grpc_prot") && err.contains("server.toml"), "{err}");
        let err = parse("[auth]\njwt_secrte = \"x\"").unwrap_err().to_string();
        assert!(err.contains("jwt_secrte"), "{err}");
    }

    #[test]
    fn wrong_types_and_ranges_are_errors() {
        assert!(parse("grpc_port = 70000").is_err());
        assert!(parse("retention_days = 0").unwrap_err().to_string().contains("retention_days"));
        assert!(parse("require_agent_auth = \"yes\"").is_err());
        assert!(parse("listen_address = \"not-an-ip\"").is_err());
    }

    #[test]
    fn environment_overrides_file_values() {
        let vars = env(&[
            ("OXMON_SERVER_GRPC_PORT", "9191"),
            ("OXMON_SERVER_AUTH__JWT_SECRET", "from-env"),
            ("OXMON_SERVER_REQUIRE_AGENT_AUTH", "true"),
            ("OXMON_SERVER_DATA_DIR", "/var/lib/oxmon"),
            ("UNRELATED", "1"),
        ]);
        let c =
            ServerConfig::from_toml_and_env("grpc_port = 1000\n[auth]\njwt_secret = \"file\"", None, &vars).unwrap();
        assert_eq!(c.grpc_port, 9191);
        assert_eq!(c.auth.jwt_secret.as_deref(), Some("from-env"));
        assert!(c.require_agent_auth);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/oxmon"));
    }

    #[test]
    fn unknown_environment_keys_are_errors_too() {
        let err = ServerConfig::from_toml_and_env("", None, &env(&[("OXMON_SERVER_GRPC_PROT", "1")])).unwrap_err();
        assert!(err.to_string().contains("grpc_prot"), "{err}");
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/oxmon-0.1/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn oxmon_0_1_3_notification_and_alert_sections_are_accepted_with_one_warning_each() {
        // 0.1.3's shipped example: [[alert.rules]], [[notification.channels]].
        let c = parse(&fixture("server.v0.1.3.example.toml")).unwrap();
        assert_eq!(c.notification.as_ref().map(|n| n.channels.len()), Some(2));
        assert_eq!(c.alert.as_ref().map(|a| a.rules.len()), Some(5));
        let warnings = c.deprecation_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("[notification] section") && warnings[0].contains("ignored"), "{warnings:?}");
        assert!(warnings[1].contains("[alert] section") && warnings[1].contains("init-rules"), "{warnings:?}");
        assert!(warnings.iter().all(|w| !w.contains('\n')), "one line each");
        // Everything else is read as usual.
        assert_eq!((c.grpc_port, c.retention_days), (9090, 7));

        // The last form before 0.1.4: aggregation window and log retention.
        let c = parse(&fixture("server.4dad18c.example.toml")).unwrap();
        let n = c.notification.as_ref().unwrap();
        assert_eq!((n.aggregation_window_secs, n.log_retention_days), (Some(60), Some(30)));
        assert_eq!(c.deprecation_warnings().len(), 1);
        assert_eq!(c.auth.jwt_secret.as_deref(), Some("your-secret-key-here"));

        assert!(parse("").unwrap().deprecation_warnings().is_empty());
    }

    #[test]
    fn legacy_sections_still_refuse_unknown_keys() {
        let err = parse("[notification]\naggregation_windw_secs = 60").unwrap_err().to_string();
        assert!(err.contains("aggregation_windw_secs"), "{err}");
        let err = parse("[alert]\nrulez = []").unwrap_err().to_string();
        assert!(err.contains("rulez"), "{err}");
    }

    #[test]
    fn tls_needs_both_files() {
        assert!(parse("[tls]\ncert_file = \"a.pem\"").is_err());
        let c = parse("[tls]\ncert_file = \"a.pem\"\nkey_file = \"b.pem\"").unwrap();
        assert_eq!(c.tls.unwrap().key_file, PathBuf::from("b.pem"));
    }
}
