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
