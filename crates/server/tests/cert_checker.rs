//! The certificate checker against real TLS servers on loopback: what it
//! reports for valid, expiring, expired, self-signed, wrong-host and
//! untrusted certificates, for a closed port and for a server that never
//! speaks TLS, and every detail it extracts from a certificate.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod cert_sites;

use std::sync::Arc;
use std::time::Duration;

use cert_sites::*;
use oxmon_server::certs::checker::{CheckOutcome, Checker, CheckerConfig};
use sha2::{Digest, Sha256};

fn checker(roots: rustls::RootCertStore) -> Checker {
    Checker::new(CheckerConfig { roots: Arc::new(roots), timeout: Duration::from_millis(500) })
}

async fn check_site(ca: &Ca, issued: &Issued, now: i64) -> CheckOutcome {
    let site = Site::start("127.0.0.1", issued).await;
    checker(ca.roots()).check("localhost", site.port(), now).await
}

#[tokio::test]
async fn a_trusted_certificate_is_valid_and_every_detail_is_extracted() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let leaf = Leaf { names: vec!["localhost".into(), "127.0.0.1".into()], rich: true, ..Leaf::for_host("x", 90) };
    let issued = ca.issue(&leaf);
    let site = Site::start("127.0.0.1", &issued).await;
    let o = checker(ca.roots()).check("localhost", site.port(), now).await;

    assert_eq!((o.is_valid, o.chain_valid, o.error.as_deref(), o.chain_error.as_deref()), (true, true, None, None));
    assert_eq!(o.days_until_expiry(now), Some(90));
    assert!(o.resolved_ips.contains(&"127.0.0.1".parse().unwrap()), "{:?}", o.resolved_ips);
    assert_eq!(o.peer, Some(site.addr));
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1_3"));
    assert!(o.cipher_suite.as_deref().unwrap().starts_with("TLS13_"), "{:?}", o.cipher_suite);
    assert_eq!(o.chain_depth, Some(2));

    let c = o.certificate.unwrap();
    assert_eq!((c.not_before, c.not_after), (leaf.not_before, leaf.not_after));
    assert_eq!(c.issuer, "CN=oxmon test CA, O=oxmon tests, OU=certs, C=NZ");
    assert_eq!(c.subject, "CN=localhost, O=oxmon site");
    assert_eq!(
        (c.issuer_cn.as_deref(), c.issuer_o.as_deref(), c.issuer_ou.as_deref(), c.issuer_c.as_deref()),
        (Some("oxmon test CA"), Some("oxmon tests"), Some("certs"), Some("NZ"))
    );
    assert_eq!((c.subject_cn.as_deref(), c.subject_o.as_deref()), (Some("localhost"), Some("oxmon site")));
    assert_eq!(c.dns_names, ["localhost"]);
    assert_eq!(c.ip_addresses, ["127.0.0.1"]);
    assert_eq!(c.subject_alt_names(), ["localhost", "127.0.0.1"]);
    assert_eq!(c.serial_number, "01:02:ab");
    let fingerprint: Vec<String> = Sha256::digest(issued.cert.der()).iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(c.fingerprint_sha256, fingerprint.join(":"));
    assert_eq!(c.version, 3);
    assert_eq!(c.signature_algorithm, "ECDSAwithSHA256");
    assert_eq!((c.public_key_algorithm.as_str(), c.public_key_bits), ("ECDSA", Some(256)));
    assert_eq!(c.key_usage, Some(vec!["digital_signature".to_owned(), "key_encipherment".to_owned()]));
    assert_eq!(c.extended_key_usage, Some(vec!["server_auth".to_owned(), "client_auth".to_owned()]));
    assert_eq!((c.is_ca, c.is_wildcard, c.self_issued), (false, false, false));
    assert_eq!(c.ocsp_urls, ["http://ocsp.test/"]);
    assert_eq!(c.ca_issuer_urls, ["http://ca.test/ca.der"]);
    assert_eq!(c.crl_urls, ["http://crl.test/ca.crl"]);
    assert_eq!(c.sct_count, 2, "the SCT list is parsed, not guessed from raw bytes");
}

#[tokio::test]
async fn a_certificate_expiring_in_five_days_is_still_valid() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let o = check_site(&ca, &ca.issue(&Leaf::for_host("localhost", 5)), now).await;
    assert_eq!((o.is_valid, o.error.as_deref()), (true, None));
    assert_eq!(o.days_until_expiry(now), Some(5));
    let c = o.certificate.as_ref().unwrap();
    assert_eq!((c.key_usage.as_ref(), c.sct_count, c.ocsp_urls.len()), (None, 0, 0), "absent extensions");
}

#[tokio::test]
async fn an_expired_certificate_is_invalid_but_still_yields_its_expiry() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let leaf = Leaf { not_before: now - 30 * DAY, not_after: now - 36 * 3600, ..Leaf::for_host("localhost", 0) };
    let o = check_site(&ca, &ca.issue(&leaf), now).await;
    assert_eq!((o.is_valid, o.chain_valid), (false, false));
    assert_eq!(o.error.as_deref(), Some("certificate expired"));
    assert_eq!(o.chain_error.as_deref(), Some("certificate expired"));
    assert_eq!(o.days_until_expiry(now), Some(-2), "floor(-1.5 days)");
    assert_eq!(o.certificate.unwrap().not_after, leaf.not_after);
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1_3"), "the handshake went on");
}

#[tokio::test]
async fn a_self_signed_certificate_is_reported_as_such() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let o = check_site(&ca, &self_signed(&Leaf::for_host("localhost", 40)), now).await;
    assert_eq!((o.is_valid, o.chain_valid), (false, false));
    assert_eq!(o.error.as_deref(), Some("self-signed certificate (not trusted)"));
    assert_eq!(o.days_until_expiry(now), Some(40));
    assert_eq!(o.chain_depth, Some(1));
    assert!(o.certificate.unwrap().self_issued);
}

#[tokio::test]
async fn a_certificate_for_another_host_fails_the_name_check_only() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let o = check_site(&ca, &ca.issue(&Leaf::for_host("other.test", 60)), now).await;
    assert_eq!((o.is_valid, o.chain_valid, o.chain_error.as_deref()), (false, true, None));
    assert_eq!(o.error.as_deref(), Some("hostname mismatch: the certificate is for other.test, not localhost"));
    assert_eq!(o.days_until_expiry(now), Some(60));
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_ca_is_invalid() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let issued = ca.issue(&Leaf::for_host("localhost", 10));
    let site = Site::start("127.0.0.1", &issued).await;
    let o = checker(Ca::new("someone else").roots()).check("localhost", site.port(), now).await;
    assert_eq!((o.is_valid, o.chain_valid), (false, false));
    assert_eq!(o.error.as_deref(), Some("unknown issuer: the chain does not lead to a trusted root"));
    // The production checker trusts the Mozilla roots, not a test CA.
    let default = Checker::new(CheckerConfig::with_webpki_roots(Duration::from_secs(2)));
    let o = default.check("localhost", site.port(), now).await;
    assert_eq!((o.is_valid, o.days_until_expiry(now)), (false, Some(10)));
}

#[tokio::test]
async fn a_closed_port_is_reported_without_a_certificate() {
    let port = closed_port().await;
    let o = checker(rustls::RootCertStore::empty()).check("localhost", port, now_s()).await;
    assert!(!o.is_valid && !o.chain_valid);
    let error = o.error.unwrap();
    assert!(error.starts_with(&format!("cannot connect to 127.0.0.1:{port}")), "{error}");
    assert_eq!(o.resolved_ips, ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!((o.certificate, o.peer, o.tls_version), (None, None, None));
}

#[tokio::test]
async fn a_server_that_never_speaks_tls_times_out() {
    let mute = Mute::start("127.0.0.1").await;
    let o = checker(rustls::RootCertStore::empty()).check("localhost", mute.addr.port(), now_s()).await;
    assert!(!o.is_valid);
    assert_eq!(o.error.unwrap(), format!("TLS handshake with {} timed out after 0.5s", mute.addr));
    assert_eq!((o.certificate, o.peer), (None, Some(mute.addr)));
    assert_eq!(mute.accepted(), 1);
}

#[tokio::test]
async fn ip_address_domains_are_checked_against_ip_sans() {
    let ca = Ca::new("oxmon test CA");
    let now = now_s();
    let issued = ca.issue(&Leaf::for_host("127.0.0.2", 30));
    let site = Site::start("127.0.0.2", &issued).await;
    let o = checker(ca.roots()).check("127.0.0.2", site.port(), now).await;
    assert_eq!((o.is_valid, o.error.as_deref()), (true, None));
    assert_eq!(o.certificate.unwrap().ip_addresses, ["127.0.0.2"]);
}
