//! Errors hyper answers by itself, before a request reaches the router,
//! given the JSON envelope and `X-Trace-Id` like every other error: a
//! request URI over 65,534 bytes (414), a request head over hyper's buffer
//! (431) and a request hyper cannot parse (400).
//!
//! hyper writes these responses with an empty body and then closes the
//! connection, and neither hyper nor axum lets them be customised. So the
//! HTTP listener wraps each connection's writes: a write that is exactly
//! such a bare response head (an error status line, `content-length: 0`,
//! nothing after the blank line) is replaced by the enveloped response.
//! The router never writes such a head: every error it answers has an
//! enveloped body, and JSON bodies cannot contain a CR LF.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::serve::{Listener, ListenerExt, TapIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::response::{TRACE_HEADER, code, new_trace_id};

/// Statuses of hyper's own responses, and what the envelope says.
const HYPER_ERRORS: &[(&str, &str)] = &[
    ("400", "malformed HTTP request"),
    ("414", "request URI too long: at most 65534 bytes"),
    ("431", "request headers too large"),
];

/// The HTTP listener: a [`TcpListener`] whose connections envelope hyper's
/// own error responses. (`tap_io` makes axum's `ConnectInfo<SocketAddr>`
/// available for it.)
pub fn listener(tcp: TcpListener) -> TapIo<EnvelopingListener, fn(&mut EnvelopingIo<TcpStream>)> {
    fn keep(_: &mut EnvelopingIo<TcpStream>) {}
    EnvelopingListener(tcp).tap_io(keep as fn(&mut EnvelopingIo<TcpStream>))
}

#[derive(Debug)]
pub struct EnvelopingListener(TcpListener);

impl Listener for EnvelopingListener {
    type Io = EnvelopingIo<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = Listener::accept(&mut self.0).await;
        (EnvelopingIo { inner: io, pending: None }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose bare hyper error responses are enveloped.
#[derive(Debug)]
pub struct EnvelopingIo<T> {
    inner: T,
    pending: Option<Pending>,
}

/// A replacement being written; `claimed` is the length of hyper's write
/// it stands for.
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    written: usize,
    claimed: usize,
}

impl<T: AsyncRead + Unpin> AsyncRead for EnvelopingIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EnvelopingIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut p = match this.pending.take() {
            Some(p) => p,
            None => match enveloped(buf) {
                Some(bytes) => Pending { bytes, written: 0, claimed: buf.len() },
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            },
        };
        while p.written < p.bytes.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &p.bytes[p.written..]) {
                Poll::Pending => {
                    this.pending = Some(p);
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => p.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(p.claimed))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The enveloped replacement of `buf` when `buf` is exactly one of hyper's
/// bare error responses.
fn enveloped(buf: &[u8]) -> Option<Vec<u8>> {
    if !buf.starts_with(b"HTTP/1.1 4") || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(&buf[..buf.len() - 4]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.get(9..12)?;
    let (_, message) = HYPER_ERRORS.iter().find(|(s, _)| *s == status)?;
    let mut headers = Vec::new();
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => empty = value.trim() == "0",
            "transfer-encoding" | "content-type" => return None,
            _ => headers.push(line),
        }
    }
    if !empty {
        return None;
    }
    let trace_id = new_trace_id();
    let body = serde_json::json!({
        "err_code": code::BAD_REQUEST,
        "err_msg": message,
        "trace_id": trace_id,
        "data": null,
    })
    .to_string();
    let mut out = format!("{status_line}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "content-type: application/json\r\n{TRACE_HEADER}: {trace_id}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_error_heads_are_enveloped() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Tue, 08 Dec 2026 01:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(enveloped(bare).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("date: Tue, 08 Dec 2026 01:00:00 GMT"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["err_code"], 1001);
        assert!(head.contains(&format!("x-trace-id: {}", v["trace_id"].as_str().unwrap())), "{head}");

        // The router's own responses always have a body, or another status.
        for other in [
            &b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n",
        ] {
            assert!(enveloped(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
    }
}
