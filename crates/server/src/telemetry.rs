//! Self-observability: the Prometheus metrics served at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One `key="value"` label.
pub type Label = Vec<(&'static str, &'static str)>;

/// Every metric the server exports about itself.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    /// Samples acknowledged to agents (durably stored).
    pub ingest_samples: Counter,
    /// `ReportMetrics` calls by outcome (`ok`, `rejected`, `storage_error`,
    /// `unauthenticated`, `permission_denied`).
    pub ingest_batches: Family<Label, Counter>,
    /// Samples accepted on the wire but not stored, by reason.
    pub ingest_dropped: Family<Label, Counter>,
    /// Time from handing a batch to the writer until its commit.
    pub commit_seconds: Histogram,
    pub writer_queue_depth: Gauge,
    /// Agents whose last report is within their active window.
    pub agents_active: Gauge,
    /// Agents that ever reported.
    pub agents_known: Gauge,
    pub http_requests: Family<Label, Counter>,
    /// Samples run through the alert engine.
    pub rule_evaluations: Counter,
    /// Commit groups stored but not yet evaluated by the alert engine.
    pub alert_evaluation_backlog: Gauge,
    /// Alert events by kind (`fired`, `reminder`, `recovered`).
    pub alert_events: Family<Label, Counter>,
    /// Channel sends by channel type and result (`success`, `failed`).
    pub notifications: Family<Label, Counter>,
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("oxmon");
        let ingest_samples = Counter::default();
        let ingest_batches = Family::<Label, Counter>::default();
        let ingest_dropped = Family::<Label, Counter>::default();
        let commit_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let writer_queue_depth = Gauge::default();
        let agents_active = Gauge::default();
        let agents_known = Gauge::default();
        let http_requests = Family::<Label, Counter>::default();
        let rule_evaluations = Counter::default();
        let alert_evaluation_backlog = Gauge::default();
        let alert_events = Family::<Label, Counter>::default();
        let notifications = Family::<Label, Counter>::default();
        registry.register("ingest_samples", "Samples stored and acknowledged", ingest_samples.clone());
        registry.register("ingest_batches", "ReportMetrics calls by result", ingest_batches.clone());
        registry.register(
            "ingest_dropped_samples",
            "Samples received but not stored, by reason",
            ingest_dropped.clone(),
        );
        registry.register(
            "ingest_commit_seconds",
            "Time from queueing a batch to its durable commit",
            commit_seconds.clone(),
        );
        registry.register(
            "storage_writer_queue_depth",
            "Commands waiting for the storage writer",
            writer_queue_depth.clone(),
        );
        registry.register("agents_active", "Agents that reported within their active window", agents_active.clone());
        registry.register("agents_known", "Agents that ever reported", agents_known.clone());
        registry.register("http_requests", "REST requests by status class", http_requests.clone());
        registry.register("rule_evaluations", "Samples evaluated by the alert engine", rule_evaluations.clone());
        registry.register(
            "alert_evaluation_backlog",
            "Commit groups stored but not yet evaluated by the alert engine",
            alert_evaluation_backlog.clone(),
        );
        registry.register("alert_events", "Alert events by kind", alert_events.clone());
        registry.register("notifications", "Notification sends by channel type and result", notifications.clone());
        Self {
            registry,
            ingest_samples,
            ingest_batches,
            ingest_dropped,
            commit_seconds,
            writer_queue_depth,
            agents_active,
            agents_known,
            http_requests,
            rule_evaluations,
            alert_evaluation_backlog,
            alert_events,
            notifications,
        }
    }

    pub fn batch(&self, result: &'static str) {
        self.ingest_batches.get_or_create(&vec![("result", result)]).inc();
    }

    pub fn dropped(&self, reason: &'static str, n: u64) {
        self.ingest_dropped.get_or_create(&vec![("reason", reason)]).inc_by(n);
    }

    /// Renders the registry in the Prometheus/OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}
