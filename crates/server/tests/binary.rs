//! The `oxmon-server` binary: bad configuration fails fast with one line
//! and exit code 64; the shipped example config loads.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oxmon-server"))
}

#[test]
fn a_bad_config_is_a_one_line_error_with_exit_code_64() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("server.toml");
    std::fs::write(&path, "grpc_port = 9090\nretention_dayz = 7\n").unwrap();
    let out = server().arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("retention_dayz"), "{stderr}");

    let out = server().arg(tmp.path().join("missing.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8(out.stderr).unwrap().contains("missing.toml"));

    let out = server().env("OXMON_SERVER_GRPC_PORT", "not-a-port").current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn the_example_config_loads_and_matches_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/server.example.toml");
    let config = oxmon_server::config::ServerConfig::load(Some(std::path::Path::new(path)), &[]).unwrap();
    assert_eq!(config, oxmon_server::config::ServerConfig::default());
}

#[test]
fn help_is_printed_on_request() {
    let out = server().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("usage: oxmon-server"));
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Started once the management database exists and the log says so.
    let (exit, _, rest) = start_then_terminate(on_loopback(server(), &data));
    assert_eq!(exit, Some(0), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("shutdown requested")), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("oxmon-server stopped")), "{rest:?}");
    assert!(data.join("cert.db").exists());
}

#[test]
fn init_rules_loads_a_seed_once_and_refuses_a_bad_one_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("server.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", tmp.path().join("data"))).unwrap();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/rules.seed.example.json");

    let out = server().arg("init-rules").arg(&config).arg(seed).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().next(), Some("inserted 9 rules, skipped 0 existing"));

    let out = server().arg("init-rules").arg(&config).arg(seed).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("inserted 0 rules, skipped 9 existing"));

    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"rules": [{"name": "new one", "rule_type": "threshold", "metric": "cpu.usage", "config": {"operator": "gt", "value": 1}},
                      {"name": "memory", "rule_type": "threshold", "metric": "memory.usage", "config": {"operator": "gt"}}]}"#,
    )
    .unwrap();
    let out = server().arg("init-rules").arg(&config).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("rule 1 (memory): invalid threshold config: missing field `value`"), "{stderr}");
    let m = oxmon_storage::management::Management::open(&tmp.path().join("data")).unwrap();
    assert_eq!(m.rules(100, 0).unwrap().len(), 9, "nothing from the bad file was inserted");

    let out = server().arg("init-rules").arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(64), "missing seed argument");
}

#[test]
fn init_dictionaries_inserts_or_ignores() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("server.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", tmp.path().join("data"))).unwrap();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/dictionaries.seed.example.json");
    let run = || server().arg("init-dictionaries").arg(&config).arg(seed).output().unwrap();
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "inserted 1 types and 4 items, skipped 0 existing items");
    let out = run();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "inserted 0 types and 0 items, skipped 4 existing items");
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"dictionaries": [{"dict_type": "t", "dict_key": "k", "dict_label": "K", "extra_json": "{"}]}"#,
    )
    .unwrap();
    let out = server().arg("init-dictionaries").arg(&config).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8(out.stderr).unwrap().contains("dictionaries[0] (k): extra_json is not valid JSON"));
}

#[test]
fn init_configs_inserts_new_keys_and_checks_runtime_values() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("server.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", tmp.path().join("data"))).unwrap();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/configs.seed.example.json");
    let run = |seed: &std::path::Path| server().arg("init-configs").arg(&config).arg(seed).output().unwrap();
    let out = run(seed.as_ref());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "inserted 2 configs, skipped 0 existing");
    let out = run(seed.as_ref());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "inserted 0 configs, skipped 2 existing");

    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"configs": [{"config_key": "legacy_sms", "config_type": "sms", "display_name": "sms", "config": {"api_key": "k"}},
                        {"config_key": "notification_log_retention", "config_type": "runtime", "display_name": "x", "config": {"value": -1}}]}"#,
    )
    .unwrap();
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8(out.stderr).unwrap().contains("configs[1] (notification_log_retention)"));
    let m = oxmon_storage::management::Management::open(&tmp.path().join("data")).unwrap();
    assert!(m.config_by_key("legacy_sms").unwrap().is_none(), "a bad file inserts nothing");
}

#[test]
fn init_channels_loads_the_example_once_and_refuses_a_bad_file_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("server.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", tmp.path().join("data"))).unwrap();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/channels.seed.example.json");
    let run = |seed: &std::path::Path| server().arg("init-channels").arg(&config).arg(seed).output().unwrap();
    let out = run(seed.as_ref());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().next(),
        Some("inserted 7 channels, skipped 0 existing; inserted 1 silence windows, skipped 0 existing")
    );
    let out = run(seed.as_ref());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("inserted 0 channels, skipped 7 existing; inserted 0 silence windows, skipped 1 existing")
    );
    let m = oxmon_storage::management::Management::open(&tmp.path().join("data")).unwrap();
    let channels = m.channels_with_recipients().unwrap();
    let aliyun = channels.iter().find(|(c, _)| c.name == "Aliyun SMS").unwrap();
    assert_eq!((aliyun.0.channel_type.as_str(), aliyun.0.source.as_str(), aliyun.0.enabled), ("sms", "seed", false));
    assert!(aliyun.0.config_json.contains(r#""provider":"aliyun""#));
    assert_eq!(aliyun.1, ["13800138000"]);

    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"channels": [{"name": "new hook", "channel_type": "webhook", "config": {}},
                         {"name": "mail", "channel_type": "email", "config": {"smtp_host": "m"}}]}"#,
    )
    .unwrap();
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("channels[1] (mail)"), "{stderr}");
    assert_eq!(m.channel_count().unwrap(), 7, "nothing from the bad file was inserted");
}

/// `cmd` serving on ephemeral loopback ports with its data in `data`,
/// logging at INFO, run from `data`'s parent.
fn on_loopback(mut cmd: Command, data: &std::path::Path) -> Command {
    cmd.env("OXMON_SERVER_LISTEN_ADDRESS", "127.0.0.1")
        .env("OXMON_SERVER_GRPC_PORT", "0")
        .env("OXMON_SERVER_HTTP_PORT", "0")
        .env("OXMON_SERVER_DATA_DIR", data)
        .env("RUST_LOG", "info")
        .current_dir(data.parent().unwrap());
    cmd
}

/// Runs the server `cmd` until it logs that it started (within 50 lines),
/// sends it SIGTERM, and returns its exit code with its log lines up to and
/// including the start, and after it.
fn start_then_terminate(mut cmd: Command) -> (Option<i32>, Vec<String>, Vec<String>) {
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut before = Vec::new();
    for line in lines.by_ref().take(50).map_while(Result::ok) {
        let started = line.contains("oxmon-server started");
        before.push(line);
        if started {
            break;
        }
    }
    assert!(before.iter().any(|l| l.contains("oxmon-server started")), "server did not start: {before:?}");
    assert!(Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    (child.wait().unwrap().code(), before, rest)
}

/// Starts the binary under `umask 022` on `data`, waits until it has
/// started, stops it, and returns its log lines.
fn run_once_with_loose_umask(data: &std::path::Path) -> Vec<String> {
    let mut sh = Command::new("sh");
    sh.arg("-c").arg("umask 022 && exec \"$0\"").arg(env!("CARGO_BIN_EXE_oxmon-server"));
    let mut cmd = on_loopback(sh, data);
    cmd.env("OXMON_SERVER_AUTH__DEFAULT_PASSWORD", "a-test-password").env("NO_COLOR", "1");
    let (exit, mut lines, rest) = start_then_terminate(cmd);
    lines.extend(rest);
    assert_eq!(exit, Some(0), "{lines:?}");
    lines
}

#[test]
fn data_files_are_owner_only_whatever_the_umask_and_loose_ones_are_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    run_once_with_loose_umask(&data);
    assert_eq!(mode(&data), 0o700);
    for name in ["cert.db", "jwt.key"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }

    // An installation whose files are readable by others (an earlier
    // release, a copy made by hand) is tightened at start, with a warning.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("cert.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(data.join("notes.txt"), "x").unwrap();
    std::fs::set_permissions(data.join("notes.txt"), std::fs::Permissions::from_mode(0o666)).unwrap();
    let log = run_once_with_loose_umask(&data);
    assert_eq!((mode(&data), mode(&data.join("cert.db")), mode(&data.join("notes.txt"))), (0o700, 0o600, 0o600));
    let warnings = log.iter().filter(|l| l.contains("WARN") && l.contains("tightened the permissions")).count();
    assert_eq!(warnings, 3, "{log:?}");
}
