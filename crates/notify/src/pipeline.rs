//! The notification pipeline: silence windows, aggregation per rule and
//! status, routing by severity, one task per channel send, and a log entry
//! per channel per alert.
//!
//! [`Notifier`] is a cheap handle to one worker task (rust-analyzer's
//! handle/actor shape). [`Notifier::submit`] checks the silence windows and
//! queues the alert without ever blocking; the worker buffers alerts per
//! `(rule_id, status)` and flushes each buffer when its window closes (a
//! timer, so a lone alert is sent too), then spawns one task per matching
//! channel. Channel and silence reloads swap a snapshot, so an in-flight
//! send never blocks them.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use oxmon_common::rule::Severity;
use oxmon_common::silence::Window;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::alert::{Alert, AlertStatus};
use crate::channel::Channel;
use crate::report::SendReport;

mod aggregate;
mod silence;

use aggregate::Aggregate;

/// Alerts waiting for the worker; beyond this, submissions are dropped (and
/// counted).
pub const QUEUE_CAPACITY: usize = 1024;
/// Channel sends running at once; beyond this, sends are dropped (and
/// counted) rather than piling up behind a dead receiver.
pub const MAX_IN_FLIGHT: usize = 256;

/// A loaded channel: identity, routing threshold, recipients and the built
/// channel.
#[derive(Clone, Debug)]
pub struct ChannelEntry {
    pub id: String,
    pub name: String,
    pub channel_type: String,
    /// Alerts below this severity skip the channel.
    pub min_severity: Severity,
    pub recipients: Vec<String>,
    pub channel: Arc<dyn Channel>,
}

/// A silence window and the time zone its times are in.
#[derive(Clone, Debug)]
pub struct SilenceEntry {
    pub window: Window,
    pub timezone: TimeZone,
}

/// One channel's attempt at one (possibly aggregated) alert: a
/// `notification_logs` row.
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationLog {
    pub alert_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub agent_id: String,
    pub severity: Severity,
    pub channel_id: String,
    pub channel_name: String,
    pub channel_type: String,
    pub report: SendReport,
    pub created_at_ms: i64,
}

impl NotificationLog {
    /// `success` or `failed`.
    pub fn status(&self) -> &'static str {
        if self.report.success { "success" } else { "failed" }
    }

    pub fn recipient_count(&self) -> usize {
        self.report.recipient_details.len()
    }
}

/// Where notification logs go (the server writes them to its database).
/// Called from the send tasks: it must not block.
pub trait LogSink: Send + Sync + 'static {
    fn record(&self, log: NotificationLog);
}

/// Wall-clock time in Unix milliseconds, injectable for tests. Timers
/// (aggregation windows) use Tokio's clock, so tests can pause it.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

impl<F: Fn() -> i64 + Send + Sync + 'static> Clock for F {
    fn now_ms(&self) -> i64 {
        self()
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// Counters since start (exported as Prometheus metrics by the server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifierStats {
    /// Channel sends that reached every recipient.
    pub sent: u64,
    /// Channel sends where some recipient failed.
    pub failed: u64,
    /// Alerts or sends dropped because a queue was full or the notifier
    /// had stopped.
    pub dropped: u64,
    /// Alerts not sent because a silence window was active.
    pub silenced: u64,
    /// Alerts folded into another one's summary.
    pub aggregated: u64,
}

/// Handle to the notification worker. Clones share the worker.
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Command>,
}

struct Shared {
    channels: RwLock<Arc<Vec<ChannelEntry>>>,
    silences: RwLock<Arc<Vec<SilenceEntry>>>,
    window_ms: AtomicU64,
    window_changed: Notify,
    sink: Arc<dyn LogSink>,
    clock: Arc<dyn Clock>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    silenced: AtomicU64,
    aggregated: AtomicU64,
}

enum Command {
    Alert(Alert),
    Shutdown(oneshot::Sender<()>),
}

impl Notifier {
    /// Starts the worker on the current Tokio runtime (must be called from
    /// within one). No channels, no silence windows, aggregation off until
    /// set.
    pub fn start(sink: Arc<dyn LogSink>, clock: Arc<dyn Clock>) -> Notifier {
        let shared = Arc::new(Shared {
            channels: RwLock::new(Arc::new(Vec::new())),
            silences: RwLock::new(Arc::new(Vec::new())),
            window_ms: AtomicU64::new(0),
            window_changed: Notify::new(),
            sink,
            clock,
            counters: Counters::default(),
        });
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let worker = Worker { shared: shared.clone(), rx, buffers: HashMap::new(), tasks: JoinSet::new() };
        tokio::spawn(worker.run());
        Notifier { shared, tx }
    }

    /// Replaces the channel set (hot reload). Sends in flight finish with
    /// the channels they started with.
    pub fn set_channels(&self, channels: Vec<ChannelEntry>) {
        *write(&self.shared.channels) = Arc::new(channels);
    }

    pub fn set_silence_windows(&self, windows: Vec<SilenceEntry>) {
        *write(&self.shared.silences) = Arc::new(windows);
    }

    /// Sets the aggregation window; open buffers are re-timed at once
    /// (`0` sends them, and later alerts, immediately).
    pub fn set_aggregation_window(&self, window: Duration) {
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        self.shared.window_ms.store(ms, Ordering::Relaxed);
        self.shared.window_changed.notify_one();
    }

    /// Hands an alert to the pipeline. Never blocks: an alert that arrives
    /// while a silence window is active is counted and dropped, as is one
    /// that finds the queue full.
    pub fn submit(&self, alert: Alert) {
        let now = self.shared.clock.now_ms();
        if silence::active(&read(&self.shared.silences), now) {
            self.shared.counters.silenced.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(alert_id = %alert.id, rule_id = %alert.rule_id, "alert silenced by a silence window");
            return;
        }
        if let Err(e) = self.tx.try_send(Command::Alert(alert)) {
            self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "notification queue full",
                mpsc::error::TrySendError::Closed(_) => "notifier stopped",
            };
            tracing::warn!(reason, "alert notification dropped");
        }
    }

    /// Sends the synthetic test event ([`Alert::test`]) through one channel
    /// to its recipients, bypassing severity routing, silence windows and
    /// aggregation; the result is logged like any send and returned.
    pub async fn send_test(&self, entry: &ChannelEntry) -> SendReport {
        let alert = Alert::test(self.shared.clock.now_ms());
        let report = entry.channel.send(&alert, &entry.recipients).await;
        self.shared.log(entry, &alert, report.clone());
        report
    }

    pub fn stats(&self) -> NotifierStats {
        let c = &self.shared.counters;
        NotifierStats {
            sent: c.sent.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            silenced: c.silenced.load(Ordering::Relaxed),
            aggregated: c.aggregated.load(Ordering::Relaxed),
        }
    }

    /// Sends every pending aggregate, waits for the sends in flight (each
    /// bounded by its channel's timeouts), then stops the worker. Alerts
    /// submitted afterwards through other handles are dropped.
    pub async fn shutdown(self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl Shared {
    fn log(&self, entry: &ChannelEntry, alert: &Alert, report: SendReport) {
        let counter = if report.success { &self.counters.sent } else { &self.counters.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        self.sink.record(NotificationLog {
            alert_id: alert.id.clone(),
            rule_id: alert.rule_id.clone(),
            rule_name: alert.rule_name.clone(),
            agent_id: alert.agent_id.clone(),
            severity: alert.severity,
            channel_id: entry.id.clone(),
            channel_name: entry.name.clone(),
            channel_type: entry.channel_type.clone(),
            report,
            created_at_ms: self.clock.now_ms(),
        });
    }

    fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms.load(Ordering::Relaxed))
    }
}

// A poisoned lock only means a panic elsewhere mid-assignment of an `Arc`;
// the value is still whole, so keep using it.
fn read<T: Clone>(lock: &RwLock<Arc<T>>) -> Arc<T> {
    lock.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// Owns the aggregation buffers and the send tasks.
struct Worker {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Command>,
    buffers: HashMap<(String, AlertStatus), Aggregate>,
    tasks: JoinSet<()>,
}

impl Worker {
    async fn run(mut self) {
        loop {
            let next_deadline = self.buffers.values().map(|b| b.deadline).min();
            tokio::select! {
                cmd = self.rx.recv() => match cmd {
                    Some(Command::Alert(alert)) => self.on_alert(alert),
                    Some(Command::Shutdown(done)) => {
                        self.stop().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.stop().await;
                        return;
                    }
                },
                () = sleep_until(next_deadline) => self.flush_due(),
                () = self.shared.window_changed.notified() => self.retime(),
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Err(e) = joined {
                        tracing::error!(error = %e, "notification send task failed");
                    }
                }
            }
        }
    }

    fn on_alert(&mut self, alert: Alert) {
        let window = self.shared.window();
        if window.is_zero() {
            self.dispatch(alert);
            return;
        }
        let key = (alert.rule_id.clone(), alert.status);
        match self.buffers.get_mut(&key) {
            Some(buffer) => {
                buffer.add(alert);
                self.shared.counters.aggregated.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                let opened = Instant::now();
                self.buffers.insert(key, Aggregate::new(alert, opened, opened + window));
            }
        }
    }

    /// Flushes the buffers whose window has closed.
    fn flush_due(&mut self) {
        let now = Instant::now();
        let due: Vec<_> = self.buffers.iter().filter(|(_, b)| b.deadline <= now).map(|(k, _)| k.clone()).collect();
        for key in due {
            if let Some(buffer) = self.buffers.remove(&key) {
                let alert = buffer.into_alert(self.shared.clock.now_ms());
                self.dispatch(alert);
            }
        }
    }

    /// The window changed: every open buffer now closes `window` after it
    /// opened.
    fn retime(&mut self) {
        let window = self.shared.window();
        for b in self.buffers.values_mut() {
            b.deadline = b.opened + window;
        }
        self.flush_due();
    }

    /// Spawns one send per channel whose `min_severity` the alert reaches.
    fn dispatch(&mut self, alert: Alert) {
        let alert = Arc::new(alert);
        let channels = read(&self.shared.channels);
        for entry in channels.iter().filter(|c| alert.severity >= c.min_severity) {
            if self.tasks.len() >= MAX_IN_FLIGHT {
                self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel = %entry.name, alert_id = %alert.id, "too many notifications in flight; send dropped");
                continue;
            }
            let (shared, entry, alert) = (self.shared.clone(), entry.clone(), alert.clone());
            self.tasks.spawn(async move {
                let report = entry.channel.send(&alert, &entry.recipients).await;
                if !report.success {
                    tracing::warn!(
                        channel = %entry.name,
                        alert_id = %alert.id,
                        error = report.error_message.as_deref().unwrap_or(""),
                        "notification failed"
                    );
                }
                shared.log(&entry, &alert, report);
            });
        }
    }

    async fn stop(&mut self) {
        self.rx.close();
        // Alerts queued before the stop are still handled.
        while let Ok(Command::Alert(alert)) = self.rx.try_recv() {
            self.on_alert(alert);
        }
        let all: Vec<_> = self.buffers.drain().map(|(_, b)| b).collect();
        for buffer in all {
            let alert = buffer.into_alert(self.shared.clock.now_ms());
            self.dispatch(alert);
        }
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "notification send task failed");
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
