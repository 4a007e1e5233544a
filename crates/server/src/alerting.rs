//! The alert path of the server: every stored sample some rule watches goes
//! through the rule engine (`oxmon-alert`); the events it emits are stored
//! in the management database and then handed to the notification pipeline
//! (`oxmon-notify`), whose per-channel outcomes are written back as
//! notification logs.
//!
//! Evaluation is off the acknowledgement path. Ingest marks the samples some
//! rule watches ([`Alerting::marks`]); the storage writer commits them
//! with a sequence number in a queue inside the same transaction, and after
//! the commit hands them, in commit order, to the engine's own thread
//! ([`evaluate`]). The recorder stores each evaluation's events together
//! with the sequence number evaluated through (`evaluation_cursor` in
//! `cert.db`), in one transaction. At start the writer replays the queued
//! samples after that cursor. So a sample's evaluation counts exactly when
//! its events are stored: a crash loses none (the queue is as durable as the
//! sample) and a restart evaluates none twice (the cursor moved with the
//! events). What is not kept across a restart is the engine's state
//! (windows, active alerts), as before.
//!
//! Rules, channels, silence windows and the aggregation window are
//! reloaded from the database whenever the REST API changes them, before
//! the API answers; the engine keeps the state of every rule that did not
//! change.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use oxmon_alert::{Engine, Event, EventKind, Point, Rule, Watch};
use oxmon_common::rule::{RuleConfig, Severity};
use oxmon_common::settings;
use oxmon_common::silence::Window;
use oxmon_notify::{
    Alert, AlertStatus, ChannelEntry, HttpClient, LogSink, NetConfig, NotificationLog, Notifier, SilenceEntry,
};
use oxmon_storage::management::{
    AlertEvent, ChannelRecord, EventWrite, Management, NotificationLogRecord, RuleRecord, STATUS_OPEN, STATUS_RESOLVED,
};
use oxmon_storage::writer::{Evaluation, EvaluationReceiver, EvaluationSender, evaluation_channel};
use tokio::sync::{mpsc, oneshot};

use crate::state::ClockHandle;
use crate::telemetry::Telemetry;

/// Evaluations waiting to be stored and notified; when full the engine's
/// thread waits (no event is dropped).
const EVENT_QUEUE: usize = 4096;

/// Commit groups waiting for the engine; when full the storage writer
/// waits, which bounds the engine's backlog.
const EVALUATION_QUEUE: usize = 256;

/// An evaluation that produced no event moves the stored cursor at most
/// this often (one `cert.db` transaction); one with events moves it at once.
const CURSOR_PERIOD: Duration = Duration::from_secs(1);

/// A sequence number no writer uses: tells the engine's thread to stop.
const STOP_SEQ: i64 = i64::MIN;

/// The rule engine and the notifier, with their reload paths.
#[derive(Debug)]
pub struct Alerting {
    engine: Arc<Mutex<Engine>>,
    /// What the rules watch, read by ingest without taking the engine lock.
    watch: RwLock<Arc<Watch>>,
    notifier: Notifier,
    http: HttpClient,
    events: mpsc::Sender<Recorded>,
    /// Our end of the engine's feed, for the stop message.
    feed: EvaluationSender,
    evaluator: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The stored evaluation cursor.
    cursor: Arc<AtomicI64>,
}

/// What the storage writer needs to feed the engine: the feed, and the
/// stored cursor (queued samples after it are replayed).
#[derive(Debug)]
pub struct Feed {
    pub evaluations: EvaluationSender,
    pub evaluated_through: i64,
}

/// What the recorder task receives.
enum Recorded {
    /// The events of the queued samples up to sequence number `through`.
    Evaluated { events: Vec<Event>, through: i64 },
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
    ) -> anyhow::Result<(Alerting, Feed)> {
        let http = HttpClient::new(net)?;
        let sink = Arc::new(DbLogSink { management: management.clone(), telemetry: telemetry.clone() });
        let notifier_clock = clock.clone();
        let notifier = Notifier::start(sink, Arc::new(move || notifier_clock.now_ms()));
        let m = management.clone();
        let evaluated_through = tokio::task::spawn_blocking(move || m.evaluation_cursor()).await??;
        let cursor = Arc::new(AtomicI64::new(evaluated_through));
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(record_events(
            rx,
            management.clone(),
            notifier.clone(),
            telemetry.clone(),
            clock.clone(),
            cursor.clone(),
        ));
        let (feed, feed_rx) = evaluation_channel(EVALUATION_QUEUE);
        let engine = Arc::new(Mutex::new(Engine::default()));
        let evaluator = {
            let (engine, events) = (engine.clone(), events.clone());
            std::thread::Builder::new()
                .name("oxmon-alert".into())
                .spawn(move || evaluate(feed_rx, &engine, &events, &telemetry, &clock))?
        };
        let alerting = Alerting {
            engine,
            watch: RwLock::new(Arc::new(Watch::default())),
            notifier,
            http,
            events,
            feed: feed.clone(),
            evaluator: Mutex::new(Some(evaluator)),
            cursor,
        };
        alerting.reload_rules(&management).await?;
        alerting.reload_notifications(&management).await?;
        Ok((alerting, Feed { evaluations: feed, evaluated_through }))
    }

    /// For each sample, whether some rule watches it (what
    /// `Writer::write_queued` takes).
    pub fn marks(&self, samples: &[oxmon_storage::Sample]) -> Vec<bool> {
        let watch = self.watch.read().unwrap_or_else(|p| p.into_inner()).clone();
        if watch.is_empty() {
            return Vec::new();
        }
        samples.iter().map(|s| watch.matches(&s.metric_name, &s.agent_id)).collect()
    }

    /// The stored evaluation cursor: queued samples up to it are evaluated.
    pub fn evaluated_through(&self) -> i64 {
        self.cursor.load(Ordering::Relaxed)
    }

    /// Commit groups waiting for the engine.
    pub fn backlog(&self) -> usize {
        self.feed.len()
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
        *self.watch.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(engine.watch());
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

    /// Evaluates what the writer has handed over so far (the callers must
    /// have stopped writing), stores and notifies the queued events with the
    /// cursor, sends the pending aggregates and waits for the sends in
    /// flight. Queued samples not evaluated by then are replayed at the next
    /// start.
    pub async fn shutdown(&self) {
        let feed = self.feed.clone();
        let evaluator = lock(&self.evaluator).take();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = feed.send(Evaluation { last_seq: STOP_SEQ, samples: Vec::new() });
            if let Some(thread) = evaluator {
                let _ = thread.join();
            }
        })
        .await;
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

/// The engine's thread: evaluates the writer's commit groups in order and
/// hands each group's events, with its last sequence number, to the
/// recorder (waiting while the recorder is behind). Stops at [`STOP_SEQ`]
/// or when the recorder is gone.
fn evaluate(
    feed: EvaluationReceiver,
    engine: &Mutex<Engine>,
    events: &mpsc::Sender<Recorded>,
    telemetry: &Telemetry,
    clock: &ClockHandle,
) {
    while let Ok(Evaluation { last_seq, samples }) = feed.recv() {
        if last_seq == STOP_SEQ {
            return;
        }
        let now_ms = clock.now_ms();
        let mut found = Vec::new();
        {
            let mut engine = lock(engine);
            for s in &samples {
                let point = Point {
                    agent_id: &s.agent_id,
                    metric: &s.metric_name,
                    labels: &s.labels,
                    timestamp_ms: s.timestamp_ms,
                    value: s.value,
                };
                found.extend(engine.observe(&point, now_ms));
            }
        }
        telemetry.rule_evaluations.inc_by(samples.len() as u64);
        if events.blocking_send(Recorded::Evaluated { events: found, through: last_seq }).is_err() {
            return;
        }
    }
}

/// Stores each batch of events with the evaluation cursor, then notifies
/// them in order. An evaluation without events moves the stored cursor at
/// most every [`CURSOR_PERIOD`], and at stop.
async fn record_events(
    mut rx: mpsc::Receiver<Recorded>,
    management: Arc<Management>,
    notifier: Notifier,
    telemetry: Arc<Telemetry>,
    clock: ClockHandle,
    cursor: Arc<AtomicI64>,
) {
    /// Events stored in one transaction at most (one commit, one fsync).
    const GROUP: usize = 4096;
    let mut through = cursor.load(Ordering::Relaxed);
    let mut last_stored = Instant::now();
    let mut tick = tokio::time::interval(CURSOR_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            message = rx.recv() => message,
            _ = tick.tick() => {
                if through > cursor.load(Ordering::Relaxed) && last_stored.elapsed() >= CURSOR_PERIOD {
                    store_and_submit(Vec::new(), through, &management, &notifier, &telemetry, &clock, &cursor).await;
                    last_stored = Instant::now();
                }
                continue;
            }
        };
        let Some(first) = first else { return };
        // Take whatever else is queued too: under a burst of events this
        // stores them in one transaction instead of one per batch.
        let mut events = Vec::new();
        let mut stop = None;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Recorded::Evaluated { events: batch, through: seq } => {
                    events.extend(batch);
                    through = through.max(seq);
                }
                Recorded::Stop(done) => {
                    stop = Some(done);
                    break;
                }
            }
            if events.len() < GROUP {
                next = rx.try_recv().ok();
            }
        }
        let cursor_due =
            through > cursor.load(Ordering::Relaxed) && (stop.is_some() || last_stored.elapsed() >= CURSOR_PERIOD);
        if !events.is_empty() || cursor_due {
            store_and_submit(events, through, &management, &notifier, &telemetry, &clock, &cursor).await;
            last_stored = Instant::now();
        }
        if let Some(done) = stop {
            let _ = done.send(());
            return;
        }
    }
}

/// Stores events in `cert.db` (a reminder updates its alert's open event)
/// with the evaluation cursor `through`, then hands them to the notifier
/// with their stored ids. A failed store is retried (the engine waits
/// meanwhile): the cursor may only move with its events. The server clock
/// stamps `created_at` and `updated_at`; the events' own times are their
/// samples'.
async fn store_and_submit(
    events: Vec<Event>,
    through: i64,
    management: &Arc<Management>,
    notifier: &Notifier,
    telemetry: &Telemetry,
    clock: &ClockHandle,
    cursor: &AtomicI64,
) {
    let rows: Vec<EventWrite> = events
        .iter()
        .map(|e| match e.kind {
            EventKind::Reminder => EventWrite::Remind(stored_event(e)),
            EventKind::Fired | EventKind::Recovered => EventWrite::Insert(stored_event(e)),
        })
        .collect();
    let mut retry = Duration::from_millis(100);
    let stored = loop {
        let (m, rows) = (management.clone(), rows.clone());
        let now_s = clock.now_ms() / 1000;
        let error = match tokio::task::spawn_blocking(move || m.record_evaluation(rows, now_s, Some(through))).await {
            Ok(Ok(stored)) => break stored,
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        tracing::error!(%error, events = events.len(), "storing alert events failed; retrying (evaluation waits)");
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(Duration::from_secs(5));
    };
    cursor.fetch_max(through, Ordering::Relaxed);
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
