//! One check of one (domain, port): resolve with the system resolver,
//! connect over TCP, and make a TLS handshake with SNI = domain.
//!
//! The presented chain is always captured, whether or not it verifies:
//! the verifier judges the chain against the trust roots (webpki) and the
//! name against the domain, records both verdicts and then accepts, so an
//! expired, self-signed, untrusted or wrong-host certificate still yields
//! its expiry date (oxmon 0.1 learnt nothing from such certificates).
//! Every step has the configured timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::details::{self, Certificate};
use crate::config::CertCheckConfig;

/// What a [`Checker`] trusts and how long it waits.
#[derive(Clone, Debug)]
pub struct CheckerConfig {
    /// Trust anchors (production: the Mozilla set of `webpki-roots`).
    pub roots: Arc<RootCertStore>,
    /// Limit of each step: name lookup, TCP connect, TLS handshake.
    pub timeout: Duration,
}

impl CheckerConfig {
    /// The Mozilla root set with the given timeout per step.
    pub fn with_webpki_roots(timeout: Duration) -> Self {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        Self { roots: Arc::new(roots), timeout }
    }
}

/// Checks certificates; cheap to clone.
#[derive(Clone, Debug)]
pub struct Checker {
    config: CheckerConfig,
    provider: Arc<CryptoProvider>,
}

/// What one check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Addresses the name resolved to, in resolver order, without repeats.
    pub resolved_ips: Vec<IpAddr>,
    /// The address the handshake was made with.
    pub peer: Option<SocketAddr>,
    /// The handshake completed, the chain leads to a trusted root, the
    /// certificate is within its validity period and valid for the domain.
    pub is_valid: bool,
    /// The presented chain leads to a trusted root and is within its
    /// validity period (the host name is judged separately).
    pub chain_valid: bool,
    /// Why the chain does not verify.
    pub chain_error: Option<String>,
    /// Everything that went wrong, `; `-separated; `None` when valid.
    pub error: Option<String>,
    /// The leaf, when one was presented and parses.
    pub certificate: Option<Certificate>,
    /// Negotiated protocol, e.g. `TLSv1_3`.
    pub tls_version: Option<String>,
    /// Negotiated suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<String>,
    /// Number of certificates presented.
    pub chain_depth: Option<usize>,
}

impl CheckOutcome {
    fn failed(resolved_ips: Vec<IpAddr>, error: String) -> Self {
        Self { resolved_ips, error: Some(error), ..Self::default() }
    }

    /// Whole days from `now_s` to the end of validity, rounded down (so
    /// negative once expired).
    pub fn days_until_expiry(&self, now_s: i64) -> Option<i64> {
        self.certificate.as_ref().map(|c| (c.not_after - now_s).div_euclid(86_400))
    }
}

// === impl Checker ===

impl Checker {
    pub fn new(config: CheckerConfig) -> Self {
        Self { config, provider: Arc::new(rustls::crypto::ring::default_provider()) }
    }

    /// The server's checker: `[cert_check] connect_timeout_secs` per step
    /// (at least 1 s) and the Mozilla roots, unless `roots` replaces them.
    pub fn from_config(config: &CertCheckConfig, roots: Option<RootCertStore>) -> Self {
        let mut c = CheckerConfig::with_webpki_roots(Duration::from_secs(config.connect_timeout_secs.max(1)));
        if let Some(roots) = roots {
            c.roots = Arc::new(roots);
        }
        Self::new(c)
    }

    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// Checks `domain:port` at `now_s` (Unix seconds: the instant the
    /// validity period is judged at). Never fails: problems are in the
    /// outcome's `error`.
    pub async fn check(&self, domain: &str, port: u16, now_s: i64) -> CheckOutcome {
        let limit = self.config.timeout;
        let secs = limit.as_secs_f64();
        let addrs: Vec<SocketAddr> = match timeout(limit, tokio::net::lookup_host((domain, port))).await {
            Err(_) => return CheckOutcome::failed(vec![], format!("DNS lookup of {domain} timed out after {secs}s")),
            Ok(Err(e)) => return CheckOutcome::failed(vec![], format!("cannot resolve {domain}: {e}")),
            Ok(Ok(addrs)) => addrs.collect(),
        };
        let mut resolved_ips: Vec<IpAddr> = Vec::with_capacity(addrs.len());
        for a in &addrs {
            if !resolved_ips.contains(&a.ip()) {
                resolved_ips.push(a.ip());
            }
        }
        if addrs.is_empty() {
            return CheckOutcome::failed(resolved_ips, format!("{domain} resolved to no address"));
        }

        let mut last_error = String::new();
        let mut connected = None;
        for addr in addrs {
            match timeout(limit, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    connected = Some((addr, stream));
                    break;
                }
                Ok(Err(e)) => last_error = format!("cannot connect to {addr}: {e}"),
                Err(_) => last_error = format!("connecting to {addr} timed out after {secs}s"),
            }
        }
        let Some((peer, stream)) = connected else { return CheckOutcome::failed(resolved_ips, last_error) };

        let name = match ServerName::try_from(domain.trim_end_matches('.').to_owned()) {
            Ok(n) => n,
            Err(e) => {
                return CheckOutcome::failed(resolved_ips, format!("{domain:?} is not a valid TLS server name: {e}"));
            }
        };
        let verifier = Arc::new(RecordingVerifier {
            roots: self.config.roots.clone(),
            provider: self.provider.clone(),
            now: UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now_s).unwrap_or(0))),
            seen: Mutex::new(None),
        });
        let config =
            match ClientConfig::builder_with_provider(self.provider.clone()).with_safe_default_protocol_versions() {
                Ok(b) => b.dangerous().with_custom_certificate_verifier(verifier.clone()).with_no_client_auth(),
                Err(e) => return CheckOutcome::failed(resolved_ips, format!("TLS configuration error: {e}")),
            };
        let handshake = timeout(limit, TlsConnector::from(Arc::new(config)).connect(name, stream)).await;

        let mut outcome = CheckOutcome { resolved_ips, peer: Some(peer), ..CheckOutcome::default() };
        let mut errors: Vec<String> = Vec::new();
        match handshake {
            Ok(Ok(tls)) => {
                let conn = tls.get_ref().1;
                outcome.tls_version = conn.protocol_version().map(|v| format!("{v:?}"));
                outcome.cipher_suite = conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite()));
            }
            Ok(Err(e)) => errors.push(format!("TLS handshake with {peer} failed: {e}")),
            Err(_) => errors.push(format!("TLS handshake with {peer} timed out after {secs}s")),
        }
        let handshake_ok = errors.is_empty();
        let seen = verifier.seen.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(seen) = seen else {
            if errors.is_empty() {
                errors.push("the server presented no certificate".into());
            }
            outcome.error = Some(errors.join("; "));
            return outcome;
        };
        outcome.chain_depth = Some(seen.chain.len());
        let parsed = seen.chain.first().map(|leaf| details::parse(leaf.as_ref()));
        let certificate = match parsed {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => None,
        };
        if let Err(e) = &seen.chain_result {
            outcome.chain_error = Some(describe(e, domain, certificate.as_ref()));
        }
        outcome.chain_valid = seen.chain_result.is_ok();
        let mut reasons: Vec<String> = outcome.chain_error.iter().cloned().collect();
        if let Err(e) = &seen.name_result {
            reasons.push(describe(e, domain, certificate.as_ref()));
        }
        reasons.extend(errors);
        let in_period = certificate.as_ref().is_some_and(|c| c.not_before <= now_s && now_s <= c.not_after);
        if reasons.is_empty() && !in_period {
            reasons.push("certificate is outside its validity period".into());
        }
        outcome.is_valid = handshake_ok && reasons.is_empty();
        outcome.error = (!reasons.is_empty()).then(|| reasons.join("; "));
        outcome.certificate = certificate;
        outcome
    }
}

/// A verification error in words; `certificate` (the parsed leaf) names
/// what was presented.
fn describe(e: &rustls::Error, domain: &str, certificate: Option<&Certificate>) -> String {
    let rustls::Error::InvalidCertificate(ce) = e else { return e.to_string() };
    match ce {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "certificate expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate not yet valid".into()
        }
        CertificateError::UnknownIssuer if certificate.is_some_and(|c| c.self_issued) => {
            "self-signed certificate (not trusted)".into()
        }
        CertificateError::UnknownIssuer => "unknown issuer: the chain does not lead to a trusted root".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            match certificate.map(Certificate::subject_alt_names).filter(|n| !n.is_empty()) {
                Some(names) => format!("hostname mismatch: the certificate is for {}, not {domain}", names.join(", ")),
                None => format!("hostname mismatch: the certificate is not valid for {domain}"),
            }
        }
        CertificateError::Revoked => "certificate revoked".into(),
        CertificateError::BadSignature => "certificate signature does not verify".into(),
        CertificateError::BadEncoding => "malformed certificate".into(),
        _ => e.to_string(),
    }
}

/// The chain the server presented and the two verdicts on it.
#[derive(Debug)]
struct Presented {
    chain: Vec<CertificateDer<'static>>,
    chain_result: Result<(), rustls::Error>,
    name_result: Result<(), rustls::Error>,
}

/// Verifies like rustls' webpki verifier, records the verdicts and the
/// chain, then accepts so the handshake (and the inspection) goes on.
/// Handshake signatures are still verified for real.
#[derive(Debug)]
struct RecordingVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    now: UnixTime,
    seen: Mutex<Option<Presented>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (chain_result, name_result) = match ParsedCertificate::try_from(end_entity) {
            Ok(parsed) => (
                verify_server_cert_signed_by_trust_anchor(
                    &parsed,
                    &self.roots,
                    intermediates,
                    self.now,
                    self.provider.signature_verification_algorithms.all,
                ),
                verify_server_name(&parsed, server_name),
            ),
            Err(e) => (Err(e.clone()), Err(e)),
        };
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(Presented { chain, chain_result, name_result });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_until_expiry_round_down_and_go_negative() {
        let with = |not_after| CheckOutcome {
            certificate: Some(Certificate { not_after, ..Certificate::default() }),
            ..CheckOutcome::default()
        };
        assert_eq!(with(86_400 * 5 - 1).days_until_expiry(0), Some(4));
        assert_eq!(with(86_400 * 5).days_until_expiry(0), Some(5));
        assert_eq!(with(-1).days_until_expiry(0), Some(-1));
        assert_eq!(CheckOutcome::default().days_until_expiry(0), None);
    }

    #[test]
    fn verification_errors_are_explained() {
        let cert = |self_issued, dns: &[&str]| Certificate {
            self_issued,
            dns_names: dns.iter().map(|d| (*d).to_owned()).collect(),
            ..Certificate::default()
        };
        let e = |ce| rustls::Error::InvalidCertificate(ce);
        assert_eq!(describe(&e(CertificateError::Expired), "a", None), "certificate expired");
        assert_eq!(
            describe(&e(CertificateError::UnknownIssuer), "a", Some(&cert(true, &[]))),
            "self-signed certificate (not trusted)"
        );
        assert_eq!(
            describe(&e(CertificateError::UnknownIssuer), "a", Some(&cert(false, &[]))),
            "unknown issuer: the chain does not lead to a trusted root"
        );
        assert_eq!(
            describe(&e(CertificateError::NotValidForName), "a.test", Some(&cert(false, &["b.test", "c.test"]))),
            "hostname mismatch: the certificate is for b.test, c.test, not a.test"
        );
    }
}
