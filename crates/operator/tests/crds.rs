//! The CRDs: the committed YAML matches the Rust types, the CEL rules
//! accept and refuse what they should (evaluated with kube's client-side
//! CEL validation), and every example in `deploy/examples/` parses into its
//! type, passes the CRD's schema (unknown fields included) and its CEL rules.
//!
//! After changing a type: `OXMON_UPDATE_GENERATED=1 cargo test -p oxmon-operator --test crds`
//! (or `cargo run -p oxmon-operator --bin crdgen`).

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{validate_cel, validate_cel_update};
use kube::{CustomResourceExt, Resource};
use oxmon_operator::crd::alert_rule::AlertRule;
use oxmon_operator::crd::notification_channel::NotificationChannel;
use oxmon_operator::crd::silence_window::SilenceWindow;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = repo().join("deploy/crds");
    let documents = oxmon_operator::crdgen::documents().unwrap();
    if std::env::var_os("OXMON_UPDATE_GENERATED").is_some() {
        oxmon_operator::crdgen::write(&dir).unwrap();
    }
    for (file, yaml) in &documents {
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            committed == *yaml,
            "deploy/crds/{file} is out of date: run `cargo run -p oxmon-operator --bin crdgen` and commit it"
        );
        let parsed: CustomResourceDefinition = serde_saphyr::from_str(&committed).unwrap();
        assert_eq!(format!("{}.yaml", parsed.metadata.name.as_deref().unwrap()), *file);
    }
    let mut files: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    let mut expected: Vec<String> = documents.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.sort();
    assert_eq!(files, expected, "deploy/crds holds exactly the generated CRDs");
}

#[test]
fn crds_are_namespaced_with_status_short_names_and_printer_columns() {
    for (crd, short, columns) in [
        (AlertRule::crd(), "oxr", &["Type", "Metric", "Severity", "Ready", "Firing", "Age"][..]),
        (NotificationChannel::crd(), "oxnc", &["Type", "Min Severity", "Enabled", "Ready", "Age"][..]),
        (SilenceWindow::crd(), "oxsw", &["Start", "End", "Recurrence", "Timezone", "Ready", "Age"][..]),
    ] {
        assert_eq!((crd.spec.group.as_str(), crd.spec.scope.as_str()), ("oxmon.io", "Namespaced"));
        assert_eq!(crd.spec.names.short_names.as_deref(), Some(&[short.to_owned()][..]));
        assert_eq!(crd.spec.names.categories.as_deref(), Some(&["oxmon".to_owned()][..]));
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.subresources.as_ref().unwrap().status.is_some(), "status subresource");
        let names: Vec<&str> =
            version.additional_printer_columns.as_ref().unwrap().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, columns);
    }
}

/// An object of kind `K` from JSON (as `kubectl apply` would send it).
fn object<K: DeserializeOwned>(kind: &str, spec: Value) -> K {
    serde_json::from_value(json!({
        "apiVersion": "oxmon.io/v1alpha1", "kind": kind,
        "metadata": {"name": "example", "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

#[track_caller]
fn accepted<K: CustomResourceExt + Serialize + DeserializeOwned>(kind: &str, spec: Value) {
    let obj: K = object(kind, spec.clone());
    if let Err(e) = validate_cel(&obj) {
        panic!("{kind} {spec} refused: {e}");
    }
}

#[track_caller]
fn refused<K: CustomResourceExt + Serialize + DeserializeOwned>(kind: &str, spec: Value, message: &str) {
    let obj: K = object(kind, spec.clone());
    match validate_cel(&obj) {
        Ok(()) => panic!("{kind} {spec} accepted, expected: {message}"),
        Err(e) => assert!(e.to_string().contains(message), "{kind} {spec}: {e}"),
    }
}

#[test]
fn alert_rule_cel_rules() {
    let ok = |spec| accepted::<AlertRule>("AlertRule", spec);
    let bad = |spec, message| refused::<AlertRule>("AlertRule", spec, message);
    ok(json!({"type": "threshold", "metric": "cpu.usage", "threshold": {"operator": "gt", "value": 90}}));
    ok(json!({"type": "rate_of_change", "metric": "m", "rateOfChange": {"rateThreshold": 0.5}}));
    ok(
        json!({"type": "trend_prediction", "metric": "m", "trendPrediction": {"predictThreshold": 95, "horizonSecs": 60, "minLeadSecs": 60}}),
    );
    ok(json!({"type": "cert_expiration"}));
    ok(json!({"type": "cert_expiration", "certExpiration": {"warningDays": 10, "criticalDays": 10}}));

    bad(json!({"type": "threshold", "metric": "m"}), "spec.threshold is required when type is threshold");
    bad(
        json!({"type": "threshold", "metric": "m", "threshold": {"operator": "gt", "value": 1}, "rateOfChange": {"rateThreshold": 1}}),
        "spec.rateOfChange is required when type is rate_of_change, and allowed only then",
    );
    bad(json!({"type": "threshold", "threshold": {"operator": "gt", "value": 1}}), "spec.metric is required");
    bad(
        json!({"type": "threshold", "metric": "", "threshold": {"operator": "gt", "value": 1}}),
        "spec.metric is required",
    );
    bad(
        json!({"type": "rate_of_change", "metric": "m", "rateOfChange": {"rateThreshold": 0}}),
        "rateThreshold must be greater than 0",
    );
    bad(
        json!({"type": "trend_prediction", "metric": "m", "trendPrediction": {"predictThreshold": 1, "horizonSecs": 60, "minLeadSecs": 61}}),
        "minLeadSecs must not exceed horizonSecs",
    );
    bad(
        json!({"type": "cert_expiration", "certExpiration": {"warningDays": 5, "criticalDays": 7}}),
        "criticalDays must not exceed warningDays",
    );
    bad(
        json!({"type": "threshold", "metric": "m", "threshold": {"operator": "gt", "value": 1}, "certExpiration": {}}),
        "spec.certExpiration is allowed only when type is cert_expiration",
    );

    let mut long: AlertRule = object("AlertRule", json!({"type": "cert_expiration"}));
    long.meta_mut().name = Some("x".repeat(65));
    let e = validate_cel(&long).unwrap_err().to_string();
    assert!(e.contains("the name must be at most 64 characters"), "{e}");
}

#[test]
fn types_cannot_change() {
    let old: AlertRule = object("AlertRule", json!({"type": "cert_expiration"}));
    let new: AlertRule =
        object("AlertRule", json!({"type": "threshold", "metric": "m", "threshold": {"operator": "gt", "value": 1}}));
    let e = validate_cel_update(&new, &old).unwrap_err().to_string();
    assert!(e.contains("type cannot be changed; create another AlertRule"), "{e}");
    let same: AlertRule = object("AlertRule", json!({"type": "cert_expiration", "severity": "critical"}));
    validate_cel_update(&same, &old).unwrap();

    let old: NotificationChannel = object("NotificationChannel", json!({"type": "webhook"}));
    let new: NotificationChannel =
        object("NotificationChannel", json!({"type": "weixin", "weixin": {"webhookUrl": "https://x/y"}}));
    let e = validate_cel_update(&new, &old).unwrap_err().to_string();
    assert!(e.contains("type cannot be changed; create another NotificationChannel"), "{e}");
}

#[test]
fn notification_channel_cel_rules() {
    let ok = |spec| accepted::<NotificationChannel>("NotificationChannel", spec);
    let bad = |spec, message| refused::<NotificationChannel>("NotificationChannel", spec, message);
    let secret = json!({"name": "s", "key": "k"});
    ok(json!({"type": "webhook"}));
    ok(json!({"type": "webhook", "webhook": {"headers": {"X-A": "1"}, "headerSecretRefs": {"Authorization": secret}}}));
    ok(json!({"type": "email", "email": {"smtpHost": "h", "smtpPort": 25, "fromEmail": "a@b.c"}}));
    ok(
        json!({"type": "email", "email": {"smtpHost": "h", "smtpPort": 25, "fromEmail": "a@b.c", "smtpUsername": "u", "smtpPasswordSecretRef": secret}}),
    );
    ok(json!({"type": "sms", "sms": {"generic": {"gatewayUrl": "https://g", "apiKeySecretRef": secret}}}));
    ok(json!({"type": "dingtalk", "dingtalk": {"webhookUrlSecretRef": secret, "secretRef": secret}}));
    ok(json!({"type": "weixin", "weixin": {"webhookUrl": "https://qyapi.weixin.qq.com/x?key=k"}}));

    bad(json!({"type": "email"}), "spec.email is required when type is email");
    bad(
        json!({"type": "webhook", "weixin": {"webhookUrl": "u"}}),
        "spec.weixin is required when type is weixin, and allowed only then",
    );
    bad(json!({"type": "sms", "sms": {}}), "exactly one of generic, aliyun and tencent must be set");
    bad(
        json!({"type": "sms", "sms": {"generic": {"gatewayUrl": "g", "apiKeySecretRef": secret},
               "tencent": {"secretId": "i", "secretKeyRef": secret, "sdkAppId": "1", "signName": "n", "templateId": "t"}}}),
        "exactly one of generic, aliyun and tencent must be set",
    );
    bad(json!({"type": "dingtalk", "dingtalk": {}}), "exactly one of webhookUrl and webhookUrlSecretRef must be set");
    bad(
        json!({"type": "weixin", "weixin": {"webhookUrl": "u", "webhookUrlSecretRef": secret}}),
        "exactly one of webhookUrl and webhookUrlSecretRef must be set",
    );
    bad(
        json!({"type": "email", "email": {"smtpHost": "h", "smtpPort": 25, "fromEmail": "a@b.c", "smtpPasswordSecretRef": secret}}),
        "smtpPasswordSecretRef needs smtpUsername",
    );
    bad(
        json!({"type": "webhook", "webhook": {"headers": {"Authorization": "x"}, "headerSecretRefs": {"Authorization": secret}}}),
        "a header is set in both headers and headerSecretRefs",
    );
}

#[test]
fn silence_window_cel_rules() {
    accepted::<SilenceWindow>("SilenceWindow", json!({"startTime": "22:00", "endTime": "06:00"}));
    refused::<SilenceWindow>(
        "SilenceWindow",
        json!({"startTime": "02:00", "endTime": "02:00"}),
        "startTime and endTime must differ",
    );
}

/// Walks `deploy/examples/`: each file parses into its kind's type, passes
/// the CRD schema (strictly: unknown fields fail, as the API server would
/// prune them) and the CEL rules.
#[test]
fn every_example_parses_and_validates_against_its_crd() {
    let dir = repo().join("deploy/examples");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".yaml"), "{name}: examples are .yaml files");
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = value["kind"].as_str().unwrap_or_else(|| panic!("{name}: no kind")).to_owned();
        match kind.as_str() {
            "AlertRule" => check_example::<AlertRule>(&name, &text, &value),
            "NotificationChannel" => check_example::<NotificationChannel>(&name, &text, &value),
            "SilenceWindow" => check_example::<SilenceWindow>(&name, &text, &value),
            other => panic!("{name}: unexpected kind {other}"),
        }
        seen.push(kind);
    }
    for kind in ["AlertRule", "NotificationChannel", "SilenceWindow"] {
        assert!(seen.iter().any(|k| k == kind), "an example of {kind}");
    }
}

/// The custom resources shown in the READMEs (YAML blocks of
/// `oxmon.io/v1alpha1` objects, `---`-separated) are valid too.
#[test]
fn the_examples_in_the_readmes_validate() {
    let mut checked = 0;
    for readme in ["README.md", "crates/operator/README.md", "deploy/README.md"] {
        let text = std::fs::read_to_string(repo().join(readme)).unwrap();
        for block in text.split("```yaml").skip(1) {
            let block = block.split("```").next().unwrap();
            for doc in block.split("\n---\n").filter(|d| d.contains("apiVersion: oxmon.io/v1alpha1")) {
                let value: Value = serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{readme}: {e}\n{doc}"));
                let name = format!("{readme} ({})", value["kind"].as_str().unwrap_or("?"));
                match value["kind"].as_str() {
                    Some("AlertRule") => check_example::<AlertRule>(&name, doc, &value),
                    Some("NotificationChannel") => check_example::<NotificationChannel>(&name, doc, &value),
                    Some("SilenceWindow") => check_example::<SilenceWindow>(&name, doc, &value),
                    other => panic!("{readme}: unexpected kind {other:?}"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "found only {checked} example resources in the READMEs");
}

fn check_example<K>(name: &str, text: &str, value: &Value)
where
    K: CustomResourceExt + Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    assert_eq!(value["apiVersion"], "oxmon.io/v1alpha1", "{name}");
    let obj: K =
        serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name}: does not parse as {}: {e}", K::kind(&())));
    let crd = K::crd();
    let schema =
        serde_json::to_value(crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap())
            .unwrap();
    let mut spec_schema = schema["properties"]["spec"].clone();
    close_objects(&mut spec_schema);
    let validator = jsonschema::draft4::new(&spec_schema).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(&value["spec"]).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
    if let Err(e) = validate_cel(&obj) {
        panic!("{name}: {e}");
    }
}

/// Makes every object schema with `properties` refuse other keys.
fn close_objects(schema: &mut Value) {
    if let Some(map) = schema.as_object_mut() {
        if map.contains_key("properties") && !map.contains_key("additionalProperties") {
            map.insert("additionalProperties".into(), json!(false));
        }
        for v in map.values_mut() {
            close_objects(v);
        }
    } else if let Some(items) = schema.as_array_mut() {
        items.iter_mut().for_each(close_objects);
    }
}

#[test]
fn a_typo_in_an_example_would_be_caught() {
    let mut schema = serde_json::to_value(
        SilenceWindow::crd().spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap(),
    )
    .unwrap()["properties"]["spec"]
        .clone();
    close_objects(&mut schema);
    let validator = jsonschema::draft4::new(&schema).unwrap();
    assert!(validator.is_valid(&json!({"startTime": "22:00", "endTime": "06:00"})));
    assert!(!validator.is_valid(&json!({"startTime": "22:00", "endTime": "06:00", "timeZone": "UTC"})));
    assert!(!validator.is_valid(&json!({"startTime": "24:00", "endTime": "06:00"})));
    assert!(!validator.is_valid(&json!({"startTime": "22:00", "endTime": "06:00", "recurrence": "someday"})));
}
