//! The binaries: `oxmon-operator` refuses a bad environment with one line
//! and exit code 64 before touching anything; `crdgen` writes or prints the
//! committed CRDs.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::process::Command;

fn operator(env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oxmon-operator"));
    cmd.env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_missing_or_bad_variable_is_one_line_and_exit_code_64() {
    for (env, expected) in [
        (&[][..], "oxmon-operator: OXMON_OPERATOR_SERVER_URL: is required"),
        (
            &[("OXMON_OPERATOR_SERVER_URL", "http://oxmon:8080")][..],
            "oxmon-operator: OXMON_OPERATOR_TOKEN: is required",
        ),
        (
            &[
                ("OXMON_OPERATOR_SERVER_URL", "http://oxmon:8080"),
                ("OXMON_OPERATOR_TOKEN", "operator-token-0123456789"),
                ("OXMON_OPERATOR_RESYNC_SECS", "soon"),
            ][..],
            "oxmon-operator: OXMON_OPERATOR_RESYNC_SECS: must be a whole number of seconds",
        ),
    ] {
        let (code, stderr) = operator(env);
        assert_eq!(code, 64, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(expected), "{stderr}");
    }
}

#[test]
fn crdgen_writes_and_prints_the_committed_crds() {
    let tmp = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_crdgen")).arg(tmp.path()).status().unwrap();
    assert!(status.success());
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds");
    for (file, _) in oxmon_operator::crdgen::documents().unwrap() {
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(file)).unwrap(),
            std::fs::read_to_string(committed.join(file)).unwrap(),
            "{file}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_crdgen")).arg("-").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("kind: CustomResourceDefinition").count(), 3, "{text}");
    assert_eq!(text.lines().filter(|l| *l == "---").count(), 3);
}
