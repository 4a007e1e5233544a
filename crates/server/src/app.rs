//! Startup, background tasks and graceful shutdown of the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use oxmon_common::proto::metric_service_server::MetricServiceServer;
use oxmon_storage::management::Management;
use oxmon_storage::reader::Reader;
use oxmon_storage::writer::{Clock, Writer, WriterConfig, system_now_ms};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Identity, ServerTlsConfig};

use crate::agents::AgentRegistry;
use crate::alerting::Alerting;
use crate::auth::{self, Auth};
use crate::config::ServerConfig;
use crate::grpc::IngestService;
use crate::state::{AppState, ClockHandle};
use crate::telemetry::Telemetry;

/// How often agent activity is written to the management database.
const AGENT_FLUSH_EVERY: Duration = Duration::from_secs(5);

/// How often rules and notification settings are re-read from the
/// database, to pick up changes made outside the API (the `init-*`
/// commands while the server runs). API changes apply at once.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// How often retention runs (first run at startup).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// A started server. Dropping it without [`RunningServer::shutdown`] aborts
/// the listeners.
#[derive(Debug)]
pub struct RunningServer {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub state: Arc<AppState>,
    /// The password generated for the first admin, when this start created
    /// it without a configured one. Printed once to stderr.
    pub initial_admin_password: Option<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Options that tests and embedders change; production uses the defaults.
#[derive(Clone, Default)]
pub struct StartOptions {
    /// Replaces the system clock (tests).
    pub clock: Option<Clock>,
    /// Timeouts and retries of notification sends (tests shorten them).
    pub notify_net: Option<oxmon_notify::NetConfig>,
    /// Replaces the certificate checker's trust roots (tests).
    pub cert_roots: Option<rustls::RootCertStore>,
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field("clock", &self.clock.is_some())
            .field("notify_net", &self.notify_net)
            .field("cert_roots", &self.cert_roots.as_ref().map(|r| r.len()))
            .finish()
    }
}

/// Opens storage, binds both listeners and starts serving.
pub async fn start(config: ServerConfig, options: StartOptions) -> anyhow::Result<RunningServer> {
    let clock: Clock = options.clock.unwrap_or_else(|| Arc::new(system_now_ms));
    let data_dir = config.data_dir.clone();
    // Ports and TLS files first: a taken port or a missing certificate
    // stops the server before it creates a data dir or an admin password.
    let grpc_listener = TcpListener::bind(config.grpc_addr())
        .await
        .with_context(|| bind_hint(config.grpc_addr(), "gRPC", "grpc_port"))?;
    let http_listener = TcpListener::bind(config.http_addr())
        .await
        .with_context(|| bind_hint(config.http_addr(), "HTTP", "http_port"))?;
    let tls = match &config.tls {
        Some(t) => Some(load_tls(&t.cert_file, &t.key_file).await?),
        None => None,
    };
    let prepared = {
        let (config, now_ms) = (config.clone(), clock());
        tokio::task::spawn_blocking(move || {
            crate::cli::take_over_at_start(&config, now_ms)?;
            prepare_management(&config, now_ms / 1000)
        })
        .await??
    };
    let Prepared { management, records, jwt_key, initial_admin_password } = prepared;
    announce_admin(&config, initial_admin_password.as_deref());
    let telemetry = Arc::new(Telemetry::new());
    // The engine first: the writer replays into it what an earlier run
    // stored but had not evaluated.
    let (alerting, feed) = Alerting::start(
        management.clone(),
        ClockHandle(clock.clone()),
        telemetry.clone(),
        options.notify_net.unwrap_or_default(),
    )
    .await
    .context("starting the alert engine and notifier")?;
    let writer = Writer::start(WriterConfig {
        clock: clock.clone(),
        evaluations: Some(feed.evaluations),
        evaluated_through: feed.evaluated_through,
        ..WriterConfig::new(&data_dir)
    })
    .with_context(|| format!("starting storage in {}", data_dir.display()))?;

    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    let state = Arc::new(AppState {
        reader: Reader::new(&data_dir),
        writer,
        management,
        agents: AgentRegistry::from_records(records),
        telemetry,
        alerting,
        auth: Auth::new(&jwt_key, config.auth.token_expire_secs),
        started: Instant::now(),
        clock: ClockHandle(clock),
        cert_checker: crate::certs::checker::Checker::from_config(&config.cert_check, options.cert_roots),
        config,
    });

    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();

    let max_message = state.config.grpc_max_message_bytes;
    let service = MetricServiceServer::new(IngestService::new(state.clone()))
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).context("configuring gRPC TLS")?;
    }
    let grpc = builder
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(grpc_listener), wait_for(stopped.clone()));
    tasks.push(tokio::spawn(async move {
        if let Err(error) = grpc.await {
            tracing::error!(%error, "gRPC server failed");
        }
    }));

    let app = crate::api::router(state.clone());
    let http = axum::serve(
        crate::api::http_errors::listener(http_listener),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(wait_for(stopped.clone()));
    tasks.push(tokio::spawn(async move {
        if let Err(error) = http.await {
            tracing::error!(%error, "HTTP server failed");
        }
    }));

    tasks.push(tokio::spawn(flush_agents_loop(state.clone(), stopped.clone())));
    if state.config.cert_check.enabled {
        tasks.push(tokio::spawn(crate::certs::scheduler::run(state.clone(), stopped.clone())));
    }
    tasks.push(tokio::spawn(reload_loop(state.clone(), stopped.clone())));
    tasks.push(tokio::spawn(retention_loop(state.clone(), stopped)));

    tracing::info!(%grpc_addr, %http_addr, data_dir = %state.config.data_dir.display(), tls = state.config.tls.is_some(), "oxmon-server started");
    Ok(RunningServer { grpc_addr, http_addr, state, initial_admin_password, stop, tasks })
}

/// The error context of a port that cannot be bound: which one, and the
/// key that sets it.
fn bind_hint(addr: std::net::SocketAddr, what: &str, key: &str) -> String {
    format!(
        "cannot listen on {addr} ({what}): is another oxmon-server or another program using it? \
         Set {key} (or OXMON_SERVER_{}) to another port",
        key.to_ascii_uppercase()
    )
}

/// The management database, ready for the server.
struct Prepared {
    management: Arc<Management>,
    records: Vec<oxmon_storage::management::AgentRecord>,
    jwt_key: Vec<u8>,
    initial_admin_password: Option<String>,
}

/// Opens the management database and brings it to what this build expects,
/// in one blocking step with one `now`:
/// - the first admin when there are no users (a generated password when
///   none is configured: oxmon never ships a working default password);
/// - the default rules on a fresh installation only, so rules a user
///   deleted do not come back on restart;
/// - missing runtime settings, with their defaults;
/// - the built-in dictionary.
fn prepare_management(config: &ServerConfig, now_s: i64) -> anyhow::Result<Prepared> {
    let dir = &config.data_dir;
    let fresh_install = !dir.join(oxmon_storage::MANAGEMENT_DB).exists();
    // Files of an earlier release, or copied by hand, may be readable by
    // others: every file in the data dir is made owner-only.
    oxmon_storage::files::tighten_data_dir(dir);
    let m = Management::open(dir).with_context(|| format!("opening the management database in {}", dir.display()))?;
    let records = m.agents().context("loading known agents")?;
    let jwt_key = auth::load_or_create_key(config.auth.jwt_secret.as_deref(), dir)
        .with_context(|| format!("loading the JWT key {}", dir.join(auth::JWT_KEY_FILE).display()))?;

    let mut initial_admin_password = None;
    if m.user_count()? == 0 {
        let password = match &config.auth.default_password {
            Some(p) => p.clone(),
            None => {
                let p = auth::generate_password();
                initial_admin_password = Some(p.clone());
                p
            }
        };
        m.create_user(&config.auth.default_username, &auth::hash_password(&password), now_s)
            .context("creating the first admin user")?;
    }
    if fresh_install {
        let rules = crate::rules::RuleSeed::parse(crate::rules::DEFAULT_RULES).map_err(anyhow::Error::msg)?;
        let report = crate::rules::seed_rules(&m, rules, now_s).context("seeding the default alert rules")?;
        tracing::info!(rules = report.inserted.len(), "new installation: default alert rules created");
    }
    for s in oxmon_common::settings::RUNTIME_SETTINGS {
        let row = oxmon_storage::management::ConfigRecord {
            id: String::new(),
            config_key: s.key.into(),
            config_type: "runtime".into(),
            provider: None,
            display_name: s.display_name.into(),
            description: Some(s.description.into()),
            config_json: serde_json::json!({ "value": s.default }).to_string(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        };
        m.create_config(row, now_s).context("seeding the runtime settings")?;
    }
    let (types, items) = crate::dictionaries::built_in();
    m.sync_dictionaries(&types, &items, now_s).context("syncing the built-in dictionaries")?;
    Ok(Prepared { management: Arc::new(m), records, jwt_key, initial_admin_password })
}

/// Prints a generated admin password once, and warns about 0.1's default.
fn announce_admin(config: &ServerConfig, generated: Option<&str>) {
    let username = &config.auth.default_username;
    match generated {
        Some(password) => eprintln!(
            "oxmon-server: created user '{username}' with the generated password {password}\n\
             oxmon-server: it is shown only this once; change it with POST /v1/auth/password"
        ),
        None if config.auth.default_password.as_deref() == Some("changeme") => {
            tracing::warn!(user = %username, "auth.default_password is oxmon 0.1's 'changeme'; change it");
        }
        None => {}
    }
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, saves agent
    /// activity, sends pending notifications and waits for the storage
    /// writer to drain.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        flush_agents(&self.state).await;
        self.state.alerting.shutdown().await;
        // The writer thread stops once the last handle (inside the state) is
        // dropped, after finishing every queued command.
        let state = self.state;
        let _ = tokio::task::spawn_blocking(move || drop(state)).await;
        tracing::info!("oxmon-server stopped");
    }
}

/// Runs until `signal` resolves, then shuts down gracefully.
pub async fn run(config: ServerConfig, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let server = start(config, StartOptions::default()).await?;
    signal.await;
    tracing::info!("shutdown requested");
    server.shutdown().await;
    Ok(())
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

async fn load_tls(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<ServerTlsConfig> {
    let cert_pem =
        tokio::fs::read(cert).await.with_context(|| format!("reading TLS certificate {}", cert.display()))?;
    let key_pem = tokio::fs::read(key).await.with_context(|| format!("reading TLS key {}", key.display()))?;
    if !cert_pem.windows(11).any(|w| w == b"-----BEGIN ") || !key_pem.windows(11).any(|w| w == b"-----BEGIN ") {
        anyhow::bail!("TLS certificate and key must be PEM files ({} / {})", cert.display(), key.display());
    }
    Ok(ServerTlsConfig::new().identity(Identity::from_pem(cert_pem, key_pem)))
}

async fn flush_agents_loop(state: Arc<AppState>, stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(AGENT_FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                flush_agents(&state).await;
                // The queue rows the engine has evaluated may go.
                state.writer.evaluated(state.alerting.evaluated_through());
            }
            _ = wait_for(stopped.clone()) => return,
        }
    }
}

async fn flush_agents(state: &AppState) {
    let _persisting = state.agents.persisting().await;
    let dirty = state.agents.take_dirty();
    if dirty.is_empty() {
        return;
    }
    let records = dirty.clone();
    if let Err(error) = state.management(move |m| m.save_agents(&records)).await {
        tracing::warn!(%error, agents = dirty.len(), "saving agent activity failed; will retry");
        state.agents.mark_dirty(&dirty);
    }
}

async fn reload_loop(state: Arc<AppState>, stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(RELOAD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; start() has just loaded everything
    loop {
        tokio::select! {
            _ = tick.tick() => {
                state.rules_changed().await;
                state.notifications_changed().await;
            }
            _ = wait_for(stopped.clone()) => return,
        }
    }
}

async fn retention_loop(state: Arc<AppState>, stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(RETENTION_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = state.clock.now_ms();
                if let Err(error) = state.writer.retain(state.config.retention_days, now).await {
                    tracing::warn!(%error, "retention failed; will retry");
                }
                prune_notification_logs(&state, now).await;
                let expired = state.alerting.expire(now);
                if expired > 0 {
                    tracing::debug!(series = expired, "alert engine: idle series dropped");
                }
            }
            _ = wait_for(stopped.clone()) => return,
        }
    }
}

/// Deletes notification logs older than the `notification_log_retention`
/// runtime setting (days; 0 keeps them forever).
async fn prune_notification_logs(state: &AppState, now_ms: i64) {
    let pruned = state
        .management(move |m| {
            let days = m.runtime_setting(oxmon_common::settings::LOG_RETENTION)?;
            if days == 0 {
                return Ok(0);
            }
            let before = now_ms.saturating_sub(i64::try_from(days).unwrap_or(i64::MAX).saturating_mul(86_400_000));
            m.prune_notification_logs(before)
        })
        .await;
    match pruned {
        Ok(0) => {}
        Ok(n) => tracing::info!(logs = n, "notification logs past retention deleted"),
        Err(error) => tracing::warn!(%error, "pruning notification logs failed; will retry"),
    }
}
