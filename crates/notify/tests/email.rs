//! The e-mail channel against a real SMTP receiver on loopback: plaintext,
//! STARTTLS (587 semantics on an ephemeral port) and implicit TLS, with
//! certificates from a CA generated for the test and given as `ca_file`.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::path::Path;
use std::time::Duration;

use oxmon_notify::{SendReport, build_channel};
use serde_json::json;
use support::smtp::{Mode, SmtpServer};
use support::{alert, http, http_with, pki};

fn config(port: u16, tls: &str, ca_file: Option<&Path>, auth: bool) -> String {
    let mut c = json!({
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "from_name": "oxmon",
        "from_email": "alerts@example.com",
        "tls": tls,
    });
    if let Some(ca) = ca_file {
        c["ca_file"] = json!(ca);
    }
    if auth {
        c["smtp_username"] = json!("alerts");
        c["smtp_password"] = json!("s3cret");
    }
    c.to_string()
}

async fn send(config: &str, recipients: &[&str]) -> SendReport {
    let channel = build_channel("email", config, &http()).unwrap();
    let recipients: Vec<String> = recipients.iter().map(|r| (*r).to_owned()).collect();
    channel.send(&alert(), &recipients).await
}

#[tokio::test]
async fn plaintext_relay_receives_0_1s_message() {
    let pki = pki();
    let server = SmtpServer::start(Mode::Plain, &pki).await;
    let report = send(&config(server.port, "none", None, false), &["oncall@example.com"]).await;
    assert!(report.success, "{report:?}");
    assert_eq!(report.retry_count, 0);
    assert_eq!(report.recipient_details[0].recipient, "oncall@example.com");

    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(!m.tls && m.auth.is_none());
    assert_eq!(m.from, "alerts@example.com");
    assert_eq!(m.to, vec!["oncall@example.com".to_owned()]);
    assert!(m.data.contains("From: oxmon <alerts@example.com>\r\n"), "{}", m.data);
    assert!(m.data.contains("To: oncall@example.com\r\n"), "{}", m.data);
    assert!(m.data.contains("Subject: [oxmon][critical] High CPU - web-1\r\n"), "{}", m.data);
    assert!(m.data.contains("Content-Type: text/plain"), "{}", m.data);
    assert_eq!(
        m.body().trim_end(),
        "Alert: critical\r\nRule: High CPU\r\nAgent: web-1\r\nMetric: cpu.usage\r\nLabels: core=0\r\n\
         Value: 95.50\r\nThreshold: 90.00\r\n\
         Message: cpu.usage has been above 90.0 for the configured duration on web-1\r\n\
         Time: 2024-05-01T12:00:00+00:00"
    );
    let logged: serde_json::Value = serde_json::from_str(report.request_body.as_deref().unwrap()).unwrap();
    assert_eq!(logged["subject"], "[oxmon][critical] High CPU - web-1");
    assert_eq!(logged["from_email"], "alerts@example.com");
}

#[tokio::test]
async fn starttls_upgrades_then_authenticates() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let server = SmtpServer::start(Mode::StartTls, &pki).await;
    let report = send(&config(server.port, "starttls", Some(&ca), true), &["oncall@example.com"]).await;
    assert!(report.success, "{report:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].tls, "the message went over the upgraded connection");
    assert_eq!(mails[0].auth, Some(("alerts".to_owned(), "s3cret".to_owned())));
    assert!(mails[0].data.contains("Subject: [oxmon][critical] High CPU - web-1\r\n"));
    assert!(!report.request_body.unwrap().contains("s3cret"));
}

#[tokio::test]
async fn implicit_tls_authenticates_with_the_given_ca() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let server = SmtpServer::start(Mode::Implicit, &pki).await;
    let report = send(&config(server.port, "implicit", Some(&ca), true), &["a@example.com", "b@example.com"]).await;
    assert!(report.success, "{report:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 2, "one message per recipient");
    assert!(mails.iter().all(|m| m.tls && m.auth.is_some()));
    assert_eq!(mails[1].to, vec!["b@example.com".to_owned()]);
}

#[tokio::test]
async fn starttls_is_required_not_opportunistic() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    // This server offers no STARTTLS: the channel must not fall back to plaintext.
    let server = SmtpServer::start(Mode::Plain, &pki).await;
    let report = send(&config(server.port, "starttls", Some(&ca), true), &["oncall@example.com"]).await;
    assert!(!report.success);
    assert!(server.mails().is_empty());
    assert!(report.recipient_details[0].error.as_deref().unwrap().starts_with("SMTP: "), "{report:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_send() {
    let (server_pki, other_pki) = (pki(), pki());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &other_pki.ca_pem).unwrap();
    let server = SmtpServer::start(Mode::Implicit, &server_pki).await;
    let report = send(&config(server.port, "implicit", Some(&ca), false), &["oncall@example.com"]).await;
    assert!(!report.success);
    assert_eq!(report.retry_count, 2, "TLS failures are retried like connection failures");
    assert!(server.mails().is_empty());
}

#[tokio::test]
async fn one_bad_recipient_fails_the_log_and_the_others_still_get_it() {
    let pki = pki();
    let server = SmtpServer::start(Mode::Plain, &pki).await;
    let report = send(
        &config(server.port, "none", None, false),
        &["oncall@example.com", "nobody@example.com", "not an address"],
    )
    .await;
    assert!(!report.success);
    let d = &report.recipient_details;
    assert!(d[0].ok);
    assert!(!d[1].ok && d[1].error.as_deref().unwrap().contains("550"), "{d:?}");
    assert!(d[2].error.as_deref().unwrap().starts_with("invalid e-mail address"), "{d:?}");
    assert_eq!(report.retry_count, 0, "a permanent 550 is not retried");
    assert_eq!(report.error_message.as_deref().unwrap().split(';').next(), Some("2 of 3 recipients failed"));
    assert_eq!(server.mails().len(), 1);
}

#[tokio::test]
async fn a_server_that_never_greets_fails_within_the_timeout() {
    // Accepts connections and then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let channel =
        build_channel("email", &config(port, "none", None, false), &http_with(Duration::from_millis(200))).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(20), channel.send(&alert(), &["oncall@example.com".into()]))
        .await
        .unwrap();
    assert!(!report.success);
    assert_eq!(report.retry_count, 2);
    assert_eq!(report.recipient_details[0].error.as_deref(), Some("SMTP send timed out after 200 ms"));
}
