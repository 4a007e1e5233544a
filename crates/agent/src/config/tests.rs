//! Tests of config loading: defaults, the 0.1 file, environment overrides and validation.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[track_caller]
fn load(text: &str, env: &impl Env) -> AgentConfig {
    match AgentConfig::from_toml_str(text, env) {
        Ok(c) => c,
        Err(e) => panic!("config should load: {e}"),
    }
}

#[track_caller]
fn load_err(text: &str, env: &impl Env) -> String {
    match AgentConfig::from_toml_str(text, env) {
        Ok(c) => panic!("config should be rejected: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn check_endpoint(raw: &str, tls: bool, expected: &str) {
    let uri = match endpoint_uri(raw, tls) {
        Ok(u) => u,
        Err(e) => panic!("{raw:?} should be accepted: {e}"),
    };
    assert_eq!(uri.to_string(), expected, "endpoint {raw:?} tls={tls}");
}

#[test]
fn empty_config_yields_defaults_with_hostname_as_agent_id() {
    let c = load("", &no_env);
    assert_eq!(Some(c.agent_id.clone()), hostname());
    assert_eq!(c.endpoint.to_string(), "http://127.0.0.1:9090/");
    assert!(!c.uses_tls());
    assert!(c.auth_token.is_none());
    assert_eq!(c.collection_interval, Duration::from_secs(10));
    assert_eq!(c.buffer_max_size.get(), 1000);
    assert_eq!(c.max_message_bytes, 4 * 1024 * 1024);
    assert_eq!(c.request_timeout, Duration::from_secs(10));
    assert_eq!(c.procfs_path, Path::new("/proc"));
    assert_eq!(c.sysfs_path, Path::new("/sys"));
    assert_eq!(c.rootfs_path, Path::new("/"));
    assert_eq!(c.exclude_interfaces, None);
    assert!(c.tls.ca_pem.is_none() && c.tls.server_name.is_none());
}

#[test]
fn missing_hostname_without_agent_id_is_an_error() {
    let file = ConfigFile::default();
    let err = file.validate(|| None).map(|_| ()).map_err(|e| e.to_string());
    assert_eq!(err, Err("agent_id is not set and the hostname is unavailable".to_owned()));
}

#[test]
fn oxmon_0_1_example_file_loads() {
    let text = r#"
# oxmon agent configuration
agent_id = "web-server-01"
server_endpoint = "127.0.0.1:9090"
# tls = false
# auth_token = "..."
collection_interval_secs = 10
buffer_max_size = 1000
"#;
    let c = load(text, &no_env);
    assert_eq!(c.agent_id, "web-server-01");
    assert_eq!(c.endpoint.to_string(), "http://127.0.0.1:9090/");
    assert_eq!(c.collection_interval, Duration::from_secs(10));
    assert_eq!(c.buffer_max_size.get(), 1000);
}

#[test]
fn every_key_is_read_from_the_file() {
    let mut ca = tempfile::NamedTempFile::new().expect("temp file");
    ca.write_all(b"-----BEGIN CERTIFICATE-----\n").expect("write");
    let text = format!(
        r#"
agent_id = "node-7"
server_endpoint = "monitor.example:9443"
tls = true
tls_ca_file = "{}"
tls_server_name = "oxmon.internal"
auth_token = "abc+/="
collection_interval_secs = 30
buffer_max_size = 50
max_message_bytes = 65536
request_timeout_secs = 5
procfs_path = "/host/proc"
sysfs_path = "/host/sys"
rootfs_path = "/host/root"
exclude_interfaces = ["lo", "docker0"]
"#,
        ca.path().display()
    );
    let c = load(&text, &no_env);
    assert_eq!(c.agent_id, "node-7");
    assert_eq!(c.endpoint.to_string(), "https://monitor.example:9443/");
    assert!(c.uses_tls());
    assert_eq!(c.tls.ca_pem, Some(CaPem(b"-----BEGIN CERTIFICATE-----\n".to_vec())));
    assert_eq!(c.tls.server_name.as_deref(), Some("oxmon.internal"));
    assert_eq!(c.auth_token.as_ref().map(Secret::expose), Some("abc+/="));
    assert_eq!(c.collection_interval, Duration::from_secs(30));
    assert_eq!(c.buffer_max_size.get(), 50);
    assert_eq!(c.max_message_bytes, 65536);
    assert_eq!(c.request_timeout, Duration::from_secs(5));
    assert_eq!(c.procfs_path, Path::new("/host/proc"));
    assert_eq!(c.sysfs_path, Path::new("/host/sys"));
    assert_eq!(c.rootfs_path, Path::new("/host/root"));
    assert_eq!(c.exclude_interfaces, Some(vec!["lo".to_owned(), "docker0".to_owned()]));
}

#[test]
fn environment_overrides_the_file() {
    let text = "agent_id = \"from-file\"\ncollection_interval_secs = 10\n";
    let env = vars(&[
        (env::ENV_AGENT_ID, "from-env"),
        (env::ENV_SERVER_ENDPOINT, "10.0.0.1:7000"),
        (env::ENV_AUTH_TOKEN, "tok"),
        (env::ENV_COLLECTION_INTERVAL_SECS, "15"),
        (env::ENV_BUFFER_MAX_SIZE, "7"),
        (env::ENV_TLS, "true"),
        (env::ENV_PROCFS_PATH, "/host/proc"),
        (env::ENV_EXCLUDE_INTERFACES, "lo, veth0 ,"),
    ]);
    let c = load(text, &env);
    assert_eq!(c.agent_id, "from-env");
    assert_eq!(c.endpoint.to_string(), "https://10.0.0.1:7000/");
    assert_eq!(c.auth_token.as_ref().map(Secret::expose), Some("tok"));
    assert_eq!(c.collection_interval, Duration::from_secs(15));
    assert_eq!(c.buffer_max_size.get(), 7);
    assert_eq!(c.procfs_path, Path::new("/host/proc"));
    assert_eq!(c.exclude_interfaces, Some(vec!["lo".to_owned(), "veth0".to_owned()]));
}

#[test]
fn empty_environment_value_counts_as_unset() {
    let env = vars(&[(env::ENV_AGENT_ID, ""), (env::ENV_COLLECTION_INTERVAL_SECS, " ")]);
    let c = load("agent_id = \"a\"\ncollection_interval_secs = 3", &env);
    assert_eq!(c.agent_id, "a");
    assert_eq!(c.collection_interval, Duration::from_secs(3));
}

#[test]
fn unparsable_environment_value_names_the_variable_and_the_value() {
    let env = vars(&[(env::ENV_COLLECTION_INTERVAL_SECS, "soon")]);
    let err = load_err("", &env);
    assert_eq!(err, "invalid OXMON_AGENT_COLLECTION_INTERVAL_SECS=\"soon\": invalid digit found in string");
    let err = load_err("", &vars(&[(env::ENV_TLS, "maybe")]));
    assert_eq!(err, "invalid OXMON_AGENT_TLS=\"maybe\": expected true or false");
    // Overflow names the variable too.
    let err = load_err("", &vars(&[(env::ENV_BUFFER_MAX_SIZE, "99999999999999999999999")]));
    assert_eq!(
        err,
        "invalid OXMON_AGENT_BUFFER_MAX_SIZE=\"99999999999999999999999\": number too large to fit in target type"
    );
}

#[test]
fn invalid_environment_values_are_named_by_their_variable() {
    let cases = [
        (
            env::ENV_COLLECTION_INTERVAL_SECS,
            "0",
            "invalid OXMON_AGENT_COLLECTION_INTERVAL_SECS=0: must be greater than 0",
        ),
        (env::ENV_BUFFER_MAX_SIZE, "0", "invalid OXMON_AGENT_BUFFER_MAX_SIZE=0: must be greater than 0"),
        (env::ENV_MAX_MESSAGE_BYTES, "100", "invalid OXMON_AGENT_MAX_MESSAGE_BYTES=100: must be at least 4096"),
        (env::ENV_REQUEST_TIMEOUT_SECS, "0", "invalid OXMON_AGENT_REQUEST_TIMEOUT_SECS=0: must be greater than 0"),
    ];
    for (var, value, expected) in cases {
        // The file sets a valid value; the variable overrides it and is what gets named.
        let text = "collection_interval_secs = 5\nbuffer_max_size = 5\nrequest_timeout_secs = 5\n";
        assert_eq!(load_err(text, &vars(&[(var, value)])), expected, "{var}={value}");
    }
    let err = load_err("", &vars(&[(env::ENV_SERVER_ENDPOINT, "127.0.0.1:8080x")]));
    assert!(err.starts_with("invalid OXMON_AGENT_SERVER_ENDPOINT=\"127.0.0.1:8080x\": the port "), "{err}");
}

#[test]
fn auth_token_from_the_environment_is_never_echoed() {
    let env = vars(&[(env::ENV_AGENT_ID, "a"), (env::ENV_AUTH_TOKEN, "sec\u{7f}ret")]);
    let err = load_err("", &env);
    assert_eq!(err, "invalid OXMON_AGENT_AUTH_TOKEN: must be non-empty printable ASCII");
}

#[test]
fn out_of_range_toml_values_name_the_key_and_the_value() {
    let err = load_err("agent_id = \"a\"\nbuffer_max_size = -1\n", &no_env);
    assert!(err.starts_with("<config>:2: buffer_max_size: "), "{err}");
    assert!(err.contains("-1"), "{err}");
    let err = load_err("collection_interval_secs = 99999999999999999999\n", &no_env);
    assert!(err.starts_with("<config>:1: collection_interval_secs: "), "{err}");
    let err = load_err("request_timeout_secs = 1.5\n", &no_env);
    assert!(err.starts_with("<config>:1: request_timeout_secs: "), "{err}");
    assert!(err.contains("1.5"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}

#[test]
fn unknown_key_is_rejected_naming_the_key_and_line() {
    let err = load_err("agent_id = \"a\"\ncolection_interval_secs = 5\n", &no_env);
    assert!(err.starts_with("<config>:2: unknown field `colection_interval_secs`"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}

#[test]
fn wrong_value_type_is_rejected_naming_the_key() {
    let err = load_err("collection_interval_secs = \"ten\"", &no_env);
    assert!(err.starts_with("<config>:1: collection_interval_secs: "), "{err}");
    assert!(err.contains("\"ten\""), "{err}");
}

#[test]
fn zero_values_are_rejected() {
    let cases = [
        ("collection_interval_secs = 0", "invalid collection_interval_secs = 0: must be greater than 0"),
        ("buffer_max_size = 0", "invalid buffer_max_size = 0: must be greater than 0"),
        ("request_timeout_secs = 0", "invalid request_timeout_secs = 0: must be greater than 0"),
        ("max_message_bytes = 100", "invalid max_message_bytes = 100: must be at least 4096"),
        ("agent_id = \" \"", "invalid agent_id = \" \": must not be empty"),
    ];
    for (text, expected) in cases {
        assert_eq!(load_err(text, &no_env), expected, "{text}");
    }
}

#[test]
fn auth_token_must_be_header_safe_and_is_never_echoed() {
    let err = load_err("agent_id = \"a\"\nauth_token = \"sec ret\"", &no_env);
    assert_eq!(err, "invalid auth_token: must be non-empty printable ASCII");
    let err = load_err("agent_id = \"bad id\"\nauth_token = \"secret\"", &no_env);
    assert!(err.starts_with("invalid agent_id = \"bad id\": must be printable ASCII"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    // Without auth the agent id is free-form.
    assert_eq!(load("agent_id = \"büro 1\"", &no_env).agent_id, "büro 1");
}

#[test]
fn secret_debug_is_redacted() {
    let c = load("agent_id = \"a\"\nauth_token = \"hunter2\"", &no_env);
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("***"), "{debug}");
}

#[test]
fn endpoint_is_normalised() {
    check_endpoint("127.0.0.1:9090", false, "http://127.0.0.1:9090/");
    check_endpoint("127.0.0.1:9090", true, "https://127.0.0.1:9090/");
    check_endpoint(" oxmon.example:443 ", true, "https://oxmon.example:443/");
    check_endpoint("http://10.1.2.3:9090", false, "http://10.1.2.3:9090/");
    check_endpoint("https://oxmon.example", false, "https://oxmon.example/");
    check_endpoint("https://oxmon.example:9443", true, "https://oxmon.example:9443/");
    check_endpoint("[::1]:9090", false, "http://[::1]:9090/");
}

#[test]
fn bad_endpoints_are_rejected_naming_the_key_and_the_value() {
    let cases = [
        ("127.0.0.1:8080x", false, "the port must be a number from 1 to 65535, not \"8080x\""),
        ("127.0.0.1:0", false, "the port must be a number from 1 to 65535, not \"0\""),
        ("127.0.0.1:70000", false, "the port must be a number from 1 to 65535, not \"70000\""),
        ("http//bad", false, "unexpected path \"//bad\""),
        ("http://h:1/v1", false, "unexpected path \"/v1\""),
        ("h:1?x=1", false, "unexpected path \"?x=1\""),
        ("http://h:1", true, "tls = true needs an https:// endpoint"),
        ("ftp://h:1", false, "the scheme must be http or https"),
        ("http://", false, "not a valid URI"),
        ("a b", false, "not a valid URI"),
        ("user@h:1", false, "must not contain user info"),
        ("-h-:9090", false, "bad host name \"-h-\""),
        ("h..x:9090", false, "bad host name \"h..x\""),
        ("[::zz]:9090", false, "bad IPv6 address \"[::zz]\""),
        ("   ", false, "must not be empty"),
    ];
    for (raw, tls, reason) in cases {
        let text = format!("agent_id = \"a\"\nserver_endpoint = \"{raw}\"\ntls = {tls}\n");
        let err = load_err(&text, &no_env);
        let prefix = format!("invalid server_endpoint = {raw:?}: {reason}");
        assert!(err.starts_with(&prefix), "{raw:?} tls={tls}:\n  got  {err}\n  want {prefix}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn valid_endpoints_with_unusual_hosts_are_accepted() {
    check_endpoint(
        "oxmon-server.monitoring.svc.cluster.local:9090",
        false,
        "http://oxmon-server.monitoring.svc.cluster.local:9090/",
    );
    check_endpoint("oxmon.example.:9090", false, "http://oxmon.example.:9090/");
    check_endpoint("my_host:9090", false, "http://my_host:9090/");
    check_endpoint("[2001:db8::1]", false, "http://[2001:db8::1]/");
    check_endpoint("http://h:65535/", false, "http://h:65535/");
}

#[test]
fn explicit_missing_file_is_an_error_but_missing_default_file_is_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("agent.toml");
    let err = AgentConfig::load(Some(&missing), &no_env).map(|_| ()).map_err(|e| e.to_string());
    assert!(matches!(&err, Err(e) if e.starts_with("cannot read config file ")), "{err:?}");
    // The default path is relative to the working directory, which the test does not control;
    // check the rule on the parsed result instead: an absent default file means defaults.
    if !Path::new(DEFAULT_PATH).exists() {
        assert!(AgentConfig::load(None, &no_env).is_ok());
    }
}

#[test]
fn config_file_is_loaded_from_disk_with_its_path_in_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, "agent_id = \"disk\"\n").expect("write");
    let c = AgentConfig::load(Some(&path), &no_env).expect("loads");
    assert_eq!(c.agent_id, "disk");

    std::fs::write(&path, "agent_id = \"disk\"\nbogus = 1\n").expect("write");
    let err = AgentConfig::load(Some(&path), &no_env).map(|_| ()).map_err(|e| e.to_string());
    let expected_prefix = format!("{}:2: unknown field `bogus`", path.display());
    assert!(matches!(&err, Err(e) if e.starts_with(&expected_prefix)), "{err:?}");
}

#[test]
fn missing_ca_file_is_an_error() {
    let err = load_err("agent_id = \"a\"\ntls = true\ntls_ca_file = \"/nonexistent/ca.pem\"", &no_env);
    assert_eq!(err, "cannot read tls_ca_file /nonexistent/ca.pem");
}

#[test]
fn shipped_example_config_loads() {
    let text = include_str!("../../../../config/agent.example.toml");
    let c = load(text, &no_env);
    assert_eq!(c.agent_id, "web-server-01");
    assert_eq!(c.endpoint.to_string(), "http://127.0.0.1:9090/");
    assert_eq!(c.buffer_max_size.get(), 1000);
}

#[test]
fn collectors_are_all_on_unless_disabled() {
    let c = load("", &no_env);
    assert_eq!(c.collectors, oxmon_collector::Collectors::ALL);
    assert_eq!(c.containers, oxmon_collector::ContainerConfig::default());
    let c = load("disabled_collectors = [\"sensors\", \"containers\"]\n", &no_env);
    let expected =
        oxmon_collector::Collectors { sensors: false, containers: false, ..oxmon_collector::Collectors::ALL };
    assert_eq!(c.collectors, expected);
    // The environment replaces the file's list.
    let env = vars(&[(env::ENV_DISABLED_COLLECTORS, "tcp, disk_io,")]);
    let c = load("disabled_collectors = [\"sensors\"]\n", &env);
    let expected = oxmon_collector::Collectors { tcp: false, disk_io: false, ..oxmon_collector::Collectors::ALL };
    assert_eq!(c.collectors, expected);
}

#[test]
fn an_unknown_collector_is_an_error_naming_the_key_and_the_choices() {
    let err = load_err("disabled_collectors = [\"sensors\", \"gpu\"]\n", &no_env);
    assert_eq!(
        err,
        "invalid disabled_collectors = [\"sensors\", \"gpu\"]: unknown collector \"gpu\"; the collectors are cpu, \
         memory, disk, inodes, disk_io, network, tcp, load, processes, sensors, containers"
    );
    let err = load_err("", &vars(&[(env::ENV_DISABLED_COLLECTORS, "gpu")]));
    assert!(err.starts_with("invalid OXMON_AGENT_DISABLED_COLLECTORS=[\"gpu\"]: unknown collector \"gpu\""), "{err}");
}

#[test]
fn container_keys_come_from_the_file_and_the_environment() {
    let text = "container_log_path = \"/host/var/log\"\ncontainer_include_namespaces = [\"shop\"]\n\
                container_exclude_namespaces = [\"kube-system\"]\nmax_containers = 40\n";
    let c = load(text, &no_env);
    assert_eq!(
        c.containers,
        oxmon_collector::ContainerConfig {
            log_path: PathBuf::from("/host/var/log"),
            include_namespaces: vec!["shop".into()],
            exclude_namespaces: vec!["kube-system".into()],
            max_containers: 40,
        }
    );
    let env = vars(&[
        (env::ENV_CONTAINER_LOG_PATH, "/logs"),
        (env::ENV_CONTAINER_INCLUDE_NAMESPACES, "a,b"),
        (env::ENV_CONTAINER_EXCLUDE_NAMESPACES, "c"),
        (env::ENV_MAX_CONTAINERS, "7"),
    ]);
    let c = load(text, &env);
    assert_eq!(
        c.containers,
        oxmon_collector::ContainerConfig {
            log_path: PathBuf::from("/logs"),
            include_namespaces: vec!["a".into(), "b".into()],
            exclude_namespaces: vec!["c".into()],
            max_containers: 7,
        }
    );
    let err = load_err("", &vars(&[(env::ENV_MAX_CONTAINERS, "many")]));
    assert_eq!(err, "invalid OXMON_AGENT_MAX_CONTAINERS=\"many\": invalid digit found in string");
}
