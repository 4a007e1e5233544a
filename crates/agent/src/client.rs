//! The gRPC client: one lazily (re)connected channel to the server, TLS settings,
//! per-request deadline and the auth metadata.

use std::time::Duration;

use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_common::proto::{MetricBatchProto, ReportResponse};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tracing::{debug, info};

use crate::config::AgentConfig;
use crate::{Error, Result};

const AUTHORIZATION: &str = "authorization";
const AGENT_ID: &str = "agent-id";

/// Reports batches to the server, connecting on demand.
#[derive(Debug)]
pub(crate) struct Client {
    endpoint: Endpoint,
    client: Option<MetricServiceClient<Channel>>,
    auth: Option<AuthMetadata>,
    timeout: Duration,
    max_message_bytes: usize,
    /// Connections made so far; only the first is logged above DEBUG.
    connections: u64,
}

/// Why a report did not get a response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("cannot connect to the server: {}", crate::error_chain(.0))]
    Connect(tonic::transport::Error),
    #[error("report failed: {}", status_text(.0))]
    Status(tonic::Status),
}

impl ReportError {
    /// Errors that persist until the configuration or the server's whitelist changes.
    pub(crate) fn needs_operator(&self) -> bool {
        matches!(self, Self::Status(s)
            if matches!(s.code(), tonic::Code::Unauthenticated | tonic::Code::PermissionDenied))
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
            connections: 0,
        })
    }

    /// Sends one batch. Any error drops the connection; the next call reconnects.
    pub(crate) async fn report(&mut self, batch: MetricBatchProto) -> std::result::Result<ReportResponse, ReportError> {
        let client = match &mut self.client {
            Some(client) => client,
            None => {
                let channel = self.endpoint.connect().await.map_err(ReportError::Connect)?;
                self.connections += 1;
                if self.connections == 1 {
                    info!(endpoint = %self.endpoint.uri(), "connected to server");
                } else {
                    debug!(endpoint = %self.endpoint.uri(), "reconnected to server");
                }
                self.client.insert(MetricServiceClient::new(channel).max_encoding_message_size(self.max_message_bytes))
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
                Err(ReportError::Status(status))
            }
        }
    }
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
