//! Read-only queries over the day partitions.
//!
//! Every call is blocking and opens read-only connections: run it on a
//! blocking thread (`tokio::task::spawn_blocking`), never on an async worker.
//! WAL mode lets these readers run while the writer commits.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use oxmon_common::metric::Labels;
use rusqlite::{Connection, params};

use crate::day::{BUCKET_MS, Day, days_between};
use crate::error::{Error, Result};
use crate::partition::{self, parse_labels};

/// A stored sample as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSample {
    pub timestamp_ms: i64,
    pub agent_id: String,
    pub metric_name: String,
    pub value: f64,
    pub labels: Labels,
}

/// Filter and page of [`Reader::samples`].
#[derive(Clone, Debug, Default)]
pub struct SampleQuery {
    pub agent_id: Option<String>,
    pub metric_name: Option<String>,
    /// Inclusive bounds, ms since the epoch.
    pub from_ms: i64,
    pub to_ms: i64,
    pub limit: usize,
    pub offset: usize,
}

/// All points of one series in a range, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesPoints {
    pub agent_id: String,
    pub metric_name: String,
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    pub count: u64,
}

/// One partition file on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    pub day: Day,
    pub path: PathBuf,
    /// Size of the database file plus its WAL.
    pub size_bytes: u64,
}

/// Which series column [`Reader::distinct`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesField {
    MetricName,
    AgentId,
}

impl SeriesField {
    fn column(self) -> &'static str {
        match self {
            SeriesField::MetricName => "metric_name",
            SeriesField::AgentId => "agent_id",
        }
    }
}

/// Read access to the partitions in a data directory.
#[derive(Clone, Debug)]
pub struct Reader {
    dir: PathBuf,
}

impl Reader {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Partition files, oldest first.
    pub fn partitions(&self) -> Result<Vec<PartitionInfo>> {
        list_partitions(&self.dir)
    }

    /// Samples matching `q`, newest first, paged in SQL partition by
    /// partition (newest partition first).
    pub fn samples(&self, q: &SampleQuery) -> Result<Vec<StoredSample>> {
        let mut out = Vec::new();
        let mut skip = q.offset;
        for day in days_between(q.from_ms, q.to_ms).into_iter().rev() {
            if out.len() >= q.limit {
                break;
            }
            let Some(conn) = self.open(day)? else {
                continue;
            };
            let filter = SeriesFilter::new(q.agent_id.as_deref(), q.metric_name.as_deref());
            let range = DayRange::clip(day, q.from_ms, q.to_ms);
            let want = q.limit - out.len();
            let sql = format!(
                "{cte} SELECT p.t, se.agent_id, se.metric_name, p.v, se.labels
                   FROM pts p JOIN series se ON se.id = p.sid
                  ORDER BY p.t DESC, p.sid LIMIT ?5 OFFSET ?6",
                cte = points_cte(range)
            );
            let read_err = |source| Error::PartitionRead { day, source };
            let mut stmt = conn.prepare(&sql).map_err(read_err)?;
            let rows = stmt
                .query_map(params![filter.agent, filter.metric, range.from, range.to, want as i64, skip as i64], |r| {
                    Ok(StoredSample {
                        timestamp_ms: day.start_ms() + r.get::<_, i64>(0)?,
                        agent_id: r.get(1)?,
                        metric_name: r.get(2)?,
                        value: r.get(3)?,
                        labels: parse_labels(&r.get::<_, String>(4)?),
                    })
                })
                .map_err(read_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(read_err)?;
            if rows.is_empty() && skip > 0 {
                // The whole partition lies inside the offset: count it off.
                let count: i64 = conn
                    .query_row(
                        &format!("{} SELECT COUNT(*) FROM pts", points_cte(range)),
                        params![filter.agent, filter.metric, range.from, range.to],
                        |r| r.get(0),
                    )
                    .map_err(read_err)?;
                skip = skip.saturating_sub(usize::try_from(count).unwrap_or(usize::MAX));
            } else {
                skip = 0;
                out.extend(rows);
            }
        }
        Ok(out)
    }

    /// How many samples match `q`'s filters and range ([`Reader::samples`]
    /// without its page): a count over every matching point of every
    /// partition in the range, so it costs as much as reading them.
    pub fn sample_count(&self, q: &SampleQuery) -> Result<u64> {
        let filter = SeriesFilter::new(q.agent_id.as_deref(), q.metric_name.as_deref());
        let mut total = 0;
        for day in days_between(q.from_ms, q.to_ms) {
            let Some(conn) = self.open(day)? else {
                continue;
            };
            let range = DayRange::clip(day, q.from_ms, q.to_ms);
            let count: i64 = conn
                .query_row(
                    &format!("{} SELECT COUNT(*) FROM pts", points_cte(range)),
                    params![filter.agent, filter.metric, range.from, range.to],
                    |r| r.get(0),
                )
                .map_err(|source| Error::PartitionRead { day, source })?;
            total += count.unsigned_abs();
        }
        Ok(total)
    }

    /// Every point of the series of `agent_id`/`metric_name` (and exactly
    /// `labels`, when given) in `[from_ms, to_ms]`, one entry per series.
    pub fn series_range(
        &self,
        agent_id: &str,
        metric_name: &str,
        labels: Option<&Labels>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SeriesPoints>> {
        let mut out: Vec<SeriesPoints> = Vec::new();
        let wanted_labels = labels.map(Labels::to_json);
        for day in days_between(from_ms, to_ms) {
            let Some(conn) = self.open(day)? else {
                continue;
            };
            let range = DayRange::clip(day, from_ms, to_ms);
            let read_err = |source| Error::PartitionRead { day, source };
            let sql = format!(
                "{cte} SELECT se.labels, p.t, p.v FROM pts p JOIN series se ON se.id = p.sid
                  WHERE ?5 IS NULL OR se.labels = ?5
                  ORDER BY se.labels, p.t",
                cte = points_cte(range)
            );
            let mut stmt = conn.prepare(&sql).map_err(read_err)?;
            let mut rows =
                stmt.query(params![agent_id, metric_name, range.from, range.to, wanted_labels]).map_err(read_err)?;
            let mut current: Option<(String, usize)> = None;
            while let Some(r) = rows.next().map_err(read_err)? {
                let labels_json: String = r.get(0).map_err(read_err)?;
                let t: i64 = r.get(1).map_err(read_err)?;
                let v: f64 = r.get(2).map_err(read_err)?;
                let idx = match &current {
                    Some((l, idx)) if *l == labels_json => *idx,
                    _ => {
                        let labels = parse_labels(&labels_json);
                        let idx = match out.iter().position(|s| s.labels == labels) {
                            Some(i) => i,
                            None => {
                                out.push(SeriesPoints {
                                    agent_id: agent_id.to_owned(),
                                    metric_name: metric_name.to_owned(),
                                    labels,
                                    points: Vec::new(),
                                });
                                out.len() - 1
                            }
                        };
                        current = Some((labels_json, idx));
                        idx
                    }
                };
                out[idx].points.push((day.start_ms() + t, v));
            }
        }
        Ok(out)
    }

    /// Min, max, average and count over every series of one agent and metric.
    pub fn summary(&self, agent_id: &str, metric_name: &str, from_ms: i64, to_ms: i64) -> Result<Summary> {
        let (mut min, mut max, mut sum, mut count) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0u64);
        for day in days_between(from_ms, to_ms) {
            let Some(conn) = self.open(day)? else {
                continue;
            };
            let range = DayRange::clip(day, from_ms, to_ms);
            let read_err = |source| Error::PartitionRead { day, source };
            let (lo, hi, s, n): (Option<f64>, Option<f64>, Option<f64>, i64) = conn
                .query_row(
                    &format!("{} SELECT MIN(v), MAX(v), SUM(v), COUNT(*) FROM pts", points_cte(range)),
                    params![agent_id, metric_name, range.from, range.to],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(read_err)?;
            if n > 0 {
                min = min.min(lo.unwrap_or(f64::INFINITY));
                max = max.max(hi.unwrap_or(f64::NEG_INFINITY));
                sum += s.unwrap_or(0.0);
                count += n.unsigned_abs();
            }
        }
        if count == 0 {
            return Ok(Summary::default());
        }
        Ok(Summary { min, max, avg: sum / count as f64, count })
    }

    /// Distinct metric names or agent ids with series in the partitions of
    /// `[from_ms, to_ms]` (day granularity), sorted, then paged.
    pub fn distinct(
        &self,
        field: SeriesField,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<String>> {
        let column = field.column();
        // Each partition returns its own sorted, paged prefix; merging those
        // prefixes and paging again is exact because a value's rank in the
        // union is at most its rank in any one partition.
        let need = offset.saturating_add(limit);
        let mut all = BTreeSet::new();
        for day in days_between(from_ms, to_ms) {
            let Some(conn) = self.open(day)? else {
                continue;
            };
            let read_err = |source| Error::PartitionRead { day, source };
            let mut stmt =
                conn.prepare(&format!("SELECT DISTINCT {column} FROM series ORDER BY 1 LIMIT ?1")).map_err(read_err)?;
            let rows = stmt
                .query_map([i64::try_from(need).unwrap_or(i64::MAX)], |r| r.get::<_, String>(0))
                .map_err(read_err)?;
            for row in rows {
                all.insert(row.map_err(read_err)?);
            }
        }
        Ok(all.into_iter().skip(offset).take(limit).collect())
    }

    /// How many values [`Reader::distinct`] has in `[from_ms, to_ms]` without
    /// its page: the distinct values of every partition in the range, merged.
    pub fn distinct_count(&self, field: SeriesField, from_ms: i64, to_ms: i64) -> Result<u64> {
        let column = field.column();
        let mut all = BTreeSet::new();
        for day in days_between(from_ms, to_ms) {
            let Some(conn) = self.open(day)? else {
                continue;
            };
            let read_err = |source| Error::PartitionRead { day, source };
            let mut stmt = conn.prepare(&format!("SELECT DISTINCT {column} FROM series")).map_err(read_err)?;
            for row in stmt.query_map([], |r| r.get::<_, String>(0)).map_err(read_err)? {
                all.insert(row.map_err(read_err)?);
            }
        }
        Ok(all.len() as u64)
    }

    /// The newest sample at or after `since_ms` of every series of `agent_id`
    /// whose metric is in `metrics`, in the order of `metrics`.
    pub fn latest(&self, agent_id: &str, metrics: &[&str], since_ms: i64, now_ms: i64) -> Result<Vec<StoredSample>> {
        let mut found: Vec<StoredSample> = Vec::new();
        for day in days_between(since_ms, now_ms).into_iter().rev() {
            let Some(conn) = self.open(day)? else {
                continue;
            };
            let read_err = |source| Error::PartitionRead { day, source };
            let mut stmt = conn
                .prepare_cached("SELECT id, metric_name, labels FROM series WHERE agent_id = ?1")
                .map_err(read_err)?;
            let series = stmt
                .query_map([agent_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
                .map_err(read_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(read_err)?;
            for (id, metric_name, labels) in series {
                if !metrics.contains(&metric_name.as_str()) {
                    continue;
                }
                let labels = parse_labels(&labels);
                let known = found.iter().any(|s| s.metric_name == metric_name && s.labels == labels);
                if known {
                    continue; // a newer partition already had it
                }
                if let Some((ts, value)) = partition::latest_in_partition(&conn, day, id, since_ms)? {
                    found.push(StoredSample {
                        timestamp_ms: ts,
                        agent_id: agent_id.to_owned(),
                        metric_name,
                        value,
                        labels,
                    });
                }
            }
        }
        found.sort_by(|a, b| {
            let pos = |m: &str| metrics.iter().position(|x| *x == m).unwrap_or(usize::MAX);
            pos(&a.metric_name).cmp(&pos(&b.metric_name)).then_with(|| a.labels.cmp(&b.labels))
        });
        Ok(found)
    }

    fn open(&self, day: Day) -> Result<Option<Connection>> {
        let path = self.dir.join(day.file_name());
        if !path.exists() {
            return Ok(None);
        }
        let conn = partition::open_for_read(&path, day)?;
        // A partition the writer has just created but not yet given its
        // schema (that happens in one transaction, with user_version) is
        // still empty.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|source| Error::PartitionRead { day, source })?;
        Ok((version > 0).then_some(conn))
    }
}

/// Optional series filters, bound as `?1` (agent) and `?2` (metric).
struct SeriesFilter<'a> {
    agent: Option<&'a str>,
    metric: Option<&'a str>,
}

impl<'a> SeriesFilter<'a> {
    fn new(agent: Option<&'a str>, metric: Option<&'a str>) -> Self {
        Self { agent, metric }
    }
}

/// A query range clipped to one day, as offsets from the day's start.
#[derive(Clone, Copy, Debug)]
struct DayRange {
    from: i64,
    to: i64,
}

impl DayRange {
    fn clip(day: Day, from_ms: i64, to_ms: i64) -> Self {
        let from = from_ms.max(day.start_ms()) - day.start_ms();
        let to = to_ms.min(day.end_ms() - 1) - day.start_ms();
        Self { from, to }
    }
}

/// `WITH` clause defining `pts(sid, t, v)`: the points of the series matching
/// `?1` (agent id, NULL = any) and `?2` (metric, NULL = any) with day offset
/// `t` in `[?3, ?4]`.
///
/// The bucket list is spelled out as literals so that SQLite seeks
/// `(bucket, series_id)` for every pair instead of scanning the bucket range.
fn points_cte(range: DayRange) -> String {
    let mut buckets = String::new();
    for b in range.from / BUCKET_MS..=range.to / BUCKET_MS {
        if !buckets.is_empty() {
            buckets.push(',');
        }
        let _ = write!(buckets, "{b}");
    }
    format!(
        "WITH sel AS (SELECT id FROM series
                       WHERE (?1 IS NULL OR agent_id = ?1) AND (?2 IS NULL OR metric_name = ?2)),
              pts(sid, t, v) AS (
                SELECT s.series_id, s.bucket * {BUCKET_MS} + s.ts, s.value FROM samples s
                 WHERE s.bucket IN ({buckets}) AND s.series_id IN (SELECT id FROM sel)
                   AND s.bucket * {BUCKET_MS} + s.ts BETWEEN ?3 AND ?4
                UNION ALL
                SELECT h.series_id, h.ts, h.value FROM head h
                 WHERE h.series_id IN (SELECT id FROM sel) AND h.ts BETWEEN ?3 AND ?4)"
    )
}

/// Partition files in `dir`, oldest first. Other files are ignored.
pub(crate) fn list_partitions(dir: &Path) -> Result<Vec<PartitionInfo>> {
    let list_err = |source| Error::ListDir { path: dir.to_owned(), source };
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(list_err(e)),
    };
    for entry in entries {
        let entry = entry.map_err(list_err)?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".db")) else {
            continue;
        };
        let Some(day) = Day::parse(stem) else {
            continue;
        };
        let path = entry.path();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let size_bytes = size(&path) + size(&path.with_extension("db-wal"));
        out.push(PartitionInfo { day, path, size_bytes });
    }
    out.sort_by_key(|p| p.day);
    Ok(out)
}
