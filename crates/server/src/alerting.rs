//! The alert path of the server: every stored sample goes through the rule
//! engine (`oxmon-alert`); the events it emits are stored in the management
//! database and then handed to the notification pipeline (`oxmon-notify`),
//! whose per-channel outcomes are written back as notification logs.
//!
//! Rules, channels, silence windows and the aggregation window are
//! reloaded from the database whenever the REST API changes them, before
//! the API answers; the engine keeps the state of every rule that did not
//! change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxmon_alert::{Engine, Event, EventKind, Point, Rule};
use oxmon_common::rule::{RuleConfig, Severity};
use oxmon_common::settings;
use oxmon_common::silence::Window;
use oxmon_notify::{
    Alert, AlertStatus, ChannelEntry, HttpClient, LogSink, NetConfig, NotificationLog, Notifier, SilenceEntry,
};
use oxmon_storage::Sample;
use oxmon_storage::management::{
    AlertEvent, ChannelRecord, EventWrite, Management, NotificationLogRecord, RuleRecord, STATUS_OPEN, STATUS_RESOLVED,
};
use tokio::sync::{mpsc, oneshot};

use crate::state::ClockHandle;
use crate::telemetry::Telemetry;

/// Engine events waiting to be stored and notified (batches of one
/// evaluation); beyond this, events are dropped and counted.
const EVENT_QUEUE: usize = 4096;

/// The rule engine and the notifier, with their reload paths.
#[derive(Debug)]
pub struct Alerting {
    engine: Mutex<Engine>,
    notifier: Notifier,
    http: HttpClient,
    events: mpsc::Sender<Recorded>,
    telemetry: Arc<Telemetry>,
}

/// What the recorder task receives.
enum Recorded {
    Events(Vec<Event>),
    /// Everything queued before this is stored and submitted; answer and stop.
    Stop(oneshot::Sender<()>),
}

impl Alerting {
    /// Starts the notifier and the event recorder, and loads rules and
    /// notification settings. Must run inside the Tokio runtime.
    pub async fn start(
        management: Arc<Management>,
        clock: ClockHandle,
        telemetry: Arc<Telemetry>,
        net: NetConfig,
    ) -> anyhow::Result<Alerting> {
        let http = HttpClient::new(net)?;
        let sink = Arc::new(DbLogSink { management: management.clone(), telemetry: telemetry.clone() });
        let notifier_clock = clock.clone();
        let notifier = Notifier::start(sink, Arc::new(move || notifier_clock.now_ms()));
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(record_events(rx, management.clone(), notifier.clone(), telemetry.clone(), clock));
        let alerting = Alerting { engine: Mutex::new(Engine::default()), notifier, http, events, telemetry };
        alerting.reload_rules(&management).await?;
        alerting.reload_notifications(&management).await?;
        Ok(alerting)
    }

    /// Evaluates stored samples; events go to the recorder. Never blocks
    /// on IO.
    pub fn observe(&self, samples: &[Sample], now_ms: i64) {
        let mut events = Vec::new();
        {
            let mut engine = lock(&self.engine);
            for s in samples {
                let point = Point {
                    agent_id: &s.agent_id,
                    metric: &s.metric_name,
                    labels: &s.labels,
                    timestamp_ms: s.timestamp_ms,
                    value: s.value,
                };
                events.extend(engine.observe(&point, now_ms));
            }
        }
        self.telemetry.rule_evaluations.inc_by(samples.len() as u64);
        if events.is_empty() {
            return;
        }
        let n = events.len() as u64;
        if self.events.try_send(Recorded::Events(events)).is_err() {
            self.telemetry.alert_events.get_or_create(&vec![("kind", "dropped")]).inc_by(n);
            tracing::error!(events = n, "alert event queue full or closed; events dropped");
        }
    }

    /// Drops engine state of series that stopped reporting.
    pub fn expire(&self, now_ms: i64) -> usize {
        lock(&self.engine).expire(now_ms)
    }

    /// Reloads the enabled rules (creation order). Rules the engine cannot
    /// use are skipped with a warning (the API validates rules, so this
    /// only happens to rows written by other means).
    pub async fn reload_rules(&self, management: &Arc<Management>) -> anyhow::Result<usize> {
        let m = management.clone();
        let records = tokio::task::spawn_blocking(move || m.enabled_rules()).await??;
        let rules: Vec<Rule> = records.into_iter().filter_map(engine_rule).collect();
        let mut engine = lock(&self.engine);
        for error in engine.set_rules_skip_invalid(rules) {
            tracing::warn!(%error, "alert rule skipped");
        }
        Ok(engine.rule_count())
    }

    /// Reloads channels, silence windows and the aggregation window.
    pub async fn reload_notifications(&self, management: &Arc<Management>) -> anyhow::Result<()> {
        let m = management.clone();
        let (channels, windows, window_secs) = tokio::task::spawn_blocking(move || {
            let channels = m.channels_with_recipients()?;
            let windows = m.silence_windows(usize::MAX >> 1, 0)?;
            let window = m.runtime_setting(settings::AGGREGATION_WINDOW)?;
            Ok::<_, oxmon_storage::Error>((channels, windows, window))
        })
        .await??;
        let entries = channels
            .into_iter()
            .filter(|(c, _)| c.enabled)
            .filter_map(|(c, recipients)| match self.entry(&c, recipients) {
                Ok(entry) => Some(entry),
                Err(error) => {
                    tracing::warn!(channel = %c.name, %error, "notification channel skipped");
                    None
                }
            })
            .collect();
        self.notifier.set_channels(entries);
        let silences = windows
            .into_iter()
            .filter_map(|w| {
                let window = Window::parse(&w.start_time, &w.end_time, w.recurrence.as_deref());
                let timezone = jiff::tz::TimeZone::get(&w.timezone);
                match (window, timezone) {
                    (Ok(window), Ok(timezone)) => Some(SilenceEntry { window, timezone }),
                    _ => {
                        tracing::warn!(id = %w.id, "silence window skipped: unreadable times or time zone");
                        None
                    }
                }
            })
            .collect();
        self.notifier.set_silence_windows(silences);
        self.notifier.set_aggregation_window(Duration::from_secs(window_secs));
        Ok(())
    }

    fn entry(&self, c: &ChannelRecord, recipients: Vec<String>) -> Result<ChannelEntry, String> {
        let channel =
            oxmon_notify::build_channel(&c.channel_type, &c.config_json, &self.http).map_err(|e| e.to_string())?;
        Ok(ChannelEntry {
            id: c.id.clone(),
            name: c.name.clone(),
            channel_type: c.channel_type.clone(),
            min_severity: c.min_severity.parse().unwrap_or(Severity::Info),
            recipients,
            channel,
        })
    }

    /// Sends the test event through one channel, whatever its `enabled`
    /// flag and severity floor; the send is logged. `Err` carries the reason.
    pub async fn test_channel(&self, channel: &ChannelRecord, recipients: Vec<String>) -> Result<(), String> {
        let entry = self.entry(channel, recipients).map_err(|e| format!("invalid_config: {e}"))?;
        let report = self.notifier.send_test(&entry).await;
        if report.success {
            return Ok(());
        }
        Err(report.error_message.unwrap_or_else(|| "the channel reported a failure".into()))
    }

    /// Stops taking events, stores and notifies the queued ones, sends the
    /// pending aggregates and waits for the sends in flight.
    pub async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self.events.send(Recorded::Stop(done)).await.is_ok() {
            let _ = stopped.await;
        }
        self.notifier.clone().shutdown().await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A stored rule as the engine takes it; `None` (logged) when its config
/// does not parse.
fn engine_rule(r: RuleRecord) -> Option<Rule> {
    let config = match RuleConfig::parse(&r.rule_type, &r.config_json) {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(rule = %r.name, %error, "alert rule skipped");
            return None;
        }
    };
    Some(Rule {
        id: r.id,
        name: r.name,
        metric: r.metric,
        agent_pattern: r.agent_pattern,
        severity: r.severity.parse().unwrap_or(Severity::Info),
        silence_secs: u64::try_from(r.silence_secs).unwrap_or(0),
        config,
    })
}

/// Stores each batch of events, then notifies them in order.
async fn record_events(
    mut rx: mpsc::Receiver<Recorded>,
    management: Arc<Management>,
    notifier: Notifier,
    telemetry: Arc<Telemetry>,
    clock: ClockHandle,
) {
    /// Events stored in one transaction at most (one commit, one fsync).
    const GROUP: usize = 4096;
    while let Some(first) = rx.recv().await {
        // Take whatever else is queued too: under a burst of events this
        // stores them in one transaction instead of one per batch.
        let mut events = Vec::new();
        let mut stop = None;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Recorded::Events(batch) => events.extend(batch),
                Recorded::Stop(done) => {
                    stop = Some(done);
                    break;
                }
            }
            if events.len() < GROUP {
                next = rx.try_recv().ok();
            }
        }
        if !events.is_empty() {
            store_and_submit(events, &management, &notifier, &telemetry, clock.now_ms() / 1000).await;
        }
        if let Some(done) = stop {
            let _ = done.send(());
            return;
        }
    }
}

/// Stores events in `cert.db` (a reminder updates its alert's open event),
/// then hands them to the notifier with their stored ids (they are notified
/// even if storing failed). `now_s` (server clock) stamps `created_at` and
/// `updated_at`; the events' own times are their samples'.
async fn store_and_submit(
    events: Vec<Event>,
    management: &Arc<Management>,
    notifier: &Notifier,
    telemetry: &Telemetry,
    now_s: i64,
) {
    let rows: Vec<EventWrite> = events
        .iter()
        .map(|e| match e.kind {
            EventKind::Reminder => EventWrite::Remind(stored_event(e)),
            EventKind::Fired | EventKind::Recovered => EventWrite::Insert(stored_event(e)),
        })
        .collect();
    let m = management.clone();
    let stored = match tokio::task::spawn_blocking(move || m.record_alert_events(rows, now_s)).await {
        Ok(Ok(stored)) => stored,
        Ok(Err(error)) => {
            tracing::error!(%error, "storing alert events failed; they are still notified");
            Vec::new()
        }
        Err(error) => {
            tracing::error!(%error, "storing alert events failed; they are still notified");
            Vec::new()
        }
    };
    for (i, e) in events.into_iter().enumerate() {
        telemetry.alert_events.get_or_create(&vec![("kind", e.kind.as_str())]).inc();
        let id = stored.get(i).map_or_else(|| format!("unsaved-{}-{}", e.rule_id, e.timestamp_ms), |s| s.id.clone());
        notifier.submit(Alert {
            id,
            status: match e.kind {
                EventKind::Fired | EventKind::Reminder => AlertStatus::Firing,
                EventKind::Recovered => AlertStatus::Recovered,
            },
            rule_id: e.rule_id,
            rule_name: e.rule_name,
            agent_id: e.agent_id,
            metric: e.metric,
            severity: e.severity,
            message: e.message,
            value: e.value,
            threshold: e.threshold,
            labels: e.labels,
            timestamp_ms: e.timestamp_ms,
        });
    }
}

fn stored_event(e: &Event) -> AlertEvent {
    AlertEvent {
        id: String::new(),
        rule_id: e.rule_id.clone(),
        rule_name: e.rule_name.clone(),
        agent_id: e.agent_id.clone(),
        metric_name: e.metric.clone(),
        severity: e.severity.as_str().into(),
        message: e.message.clone(),
        value: e.value,
        threshold: e.threshold,
        timestamp_ms: e.timestamp_ms,
        predicted_breach_ms: e.predicted_breach_ms,
        status: match e.kind {
            EventKind::Fired | EventKind::Reminder => STATUS_OPEN,
            EventKind::Recovered => STATUS_RESOLVED,
        },
        labels: e.labels.to_json(),
        first_triggered_at_ms: e.first_triggered_at_ms,
        created_at: 0,
        updated_at: 0,
    }
}

/// Writes notification logs to the management database, off the async
/// workers.
struct DbLogSink {
    management: Arc<Management>,
    telemetry: Arc<Telemetry>,
}

impl LogSink for DbLogSink {
    fn record(&self, log: NotificationLog) {
        let status = log.status();
        self.telemetry
            .notifications
            .get_or_create(&vec![("channel_type", channel_type_label(&log.channel_type)), ("status", status)])
            .inc();
        let row = NotificationLogRecord {
            id: String::new(),
            alert_event_id: log.alert_id.clone(),
            rule_id: log.rule_id.clone(),
            rule_name: log.rule_name.clone(),
            agent_id: log.agent_id.clone(),
            channel_id: log.channel_id.clone(),
            channel_name: log.channel_name.clone(),
            channel_type: log.channel_type.clone(),
            status: status.into(),
            error_message: log.report.error_message.clone(),
            duration_ms: i64::try_from(log.report.duration_ms).unwrap_or(i64::MAX),
            recipient_count: i64::try_from(log.recipient_count()).unwrap_or(i64::MAX),
            severity: log.severity.as_str().into(),
            created_at_ms: log.created_at_ms,
            http_status_code: log.report.http_status_code.map(i64::from),
            response_body: log.report.response_body.clone(),
            request_body: log.report.request_body.clone(),
            retry_count: i64::from(log.report.retry_count),
            recipient_details: Some(log.report.recipient_details_json()),
            api_message_id: log.report.api_message_id.clone(),
            api_error_code: log.report.api_error_code.clone(),
        };
        let m = self.management.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = m.insert_notification_log(row) {
                tracing::error!(%error, "writing a notification log failed");
            }
        });
    }
}

/// Channel types as a static label (unknown ones collapse to `other`).
fn channel_type_label(t: &str) -> &'static str {
    oxmon_notify::CHANNEL_TYPES.iter().copied().find(|c| *c == t).unwrap_or("other")
}
