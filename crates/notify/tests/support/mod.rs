//! Shared harness of the notify integration tests: a capturing HTTP
//! receiver, an SMTP receiver with STARTTLS and implicit TLS, a generated
//! PKI, and sample alerts.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses part of it; tests fail loudly

pub mod http;
pub mod smtp;

use std::time::Duration;

use oxmon_common::metric::Labels;
use oxmon_common::rule::Severity;
use oxmon_notify::{Alert, AlertStatus, HttpClient, NetConfig};

/// 2024-05-01T12:00:00Z, a Wednesday.
pub const T0: i64 = 1_714_564_800_000;

pub fn alert() -> Alert {
    Alert {
        id: "a1".into(),
        rule_id: "r1".into(),
        rule_name: "High CPU".into(),
        agent_id: "web-1".into(),
        metric: "cpu.usage".into(),
        severity: Severity::Critical,
        message: "cpu.usage has been above 90.0 for the configured duration on web-1".into(),
        value: 95.5,
        threshold: 90.0,
        labels: Labels::from_pairs([("core", "0")]),
        timestamp_ms: T0,
        status: AlertStatus::Firing,
    }
}

/// Production timeouts, but short pauses between attempts.
pub fn http() -> HttpClient {
    http_with(Duration::from_secs(10))
}

pub fn http_with(request_timeout: Duration) -> HttpClient {
    HttpClient::new(NetConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout,
        retry_backoff: vec![Duration::from_millis(10), Duration::from_millis(20)],
    })
    .unwrap()
}

/// A CA and a certificate for `localhost` / `127.0.0.1` signed by it.
pub struct Pki {
    pub ca_pem: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

pub fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "oxmon notify test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki { ca_pem: ca.pem(), cert_der: cert.der().to_vec(), key_der: key.serialize_der() }
}
