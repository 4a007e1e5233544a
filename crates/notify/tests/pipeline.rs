//! The notification pipeline: aggregation timers (Tokio's paused clock),
//! severity routing, silence windows in named time zones (injected wall
//! clock), hot reload during a hung send and per-recipient failures (real
//! webhook channels and HTTP receivers).

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use oxmon_common::rule::Severity;
use oxmon_common::silence::Window;
use oxmon_notify::{
    Alert, AlertStatus, BoxFuture, Channel, ChannelEntry, LogSink, NotificationLog, Notifier, RecipientResult,
    SendReport, SilenceEntry, build_channel,
};
use support::http::{Receiver, Reply};
use support::{T0, alert, http, http_with};

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<NotificationLog>>>);

impl LogSink for Logs {
    fn record(&self, log: NotificationLog) {
        self.0.lock().unwrap().push(log);
    }
}

impl Logs {
    fn all(&self) -> Vec<NotificationLog> {
        self.0.lock().unwrap().clone()
    }

    fn for_channel(&self, id: &str) -> Vec<NotificationLog> {
        self.all().into_iter().filter(|l| l.channel_id == id).collect()
    }

    /// Waits in real time (up to 10 s) for `n` logs of channel `id`.
    async fn wait_for(&self, id: &str, n: usize) -> Vec<NotificationLog> {
        for _ in 0..1000 {
            let logs = self.for_channel(id);
            if logs.len() >= n {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} logs for {id}, got {:?}", self.for_channel(id));
    }
}

/// An in-memory channel that keeps what the pipeline hands it.
#[derive(Debug, Default)]
struct Inbox(Mutex<Vec<Alert>>);

impl Channel for Inbox {
    fn channel_type(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, alert: &'a Alert, recipients: &'a [String]) -> BoxFuture<'a, SendReport> {
        self.0.lock().unwrap().push(alert.clone());
        let recipient_details =
            recipients.iter().map(|r| RecipientResult { recipient: r.clone(), ok: true, error: None }).collect();
        Box::pin(async move { SendReport { success: true, recipient_details, ..SendReport::default() } })
    }
}

impl Inbox {
    fn alerts(&self) -> Vec<Alert> {
        self.0.lock().unwrap().clone()
    }
}

fn entry(id: &str, min_severity: Severity, channel: Arc<dyn Channel>, recipients: Vec<String>) -> ChannelEntry {
    ChannelEntry {
        id: id.into(),
        name: format!("channel {id}"),
        channel_type: channel.channel_type().into(),
        min_severity,
        recipients,
        channel,
    }
}

struct Setup {
    notifier: Notifier,
    logs: Logs,
    now: Arc<AtomicI64>,
    inbox: Arc<Inbox>,
}

/// A notifier with one in-memory channel (`inbox`, every severity) and the
/// wall clock at [`T0`].
fn setup(window: Duration) -> Setup {
    let logs = Logs::default();
    let now = Arc::new(AtomicI64::new(T0));
    let clock = now.clone();
    let notifier = Notifier::start(Arc::new(logs.clone()), Arc::new(move || clock.load(Ordering::SeqCst)));
    let inbox = Arc::new(Inbox::default());
    notifier.set_channels(vec![entry("inbox", Severity::Info, inbox.clone(), vec!["r".into()])]);
    notifier.set_aggregation_window(window);
    Setup { notifier, logs, now, inbox }
}

/// Lets spawned tasks run (paused clock: no time passes).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn fired(rule: &str, agent: &str, severity: Severity) -> Alert {
    Alert { rule_id: rule.into(), agent_id: agent.into(), severity, ..alert() }
}

#[tokio::test(start_paused = true)]
async fn a_lone_alert_is_sent_when_its_window_closes() {
    let s = setup(Duration::from_secs(60));
    s.notifier.submit(alert());
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(s.inbox.alerts().is_empty(), "held for the window");
    tokio::time::sleep(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(s.inbox.alerts(), vec![alert()], "sent as itself, with no later alert needed");
    let logs = s.logs.all();
    assert_eq!(logs.len(), 1);
    assert_eq!((logs[0].alert_id.as_str(), logs[0].status(), logs[0].recipient_count()), ("a1", "success", 1));
    assert_eq!(s.notifier.stats().sent, 1);
}

#[tokio::test(start_paused = true)]
async fn alerts_of_one_rule_and_status_in_a_window_become_one_summary() {
    let s = setup(Duration::from_secs(60));
    s.notifier.submit(fired("r1", "web-1", Severity::Warning));
    tokio::time::sleep(Duration::from_secs(10)).await;
    s.notifier.submit(fired("r1", "web-2", Severity::Critical));
    s.notifier.submit(Alert { value: 42.0, ..fired("r1", "web-1", Severity::Warning) });
    s.notifier.submit(Alert { status: AlertStatus::Recovered, ..fired("r1", "web-1", Severity::Warning) });
    s.notifier.submit(fired("r2", "web-1", Severity::Info));
    s.now.store(T0 + 70_000, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(61)).await;
    settle().await;

    let sent = s.inbox.alerts();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    let summary = sent.iter().find(|a| a.rule_id == "r1" && a.status == AlertStatus::Firing).unwrap();
    assert_eq!(
        summary.message,
        "3 similar alerts aggregated since 12:00:00: cpu.usage has been above 90.0 for the configured duration on web-1"
    );
    assert_eq!(summary.id, format!("agg-r1-{}", T0 + 70_000));
    assert_eq!((summary.severity, summary.agent_id.as_str(), summary.value), (Severity::Critical, "2 agents", 42.0));
    assert!(sent.iter().any(|a| a.rule_id == "r1" && a.status == AlertStatus::Recovered && a.id == "a1"));
    assert!(sent.iter().any(|a| a.rule_id == "r2" && a.id == "a1"));
    assert_eq!(s.notifier.stats().aggregated, 2);
    assert_eq!(s.logs.all().len(), 3, "one log per channel per (aggregated) alert");
}

#[tokio::test(start_paused = true)]
async fn a_zero_window_sends_at_once_and_shrinking_the_window_flushes_open_buffers() {
    let s = setup(Duration::ZERO);
    s.notifier.submit(alert());
    settle().await;
    assert_eq!(s.inbox.alerts().len(), 1);

    s.notifier.set_aggregation_window(Duration::from_secs(3600));
    settle().await;
    s.notifier.submit(fired("r9", "web-1", Severity::Info));
    settle().await;
    assert_eq!(s.inbox.alerts().len(), 1, "buffered for an hour");
    s.notifier.set_aggregation_window(Duration::ZERO);
    settle().await;
    assert_eq!(s.inbox.alerts().len(), 2, "applied live: the open buffer went out");
}

#[tokio::test(start_paused = true)]
async fn alerts_go_to_every_channel_whose_minimum_they_reach() {
    let s = setup(Duration::ZERO);
    let (warning, critical) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    s.notifier.set_channels(vec![
        entry("info", Severity::Info, s.inbox.clone(), vec![]),
        entry("warning", Severity::Warning, warning.clone(), vec![]),
        entry("critical", Severity::Critical, critical.clone(), vec![]),
    ]);
    for sev in [Severity::Info, Severity::Warning, Severity::Critical] {
        s.notifier.submit(fired("r1", "web-1", sev));
    }
    settle().await;
    let severities = |i: &Inbox| i.alerts().iter().map(|a| a.severity).collect::<Vec<_>>();
    assert_eq!(severities(&s.inbox), vec![Severity::Info, Severity::Warning, Severity::Critical]);
    assert_eq!(severities(&warning), vec![Severity::Warning, Severity::Critical]);
    assert_eq!(severities(&critical), vec![Severity::Critical]);
    assert_eq!(s.logs.all().len(), 6);
}

fn silence(start: &str, end: &str, recurrence: Option<&str>, zone: &str) -> SilenceEntry {
    SilenceEntry { window: Window::parse(start, end, recurrence).unwrap(), timezone: TimeZone::get(zone).unwrap() }
}

#[tokio::test(start_paused = true)]
async fn a_silence_window_is_read_in_its_own_time_zone() {
    let s = setup(Duration::ZERO);
    // T0 is 12:00 UTC, 20:00 in Shanghai.
    s.notifier.set_silence_windows(vec![silence("19:00", "21:00", None, "Asia/Shanghai")]);
    s.notifier.submit(alert());
    s.notifier.submit(Alert { status: AlertStatus::Recovered, ..alert() });
    settle().await;
    assert!(s.inbox.alerts().is_empty(), "fired and recovered alike are silenced");
    assert_eq!(s.notifier.stats().silenced, 2);
    assert!(s.logs.all().is_empty());

    // 14:00 UTC is 22:00 in Shanghai: outside the window.
    s.now.store(T0 + 2 * 3_600_000, Ordering::SeqCst);
    s.notifier.submit(alert());
    settle().await;
    assert_eq!(s.inbox.alerts().len(), 1);

    // The same window in UTC would not have silenced T0.
    s.now.store(T0, Ordering::SeqCst);
    s.notifier.set_silence_windows(vec![silence("19:00", "21:00", None, "UTC")]);
    s.notifier.submit(alert());
    settle().await;
    assert_eq!(s.inbox.alerts().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_silence_window_applies_only_on_its_days() {
    let s = setup(Duration::ZERO);
    // 08:00 in New York (EDT, UTC-4) is 12:00 UTC: T0 is Wednesday 08:00 there.
    s.notifier.set_silence_windows(vec![silence("07:00", "09:00", Some("sat,sun"), "America/New_York")]);
    s.notifier.submit(alert());
    settle().await;
    assert_eq!(s.inbox.alerts().len(), 1, "Wednesday is not silenced");

    s.now.store(T0 + 3 * 86_400_000, Ordering::SeqCst); // Saturday 08:00 in New York
    s.notifier.submit(alert());
    settle().await;
    assert_eq!(s.inbox.alerts().len(), 1, "Saturday is");
    assert_eq!(s.notifier.stats().silenced, 1);
}

#[tokio::test]
async fn a_hung_send_blocks_neither_other_channels_nor_a_reload() {
    let hung = Receiver::start(|_, _| Reply::Hang).await;
    let healthy = Receiver::always("ok").await;
    let slow_client = http_with(Duration::from_secs(60));
    let webhook = |c: &oxmon_notify::HttpClient| build_channel("webhook", "{}", c).unwrap();
    let s = setup(Duration::ZERO);
    s.notifier.set_channels(vec![
        entry("hung", Severity::Info, webhook(&slow_client), vec![hung.url("/never")]),
        entry("healthy", Severity::Info, webhook(&http()), vec![healthy.url("/a")]),
    ]);
    s.notifier.submit(alert());
    hung.wait_for(1).await;
    let logs = s.logs.wait_for("healthy", 1).await;
    assert!(logs[0].report.success);

    // Reload while the first channel's send is still hanging.
    s.notifier.set_channels(vec![entry("healthy2", Severity::Info, webhook(&http()), vec![healthy.url("/b")])]);
    s.notifier.submit(Alert { id: "a2".into(), ..alert() });
    let logs = s.logs.wait_for("healthy2", 1).await;
    assert_eq!(logs[0].alert_id, "a2");
    assert_eq!(healthy.requests().last().unwrap().path, "/b");
    assert!(s.logs.for_channel("hung").is_empty(), "still hanging");
}

#[tokio::test]
async fn one_failed_recipient_makes_a_failed_log() {
    let good = Receiver::always("ok").await;
    let bad = Receiver::start(|_, _| Reply::Status(404, "gone".into())).await;
    let s = setup(Duration::ZERO);
    let channel = build_channel("webhook", "{}", &http()).unwrap();
    s.notifier.set_channels(vec![entry("hook", Severity::Info, channel, vec![good.url("/ok"), bad.url("/gone")])]);
    s.notifier.submit(alert());
    let log = s.logs.wait_for("hook", 1).await.remove(0);
    assert_eq!(log.status(), "failed");
    assert_eq!(
        (log.rule_id.as_str(), log.agent_id.as_str(), log.severity, log.channel_name.as_str()),
        ("r1", "web-1", Severity::Critical, "channel hook")
    );
    assert_eq!(log.created_at_ms, T0);
    assert_eq!(log.recipient_count(), 2);
    assert_eq!(
        log.report.recipient_details_json(),
        format!(
            r#"[{{"recipient":"{}","status":"success"}},{{"error":"HTTP 404 Not Found: gone","recipient":"{}","status":"failed"}}]"#,
            good.url("/ok"),
            bad.url("/gone")
        )
    );
    assert_eq!((s.notifier.stats().sent, s.notifier.stats().failed), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn shutdown_sends_pending_aggregates_first() {
    let s = setup(Duration::from_secs(600));
    let other = s.notifier.clone();
    s.notifier.submit(alert());
    s.notifier.shutdown().await;
    assert_eq!(s.inbox.alerts().len(), 1);
    assert_eq!(s.logs.all().len(), 1);
    other.submit(alert());
    assert_eq!(other.stats().dropped, 1, "nothing takes alerts after shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_channel_test_bypasses_routing_silence_and_aggregation() {
    let s = setup(Duration::from_secs(600));
    s.notifier.set_silence_windows(vec![silence("00:00", "23:59", None, "UTC")]);
    let critical_only = entry("crit", Severity::Critical, s.inbox.clone(), vec!["x".into()]);
    let report = s.notifier.send_test(&critical_only).await;
    assert!(report.success);
    let sent = s.inbox.alerts();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].id.clone(), sent[0].severity), (format!("test-{T0}"), Severity::Info));
    let logs = s.logs.for_channel("crit");
    assert_eq!((logs.len(), logs[0].rule_id.as_str()), (1, "test-rule"));
}
