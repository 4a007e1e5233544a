//! A real SMTP receiver on loopback: the `mailin` protocol state machine
//! driven over tokio TCP, with STARTTLS or implicit TLS through
//! tokio-rustls. (`mailin-embedded`, the ready-made server, offers STARTTLS
//! only, blocking, and pulls in aws-lc; implicit TLS needs this loop anyway.)

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mailin::{Action, AuthMechanism, Handler, Response, Session, SessionBuilder, response};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::Pki;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plaintext, no STARTTLS offered.
    Plain,
    /// Plaintext greeting, STARTTLS offered; AUTH only after it.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

/// One message as received.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub helo: String,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// `(user, password)` of a successful AUTH PLAIN.
    pub auth: Option<(String, String)>,
    /// Whether the message travelled over TLS.
    pub tls: bool,
}

impl Mail {
    /// The message body after the headers, quoted-printable decoded when
    /// the message says it is.
    pub fn body(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        if !head.contains("Content-Transfer-Encoding: quoted-printable") {
            return body.to_owned();
        }
        let joined = body.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
}

pub struct SmtpServer {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

/// Recipients whose address starts with this are refused with 550.
pub const REJECTED_PREFIX: &str = "nobody";

impl SmtpServer {
    pub async fn start(mode: Mode, pki: &Pki) -> SmtpServer {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(pki.cert_der.clone())], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = mails.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else { return };
                let (acceptor, store) = (acceptor.clone(), store.clone());
                tokio::spawn(async move {
                    let _ = serve(mode, stream, peer.ip(), acceptor, store).await;
                });
            }
        });
        SmtpServer { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

async fn serve(
    mode: Mode,
    stream: tokio::net::TcpStream,
    peer: IpAddr,
    acceptor: TlsAcceptor,
    store: Arc<Mutex<Vec<Mail>>>,
) -> io::Result<()> {
    let mut builder = SessionBuilder::new("oxmon-test-smtp");
    // With AUTH configured, mailin wants it before MAIL; the plain relay takes anyone.
    match mode {
        Mode::StartTls => {
            builder.enable_start_tls().enable_auth(AuthMechanism::Plain);
        }
        // mailin cannot know the socket is already TLS; AUTH is safe here.
        Mode::Implicit => {
            builder.enable_auth(AuthMechanism::Plain).insecure_enable_plaintext_auth();
        }
        Mode::Plain => {}
    }
    let tls_on = Arc::new(AtomicBool::new(mode == Mode::Implicit));
    let handler = Recorder { store, current: Mail::default(), auth: None, tls: tls_on.clone() };
    let mut session = builder.build(peer, handler);
    let greeting = session.greeting();
    match mode {
        Mode::Implicit => {
            let mut tls = BufReader::new(acceptor.accept(stream).await?);
            write(&mut tls, &greeting).await?;
            run(&mut session, &mut tls).await?;
        }
        Mode::Plain | Mode::StartTls => {
            let mut plain = BufReader::new(stream);
            write(&mut plain, &greeting).await?;
            if run(&mut session, &mut plain).await? {
                let mut tls = BufReader::new(acceptor.accept(plain.into_inner()).await?);
                tls_on.store(true, Ordering::SeqCst);
                session.tls_active();
                run(&mut session, &mut tls).await?;
            }
        }
    }
    Ok(())
}

/// Runs the session until it closes (false) or asks for TLS (true).
async fn run<S, H>(session: &mut Session<H>, stream: &mut BufReader<S>) -> io::Result<bool>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut line = Vec::new();
    loop {
        line.clear();
        if stream.read_until(b'\n', &mut line).await? == 0 {
            return Ok(false);
        }
        let res = session.process(&line);
        match res.action {
            Action::Reply => write(stream, &res).await?,
            Action::Close => {
                write(stream, &res).await?;
                return Ok(false);
            }
            Action::UpgradeTls => {
                write(stream, &res).await?;
                return Ok(true);
            }
            Action::NoReply => {}
        }
    }
}

async fn write<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut BufReader<S>, res: &Response) -> io::Result<()> {
    let mut buf = Vec::new();
    res.write_to(&mut buf)?;
    stream.get_mut().write_all(&buf).await?;
    stream.get_mut().flush().await
}

struct Recorder {
    store: Arc<Mutex<Vec<Mail>>>,
    current: Mail,
    auth: Option<(String, String)>,
    tls: Arc<AtomicBool>,
}

impl Handler for Recorder {
    fn helo(&mut self, _ip: IpAddr, domain: &str) -> Response {
        self.current.helo = domain.to_owned();
        response::OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.current.from = from.to_owned();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if to.starts_with(REJECTED_PREFIX) { response::NO_MAILBOX } else { response::OK }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current.to = to.to_vec();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut mail = std::mem::take(&mut self.current);
        mail.auth = self.auth.clone();
        mail.tls = self.tls.load(Ordering::SeqCst);
        self.current.helo = mail.helo.clone();
        self.store.lock().unwrap().push(mail);
        response::OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, authentication_id: &str, password: &str) -> Response {
        self.auth = Some((authentication_id.to_owned(), password.to_owned()));
        response::AUTH_OK
    }
}
