//! The gRPC client: one lazily (re)connected channel to the server, TLS settings,
//! per-request deadline and the auth metadata; and the diagnosis of an endpoint that
//! answers plain HTTP instead of gRPC.

use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_common::proto::{MetricBatchProto, ReportResponse};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::codegen::{BoxFuture, Service, StdError};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tracing::debug;

use crate::config::AgentConfig;
use crate::{Error, Result};

const AUTHORIZATION: &str = "authorization";
const AGENT_ID: &str = "agent-id";

/// Reports batches to the server, connecting on demand.
#[derive(Debug)]
pub(crate) struct Client {
    endpoint: Endpoint,
    client: Option<MetricServiceClient<GrpcOnly>>,
    auth: Option<AuthMetadata>,
    timeout: Duration,
    max_message_bytes: usize,
}

/// Why a report did not get a response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("cannot connect to the server: {}", crate::error_chain(.0))]
    Connect(tonic::transport::Error),
    #[error("report failed: {}", status_text(.0))]
    Status(tonic::Status),
    #[error("report failed: {0}")]
    NotGrpc(NotGrpc),
}

/// The endpoint answered a gRPC request with something else than gRPC.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the server answered HTTP {status} with content-type {content_type:?}, not a gRPC response")]
pub(crate) struct NotGrpc {
    pub status: http::StatusCode,
    pub content_type: String,
}

impl ReportError {
    /// Errors that persist until the configuration or the server's whitelist changes.
    pub(crate) fn needs_operator(&self) -> bool {
        match self {
            Self::Status(s) => matches!(s.code(), tonic::Code::Unauthenticated | tonic::Code::PermissionDenied),
            Self::NotGrpc(_) => true,
            Self::Connect(_) => false,
        }
    }

    /// Failures after which it is worth checking whether the endpoint speaks HTTP/1 (an HTTP
    /// port instead of the gRPC one): protocol errors, not a refused or timed-out connection
    /// and not an answer from a gRPC server.
    pub(crate) fn may_be_http1(&self) -> bool {
        match self {
            Self::Connect(e) => {
                !has_io_error(e, &[std::io::ErrorKind::ConnectionRefused, std::io::ErrorKind::TimedOut])
            }
            Self::Status(s) => {
                matches!(s.code(), tonic::Code::Unknown | tonic::Code::Internal | tonic::Code::Unavailable)
                    && !has_io_error(s, &[std::io::ErrorKind::ConnectionRefused, std::io::ErrorKind::TimedOut])
            }
            Self::NotGrpc(_) => false,
        }
    }
}

#[derive(Clone)]
struct AuthMetadata {
    authorization: AsciiMetadataValue,
    agent_id: AsciiMetadataValue,
}

impl std::fmt::Debug for AuthMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthMetadata").field("agent_id", &self.agent_id).finish_non_exhaustive()
    }
}

impl Client {
    /// Prepares the endpoint (and TLS connector); does not connect yet.
    pub(crate) fn new(config: &AgentConfig) -> Result<Self> {
        let mut endpoint = Endpoint::from(config.endpoint.clone())
            .connect_timeout(config.request_timeout)
            .timeout(config.request_timeout);
        if config.uses_tls() {
            endpoint = match endpoint.clone().tls_config(tls_config(config, true)) {
                Ok(endpoint) => endpoint,
                // NB: tonic fails when the system store is empty (e.g. a distroless image);
                // the built-in webpki roots still work there.
                Err(e) if config.tls.ca_pem.is_none() => {
                    debug!(error = %crate::error_chain(&e), "no system roots, using webpki roots");
                    endpoint.tls_config(tls_config(config, false)).map_err(Error::Tls)?
                }
                Err(e) => return Err(Error::Tls(e)),
            };
        }
        let auth = match &config.auth_token {
            Some(token) => {
                let mut authorization: AsciiMetadataValue =
                    MetadataValue::try_from(format!("Bearer {}", token.expose()))
                        .map_err(|_| Error::Metadata("auth_token"))?;
                authorization.set_sensitive(true);
                let agent_id =
                    MetadataValue::try_from(config.agent_id.as_str()).map_err(|_| Error::Metadata("agent_id"))?;
                Some(AuthMetadata { authorization, agent_id })
            }
            None => None,
        };
        Ok(Self {
            endpoint,
            client: None,
            auth,
            timeout: config.request_timeout,
            max_message_bytes: config.max_message_bytes,
        })
    }

    /// Sends one batch. Any error drops the connection; the next call reconnects.
    pub(crate) async fn report(&mut self, batch: MetricBatchProto) -> std::result::Result<ReportResponse, ReportError> {
        let client = match &mut self.client {
            Some(client) => client,
            None => {
                let channel = self.endpoint.connect().await.map_err(ReportError::Connect)?;
                // NB: DEBUG only: a connection proves nothing (an HTTP port accepts it too);
                // the sender logs the first stored report.
                debug!(endpoint = %self.endpoint.uri(), "connected to server");
                self.client.insert(
                    MetricServiceClient::new(GrpcOnly(channel)).max_encoding_message_size(self.max_message_bytes),
                )
            }
        };
        let mut request = tonic::Request::new(batch);
        request.set_timeout(self.timeout);
        if let Some(auth) = &self.auth {
            let metadata = request.metadata_mut();
            metadata.insert(AUTHORIZATION, auth.authorization.clone());
            metadata.insert(AGENT_ID, auth.agent_id.clone());
        }
        match client.report_metrics(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => {
                debug!(code = ?status.code(), "dropping the connection after a failed report");
                self.client = None;
                let not_grpc = std::error::Error::source(&status).and_then(|e| e.downcast_ref::<NotGrpc>()).cloned();
                Err(not_grpc.map_or(ReportError::Status(status), ReportError::NotGrpc))
            }
        }
    }
}

/// The channel, refusing any response that is not gRPC (`content-type: application/grpc…`)
/// with [`NotGrpc`]: otherwise an HTTP server that speaks h2 (a web port) makes tonic read
/// its HTML as gRPC frames and report an obscure "compression flag" protocol error.
#[derive(Clone, Debug)]
pub(crate) struct GrpcOnly(Channel);

impl Service<http::Request<tonic::body::Body>> for GrpcOnly {
    type Response = http::Response<tonic::body::Body>;
    type Error = StdError;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let response = self.0.call(request);
        Box::pin(async move {
            let response = response.await?;
            let content_type = response.headers().get(http::header::CONTENT_TYPE);
            if content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/grpc")) {
                return Ok(response);
            }
            let content_type = content_type.map_or_else(
                || "none".to_owned(),
                |v| String::from_utf8_lossy(v.as_bytes()).chars().take(100).collect(),
            );
            Err(NotGrpc { status: response.status(), content_type }.into())
        })
    }
}

/// Sends a plain HTTP/1.1 request to a non-TLS `endpoint` and returns the status line when
/// the answer is HTTP/1 (a gRPC server, which speaks only HTTP/2, never answers one).
pub(crate) async fn probe_http1(endpoint: &Uri, timeout: Duration) -> Option<String> {
    if endpoint.scheme_str() != Some("http") {
        return None;
    }
    let host = endpoint.host()?;
    let port = endpoint.port_u16().unwrap_or(80);
    let probe = async {
        let address = host.trim_start_matches('[').trim_end_matches(']');
        let mut stream = tokio::net::TcpStream::connect((address, port)).await.ok()?;
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: oxmon-agent\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::with_capacity(256);
        let mut chunk = [0u8; 256];
        while answer.len() < 256 && !answer.contains(&b'\n') {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        if !answer.starts_with(b"HTTP/1.") {
            return None;
        }
        let line = answer.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
        Some(String::from_utf8_lossy(line).chars().filter(|c| !c.is_control()).take(100).collect())
    };
    tokio::time::timeout(timeout, probe).await.ok().flatten()
}

/// Whether an `std::io::Error` of one of `kinds` is in `e`'s source chain.
fn has_io_error(e: &(dyn std::error::Error + 'static), kinds: &[std::io::ErrorKind]) -> bool {
    let mut next = Some(e);
    while let Some(error) = next {
        if error.downcast_ref::<std::io::Error>().is_some_and(|io| kinds.contains(&io.kind())) {
            return true;
        }
        next = error.source();
    }
    false
}

/// `CODE: message` plus the status's source chain (which names the transport failure).
fn status_text(status: &tonic::Status) -> String {
    let (code, message) = (status.code(), status.message());
    match std::error::Error::source(status).map(crate::error_chain) {
        Some(cause) if cause.contains(message) => format!("{code:?}: {cause}"),
        Some(cause) => format!("{code:?}: {message}: {cause}"),
        None => format!("{code:?}: {message}"),
    }
}

/// Trust settings: the configured CA bundle only, or else the webpki roots plus (when
/// `system_roots`) the system store.
fn tls_config(config: &AgentConfig, system_roots: bool) -> ClientTlsConfig {
    let mut tls = ClientTlsConfig::new().timeout(config.request_timeout);
    tls = match &config.tls.ca_pem {
        Some(pem) => tls.ca_certificate(Certificate::from_pem(&pem.0)),
        None if system_roots => tls.with_native_roots().with_webpki_roots(),
        None => tls.with_webpki_roots(),
    };
    if let Some(name) = &config.tls.server_name {
        tls = tls.domain_name(name.clone());
    }
    tls
}
