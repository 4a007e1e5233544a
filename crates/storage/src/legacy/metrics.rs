//! oxmon 0.1's samples: one `metrics` row per sample in the day file of the
//! batch that carried it. Each row becomes a sample of ours in the partition
//! of its own timestamp, written by the partition code the writer thread
//! uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use oxmon_common::metric::{LEGACY_LOAD_METRICS, Labels, canonical_metric_name};
use rusqlite::types::Value;

use super::source::{self, Source};
use super::{Detection, Error, Result, Summary};
use crate::day::{BUCKET_MS, Day};
use crate::partition::{SeriesKey, WritePartition};

/// Samples written per transaction.
const CHUNK: usize = 20_000;

/// Staged partitions kept open at once; more are compacted and closed.
const MAX_OPEN: usize = 8;

/// Why a 0.1 row is not carried over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reject {
    TooOld(u32),
    BadTimestamp,
    BadValue,
    NoName,
    BadLabels,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::TooOld(days) => write!(f, "older than retention_days ({days})"),
            Reject::BadTimestamp => f.write_str("timestamp is not a time in the years 0000..=9999"),
            Reject::BadValue => f.write_str("value is not a finite number"),
            Reject::NoName => f.write_str("empty agent_id or metric_name"),
            Reject::BadLabels => f.write_str("labels are not a JSON object"),
        }
    }
}

/// What the conversion learned.
#[derive(Debug, Default)]
pub(super) struct Converted {
    /// Days whose partitions were (or would be) written.
    pub written: BTreeSet<Day>,
    /// First and last sample time of each agent in the 0.1 rows.
    pub agents: BTreeMap<String, (i64, i64)>,
}

/// Converts the samples of every 0.1 day file. On a dry run nothing is
/// written; the rows are read and judged all the same.
pub(super) fn convert(
    data_dir: &Path,
    detection: &Detection,
    options: super::Options,
    out: &Path,
    scratch: &Path,
    summary: &mut Summary,
) -> Result<Converted> {
    let cutoff = Day::of_ms(options.now_ms)
        .ok_or(crate::Error::TimestampOutOfRange(options.now_ms))?
        .minus_days(options.retention_days);
    let mut stager = Stager {
        data_dir,
        out,
        scratch,
        write: !summary.dry_run,
        now_ms: options.now_ms,
        open: HashMap::new(),
        pending: BTreeMap::new(),
        pending_len: 0,
        written: BTreeSet::new(),
        copied: 0,
    };
    let mut converted = Converted::default();
    let (mut total, mut renamed) = (0u64, 0u64);
    for file in &detection.day_files {
        let src = Source::new(&file.path, scratch)?;
        let conn = src.open()?;
        if file.hybrid {
            // Rows this version stored beside the 0.1 ones are kept too.
            stager.touch(file.day)?;
        }
        let mut rejected: BTreeMap<Reject, u64> = BTreeMap::new();
        let mut stmt = conn
            .prepare("SELECT timestamp, agent_id, metric_name, value, labels FROM metrics ORDER BY rowid")
            .map_err(|e| src.read_err(e))?;
        let mut rows = stmt.query([]).map_err(|e| src.read_err(e))?;
        while let Some(row) = rows.next().map_err(|e| src.read_err(e))? {
            let raw = (
                row.get::<_, Value>(0),
                row.get::<_, Value>(1),
                row.get::<_, Value>(2),
                row.get::<_, Value>(3),
                row.get::<_, Value>(4),
            );
            let (Ok(ts), Ok(agent), Ok(name), Ok(value), Ok(labels)) = raw else {
                return Err(src.read_err(rusqlite::Error::InvalidQuery));
            };
            match judge(ts, agent, name, value, labels, cutoff, options.retention_days) {
                Ok((day, key, ts, value, was_renamed)) => {
                    total += 1;
                    renamed += u64::from(was_renamed);
                    let span = converted.agents.entry(key.agent_id.clone()).or_insert((ts, ts));
                    *span = (span.0.min(ts), span.1.max(ts));
                    stager.push(day, key, ts, value)?;
                }
                Err(why) => *rejected.entry(why).or_default() += 1,
            }
        }
        let name = file.day.file_name();
        for (why, n) in rejected {
            summary.reject(format!("metric samples in {name}"), n, why.to_string());
        }
    }
    stager.finish()?;
    summary.add("metric samples", total);
    if stager.copied > 0 {
        summary.add("samples of ours kept", stager.copied);
    }
    if renamed > 0 {
        summary.notes.push(format!(
            "{renamed} samples of system.load_1/5/15 and system.uptime are stored as load.load_1/5/15 and load.uptime"
        ));
    }
    converted.written = stager.written;
    Ok(converted)
}

type Judged = (Day, SeriesKey, i64, f64, bool);

/// Turns one 0.1 row into a sample of ours, or says why it cannot be one.
fn judge(
    ts: Value,
    agent_id: Value,
    metric_name: Value,
    value: Value,
    labels: Value,
    cutoff: Day,
    retention_days: u32,
) -> std::result::Result<Judged, Reject> {
    let Value::Integer(ts) = ts else { return Err(Reject::BadTimestamp) };
    let day = Day::of_ms(ts).ok_or(Reject::BadTimestamp)?;
    let value = match value {
        Value::Real(v) => v,
        Value::Integer(v) => v as f64,
        _ => return Err(Reject::BadValue),
    };
    if !value.is_finite() {
        return Err(Reject::BadValue);
    }
    let (Value::Text(agent_id), Value::Text(metric_name)) = (agent_id, metric_name) else {
        return Err(Reject::NoName);
    };
    if agent_id.is_empty() || metric_name.is_empty() {
        return Err(Reject::NoName);
    }
    let labels = match labels {
        Value::Text(json) => parse_labels(&json).ok_or(Reject::BadLabels)?,
        Value::Null => Labels::new(),
        _ => return Err(Reject::BadLabels),
    };
    if day < cutoff {
        return Err(Reject::TooOld(retention_days));
    }
    // The same mapping as ingest applies to 0.1 agents' samples.
    let was_renamed = LEGACY_LOAD_METRICS.contains(&metric_name.as_str());
    let metric_name = canonical_metric_name(metric_name);
    Ok((day, SeriesKey { agent_id, metric_name, labels }, ts, value, was_renamed))
}

/// 0.1 labels: a JSON object of strings (other scalars are kept as their
/// JSON text).
fn parse_labels(json: &str) -> Option<Labels> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).ok()?;
    Some(Labels::from_pairs(
        map.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))),
    ))
}

/// Writes samples into the staged partitions, a chunk per transaction.
struct Stager<'a> {
    data_dir: &'a Path,
    out: &'a Path,
    scratch: &'a Path,
    write: bool,
    now_ms: i64,
    open: HashMap<Day, WritePartition>,
    pending: BTreeMap<Day, Vec<(SeriesKey, i64, f64)>>,
    pending_len: usize,
    written: BTreeSet<Day>,
    /// Samples of ours copied from live partitions that are rebuilt.
    copied: u64,
}

impl Stager<'_> {
    fn push(&mut self, day: Day, key: SeriesKey, ts: i64, value: f64) -> Result<()> {
        self.touch(day)?;
        if !self.write {
            return Ok(());
        }
        self.pending.entry(day).or_default().push((key, ts, value));
        self.pending_len += 1;
        if self.pending_len >= CHUNK { self.flush() } else { Ok(()) }
    }

    /// Marks `day` as written; the first time, a live partition of ours for
    /// that day is copied in first, so rebuilding it loses nothing.
    fn touch(&mut self, day: Day) -> Result<()> {
        if !self.written.insert(day) {
            return Ok(());
        }
        let live = self.data_dir.join(day.file_name());
        if !live.exists() {
            return Ok(());
        }
        let src = Source::new(&live, self.scratch)?;
        let conn = src.open()?;
        if !source::has_table(&conn, "main", "series").map_err(|e| src.read_err(e))? {
            return Ok(());
        }
        let start = day.start_ms();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {start} + s.bucket * {BUCKET_MS} + s.ts, se.agent_id, se.metric_name, s.value, se.labels
                   FROM samples s JOIN series se ON se.id = s.series_id
                 UNION ALL
                 SELECT {start} + h.ts, se.agent_id, se.metric_name, h.value, se.labels
                   FROM head h JOIN series se ON se.id = h.series_id"
            ))
            .map_err(|e| src.read_err(e))?;
        let mut rows = stmt.query([]).map_err(|e| src.read_err(e))?;
        while let Some(row) = rows.next().map_err(|e| src.read_err(e))? {
            let ts: i64 = row.get(0).map_err(|e| src.read_err(e))?;
            let agent_id: String = row.get(1).map_err(|e| src.read_err(e))?;
            let metric_name: String = row.get(2).map_err(|e| src.read_err(e))?;
            let value: f64 = row.get(3).map_err(|e| src.read_err(e))?;
            let labels: String = row.get(4).map_err(|e| src.read_err(e))?;
            let labels = crate::partition::parse_labels(&labels);
            self.copied += 1;
            if self.write {
                self.pending.entry(day).or_default().push((SeriesKey { agent_id, metric_name, labels }, ts, value));
                self.pending_len += 1;
                if self.pending_len >= CHUNK {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        for (day, rows) in std::mem::take(&mut self.pending) {
            if !self.open.contains_key(&day) {
                if self.open.len() >= MAX_OPEN {
                    self.close_all()?;
                }
                self.open.insert(day, WritePartition::open(self.out, day)?);
            }
            let Some(p) = self.open.get_mut(&day) else { continue };
            p.begin()?;
            let inserted = p.insert_all(rows, self.now_ms).and_then(|()| p.commit());
            if let Err(e) = inserted {
                p.rollback(self.out);
                return Err(Error::Storage(e));
            }
        }
        self.pending_len = 0;
        Ok(())
    }

    fn close_all(&mut self) -> Result<()> {
        for (_, mut p) in self.open.drain() {
            p.compact_all(self.now_ms)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.write {
            self.flush()?;
            self.close_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn rows_are_judged_and_load_metrics_renamed() {
        let cutoff = Day::parse("2026-02-01").unwrap();
        let ts = Day::parse("2026-02-09").unwrap().start_ms() + 5;
        let ok = |name: &str, labels: Value| {
            judge(Value::Integer(ts), text("a"), text(name), Value::Real(1.5), labels, cutoff, 7)
        };
        let (day, key, t, v, renamed) = ok("system.load_5", text(r#"{"b":"2","a":1}"#)).unwrap();
        assert_eq!((day.to_string(), t, v, renamed), ("2026-02-09".into(), ts, 1.5, true));
        assert_eq!(key.metric_name, "load.load_5");
        assert_eq!(key.labels.to_json(), r#"{"a":"1","b":"2"}"#);
        assert!(!ok("cpu.usage", Value::Null).unwrap().4);
        assert_eq!(ok("cpu.usage", text("[1]")).unwrap_err(), Reject::BadLabels);
        assert_eq!(ok("", text("{}")).unwrap_err(), Reject::NoName);
        let old = cutoff.prev().start_ms();
        let judge_at = |t: Value, v: Value| judge(t, text("a"), text("m"), v, text("{}"), cutoff, 7);
        assert_eq!(judge_at(Value::Integer(old), Value::Real(1.0)).unwrap_err(), Reject::TooOld(7));
        assert_eq!(judge_at(Value::Integer(i64::MAX), Value::Real(1.0)).unwrap_err(), Reject::BadTimestamp);
        assert_eq!(judge_at(text("x"), Value::Real(1.0)).unwrap_err(), Reject::BadTimestamp);
        assert_eq!(judge_at(Value::Integer(ts), Value::Real(f64::INFINITY)).unwrap_err(), Reject::BadValue);
        assert_eq!(judge_at(Value::Integer(ts), text("1")).unwrap_err(), Reject::BadValue);
        assert_eq!(judge_at(Value::Integer(ts), Value::Integer(3)).unwrap().3, 3.0);
        assert_eq!(Reject::TooOld(7).to_string(), "older than retention_days (7)");
    }
}
