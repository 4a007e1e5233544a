//! E-mail config: SMTP server, TLS mode, credentials, sender, custom CA.

use std::fmt;

use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, CertificateStore, TlsParameters};

use crate::channel::ConfigError;
use crate::channel::fields::Fields;
use crate::secret::Secret;

const KEYS: &[&str] =
    &["smtp_host", "smtp_port", "smtp_username", "smtp_password", "from_name", "from_email", "tls", "ca_file"];

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// Plaintext, then `STARTTLS`, which the server must offer.
    StartTls,
    /// Plaintext throughout (trusted local relays only).
    None,
}

impl TlsMode {
    /// The default for a port: STARTTLS on the submission and relay ports
    /// (587, 25), implicit TLS elsewhere (oxmon 0.1 used implicit TLS on
    /// every port, which made 587 fail).
    pub fn for_port(port: u16) -> Self {
        match port {
            25 | 587 => TlsMode::StartTls,
            _ => TlsMode::Implicit,
        }
    }
}

pub struct EmailConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: TlsMode,
    pub(crate) tls_parameters: TlsParameters,
    /// Used only when both a user name and a password are set.
    pub(crate) credentials: Option<(String, Secret)>,
    pub(crate) from: Mailbox,
    pub(crate) ca_file: Option<String>,
}

impl EmailConfig {
    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, ConfigError> {
        f.only(KEYS)?;
        let host = f.string("smtp_host")?;
        let port = f.port("smtp_port")?;
        let tls = match f.opt_string("tls")?.as_deref() {
            None => TlsMode::for_port(port),
            Some("implicit") => TlsMode::Implicit,
            Some("starttls") => TlsMode::StartTls,
            Some("none") => TlsMode::None,
            Some(other) => return Err(f.error(format!("tls must be implicit, starttls or none, got {other:?}"))),
        };
        let from_email = f.string("from_email")?;
        // 0.1 required the key; here an absent or empty name sends the bare address.
        let from_name = f.opt_string("from_name")?;
        let email = from_email
            .parse()
            .map_err(|e| f.error(format!("from_email must be an e-mail address, got {from_email:?}: {e}")))?;
        let from = Mailbox::new(from_name, email);
        let credentials = match (f.opt_string("smtp_username")?, f.opt_secret("smtp_password")?) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => None,
        };
        let ca_file = f.opt_string("ca_file")?;
        let mut params = TlsParameters::builder(host.clone());
        if let Some(path) = &ca_file {
            let pem = std::fs::read(path).map_err(|e| f.error(format!("ca_file {path:?} cannot be read: {e}")))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(f.error(format!("ca_file {path:?} holds no PEM certificate")));
            }
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| f.error(format!("ca_file {path:?} holds no valid PEM certificate: {e}")))?;
            // Only the given CA is trusted for this server.
            params = params.certificate_store(CertificateStore::None).add_root_certificate(cert);
        }
        let tls_parameters =
            params.build().map_err(|e| f.error(format!("cannot set up TLS for smtp_host {host:?}: {e}")))?;
        Ok(Self { host, port, tls, tls_parameters, credentials, from, ca_file })
    }

    pub fn tls(&self) -> TlsMode {
        self.tls
    }
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from.to_string())
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelConfig;

    fn parse(config: &str) -> Result<EmailConfig, ConfigError> {
        match ChannelConfig::parse("email", config) {
            Ok(ChannelConfig::Email(c)) => Ok(c),
            Ok(_) => panic!("not email"),
            Err(e) => Err(e),
        }
    }

    const BASE: &str = r#""smtp_host":"smtp.example.com","from_name":"oxmon","from_email":"alerts@example.com""#;

    #[test]
    fn tls_follows_the_port_unless_given() {
        let tls = |extra: &str| parse(&format!("{{{BASE},{extra}}}")).unwrap().tls();
        assert_eq!(tls(r#""smtp_port":465"#), TlsMode::Implicit);
        assert_eq!(tls(r#""smtp_port":587"#), TlsMode::StartTls);
        assert_eq!(tls(r#""smtp_port":587,"tls":"none""#), TlsMode::None);
        assert_eq!(tls(r#""smtp_port":2525,"tls":"starttls""#), TlsMode::StartTls);
        let e = parse(&format!(r#"{{{BASE},"smtp_port":25,"tls":"ssl"}}"#)).unwrap_err();
        assert_eq!(e.to_string(), "email config: tls must be implicit, starttls or none, got \"ssl\"");
    }

    #[test]
    fn auth_needs_both_user_and_password() {
        let c = parse(&format!(r#"{{{BASE},"smtp_port":465,"smtp_username":"u"}}"#)).unwrap();
        assert!(c.credentials.is_none());
        let c = parse(&format!(r#"{{{BASE},"smtp_port":465,"smtp_username":"u","smtp_password":"p"}}"#)).unwrap();
        assert_eq!(c.credentials.as_ref().map(|(u, p)| (u.as_str(), p.expose())), Some(("u", "p")));
        assert!(!format!("{c:?}").contains("\"p\""), "password stays out of Debug");
    }

    #[test]
    fn bad_values_name_their_key() {
        let e =
            parse(r#"{"smtp_host":"h","smtp_port":465,"from_name":"n","from_email":"not an address"}"#).unwrap_err();
        assert!(e.to_string().starts_with("email config: from_email must be an e-mail address"), "{e}");
        let e = parse(&format!(r#"{{{BASE},"smtp_port":465,"ca_file":"/nonexistent/ca.pem"}}"#)).unwrap_err();
        assert!(e.to_string().starts_with("email config: ca_file \"/nonexistent/ca.pem\" cannot be read"), "{e}");
        let e = parse(r#"{"smtp_host":"h","smtp_port":0,"from_email":"a@b.c"}"#).unwrap_err();
        assert_eq!(e.to_string(), "email config: smtp_port must be a port number from 1 to 65535, got 0");
    }
}
