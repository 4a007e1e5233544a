//! The writer thread: owns every write connection, commits many callers'
//! samples per transaction, and answers each caller after the commit.
//!
//! Callers hold a cheap [`Writer`] handle and `await` a reply; the thread
//! itself never touches the async runtime. The command queue is bounded:
//! when it is full, [`Writer::write`] fails at once with
//! [`Error::Overloaded`] so the gRPC layer can tell the agent to retry,
//! instead of letting memory grow without limit.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::Sample;
use crate::day::Day;
use crate::error::{Error, Result};
use crate::partition::{SeriesKey, WritePartition};
use crate::reader::list_partitions;

/// Milliseconds since the epoch; injectable so tests decide when buckets close.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Tuning of the writer thread.
#[derive(Clone)]
pub struct WriterConfig {
    pub data_dir: PathBuf,
    /// Commands that may wait in the queue before writes are refused.
    pub queue_capacity: usize,
    /// A commit group stops taking more writes once it holds this many samples.
    pub max_group_samples: usize,
    pub clock: Clock,
    /// Where committed samples that were queued for the alert engine go
    /// (see [`Writer::write_queued`]), in commit order; `None`: nowhere.
    pub evaluations: Option<Sender<Evaluation>>,
    /// The alert engine's cursor: queued samples up to this sequence number
    /// were evaluated. The ones after it, left by an earlier run, are sent
    /// to `evaluations` first, and new ones are numbered after it.
    pub evaluated_through: i64,
}

/// Samples queued for the alert engine, committed, in commit order; the last
/// has sequence number `last_seq` (each message continues the previous one,
/// numbers may skip).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub last_seq: i64,
    pub samples: Vec<Sample>,
}

/// The sending end of the writer's feed of the alert engine.
pub type EvaluationSender = Sender<Evaluation>;
/// The receiving end: the alert engine's thread reads it in order.
pub type EvaluationReceiver = Receiver<Evaluation>;

/// A feed for [`WriterConfig::evaluations`] holding up to `capacity`
/// commit groups; when it is full the writer waits, so the engine's backlog
/// is bounded.
pub fn evaluation_channel(capacity: usize) -> (EvaluationSender, EvaluationReceiver) {
    crossbeam_channel::bounded(capacity.max(1))
}

/// A sample as the partition takes it: series, time, value, and its
/// sequence number when it is queued for the alert engine.
type Row = (SeriesKey, i64, f64, Option<i64>);

/// Samples in one replayed [`Evaluation`] at most.
const REPLAY_CHUNK: usize = 10_000;

impl WriterConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            queue_capacity: 4096,
            max_group_samples: 50_000,
            clock: Arc::new(system_now_ms),
            evaluations: None,
            evaluated_through: 0,
        }
    }
}

impl std::fmt::Debug for WriterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterConfig")
            .field("data_dir", &self.data_dir)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_group_samples", &self.max_group_samples)
            .field("evaluations", &self.evaluations.is_some())
            .field("evaluated_through", &self.evaluated_through)
            .finish_non_exhaustive()
    }
}

/// What a successful write learned about its commit group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteReport {
    /// Callers committed together in this transaction group.
    pub group_writes: usize,
    /// Samples committed in the group.
    pub group_samples: usize,
    /// Time from the group's start to its last commit.
    pub commit_time: Duration,
}

/// Counters the writer keeps for self-observability.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub samples_committed: AtomicU64,
    pub groups_committed: AtomicU64,
    pub groups_failed: AtomicU64,
    pub compaction_steps: AtomicU64,
    /// Whether the most recent commit group failed.
    pub last_group_failed: AtomicBool,
}

enum Command {
    /// `queue[i]`: sample `i` goes to the alert engine too (empty: none does).
    Write {
        samples: Vec<Sample>,
        queue: Vec<bool>,
        reply: oneshot::Sender<Result<WriteReport>>,
    },
    Evaluated(i64),
    Retain {
        retention_days: u32,
        now_ms: i64,
        reply: oneshot::Sender<Result<Vec<Day>>>,
    },
    Compact {
        now_ms: i64,
        reply: oneshot::Sender<Result<()>>,
    },
    Shutdown,
}

/// Handle to the writer thread. Dropping the last handle stops the thread
/// after it has finished the commands already queued.
#[derive(Debug)]
pub struct Writer {
    tx: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<WriterStats>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Write { samples, .. } => write!(f, "Write({} samples)", samples.len()),
            Command::Evaluated(seq) => write!(f, "Evaluated({seq})"),
            Command::Retain { retention_days, .. } => write!(f, "Retain({retention_days} days)"),
            Command::Compact { .. } => write!(f, "Compact"),
            Command::Shutdown => write!(f, "Shutdown"),
        }
    }
}

impl Writer {
    /// Creates the data directory if needed and starts the writer thread.
    pub fn start(config: WriterConfig) -> Result<Writer> {
        crate::files::private_dir(&config.data_dir)
            .map_err(|source| Error::DataDir { path: config.data_dir.clone(), source })?;
        let (tx, rx) = crossbeam_channel::bounded(config.queue_capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        let mut actor = Actor::new(config, rx, stats.clone())?;
        let thread = std::thread::Builder::new()
            .name("oxmon-writer".into())
            .spawn(move || actor.run())
            .map_err(|source| Error::DataDir { path: PathBuf::from("<writer thread>"), source })?;
        Ok(Writer { tx, thread: Some(thread), stats })
    }

    /// Stores `samples` and returns once they are committed to disk.
    ///
    /// Samples must have finite values and timestamps in the years
    /// 0000..=9999; otherwise nothing is written and the error says which.
    pub async fn write(&self, samples: Vec<Sample>) -> Result<WriteReport> {
        self.write_queued(samples, Vec::new()).await
    }

    /// [`Writer::write`], where the samples `queue` marks (`queue[i]` for
    /// `samples[i]`; missing entries are false) are also queued for the
    /// alert engine in the same transaction: after the commit they are sent
    /// to [`WriterConfig::evaluations`] in commit order, and until the
    /// engine reports them evaluated ([`Writer::evaluated`]) they are kept
    /// on disk, so a restart replays them.
    pub async fn write_queued(&self, samples: Vec<Sample>, queue: Vec<bool>) -> Result<WriteReport> {
        if let Some(bad) = samples.iter().find(|s| Day::of_ms(s.timestamp_ms).is_none()) {
            return Err(Error::TimestampOutOfRange(bad.timestamp_ms));
        }
        let (reply, rx) = oneshot::channel();
        self.send(Command::Write { samples, queue, reply })?;
        rx.await.map_err(|_| Error::WriterGone)?
    }

    /// The alert engine has durably recorded the evaluation of every queued
    /// sample up to `seq`: their queue rows may go (they are deleted by
    /// later commits). Never blocks; a report lost to a full queue is
    /// covered by the next one.
    pub fn evaluated(&self, seq: i64) {
        let _ = self.tx.try_send(Command::Evaluated(seq));
    }

    /// Deletes the partitions older than `retention_days` before the day of
    /// `now_ms`; returns the days removed.
    pub async fn retain(&self, retention_days: u32, now_ms: i64) -> Result<Vec<Day>> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Retain { retention_days, now_ms, reply })?;
        rx.await.map_err(|_| Error::WriterGone)?
    }

    /// Moves every bucket closed at `now_ms` into compact storage now.
    pub async fn compact(&self, now_ms: i64) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Compact { now_ms, reply })?;
        rx.await.map_err(|_| Error::WriterGone)?
    }

    /// Commands waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.tx.len()
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    fn send(&self, cmd: Command) -> Result<()> {
        self.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => Error::Overloaded,
            TrySendError::Disconnected(_) => Error::WriterGone,
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Queue behind pending commands so they are all answered first.
        let _ = self.tx.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Partitions idle this long, with nothing left to compact, are closed.
const IDLE_CLOSE: Duration = Duration::from_secs(600);

/// How often the thread looks for compaction work when no commands arrive.
const TICK: Duration = Duration::from_secs(1);

struct Actor {
    dir: PathBuf,
    clock: Clock,
    rx: Receiver<Command>,
    max_group_samples: usize,
    partitions: HashMap<Day, (WritePartition, Instant)>,
    stats: Arc<WriterStats>,
    evaluations: Option<Sender<Evaluation>>,
    /// Whether an engine was configured: queued samples are kept on disk
    /// (even once it stopped, for the next start).
    queueing: bool,
    /// Queued samples of an earlier run not yet evaluated, sent first.
    replay: Vec<Evaluation>,
    /// Sequence number of the next queued sample.
    next_seq: i64,
    /// The engine's cursor: queue rows up to here may be deleted.
    evaluated_through: i64,
}

struct PendingWrite {
    samples: Vec<Sample>,
    queue: Vec<bool>,
    reply: oneshot::Sender<Result<WriteReport>>,
}

impl Actor {
    fn new(config: WriterConfig, rx: Receiver<Command>, stats: Arc<WriterStats>) -> Result<Self> {
        let mut actor = Actor {
            dir: config.data_dir,
            clock: config.clock,
            rx,
            max_group_samples: config.max_group_samples.max(1),
            partitions: HashMap::new(),
            stats,
            queueing: config.evaluations.is_some(),
            evaluations: config.evaluations,
            replay: Vec::new(),
            next_seq: config.evaluated_through.max(0) + 1,
            evaluated_through: config.evaluated_through,
        };
        // Reopen partitions that still hold uncompacted samples (a previous
        // run stopped before their buckets were moved). Collect the queued
        // samples the engine had not evaluated, and drop the evaluated ones.
        let now = (actor.clock)();
        let mut pending = Vec::new();
        for info in list_partitions(&actor.dir)? {
            let mut p = WritePartition::open(&actor.dir, info.day)?;
            actor.next_seq = actor.next_seq.max(p.queued_max() + 1);
            if actor.queueing {
                pending.extend(p.queued_after(actor.evaluated_through)?);
            }
            if p.queued_max() > 0 {
                p.begin()?;
                let cleared = p.clear_queue(actor.evaluated_through).and_then(|()| p.commit());
                if cleared.is_err() {
                    p.rollback(&actor.dir);
                }
                cleared?;
            }
            if p.has_head_rows() {
                actor.partitions.insert(info.day, (p, Instant::now()));
            }
        }
        pending.sort_by_key(|(seq, _)| *seq);
        if !pending.is_empty() {
            tracing::info!(
                samples = pending.len(),
                "queued samples not yet evaluated by the alert engine are replayed"
            );
        }
        for chunk in pending.chunks(REPLAY_CHUNK) {
            let last_seq = chunk.last().map_or(0, |(seq, _)| *seq);
            actor.replay.push(Evaluation { last_seq, samples: chunk.iter().map(|(_, s)| s.clone()).collect() });
        }
        tracing::debug!(open = actor.partitions.len(), now, "storage writer ready");
        Ok(actor)
    }

    fn run(&mut self) {
        for evaluation in std::mem::take(&mut self.replay) {
            self.send_evaluation(evaluation);
        }
        loop {
            let now = (self.clock)();
            let busy = self.partitions.values().any(|(p, _)| p.needs_compaction(now));
            let first = match self.rx.recv_timeout(if busy { Duration::ZERO } else { TICK }) {
                Ok(cmd) => Some(cmd),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut writes = Vec::new();
            let mut others = Vec::new();
            let mut group_samples = 0;
            let mut next = first;
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Write { samples, queue, reply } => {
                        group_samples += samples.len();
                        writes.push(PendingWrite { samples, queue, reply });
                    }
                    Command::Evaluated(seq) => self.evaluated_through = self.evaluated_through.max(seq),
                    other => others.push(other),
                }
                if group_samples < self.max_group_samples && others.is_empty() {
                    next = self.rx.try_recv().ok();
                }
            }
            if !writes.is_empty() {
                self.commit_group(writes);
            }
            for cmd in others {
                match cmd {
                    Command::Retain { retention_days, now_ms, reply } => {
                        let _ = reply.send(self.retain(retention_days, now_ms));
                    }
                    Command::Compact { now_ms, reply } => {
                        let _ = reply.send(self.compact_all(now_ms));
                    }
                    Command::Shutdown => return,
                    Command::Write { .. } | Command::Evaluated(_) => {}
                }
            }
            self.compaction_step((self.clock)());
        }
    }

    fn commit_group(&mut self, mut writes: Vec<PendingWrite>) {
        let started = Instant::now();
        let mut by_day: BTreeMap<Day, Vec<Row>> = BTreeMap::new();
        let mut total = 0;
        let mut evaluation = Evaluation { last_seq: 0, samples: Vec::new() };
        for w in &mut writes {
            total += w.samples.len();
            let queue = std::mem::take(&mut w.queue);
            for (i, s) in w.samples.drain(..).enumerate() {
                // Checked in `Writer::write`; anything else is skipped rather
                // than failing the whole group.
                let Some(day) = Day::of_ms(s.timestamp_ms) else {
                    continue;
                };
                if !s.value.is_finite() {
                    continue;
                }
                let seq = if queue.get(i).copied().unwrap_or(false) && self.queueing {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    evaluation.last_seq = seq;
                    evaluation.samples.push(s.clone());
                    Some(seq)
                } else {
                    None
                };
                let key = SeriesKey { agent_id: s.agent_id, metric_name: s.metric_name, labels: s.labels };
                by_day.entry(day).or_default().push((key, s.timestamp_ms, s.value, seq));
            }
        }
        let now = (self.clock)();
        let result = by_day.into_iter().try_for_each(|(day, rows)| self.commit_day(day, rows, now));
        match result {
            Ok(()) => {
                self.stats.samples_committed.fetch_add(total as u64, Ordering::Relaxed);
                self.stats.groups_committed.fetch_add(1, Ordering::Relaxed);
                self.stats.last_group_failed.store(false, Ordering::Relaxed);
                let report =
                    WriteReport { group_writes: writes.len(), group_samples: total, commit_time: started.elapsed() };
                // Handed over before the answers, so whatever a caller has
                // seen acknowledged is already in the engine's feed.
                if !evaluation.samples.is_empty() {
                    self.send_evaluation(evaluation);
                }
                for w in writes {
                    let _ = w.reply.send(Ok(report));
                }
            }
            Err(error) => {
                self.stats.groups_failed.fetch_add(1, Ordering::Relaxed);
                self.stats.last_group_failed.store(true, Ordering::Relaxed);
                tracing::error!(%error, writes = writes.len(), "commit group failed; callers will retry");
                let error = Arc::new(error);
                for w in writes {
                    let _ = w.reply.send(Err(Error::CommitFailed(error.clone())));
                }
            }
        }
    }

    /// Hands committed samples to the alert engine, in commit order. Blocks
    /// while its feed is full, so the engine's backlog stays bounded (the
    /// acks of that group wait too); without an engine, drops them (they
    /// stay queued on disk for the next start).
    fn send_evaluation(&mut self, evaluation: Evaluation) {
        let Some(tx) = &self.evaluations else { return };
        if tx.send(evaluation).is_err() {
            tracing::warn!("the alert engine stopped; queued samples stay on disk for the next start");
            self.evaluations = None;
        }
    }

    fn commit_day(&mut self, day: Day, rows: Vec<Row>, now: i64) -> Result<()> {
        let dir = self.dir.clone();
        let evaluated_through = self.evaluated_through;
        let p = self.partition(day)?;
        p.begin()?;
        let inserted =
            p.clear_queue(evaluated_through).and_then(|()| p.insert_queued(rows, now)).and_then(|()| p.commit());
        if inserted.is_err() {
            p.rollback(&dir);
        }
        inserted
    }

    fn partition(&mut self, day: Day) -> Result<&mut WritePartition> {
        let entry = match self.partitions.entry(day) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((WritePartition::open(&self.dir, day)?, Instant::now()))
            }
        };
        entry.1 = Instant::now();
        Ok(&mut entry.0)
    }

    /// One compaction chunk on the oldest partition that needs it, then
    /// closes partitions that are idle and fully compacted.
    fn compaction_step(&mut self, now: i64) {
        let mut days: Vec<Day> = self.partitions.keys().copied().collect();
        days.sort();
        for day in days {
            let Some((p, _)) = self.partitions.get_mut(&day) else {
                continue;
            };
            if !p.needs_compaction(now) {
                continue;
            }
            match p.compact_step(now) {
                Ok(true) => {
                    self.stats.compaction_steps.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%day, %error, "compaction step failed; will retry");
                    return;
                }
            }
        }
        self.partitions.retain(|_, (p, used)| p.needs_compaction(now) || used.elapsed() < IDLE_CLOSE);
    }

    fn compact_all(&mut self, now: i64) -> Result<()> {
        for (p, _) in self.partitions.values_mut() {
            p.compact_all(now)?;
        }
        Ok(())
    }

    fn retain(&mut self, retention_days: u32, now: i64) -> Result<Vec<Day>> {
        let Some(today) = Day::of_ms(now) else {
            return Err(Error::TimestampOutOfRange(now));
        };
        let cutoff = today.minus_days(retention_days);
        let mut removed = Vec::new();
        for info in list_partitions(&self.dir)? {
            if info.day >= cutoff {
                continue;
            }
            // Close our connection first so the files can really go.
            self.partitions.remove(&info.day);
            remove_partition_files(&info.path)?;
            removed.push(info.day);
        }
        if !removed.is_empty() {
            tracing::info!(removed = removed.len(), %cutoff, "retention removed old partitions");
        }
        Ok(removed)
    }
}

fn remove_partition_files(db: &Path) -> Result<()> {
    for path in [db.to_owned(), db.with_extension("db-wal"), db.with_extension("db-shm")] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::PartitionDelete { path, source }),
        }
    }
    Ok(())
}

/// The system clock in milliseconds since the epoch.
pub fn system_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
