//! Everything the inventory records about a leaf certificate, read from
//! its DER with `x509-parser` (field meanings in spec/semantics.md §7.2).
//!
//! Unlike oxmon 0.1, the SCT count comes from the parsed SCT list (0.1 read
//! the extension bytes without unwrapping the inner OCTET STRING).

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::Oid;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_SHA1WITHRSA, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, OID_PKIX_ACCESS_DESCRIPTOR_OCSP, OID_SIG_ECDSA_WITH_SHA256,
    OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ECDSA_WITH_SHA512, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Name};
use x509_parser::x509::AttributeTypeAndValue;

/// A parsed leaf certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Certificate {
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// The issuer's full distinguished name, e.g. `CN=R3, O=Let's Encrypt, C=US`.
    pub issuer: String,
    /// The subject's full distinguished name.
    pub subject: String,
    pub issuer_cn: Option<String>,
    pub issuer_o: Option<String>,
    pub issuer_ou: Option<String>,
    pub issuer_c: Option<String>,
    pub subject_cn: Option<String>,
    pub subject_o: Option<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP-address subject alternative names.
    pub ip_addresses: Vec<String>,
    /// Lowercase hex bytes joined by `:`.
    pub serial_number: String,
    /// SHA-256 of the DER, uppercase hex bytes joined by `:`.
    pub fingerprint_sha256: String,
    /// 1, 2 or 3.
    pub version: i64,
    /// `SHA256withRSA`, `ECDSAwithSHA256`, `Ed25519`, …, else the dotted OID.
    pub signature_algorithm: String,
    /// `RSA`, `ECDSA`, `Ed25519`, else the dotted OID.
    pub public_key_algorithm: String,
    pub public_key_bits: Option<i64>,
    /// `None` without a key-usage extension.
    pub key_usage: Option<Vec<String>>,
    /// `None` without an extended-key-usage extension.
    pub extended_key_usage: Option<Vec<String>>,
    pub is_ca: bool,
    /// Some DNS name starts with `*.`.
    pub is_wildcard: bool,
    pub ocsp_urls: Vec<String>,
    pub ca_issuer_urls: Vec<String>,
    pub crl_urls: Vec<String>,
    /// Signed certificate timestamps embedded in the certificate.
    pub sct_count: i64,
    /// Issuer and subject are the same name (a self-signed certificate).
    pub self_issued: bool,
}

impl Certificate {
    /// DNS and IP subject alternative names, in that order.
    pub fn subject_alt_names(&self) -> Vec<String> {
        self.dns_names.iter().chain(&self.ip_addresses).cloned().collect()
    }
}

/// Parses a DER certificate; the error says what is wrong.
pub fn parse(der: &[u8]) -> Result<Certificate, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("cannot parse the certificate: {e}"))?;
    let mut out = Certificate {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        issuer: cert.issuer().to_string(),
        subject: cert.subject().to_string(),
        issuer_cn: first(cert.issuer().iter_common_name()),
        issuer_o: first(cert.issuer().iter_organization()),
        issuer_ou: first(cert.issuer().iter_organizational_unit()),
        issuer_c: first(cert.issuer().iter_country()),
        subject_cn: first(cert.subject().iter_common_name()),
        subject_o: first(cert.subject().iter_organization()),
        serial_number: cert.raw_serial_as_string(),
        fingerprint_sha256: hex_upper(&Sha256::digest(der)),
        version: i64::from(cert.version().0) + 1,
        signature_algorithm: signature_algorithm(&cert.signature_algorithm.algorithm),
        is_ca: cert.is_ca(),
        self_issued: same_name(cert.issuer(), cert.subject()),
        ..Certificate::default()
    };
    (out.public_key_algorithm, out.public_key_bits) = public_key(&cert);
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => out.dns_names.push((*d).to_owned()),
                        GeneralName::IPAddress(bytes) => out.ip_addresses.extend(ip_address(bytes)),
                        _ => {}
                    }
                }
            }
            ParsedExtension::KeyUsage(ku) => {
                let flags = [
                    (ku.digital_signature(), "digital_signature"),
                    (ku.non_repudiation(), "non_repudiation"),
                    (ku.key_encipherment(), "key_encipherment"),
                    (ku.data_encipherment(), "data_encipherment"),
                    (ku.key_agreement(), "key_agreement"),
                    (ku.key_cert_sign(), "key_cert_sign"),
                    (ku.crl_sign(), "crl_sign"),
                    (ku.encipher_only(), "encipher_only"),
                    (ku.decipher_only(), "decipher_only"),
                ];
                out.key_usage = Some(flags.iter().filter(|(on, _)| *on).map(|(_, n)| (*n).to_owned()).collect());
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let flags = [
                    (eku.server_auth, "server_auth"),
                    (eku.client_auth, "client_auth"),
                    (eku.code_signing, "code_signing"),
                    (eku.email_protection, "email_protection"),
                    (eku.time_stamping, "time_stamping"),
                    (eku.ocsp_signing, "ocsp_signing"),
                    (eku.any, "any"),
                ];
                let mut names: Vec<String> = flags.iter().filter(|(on, _)| *on).map(|(_, n)| (*n).to_owned()).collect();
                names.extend(eku.other.iter().map(Oid::to_id_string));
                out.extended_key_usage = Some(names);
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    let GeneralName::URI(uri) = desc.access_location else { continue };
                    if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP {
                        out.ocsp_urls.push(uri.to_owned());
                    } else if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS {
                        out.ca_issuer_urls.push(uri.to_owned());
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in &points.points {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                        out.crl_urls.extend(names.iter().filter_map(|n| match n {
                            GeneralName::URI(uri) => Some((*uri).to_owned()),
                            _ => None,
                        }));
                    }
                }
            }
            ParsedExtension::SCT(list) => out.sct_count += i64::try_from(list.len()).unwrap_or(i64::MAX),
            _ => {}
        }
    }
    out.is_wildcard = out.dns_names.iter().any(|d| d.starts_with("*."));
    Ok(out)
}

fn first<'a, 'b: 'a>(mut attrs: impl Iterator<Item = &'a AttributeTypeAndValue<'b>>) -> Option<String> {
    attrs.find_map(|a| a.as_str().ok()).map(str::to_owned)
}

fn same_name(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw()
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn ip_address(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(|b| IpAddr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes).ok().map(|b| IpAddr::from(b).to_string()),
        _ => None,
    }
}

fn signature_algorithm(oid: &Oid<'_>) -> String {
    let known = [
        (&OID_PKCS1_SHA256WITHRSA, "SHA256withRSA"),
        (&OID_PKCS1_SHA384WITHRSA, "SHA384withRSA"),
        (&OID_PKCS1_SHA512WITHRSA, "SHA512withRSA"),
        (&OID_PKCS1_SHA1WITHRSA, "SHA1withRSA"),
        (&OID_SIG_ECDSA_WITH_SHA256, "ECDSAwithSHA256"),
        (&OID_SIG_ECDSA_WITH_SHA384, "ECDSAwithSHA384"),
        (&OID_SIG_ECDSA_WITH_SHA512, "ECDSAwithSHA512"),
        (&OID_SIG_ED25519, "Ed25519"),
    ];
    known.iter().find(|(o, _)| *o == oid).map_or_else(|| oid.to_id_string(), |(_, name)| (*name).to_owned())
}

/// The key's algorithm name and size in bits.
fn public_key(cert: &X509Certificate<'_>) -> (String, Option<i64>) {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => Some(unsigned_bits(rsa.modulus)),
            _ => None,
        };
        ("RSA".into(), bits)
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| Oid::try_from(p).ok());
        let bits = match curve {
            Some(c) if c == OID_EC_P256 => Some(256),
            Some(c) if c == OID_NIST_EC_P384 => Some(384),
            Some(c) if c == OID_NIST_EC_P521 => Some(521),
            _ => spki.parsed().ok().map(|k| k.key_size()).filter(|b| *b > 0).and_then(|b| i64::try_from(b).ok()),
        };
        ("ECDSA".into(), bits)
    } else if *alg == OID_SIG_ED25519 {
        ("Ed25519".into(), Some(256))
    } else {
        (alg.to_id_string(), None)
    }
}

/// Bits of a big-endian unsigned integer (leading zero bytes and bits
/// ignored).
fn unsigned_bits(bytes: &[u8]) -> i64 {
    let Some(start) = bytes.iter().position(|b| *b != 0) else { return 0 };
    let len = i64::try_from(bytes.len() - start).unwrap_or(i64::MAX / 8);
    (len - 1) * 8 + i64::from(8 - bytes[start].leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names_are_rendered_as_the_inventory_shows_them() {
        assert_eq!(unsigned_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(unsigned_bits(&[0x01, 0xff]), 9);
        assert_eq!(unsigned_bits(&[0, 0]), 0);
        assert_eq!(hex_upper(&[0x0a, 0xff]), "0A:FF");
        assert_eq!(ip_address(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        assert_eq!(ip_address(&[0; 3]), None);
        assert_eq!(signature_algorithm(&OID_SIG_ECDSA_WITH_SHA384), "ECDSAwithSHA384");
        assert_eq!(signature_algorithm(&OID_EC_P256), "1.2.840.10045.3.1.7");
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(parse(b"not a certificate").unwrap_err().starts_with("cannot parse the certificate"));
    }
}
