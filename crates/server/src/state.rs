//! State shared by the gRPC service, the REST handlers and the background
//! tasks.

use std::sync::Arc;
use std::time::Instant;

use oxmon_storage::management::Management;
use oxmon_storage::reader::Reader;
use oxmon_storage::writer::{Clock, Writer};

use crate::agents::AgentRegistry;
use crate::alerting::Alerting;
use crate::auth::Auth;
use crate::config::ServerConfig;
use crate::telemetry::Telemetry;

#[derive(Debug)]
pub struct AppState {
    pub config: ServerConfig,
    pub writer: Writer,
    pub reader: Reader,
    pub management: Arc<Management>,
    pub agents: AgentRegistry,
    pub telemetry: Arc<Telemetry>,
    pub alerting: Alerting,
    pub auth: Auth,
    pub started: Instant,
    pub clock: ClockHandle,
    pub cert_checker: crate::certs::checker::Checker,
}

/// The wall clock, injectable for tests.
#[derive(Clone)]
pub struct ClockHandle(pub Clock);

impl ClockHandle {
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for ClockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockHandle")
    }
}

impl AppState {
    /// Stores samples produced inside the server (the certificate checker's
    /// results) on the path ingested ones take: stored, with the ones some
    /// rule watches queued for the alert engine.
    pub async fn record_internal(&self, samples: Vec<oxmon_storage::Sample>) -> Result<(), oxmon_storage::Error> {
        if samples.is_empty() {
            return Ok(());
        }
        let queue = self.alerting.marks(&samples);
        self.writer.write_queued(samples, queue).await.map(drop)
    }

    /// Reloads the alert rules after a change through the API. A failed
    /// reload is logged; the engine keeps its previous rules.
    pub async fn rules_changed(&self) {
        if let Err(error) = self.alerting.reload_rules(&self.management).await {
            tracing::error!(%error, "reloading alert rules failed");
        }
    }

    /// Reloads channels, silence windows and runtime settings after a
    /// change through the API.
    pub async fn notifications_changed(&self) {
        if let Err(error) = self.alerting.reload_notifications(&self.management).await {
            tracing::error!(%error, "reloading notification settings failed");
        }
    }

    /// Runs blocking management-database work off the async workers.
    pub async fn management<T, F>(&self, f: F) -> Result<T, oxmon_storage::Error>
    where
        T: Send + 'static,
        F: FnOnce(&Management) -> Result<T, oxmon_storage::Error> + Send + 'static,
    {
        let m = self.management.clone();
        tokio::task::spawn_blocking(move || f(&m)).await.unwrap_or(Err(oxmon_storage::Error::WriterGone))
    }

    /// Runs a blocking partition read off the async workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, oxmon_storage::Error>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, oxmon_storage::Error> + Send + 'static,
    {
        let r = self.reader.clone();
        tokio::task::spawn_blocking(move || f(&r)).await.unwrap_or(Err(oxmon_storage::Error::WriterGone))
    }
}
