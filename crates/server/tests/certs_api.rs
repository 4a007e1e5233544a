//! `/v1/certs/*` and `/v1/certificates*` over a real server whose checker
//! trusts a test CA, against real TLS sites on loopback: domains CRUD and
//! validation, manual and bulk checks, what they store (results, details,
//! samples), status and summary, the scheduler and its concurrency bound.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod cert_sites;
mod support;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use cert_sites::*;
use oxmon_server::app::{RunningServer, StartOptions, start};
use oxmon_server::config::ServerConfig;
use reqwest::Method;
use serde_json::{Value, json};

/// A server whose certificate checker trusts `roots`.
struct Api {
    server: RunningServer,
    http: reqwest::Client,
    token: String,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn start(roots: rustls::RootCertStore, tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = support::config(dir.path());
        tweak(&mut config);
        let options = StartOptions { cert_roots: Some(roots), ..StartOptions::default() };
        let server = start(config, options).await.unwrap();
        let mut api = Self { server, http: reqwest::Client::new(), token: String::new(), _dir: dir };
        let body = json!({"username": "admin", "password": support::ADMIN_PASSWORD});
        let (status, body) = api.call(Method::POST, "/v1/auth/login", Some(body)).await;
        assert_eq!(status, 200, "{body}");
        api.token = body["data"]["token"].as_str().unwrap().to_owned();
        api
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("http://{}{path}", self.server.http_addr));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// GET expecting 200; returns `data`.
    async fn data(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!((status, &body["err_code"]), (200, &json!(0)), "GET {path}: {body}");
        body["data"].clone()
    }

    /// POST expecting 200 or 201; returns `data`.
    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, resp) = self.call(Method::POST, path, Some(body)).await;
        assert!(status == 200 || status == 201, "POST {path}: {status} {resp}");
        resp["data"].clone()
    }

    async fn add(&self, domain: &str, port: u16) -> String {
        let d = self.post("/v1/certs/domains", json!({"domain": domain, "port": port})).await;
        d["id"].as_str().unwrap().to_owned()
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// Asserts an enveloped error.
#[track_caller]
fn fails(got: (u16, Value), status: u16, code: i64, message: &str) {
    let (s, body) = got;
    assert_eq!((s, body["err_code"].as_i64()), (status, Some(code)), "{body}");
    let msg = body["err_msg"].as_str().unwrap();
    assert!(msg.contains(message), "expected {message:?} in {msg:?}");
    assert_eq!(body["data"], Value::Null);
}

fn no_scheduler(c: &mut ServerConfig) {
    c.cert_check.enabled = false;
}

#[tokio::test]
async fn domains_are_created_listed_changed_and_deleted_with_validation() {
    let api = Api::start(rustls::RootCertStore::empty(), no_scheduler).await;
    let (status, body) = api.call(Method::POST, "/v1/certs/domains", Some(json!({"domain": " Example.COM "}))).await;
    assert_eq!(status, 201, "{body}");
    let d = &body["data"];
    assert_eq!(
        (d["domain"].as_str(), d["port"].as_i64(), d["enabled"].as_bool()),
        (Some("example.com"), Some(443), Some(true))
    );
    assert_eq!(
        (&d["check_interval_secs"], &d["note"], &d["last_checked_at"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));
    let id = d["id"].as_str().unwrap().to_owned();

    let create = |body: Value| api.call(Method::POST, "/v1/certs/domains", Some(body));
    fails(create(json!({"domain": "example.com"})).await, 409, 1101, "Domain 'example.com' already exists");
    fails(create(json!({"domain": ""})).await, 400, 1102, "Domain cannot be empty");
    fails(create(json!({"port": 443})).await, 400, 1102, "Domain cannot be empty");
    fails(create(json!({"domain": "https://a.test"})).await, 400, 1102, "remove the scheme");
    fails(create(json!({"domain": "a test"})).await, 400, 1102, "contains spaces");
    fails(create(json!({"domain": "a.test", "port": 0})).await, 400, 1103, "port must be between 1 and 65535, got 0");
    fails(create(json!({"domain": "a.test", "port": 70000})).await, 400, 1103, "got 70000");
    fails(
        create(json!({"domain": "a.test", "check_interval_secs": 0})).await,
        400,
        1001,
        "check_interval_secs must be at least 1",
    );

    let batch = |domains: Value| api.call(Method::POST, "/v1/certs/domains/batch", Some(json!({"domains": domains})));
    fails(batch(json!([])).await, 400, 1104, "Domain list cannot be empty");
    fails(batch(json!([{"domain": "b.test"}, {"domain": ""}])).await, 400, 1102, "domains[1]: Domain cannot be empty");
    fails(batch(json!([{"domain": "b.test", "port": -1}])).await, 400, 1103, "domains[0]: port must be");
    fails(
        batch(json!([{"domain": "b.test"}, {"domain": "example.com"}])).await,
        409,
        1101,
        "One or more domains already exist",
    );
    fails(batch(json!([{"domain": "b.test"}, {"domain": "B.test"}])).await, 409, 1101, "appears more than once");
    assert_eq!(api.data("/v1/certs/domains").await.as_array().unwrap().len(), 1, "failed batches added nothing");
    let (status, body) = batch(json!([{"domain": "b.test", "port": 8443, "note": "api"}, {"domain": "c.test"}])).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    let names = |v: Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|d| d["domain"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(api.data("/v1/certs/domains").await), ["c.test", "b.test", "example.com"]);
    assert_eq!(names(api.data("/v1/certs/domains?limit=1&offset=1").await), ["b.test"]);
    assert_eq!(names(api.data("/v1/certs/domains?domain__contains=.test").await), ["c.test", "b.test"]);
    fails(
        api.call(Method::GET, "/v1/certs/domains?enabled__eq=maybe", None).await,
        400,
        1001,
        "enabled__eq must be true or false",
    );

    let path = format!("/v1/certs/domains/{id}");
    let put = |body: Value| api.call(Method::PUT, &path, Some(body));
    let (status, body) = put(json!({"enabled": false, "port": 8443, "check_interval_secs": 60, "note": "n"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["check_interval_secs"], 60);
    assert_eq!(names(api.data("/v1/certs/domains?enabled__eq=false").await), ["example.com"]);
    // null clears (0.1 could not), absent leaves alone.
    let (_, body) = put(json!({"check_interval_secs": null, "note": null})).await;
    let d = &body["data"];
    assert_eq!((&d["check_interval_secs"], &d["note"], d["port"].as_i64()), (&Value::Null, &Value::Null, Some(8443)));
    // A fetched domain can be sent back.
    let fetched = api.data(&format!("/v1/certs/domains/{id}")).await;
    assert_eq!(put(fetched.clone()).await.0, 200);
    fails(put(json!({"port": 65536})).await, 400, 1103, "port must be between 1 and 65535");
    fails(put(json!({"check_interval_secs": 0})).await, 400, 1001, "check_interval_secs must be at least 1");
    fails(put(json!({"domain": "other.test"})).await, 400, 1001, "domain cannot be changed");
    fails(api.call(Method::PUT, "/v1/certs/domains/missing", Some(json!({}))).await, 404, 1004, "Domain not found");
    assert_eq!(
        api.data(&format!("/v1/certs/domains/{id}")).await["port"],
        fetched["port"],
        "refused writes changed nothing"
    );

    let (status, body) = api.call(Method::DELETE, &format!("/v1/certs/domains/{id}"), None).await;
    assert_eq!((status, &body["data"]), (200, &json!({"deleted": true})));
    fails(api.call(Method::DELETE, &format!("/v1/certs/domains/{id}"), None).await, 404, 1004, "Domain not found");
    fails(api.call(Method::GET, &format!("/v1/certs/domains/{id}"), None).await, 404, 1004, "Domain not found");
    api.stop().await;
}

#[tokio::test]
async fn checks_store_results_details_and_samples_and_feed_status_and_summary() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let valid = Site::start("127.0.0.1", &ca.issue(&Leaf { rich: true, ..Leaf::for_host("localhost", 20) })).await;
    let expired_leaf =
        Leaf { not_before: now - 30 * DAY, not_after: now - 36 * 3600, ..Leaf::for_host("127.0.0.2", 0) };
    let expired = Site::start("127.0.0.2", &ca.issue(&expired_leaf)).await;
    let wrong_host = Site::start("127.0.0.3", &ca.issue(&Leaf::for_host("other.test", 200))).await;
    let closed = closed_port().await;
    let api = Api::start(ca.roots(), no_scheduler).await;

    let localhost = api.add("localhost", valid.port()).await;
    let expired_id = api.add("127.0.0.2", expired.port()).await;
    api.add("127.0.0.3", wrong_host.port()).await;
    let down = api.add("127.0.0.4", closed).await;
    // Disabled and never checked.
    api.post("/v1/certs/domains", json!({"domain": "127.0.0.5", "enabled": false})).await;

    // One domain, checked by hand.
    let r = api.post(&format!("/v1/certs/domains/{localhost}/check"), json!({})).await;
    assert_eq!(
        (r["is_valid"].as_bool(), r["chain_valid"].as_bool(), &r["error"]),
        (Some(true), Some(true), &Value::Null)
    );
    assert_eq!((r["domain"].as_str(), r["domain_id"].as_str()), (Some("localhost"), Some(localhost.as_str())));
    assert_eq!(r["days_until_expiry"], 20);
    assert_eq!(r["san_list"], json!(["localhost"]));
    assert_eq!(r["resolved_ips"], json!(["127.0.0.1"]));
    assert_eq!(r["issuer"], "CN=oxmon test CA, O=oxmon tests, OU=certs, C=NZ");
    assert!(r["not_after"].as_str().unwrap().ends_with('Z'));
    let domain = api.data(&format!("/v1/certs/domains/{localhost}")).await;
    assert_eq!(domain["last_checked_at"], r["checked_at"]);

    // Its certificate is in the inventory, with its details.
    let certs = api.data("/v1/certificates").await;
    assert_eq!(certs.as_array().unwrap().len(), 1, "{certs}");
    let cert = &certs[0];
    assert_eq!((cert["domain"].as_str(), cert["chain_valid"].as_bool()), (Some("localhost"), Some(true)));
    assert_eq!((cert["issuer_cn"].as_str(), cert["subject_cn"].as_str()), (Some("oxmon test CA"), Some("localhost")));
    assert_eq!((cert["sct_count"].as_i64(), cert["chain_depth"].as_i64()), (Some(2), Some(2)));
    assert_eq!(cert["ocsp_urls"], json!(["http://ocsp.test/"]));
    assert_eq!(cert["ip_addresses"], json!(["127.0.0.1"]));
    assert_eq!(cert["tls_version"], "TLSv1_3");
    let cert_id = cert["id"].as_str().unwrap().to_owned();
    assert_eq!(api.data(&format!("/v1/certificates/{cert_id}")).await, *cert);
    let chain = api.data(&format!("/v1/certificates/{cert_id}/chain")).await;
    assert_eq!(
        chain,
        json!({"id": cert_id, "domain": "localhost", "chain_valid": true, "chain_error": null,
               "last_checked": cert["last_checked"]})
    );

    // Every enabled domain, checked in one call; results in creation order.
    let all = api.post("/v1/certs/check", json!({})).await;
    let all = all.as_array().unwrap();
    let domains: Vec<&str> = all.iter().map(|r| r["domain"].as_str().unwrap()).collect();
    assert_eq!(domains, ["localhost", "127.0.0.2", "127.0.0.3", "127.0.0.4"], "the disabled one is skipped");
    let (ok, exp, wrong, unreachable) = (&all[0], &all[1], &all[2], &all[3]);
    assert_eq!(ok["is_valid"], true);
    assert_eq!((exp["is_valid"].as_bool(), exp["error"].as_str()), (Some(false), Some("certificate expired")));
    assert_eq!(exp["days_until_expiry"], -2, "expired certificates still yield their expiry");
    assert_eq!((wrong["is_valid"].as_bool(), wrong["chain_valid"].as_bool()), (Some(false), Some(true)));
    assert_eq!(wrong["error"], "hostname mismatch: the certificate is for other.test, not 127.0.0.3");
    assert_eq!((unreachable["is_valid"].as_bool(), &unreachable["days_until_expiry"]), (Some(false), &Value::Null));
    assert!(unreachable["error"].as_str().unwrap().starts_with("cannot connect to 127.0.0.4:"), "{unreachable}");

    // History, newest first.
    let history = api.data(&format!("/v1/certs/domains/{localhost}/history")).await;
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["id"], ok["id"]);
    assert_eq!(api.data(&format!("/v1/certs/domains/{localhost}/history?limit=1&offset=1")).await[0]["id"], r["id"]);

    // Samples, through the metrics API.
    let samples =
        api.data("/v1/metrics?agent_id__eq=cert-checker&metric_name__eq=certificate.is_valid&limit=100").await;
    let samples = samples.as_array().unwrap();
    assert_eq!(samples.len(), 5, "one per check: {samples:?}");
    let value_for = |domain: &str| -> Vec<f64> {
        samples.iter().filter(|s| s["labels"]["domain"] == domain).map(|s| s["value"].as_f64().unwrap()).collect()
    };
    assert_eq!(
        (value_for("localhost"), value_for("127.0.0.2"), value_for("127.0.0.4")),
        (vec![1.0, 1.0], vec![0.0], vec![0.0])
    );
    let days =
        api.data("/v1/metrics?agent_id__eq=cert-checker&metric_name__eq=certificate.days_until_expiry&limit=100").await;
    let mut days: Vec<(String, f64)> = days
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["labels"]["domain"].as_str().unwrap().to_owned(), s["value"].as_f64().unwrap()))
        .collect();
    days.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(
        days,
        [
            ("127.0.0.2".into(), -2.0),
            ("127.0.0.3".into(), 200.0),
            ("localhost".into(), 20.0),
            ("localhost".into(), 20.0)
        ],
        "no expiry sample for the unreachable domain"
    );

    // Status and summary use each enabled domain's newest result.
    let status = api.data("/v1/certs/status").await;
    assert_eq!(status.as_array().unwrap().len(), 4);
    assert_eq!(api.data("/v1/certs/status?limit=2&offset=3").await.as_array().unwrap().len(), 1);
    let one = api.data("/v1/certs/status/LOCALHOST").await;
    assert_eq!(one["id"], ok["id"]);
    fails(
        api.call(Method::GET, "/v1/certs/status/nowhere.test", None).await,
        404,
        1004,
        "Domain is not being monitored",
    );
    fails(
        api.call(Method::GET, "/v1/certs/status/127.0.0.5", None).await,
        404,
        1105,
        "No check results yet for this domain",
    );
    assert_eq!(
        api.data("/v1/certs/summary").await,
        json!({"total_domains": 4, "valid": 1, "invalid": 3, "expiring_soon": 1})
    );

    // Inventory filters.
    let domains_of = |v: Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|d| d["domain"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        domains_of(api.data("/v1/certificates").await),
        ["127.0.0.2", "localhost", "127.0.0.3"],
        "soonest expiry first"
    );
    assert_eq!(domains_of(api.data(&format!("/v1/certificates?not_after__lte={now}")).await), ["127.0.0.2"]);
    assert_eq!(domains_of(api.data("/v1/certificates?ip_address__contains=127.0.0.3").await), ["127.0.0.3"]);
    assert_eq!(api.data("/v1/certificates?issuer__contains=TEST%20ca").await.as_array().unwrap().len(), 3);
    assert_eq!(api.data("/v1/certificates?issuer__contains=nobody").await, json!([]));
    fails(
        api.call(Method::GET, "/v1/certificates?not_after__lte=soon", None).await,
        400,
        1001,
        "not_after__lte must be a Unix time",
    );
    let expired_cert = api.data("/v1/certificates?limit=1").await[0].clone();
    assert_eq!(
        (expired_cert["chain_valid"].as_bool(), expired_cert["chain_error"].as_str()),
        (Some(false), Some("certificate expired"))
    );

    // A manual check ignores `enabled`.
    let off = api.data("/v1/certs/domains?enabled__eq=false").await[0]["id"].as_str().unwrap().to_owned();
    let r = api.post(&format!("/v1/certs/domains/{off}/check"), json!({})).await;
    assert_eq!(r["domain"], "127.0.0.5");

    // Deleting a domain deletes its results, not its certificate details.
    let (status, _) = api.call(Method::DELETE, &format!("/v1/certs/domains/{expired_id}"), None).await;
    assert_eq!(status, 200);
    fails(
        api.call(Method::GET, &format!("/v1/certs/domains/{expired_id}/history"), None).await,
        404,
        1004,
        "Domain not found",
    );
    assert_eq!(api.data("/v1/certificates").await.as_array().unwrap().len(), 3);
    assert_eq!(api.data("/v1/certs/summary").await["total_domains"], 3);

    // Errors of the per-id endpoints.
    fails(api.call(Method::POST, "/v1/certs/domains/missing/check", None).await, 404, 1004, "Domain not found");
    fails(api.call(Method::GET, "/v1/certs/domains/missing/history", None).await, 404, 1004, "Domain not found");
    fails(
        api.call(Method::GET, "/v1/certificates/missing", None).await,
        404,
        1004,
        "Certificate with id 'missing' not found",
    );
    fails(
        api.call(Method::GET, "/v1/certificates/missing/chain", None).await,
        404,
        1004,
        "Certificate with id 'missing' not found",
    );
    fails(api.call(Method::GET, "/v1/certs/status?limit=x", None).await, 400, 1001, "limit must be");
    let _ = down;
    api.stop().await;
}

#[tokio::test]
async fn the_scheduler_checks_due_domains_at_most_max_concurrent_at_a_time() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut mutes = Vec::new();
    for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        mutes.push(Mute::start_counting(ip, accepted.clone()).await);
    }
    let api = Api::start(rustls::RootCertStore::empty(), |c| {
        c.cert_check.tick_secs = 1;
        c.cert_check.max_concurrent = 2;
        // Long enough that only the test ends a check (by releasing its connection).
        c.cert_check.connect_timeout_secs = 30;
    })
    .await;
    let items: Vec<Value> =
        mutes.iter().map(|m| json!({"domain": m.addr.ip().to_string(), "port": m.addr.port()})).collect();
    api.post("/v1/certs/domains/batch", json!({"domains": items})).await;

    let count = || accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(eventually(5, async || count() == 2).await, "two checks start on the next tick ({} did)", count());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(), 2, "a third check waits for a free slot");
    for m in &mutes {
        m.release();
    }
    assert!(eventually(5, async || count() == 3).await, "the third check starts once a slot is free");
    for m in &mutes {
        m.release();
    }
    let checked = eventually(5, async || {
        let d = api.data("/v1/certs/domains").await;
        d.as_array().unwrap().iter().all(|d| !d["last_checked_at"].is_null())
    })
    .await;
    assert!(checked, "every domain was checked");
    let status = api.data("/v1/certs/status").await;
    for r in status.as_array().unwrap() {
        assert_eq!(r["is_valid"], false);
        assert!(r["error"].as_str().unwrap().contains("TLS handshake with"), "{r}");
    }
    api.stop().await;
}

#[tokio::test]
async fn a_disabled_scheduler_checks_nothing() {
    let mute = Mute::start("127.0.0.1").await;
    let api = Api::start(rustls::RootCertStore::empty(), |c| {
        c.cert_check.enabled = false;
        c.cert_check.tick_secs = 1;
    })
    .await;
    let id = api.add("localhost", mute.addr.port()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(mute.accepted(), 0);
    assert_eq!(api.data(&format!("/v1/certs/domains/{id}")).await["last_checked_at"], Value::Null);
    api.stop().await;
}

#[tokio::test]
async fn check_results_feed_the_cert_expiration_rule() {
    let ca = Ca::new("oxmon test CA");
    let api = Api::start(ca.roots(), |_| {}).await;
    // The default rules include "Cert expiring" (warning at 30 days, critical at 7).
    let soon = Site::start("127.0.0.1", &ca.issue(&Leaf::for_host("localhost", 5))).await;
    let id = api.add("localhost", soon.port()).await;
    let (status, body) = api.call(Method::POST, &format!("/v1/certs/domains/{id}/check"), None).await;
    assert_eq!(status, 200, "{body}");
    let fired = eventually(10, async || !api.data("/v1/alerts/active").await.as_array().unwrap().is_empty()).await;
    assert!(fired, "no alert for a certificate expiring in 5 days");
    let active = api.data("/v1/alerts/active").await;
    let alert = &active[0];
    assert_eq!(
        (alert["agent_id"].as_str(), alert["metric_name"].as_str(), alert["severity"].as_str()),
        (Some("cert-checker"), Some("certificate.days_until_expiry"), Some("critical"))
    );
    assert_eq!(alert["labels"]["domain"], "localhost");
    assert!(alert["message"].as_str().unwrap().contains("localhost"), "{alert}");
    api.stop().await;
}
