//! Test harness: a recording `MetricService` on loopback, a deterministic source and
//! helpers to run an in-process agent.

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxmon_agent::{AgentConfig, RunStats};
use oxmon_common::metric::Metric;
use oxmon_common::proto::metric_service_server::{MetricService, MetricServiceServer};
use oxmon_common::proto::{MetricBatchProto, ReportResponse};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};
use tracing::instrument::WithSubscriber as _;

/// Metric name of [`SeqSource`] points; the value is the point's sequence number.
pub const SEQ_METRIC: &str = "test.seq";

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub batch: MetricBatchProto,
    pub authorization: Option<String>,
    pub agent_id_metadata: Option<String>,
    pub encoded_len: usize,
    /// What the server answered.
    pub reply: Reply,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Stored,
    Rejected {
        permanent: bool,
    },
    /// gRPC status UNAUTHENTICATED, as a server with auth on answers a bad token.
    Unauthenticated,
    /// `success = false, permanent = true` with this message, as the server refuses points
    /// outside its accepted time window.
    Refused(String),
}

/// Decides the answer to a request.
pub type Policy = Arc<dyn Fn(&MetricBatchProto) -> Reply + Send + Sync>;

/// Everything the server received, shared across restarts.
#[derive(Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<Received>>>);

impl Recording {
    pub fn requests(&self) -> Vec<Received> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Sequence values of all stored points, in arrival order.
    pub fn stored_values(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.reply == Reply::Stored)
            .flat_map(|r| r.batch.data_points.iter().map(|p| p.value as u64))
            .collect()
    }
}

struct Recorder {
    recording: Recording,
    policy: Policy,
}

#[tonic::async_trait]
impl MetricService for Recorder {
    async fn report_metrics(&self, request: Request<MetricBatchProto>) -> Result<Response<ReportResponse>, Status> {
        let meta = |key: &str| request.metadata().get(key).map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned());
        let authorization = meta("authorization");
        let agent_id_metadata = meta("agent-id");
        let batch = request.into_inner();
        let reply = (self.policy)(&batch);
        let response = match reply {
            Reply::Stored => Ok(ReportResponse { success: true, message: "ok".into(), ..Default::default() }),
            Reply::Rejected { permanent } => Ok(ReportResponse {
                success: false,
                message: "rejected by test".into(),
                permanent,
                ..Default::default()
            }),
            Reply::Unauthenticated => Err(Status::unauthenticated("Invalid token")),
            Reply::Refused(ref message) => {
                Ok(ReportResponse { success: false, message: message.clone(), permanent: true, ..Default::default() })
            }
        };
        let encoded_len = batch.encoded_len();
        self.recording.0.lock().unwrap().push(Received { batch, authorization, agent_id_metadata, encoded_len, reply });
        response.map(Response::new)
    }
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// PEM certificate and key of a TLS server.
#[derive(Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestServer {
    /// Stores everything, on an ephemeral port.
    pub async fn start(recording: &Recording) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), recording, store_all(), None).await
    }

    pub async fn start_on(addr: SocketAddr, recording: &Recording, policy: Policy, tls: Option<ServerTls>) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = MetricServiceServer::new(Recorder { recording: recording.clone(), policy });
        let (stop, stopped) = oneshot::channel::<()>();
        let mut builder = Server::builder();
        if let Some(tls) = tls {
            let identity = Identity::from_pem(tls.cert_pem, tls.key_pem);
            builder = builder.tls_config(ServerTlsConfig::new().identity(identity)).unwrap();
        }
        let router = builder.add_service(service);
        let task = tokio::spawn(async move {
            let incoming = TcpListenerStream::new(listener);
            let _ = router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { addr, stop: Some(stop), task }
    }

    /// Graceful stop: in-flight requests are answered, then the port is released.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        self.task.abort();
    }
}

pub fn store_all() -> Policy {
    Arc::new(|_| Reply::Stored)
}

/// A loopback address nothing listens on (yet).
pub async fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Emits `points_per_cycle` points per collection, numbered 1, 2, 3, … across cycles.
#[derive(Clone, Default)]
pub struct SeqSource {
    /// Points produced so far.
    pub produced: Arc<AtomicU64>,
}

impl SeqSource {
    pub fn source(&self, points_per_cycle: u64) -> impl FnMut() -> Vec<Metric> + Send + 'static {
        let produced = self.produced.clone();
        move || {
            let first = produced.fetch_add(points_per_cycle, Ordering::SeqCst) + 1;
            (first..first + points_per_cycle).map(|v| Metric::new(SEQ_METRIC, v as f64)).collect()
        }
    }

    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::SeqCst)
    }
}

/// A config for tests: fast interval, short backoff and flush.
pub fn test_config(addr: SocketAddr, extra_toml: &str) -> AgentConfig {
    let text = format!("agent_id = \"test-agent\"\nserver_endpoint = \"{addr}\"\n{extra_toml}");
    let mut config = AgentConfig::from_toml_str(&text, &oxmon_agent::config::NoEnv).unwrap();
    config.collection_interval = Duration::from_millis(50);
    config.request_timeout = Duration::from_secs(2);
    config.backoff.base = Duration::from_millis(20);
    config.backoff.max = Duration::from_millis(200);
    config.flush_timeout = Duration::from_secs(2);
    config
}

/// An agent running in the background until [`Agent::stop`].
pub struct Agent {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<oxmon_agent::Result<RunStats>>,
}

impl Agent {
    pub fn spawn(config: AgentConfig, source: impl oxmon_agent::Source) -> Self {
        init_logs();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(oxmon_agent::run(config, source, shutdown));
        Self { stop: Some(stop), task }
    }

    /// Like [`Agent::spawn`], capturing the agent's log lines (INFO and above, no colours).
    pub fn spawn_logged(config: AgentConfig, source: impl oxmon_agent::Source) -> (Self, Logs) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(oxmon_agent::run(config, source, shutdown).with_subscriber(subscriber));
        (Self { stop: Some(stop), task }, logs)
    }

    /// Signals shutdown and returns the run's counters.
    pub async fn stop(mut self) -> RunStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stats = tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("agent stops in time")
            .expect("agent task")
            .expect("agent run");
        assert_eq!(
            stats.batches_sent + stats.batches_rejected + stats.batches_dropped + stats.batches_unsent,
            stats.batches_collected,
            "every batch is accounted for once: {stats:?}"
        );
        stats
    }
}

/// Log output captured by [`Agent::spawn_logged`].
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines containing `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text().lines().filter(|l| l.contains(needle)).map(str::to_owned).collect()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The value of `name=value` in a log line (quotes kept), or panics.
#[track_caller]
pub fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line.find(&format!(" {name}=")).map(|i| i + name.len() + 2);
    let Some(start) = start else { panic!("no field {name} in: {line}") };
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"').map_or(rest.len(), |i| i + 2);
        &rest[..end]
    } else {
        rest.split(' ').next().unwrap_or_default()
    }
}

/// The numeric value of `name=` in a log line, or panics.
#[track_caller]
pub fn number(line: &str, name: &str) -> u64 {
    let text = field(line, name);
    text.parse().unwrap_or_else(|_| panic!("{name}={text} is not a number in: {line}"))
}

/// Captured logs (shown for failing tests); the filter comes from `RUST_LOG`, default `info`.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// Polls `condition` every 10 ms until it holds; panics after `limit`.
#[track_caller]
pub fn wait_until(
    limit: Duration,
    what: &'static str,
    mut condition: impl FnMut() -> bool,
) -> impl Future<Output = ()> {
    let caller = std::panic::Location::caller();
    async move {
        let deadline = tokio::time::Instant::now() + limit;
        while !condition() {
            if tokio::time::Instant::now() > deadline {
                panic!("timed out after {limit:?} waiting for {what} ({caller})");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Asserts `values` is exactly `1..=n`.
#[track_caller]
pub fn assert_exactly_once_in_order(values: &[u64], n: u64) {
    let expected: Vec<u64> = (1..=n).collect();
    if values != expected.as_slice() {
        let first_diff = values.iter().zip(&expected).position(|(a, b)| a != b);
        panic!("expected 1..={n} once each in order; got {} values, first difference at {first_diff:?}", values.len());
    }
}
