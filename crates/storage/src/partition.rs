//! One day partition: schema, the writer's view of it, and compaction.
//!
//! New samples go to `head`, keyed `(series_id, ts)`. Inserts there land all
//! over the b-tree (every series grows at its own end), which leaves pages
//! part-full; that is fine for a table that only holds the last minutes.
//! Once a 10-minute bucket is closed, its rows move to `samples`, keyed
//! `(bucket, series_id, ts)`: a whole bucket is appended in key order, so
//! those pages fill completely. That is what keeps a stored sample under 24
//! bytes (2-byte series id, 3-byte offset, 8-byte value, ~7 bytes of cell
//! and record header), where oxmon 0.1 spent ~217.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use oxmon_common::metric::Labels;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use crate::day::{BUCKET_MS, BUCKETS_PER_DAY, Day};
use crate::error::{Error, Result};
use crate::migrations::{self, Migration, Schema};

/// The versions of a partition's schema (`PRAGMA user_version`), see
/// `migrations.rs`. Version 1's DDL below is frozen: changes are new steps.
pub(crate) static PARTITION_SCHEMA: Schema<Day> = Schema {
    what: "partition",
    migrations: &[
        Migration { version: 1, name: "series, head and samples tables, metrics view", up: create_v1 },
        Migration {
            version: 2,
            name: "eval_queue: samples committed for the alert engine, until it has evaluated them",
            up: |tx, _| tx.execute_batch(EVAL_QUEUE),
        },
    ],
};

/// Samples some alert rule watches, appended in the transaction that stores
/// them, in commit order (`seq`, global over all partitions): the alert
/// engine evaluates them after the acknowledgement, and what it had not
/// evaluated (its cursor in `cert.db` is older) is replayed at the next
/// start. Rows at or below the cursor are deleted by later commits.
const EVAL_QUEUE: &str = "
CREATE TABLE eval_queue (
    seq       INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    value     REAL NOT NULL
);
";

fn create_v1(tx: &Transaction<'_>, day: &Day) -> rusqlite::Result<()> {
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(&metrics_view(*day))
}

/// A bucket is compacted once it ended this long ago, so that samples a
/// little late still go straight to their final place.
pub(crate) const COMPACTION_GRACE_MS: i64 = 60_000;

/// Series moved per compaction transaction, so ingest waits at most one
/// short transaction behind compaction.
const COMPACTION_CHUNK_SERIES: i64 = 256;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id          INTEGER PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    UNIQUE (agent_id, metric_name, labels)
);
-- ts: milliseconds since the start of the partition's day.
CREATE TABLE IF NOT EXISTS head (
    series_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    value     REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
-- bucket: 10-minute bucket of the day (0..143); ts: milliseconds since the
-- start of the bucket.
CREATE TABLE IF NOT EXISTS samples (
    bucket    INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    value     REAL NOT NULL,
    PRIMARY KEY (bucket, series_id, ts)
) WITHOUT ROWID;
";

fn metrics_view(day: Day) -> String {
    let start = day.start_ms();
    format!(
        "CREATE VIEW IF NOT EXISTS metrics AS
           SELECT {start} + s.bucket * {BUCKET_MS} + s.ts AS timestamp,
                  se.agent_id, se.metric_name, s.value, se.labels
             FROM samples s JOIN series se ON se.id = s.series_id
           UNION ALL
           SELECT {start} + h.ts AS timestamp,
                  se.agent_id, se.metric_name, h.value, se.labels
             FROM head h JOIN series se ON se.id = h.series_id;"
    )
}

/// Opens (creating if needed) the partition of `day` in `dir` for writing,
/// migrating it to the latest schema; refuses, untouched, a file of a newer
/// schema or of an unknown one (an oxmon 0.1 partition).
pub(crate) fn open_for_write(dir: &Path, day: Day) -> Result<Connection> {
    let open_err = |source| Error::PartitionOpen { day, source };
    let path = dir.join(day.file_name());
    migrations::inspect(&path, &PARTITION_SCHEMA, &day, open_err)?;
    crate::files::private_file(&path).map_err(|source| Error::DataDir { path: path.clone(), source })?;
    let mut conn = Connection::open(&path).map_err(open_err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(open_err)?;
    // WAL lets readers run beside the writer; FULL makes every commit durable
    // before the caller is told its samples are stored (group commit pays one
    // fsync for many batches).
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;").map_err(open_err)?;
    migrations::migrate(&mut conn, &path, &PARTITION_SCHEMA, &day, open_err)?;
    Ok(conn)
}

/// Opens an existing partition read-only.
pub(crate) fn open_for_read(path: &Path, day: Day) -> Result<Connection> {
    let open_err = |source| Error::PartitionOpen { day, source };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(open_err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(open_err)?;
    Ok(conn)
}

/// Identity of a series inside one partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey {
    pub agent_id: String,
    pub metric_name: String,
    pub labels: Labels,
}

/// Where an unfinished compaction of one bucket stands.
#[derive(Debug)]
struct Compaction {
    bucket: i64,
    /// Next series id to move.
    next_series: i64,
}

/// The writer's handle on one open partition.
#[derive(Debug)]
pub(crate) struct WritePartition {
    pub day: Day,
    conn: Connection,
    series: HashMap<SeriesKey, i64>,
    max_series_id: i64,
    /// Buckets that have rows in `head`.
    head_buckets: BTreeSet<i64>,
    compaction: Option<Compaction>,
    /// Highest `eval_queue.seq` written (0: none).
    queued_max: i64,
    /// `eval_queue` rows at or below this were deleted.
    queue_cleared: i64,
}

impl WritePartition {
    pub fn open(dir: &Path, day: Day) -> Result<Self> {
        let conn = open_for_write(dir, day)?;
        let read_err = |source| Error::PartitionRead { day, source };
        let mut series = HashMap::new();
        let mut max_series_id = 0;
        {
            let mut stmt = conn.prepare("SELECT id, agent_id, metric_name, labels FROM series").map_err(read_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
                })
                .map_err(read_err)?;
            for row in rows {
                let (id, agent_id, metric_name, labels) = row.map_err(read_err)?;
                max_series_id = max_series_id.max(id);
                let labels = parse_labels(&labels);
                series.insert(SeriesKey { agent_id, metric_name, labels }, id);
            }
        }
        let head_buckets = {
            let mut stmt = conn.prepare(&format!("SELECT DISTINCT ts / {BUCKET_MS} FROM head")).map_err(read_err)?;
            let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).map_err(read_err)?;
            rows.collect::<rusqlite::Result<BTreeSet<i64>>>().map_err(read_err)?
        };
        let queued_max: i64 =
            conn.query_row("SELECT coalesce(max(seq), 0) FROM eval_queue", [], |r| r.get(0)).map_err(read_err)?;
        Ok(Self { day, conn, series, max_series_id, head_buckets, compaction: None, queued_max, queue_cleared: 0 })
    }

    /// Highest sequence number in `eval_queue` (0 when it was never used).
    pub fn queued_max(&self) -> i64 {
        self.queued_max
    }

    /// The queued samples after `after`, in sequence order.
    pub fn queued_after(&self, after: i64) -> Result<Vec<(i64, crate::Sample)>> {
        let day = self.day;
        let read_err = |source| Error::PartitionRead { day, source };
        if self.queued_max <= after {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT q.seq, q.ts, q.value, s.agent_id, s.metric_name, s.labels
                   FROM eval_queue q JOIN series s ON s.id = q.series_id
                  WHERE q.seq > ?1 ORDER BY q.seq",
            )
            .map_err(read_err)?;
        let rows = stmt
            .query_map([after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    crate::Sample {
                        timestamp_ms: day.start_ms() + r.get::<_, i64>(1)?,
                        value: r.get(2)?,
                        agent_id: r.get(3)?,
                        metric_name: r.get(4)?,
                        labels: parse_labels(&r.get::<_, String>(5)?),
                    },
                ))
            })
            .map_err(read_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(read_err)
    }

    /// Deletes the `eval_queue` rows at or below `through` (evaluated), inside
    /// the caller's open transaction; nothing when there are none.
    pub fn clear_queue(&mut self, through: i64) -> Result<()> {
        if through <= self.queue_cleared {
            return Ok(());
        }
        let day = self.day;
        self.conn
            .prepare_cached("DELETE FROM eval_queue WHERE seq <= ?1")
            .and_then(|mut s| s.execute([through]))
            .map_err(|source| Error::PartitionWrite { day, source })?;
        self.queue_cleared = through;
        Ok(())
    }

    pub fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|source| Error::PartitionWrite { day: self.day, source })
    }

    pub fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(|source| Error::PartitionWrite { day: self.day, source })
    }

    /// Rolls back an open transaction. The series cache may now name ids
    /// that were never committed, so it is reloaded.
    pub fn rollback(&mut self, dir: &Path) {
        let _ = self.conn.execute_batch("ROLLBACK");
        match WritePartition::open(dir, self.day) {
            Ok(fresh) => *self = fresh,
            Err(error) => {
                tracing::warn!(day = %self.day, %error, "reloading partition after rollback failed")
            }
        }
    }

    /// Inserts samples inside an open transaction. A sample with the same
    /// series and timestamp replaces the earlier one, so a resent batch is
    /// stored once.
    ///
    /// Samples of buckets still open at `now_ms` go to `head`; late ones
    /// (an agent's backlog) go straight to `samples`, taking the place of any
    /// twin still waiting in `head`. Rows are inserted in key order, which
    /// keeps each transaction walking the b-tree forwards.
    pub fn insert_all(&mut self, rows: Vec<(SeriesKey, i64, f64)>, now_ms: i64) -> Result<()> {
        self.insert_queued(rows.into_iter().map(|(k, ts, v)| (k, ts, v, None)).collect(), now_ms)
    }

    /// [`WritePartition::insert_all`], where a row with a sequence number is
    /// also appended to `eval_queue` under that number.
    pub fn insert_queued(&mut self, rows: Vec<(SeriesKey, i64, f64, Option<i64>)>, now_ms: i64) -> Result<()> {
        let day = self.day;
        let write_err = |source| Error::PartitionWrite { day, source };
        let mut keyed: Vec<(i64, i64, f64)> = Vec::with_capacity(rows.len());
        {
            let mut add_series = self
                .conn
                .prepare_cached("INSERT INTO series (agent_id, metric_name, labels) VALUES (?1, ?2, ?3)")
                .map_err(write_err)?;
            let mut queue = self
                .conn
                .prepare_cached("INSERT INTO eval_queue (seq, series_id, ts, value) VALUES (?1, ?2, ?3, ?4)")
                .map_err(write_err)?;
            for (key, ts_ms, value, seq) in rows {
                let series_id = match self.series.get(&key) {
                    Some(&id) => id,
                    None => {
                        add_series
                            .execute(params![key.agent_id, key.metric_name, key.labels.to_json()])
                            .map_err(write_err)?;
                        let id = self.conn.last_insert_rowid();
                        self.max_series_id = self.max_series_id.max(id);
                        self.series.insert(key, id);
                        id
                    }
                };
                if let Some(seq) = seq {
                    queue.execute(params![seq, series_id, day.offset_ms(ts_ms), value]).map_err(write_err)?;
                    self.queued_max = self.queued_max.max(seq);
                }
                keyed.push((series_id, day.offset_ms(ts_ms), value));
            }
        }
        keyed.sort_unstable_by_key(|&(sid, off, _)| (sid, off));

        let mut to_head = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO head (series_id, ts, value) VALUES (?1, ?2, ?3)")
            .map_err(write_err)?;
        let mut to_samples = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO samples (bucket, series_id, ts, value) VALUES (?1, ?2, ?3, ?4)")
            .map_err(write_err)?;
        let mut drop_twin =
            self.conn.prepare_cached("DELETE FROM head WHERE series_id = ?1 AND ts = ?2").map_err(write_err)?;
        for (series_id, offset, value) in keyed {
            let bucket = offset / BUCKET_MS;
            if bucket_closed(day, bucket, now_ms) {
                to_samples
                    .execute(params![bucket, series_id, offset - bucket * BUCKET_MS, value])
                    .map_err(write_err)?;
                if self.head_buckets.contains(&bucket) {
                    drop_twin.execute(params![series_id, offset]).map_err(write_err)?;
                }
            } else {
                to_head.execute(params![series_id, offset, value]).map_err(write_err)?;
                self.head_buckets.insert(bucket);
            }
        }
        Ok(())
    }

    fn bucket_closed(&self, bucket: i64, now_ms: i64) -> bool {
        bucket_closed(self.day, bucket, now_ms)
    }

    /// Whether `head` holds any rows at all.
    pub fn has_head_rows(&self) -> bool {
        !self.head_buckets.is_empty()
    }

    /// Whether some closed bucket still has rows in `head`.
    pub fn needs_compaction(&self, now_ms: i64) -> bool {
        self.compaction.is_some() || self.first_closed_bucket(now_ms).is_some()
    }

    fn first_closed_bucket(&self, now_ms: i64) -> Option<i64> {
        let first = *self.head_buckets.first()?;
        self.bucket_closed(first, now_ms).then_some(first)
    }

    /// Moves one chunk of a closed bucket from `head` to `samples` in its own
    /// transaction. Returns false when there was nothing to do.
    pub fn compact_step(&mut self, now_ms: i64) -> Result<bool> {
        let day = self.day;
        let write_err = |source| Error::PartitionWrite { day, source };
        if self.compaction.is_none() {
            let Some(bucket) = self.first_closed_bucket(now_ms) else {
                return Ok(false);
            };
            self.compaction = Some(Compaction { bucket, next_series: 0 });
        }
        let Some(c) = &mut self.compaction else {
            return Ok(false);
        };
        let (bucket, lo) = (c.bucket, c.next_series);
        let hi = lo + COMPACTION_CHUNK_SERIES;
        let (t0, t1) = (bucket * BUCKET_MS, (bucket + 1) * BUCKET_MS);
        let tx = self.conn.transaction().map_err(write_err)?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO samples (bucket, series_id, ts, value)
               SELECT ?1, series_id, ts - ?4, value FROM head
                WHERE series_id >= ?2 AND series_id < ?3 AND ts >= ?4 AND ts < ?5
                ORDER BY series_id, ts",
        )
        .and_then(|mut s| s.execute(params![bucket, lo, hi, t0, t1]))
        .map_err(write_err)?;
        tx.prepare_cached("DELETE FROM head WHERE series_id >= ?1 AND series_id < ?2 AND ts >= ?3 AND ts < ?4")
            .and_then(|mut s| s.execute(params![lo, hi, t0, t1]))
            .map_err(write_err)?;
        tx.commit().map_err(write_err)?;

        // Only open buckets take new head rows, so a closed bucket is done
        // once the cursor has passed every series.
        c.next_series = hi;
        if hi > self.max_series_id {
            self.head_buckets.remove(&bucket);
            self.compaction = None;
        }
        Ok(true)
    }

    /// Compacts every closed bucket now (used at shutdown, by the benchmark
    /// and by tests).
    pub fn compact_all(&mut self, now_ms: i64) -> Result<()> {
        while self.compact_step(now_ms)? {}
        Ok(())
    }
}

/// Whether `bucket` of `day` ended (plus the grace period) by `now_ms`.
fn bucket_closed(day: Day, bucket: i64, now_ms: i64) -> bool {
    day.start_ms() + (bucket + 1) * BUCKET_MS + COMPACTION_GRACE_MS <= now_ms
}

/// Parses a stored label object. Stored labels are always written by
/// [`Labels::to_json`], so anything else yields an empty set.
pub(crate) fn parse_labels(json: &str) -> Labels {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(map) => Labels::from_pairs(
            map.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))),
        ),
        Err(_) => Labels::new(),
    }
}

/// Newest value of one series in one partition at or after `since_ms`.
pub(crate) fn latest_in_partition(
    conn: &Connection,
    day: Day,
    series_id: i64,
    since_ms: i64,
) -> Result<Option<(i64, f64)>> {
    let read_err = |source| Error::PartitionRead { day, source };
    let since = day.offset_ms(since_ms).max(0);
    let head: Option<(i64, f64)> = conn
        .prepare_cached("SELECT ts, value FROM head WHERE series_id = ?1 AND ts >= ?2 ORDER BY ts DESC LIMIT 1")
        .and_then(|mut s| s.query_row([series_id, since], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(read_err)?;
    let mut best = head.map(|(ts, v)| (day.start_ms() + ts, v));
    let mut stmt = conn
        .prepare_cached("SELECT ts, value FROM samples WHERE bucket = ?1 AND series_id = ?2 ORDER BY ts DESC LIMIT 1")
        .map_err(read_err)?;
    // Walk buckets newest first; the first hit is the newest compacted value.
    for bucket in (since / BUCKET_MS..BUCKETS_PER_DAY).rev() {
        let start = day.start_ms() + bucket * BUCKET_MS;
        if best.is_some_and(|(ts, _)| ts >= start + BUCKET_MS) {
            break;
        }
        let hit: Option<(i64, f64)> =
            stmt.query_row(params![bucket, series_id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(read_err)?;
        if let Some((ts, v)) = hit {
            let abs = start + ts;
            if abs >= since_ms && best.is_none_or(|(b, _)| abs > b) {
                best = Some((abs, v));
            }
            break;
        }
    }
    Ok(best)
}
