//! TLS reporting against a tonic TLS server whose certificate is signed by a test CA.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use support::*;

const WAIT: Duration = Duration::from_secs(20);

/// A CA (PEM) and a `localhost` server certificate signed by it.
fn test_pki() -> (String, ServerTls) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "oxmon test ca");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    (ca.pem(), ServerTls { cert_pem: server_cert.pem(), key_pem: server_key.serialize_pem() })
}

#[tokio::test]
async fn agent_reports_over_tls_when_it_trusts_the_ca() {
    let (ca_pem, server_tls) = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();

    let recording = Recording::default();
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), &recording, store_all(), Some(server_tls)).await;
    // The endpoint is an IP; the certificate names `localhost`.
    let extra = format!(
        "tls = true\ntls_ca_file = \"{}\"\ntls_server_name = \"localhost\"\nauth_token = \"t0k\"",
        ca_file.display()
    );
    let config = test_config(server.addr, &extra);
    assert_eq!(config.endpoint.scheme_str(), Some("https"));
    let seq = SeqSource::default();
    let agent = Agent::spawn(config, seq.source(1));

    let r = recording.clone();
    wait_until(WAIT, "stored batches over tls", move || r.stored_values().len() >= 3).await;
    let stats = agent.stop().await;
    server.stop().await;

    assert_exactly_once_in_order(&recording.stored_values(), stats.batches_collected);
    assert!(recording.requests().iter().all(|r| r.authorization.as_deref() == Some("Bearer t0k")));
    assert_eq!(stats.batches_unsent, 0);
}

#[tokio::test]
async fn handshake_fails_without_the_ca_and_batches_are_kept() {
    let (_, server_tls) = test_pki();
    let recording = Recording::default();
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), &recording, store_all(), Some(server_tls)).await;
    let mut config = test_config(server.addr, "tls = true\ntls_server_name = \"localhost\"");
    config.flush_timeout = Duration::from_millis(200);
    let seq = SeqSource::default();
    let agent = Agent::spawn(config, seq.source(1));

    let s = seq.clone();
    wait_until(WAIT, "several cycles", move || s.produced() >= 5).await;
    let stats = agent.stop().await;
    server.stop().await;

    assert_eq!(recording.len(), 0, "nothing reaches the service");
    assert!(stats.requests_failed >= 1, "{stats:?}");
    assert_eq!(stats.batches_sent, 0);
    assert_eq!(stats.batches_unsent, stats.batches_collected);
}

#[tokio::test]
async fn plaintext_agent_cannot_report_to_a_tls_server() {
    let (_, server_tls) = test_pki();
    let recording = Recording::default();
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), &recording, store_all(), Some(server_tls)).await;
    let mut config = test_config(server.addr, "");
    config.flush_timeout = Duration::from_millis(200);
    let seq = SeqSource::default();
    let agent = Agent::spawn(config, seq.source(1));

    let s = seq.clone();
    wait_until(WAIT, "several cycles", move || s.produced() >= 3).await;
    let stats = agent.stop().await;
    server.stop().await;

    assert_eq!(recording.len(), 0);
    assert_eq!(stats.batches_unsent, stats.batches_collected);
}
