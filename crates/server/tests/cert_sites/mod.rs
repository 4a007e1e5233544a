//! Real TLS sites on loopback for the certificate-checker tests: a test CA,
//! certificates generated with rcgen (valid, expiring, expired,
//! self-signed, for another host, with AIA/CRL/SCT extensions), rustls
//! servers that present them, and TCP servers that never speak TLS.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub const DAY: i64 = 86_400;

pub fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A certificate authority the tests trust (or not).
pub struct Ca {
    pub cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    pub fn new(cn: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "oxmon tests");
        params.distinguished_name.push(rcgen::DnType::OrganizationalUnitName, "certs");
        params.distinguished_name.push(rcgen::DnType::CountryName, "NZ");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Self { cert, issuer: rcgen::Issuer::new(params, key) }
    }

    /// Trust anchors holding only this CA.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }
}

/// What to put in a leaf certificate.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// Subject alternative names (IP strings become IP SANs) and the CN.
    pub names: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    /// OCSP, CA-issuer and CRL URLs, two SCTs, key usages, a fixed serial.
    pub rich: bool,
}

impl Leaf {
    /// Valid from yesterday for `days_left` days (and an hour) from now.
    pub fn for_host(host: &str, days_left: i64) -> Self {
        let now = now_s();
        Self {
            names: vec![host.to_owned()],
            not_before: now - DAY,
            not_after: now + days_left * DAY + 3600,
            rich: false,
        }
    }
}

/// A leaf certificate and its key.
pub struct Issued {
    pub cert: rcgen::Certificate,
    pub key: rcgen::KeyPair,
    /// Leaf first, then the CA when signed by one.
    pub chain: Vec<CertificateDer<'static>>,
}

fn params(leaf: &Leaf) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(leaf.names.clone()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, leaf.names[0].as_str());
    p.distinguished_name.push(rcgen::DnType::OrganizationName, "oxmon site");
    p.not_before = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(leaf.not_before as u64);
    p.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(leaf.not_after as u64);
    if leaf.rich {
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x02, 0xab]));
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature, rcgen::KeyUsagePurpose::KeyEncipherment];
        p.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        p.crl_distribution_points = vec![rcgen::CrlDistributionPoint { uris: vec!["http://crl.test/ca.crl".into()] }];
        p.custom_extensions = vec![
            rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], authority_info_access()),
            rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2], sct_list(2)),
        ];
    }
    p
}

impl Ca {
    pub fn issue(&self, leaf: &Leaf) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params(leaf).signed_by(&key, &self.issuer).unwrap();
        let chain = vec![cert.der().clone(), self.cert.der().clone()];
        Issued { cert, key, chain }
    }
}

/// A self-signed leaf.
pub fn self_signed(leaf: &Leaf) -> Issued {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params(leaf).self_signed(&key).unwrap();
    let chain = vec![cert.der().clone()];
    Issued { cert, key, chain }
}

// === DER for the extensions rcgen does not write ===

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// AuthorityInfoAccess with one OCSP and one CA-issuers URL.
fn authority_info_access() -> Vec<u8> {
    let desc = |last_arc: u8, uri: &str| {
        let oid = tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, last_arc]);
        tlv(0x30, &[oid, tlv(0x86, uri.as_bytes())].concat())
    };
    tlv(0x30, &[desc(1, "http://ocsp.test/"), desc(2, "http://ca.test/ca.der")].concat())
}

/// An SCT list extension value (RFC 6962: an OCTET STRING holding the
/// TLS-encoded list) with `n` timestamps.
fn sct_list(n: usize) -> Vec<u8> {
    let mut list = Vec::new();
    for i in 0..n {
        let mut sct = vec![0u8]; // v1
        sct.extend([i as u8; 32]); // log id
        sct.extend(1_700_000_000_000u64.to_be_bytes());
        sct.extend([0, 0]); // no extensions
        sct.extend([4, 3]); // sha256, ecdsa
        sct.extend([0, 4, 1, 2, 3, 4]); // a 4-byte signature
        list.extend((sct.len() as u16).to_be_bytes());
        list.extend(sct);
    }
    let mut tls = (list.len() as u16).to_be_bytes().to_vec();
    tls.extend(list);
    tlv(0x04, &tls)
}

// === servers ===

/// A TLS server presenting `issued.chain` on `ip:0` until dropped.
pub struct Site {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Site {
    pub async fn start(ip: &str, issued: &Issued) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(issued.chain.clone(), key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    a = listener.accept() => a.unwrap(),
                    _ = stopped.wait_for(|s| *s) => return,
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // Handshake, then hold the session until the client leaves.
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let mut buf = [0u8; 64];
                        let _ = tls.read(&mut buf).await;
                    }
                });
            }
        });
        Self { addr, stop }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A TCP server that accepts and never answers; it holds every connection
/// until [`Mute::release`], and counts them.
pub struct Mute {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    release: watch::Sender<u64>,
}

impl Mute {
    pub async fn start(ip: &str) -> Self {
        Self::start_counting(ip, Arc::new(AtomicUsize::new(0))).await
    }

    /// Counts into a shared counter (several servers, one count).
    pub async fn start_counting(ip: &str, accepted: Arc<AtomicUsize>) -> Self {
        let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (release, released) = watch::channel(0u64);
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let mut released = released.clone();
                let generation = *released.borrow();
                tokio::spawn(async move {
                    let _held: TcpStream = tcp;
                    let _ = released.wait_for(|g| *g > generation).await;
                });
            }
        });
        Self { addr, accepted, release }
    }

    /// Closes every connection held so far.
    pub fn release(&self) {
        self.release.send_modify(|g| *g += 1);
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A loopback port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls `f` every 20 ms until it is true, for at most `secs` seconds.
pub async fn eventually(secs: u64, mut f: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f().await
}
