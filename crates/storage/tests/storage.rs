//! Storage behaviour over real SQLite files in temp directories.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use oxmon_common::metric::Labels;
use oxmon_storage::day::{BUCKET_MS, Day, MS_PER_DAY};
use oxmon_storage::reader::{Reader, SampleQuery, SeriesField, Summary};
use oxmon_storage::writer::{Writer, WriterConfig};
use oxmon_storage::{Error, Sample};

/// 2026-02-09T00:00:00Z
const DAY0: i64 = 1_770_595_200_000;

fn sample(agent: &str, metric: &str, labels: &[(&str, &str)], ts: i64, value: f64) -> Sample {
    Sample {
        timestamp_ms: ts,
        agent_id: agent.into(),
        metric_name: metric.into(),
        value,
        labels: Labels::from_pairs(labels.iter().copied()),
    }
}

/// A clock the test moves by hand, so buckets close when the test says.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

fn start_writer(dir: &std::path::Path, now: i64) -> (Writer, Clock) {
    let clock = Clock(Arc::new(AtomicI64::new(now)));
    let c = clock.clone();
    let config = WriterConfig { clock: Arc::new(move || c.0.load(Ordering::SeqCst)), ..WriterConfig::new(dir) };
    (Writer::start(config).unwrap(), clock)
}

fn setup_at(now: i64) -> (tempfile::TempDir, Writer, Reader, Clock) {
    let dir = tempfile::tempdir().unwrap();
    let (writer, clock) = start_writer(dir.path(), now);
    let reader = Reader::new(dir.path());
    (dir, writer, reader, clock)
}

fn setup() -> (tempfile::TempDir, Writer, Reader) {
    let (dir, writer, reader, _clock) = setup_at(DAY0 + 10_000);
    (dir, writer, reader)
}

fn all(q_agent: Option<&str>, from: i64, to: i64) -> SampleQuery {
    SampleQuery {
        agent_id: q_agent.map(str::to_owned),
        metric_name: None,
        from_ms: from,
        to_ms: to,
        limit: 10_000,
        offset: 0,
    }
}

#[tokio::test]
async fn samples_are_filed_in_the_partition_of_their_own_timestamp() {
    let (dir, writer, reader) = setup();
    // One batch carrying a point from yesterday (buffered) and one from today.
    writer
        .write(vec![sample("a", "cpu.usage", &[], DAY0 - 5_000, 1.0), sample("a", "cpu.usage", &[], DAY0 + 5_000, 2.0)])
        .await
        .unwrap();
    assert!(dir.path().join("2026-02-08.db").exists());
    assert!(dir.path().join("2026-02-09.db").exists());
    let yesterday = reader.samples(&all(None, DAY0 - MS_PER_DAY, DAY0 - 1)).unwrap();
    assert_eq!(yesterday.len(), 1);
    assert_eq!(yesterday[0].timestamp_ms, DAY0 - 5_000);
    let parts: Vec<String> = reader.partitions().unwrap().iter().map(|p| p.day.to_string()).collect();
    assert_eq!(parts, ["2026-02-08", "2026-02-09"]);
}

#[tokio::test]
async fn resending_a_batch_stores_each_sample_once() {
    let (_dir, writer, reader, clock) = setup_at(DAY0 + 10_000);
    let batch = vec![sample("a", "m", &[("k", "v")], DAY0 + 1, 1.0), sample("a", "m", &[("k", "v")], DAY0 + 2, 2.0)];
    writer.write(batch.clone()).await.unwrap();
    writer.write(batch.clone()).await.unwrap();
    // Once more after the bucket was closed and compacted: the resend takes
    // the late path straight into compact storage.
    clock.set(DAY0 + 2 * BUCKET_MS);
    writer.compact(DAY0 + 2 * BUCKET_MS).await.unwrap();
    writer.write(batch).await.unwrap();
    let got = reader.samples(&all(None, DAY0, DAY0 + 10)).unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
}

#[tokio::test]
async fn reads_agree_before_and_after_compaction() {
    // At this instant the first five buckets are closed (late path) and the
    // sixth is open (head).
    let (_dir, writer, reader, _clock) = setup_at(DAY0 + 3_600_000);
    let mut batch = Vec::new();
    for i in 0..360 {
        // One hour of 10 s samples for two series.
        let ts = DAY0 + i * 10_000;
        batch.push(sample("a", "disk.used_percent", &[("mount", "/")], ts, i as f64));
        batch.push(sample("a", "disk.used_percent", &[("mount", "/data")], ts, 1000.0 + i as f64));
    }
    writer.write(batch).await.unwrap();
    let before = reader.series_range("a", "disk.used_percent", None, DAY0, DAY0 + 3_600_000).unwrap();
    let page_before =
        reader.samples(&SampleQuery { limit: 7, offset: 100, ..all(Some("a"), DAY0, DAY0 + 3_600_000) }).unwrap();
    writer.compact(DAY0 + 2 * 3_600_000).await.unwrap();
    let after = reader.series_range("a", "disk.used_percent", None, DAY0, DAY0 + 3_600_000).unwrap();
    let page_after =
        reader.samples(&SampleQuery { limit: 7, offset: 100, ..all(Some("a"), DAY0, DAY0 + 3_600_000) }).unwrap();
    assert_eq!(before, after);
    assert_eq!(page_before, page_after);
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].labels, Labels::one("mount", "/"));
    assert_eq!(after[0].points.len(), 360);
    assert_eq!(after[0].points[0], (DAY0, 0.0));
    assert_eq!(after[0].points[359], (DAY0 + 3_590_000, 359.0));
    // Newest first, ties broken by series: offset 100 is 50 timestamps back.
    assert_eq!(page_after[0].timestamp_ms, DAY0 + 3_590_000 - 50 * 10_000);
}

#[tokio::test]
async fn a_late_sample_for_a_compacted_bucket_is_still_found() {
    let (_dir, writer, reader, clock) = setup_at(DAY0 + 10_000);
    writer.write(vec![sample("a", "m", &[], DAY0 + 1_000, 1.0)]).await.unwrap();
    writer.compact(DAY0 + 2 * BUCKET_MS).await.unwrap();
    clock.set(DAY0 + 2 * BUCKET_MS);
    writer.write(vec![sample("a", "m", &[], DAY0 + 2_000, 2.0)]).await.unwrap();
    let got = reader.series_range("a", "m", None, DAY0, DAY0 + BUCKET_MS).unwrap();
    assert_eq!(got[0].points, vec![(DAY0 + 1_000, 1.0), (DAY0 + 2_000, 2.0)]);
    writer.compact(DAY0 + 2 * BUCKET_MS).await.unwrap();
    let got = reader.series_range("a", "m", None, DAY0, DAY0 + BUCKET_MS).unwrap();
    assert_eq!(got[0].points, vec![(DAY0 + 1_000, 1.0), (DAY0 + 2_000, 2.0)]);
}

#[tokio::test]
async fn paging_runs_newest_first_across_partitions() {
    let (_dir, writer, reader) = setup();
    // 3 samples on each of three days.
    let mut batch = Vec::new();
    for d in 0..3 {
        for i in 0..3 {
            batch.push(sample("a", "m", &[], DAY0 + d * MS_PER_DAY + i * 1_000, (d * 10 + i) as f64));
        }
    }
    writer.write(batch).await.unwrap();
    let q = |limit, offset| SampleQuery { limit, offset, ..all(None, DAY0, DAY0 + 3 * MS_PER_DAY) };
    let values =
        |limit, offset| -> Vec<f64> { reader.samples(&q(limit, offset)).unwrap().iter().map(|s| s.value).collect() };
    assert_eq!(values(4, 0), [22.0, 21.0, 20.0, 12.0]);
    assert_eq!(values(4, 4), [11.0, 10.0, 2.0, 1.0]);
    assert_eq!(values(4, 8), [0.0]);
    assert_eq!(values(4, 9), Vec::<f64>::new());
    assert_eq!(values(0, 0), Vec::<f64>::new());
    // from > to is empty, not an error.
    assert!(reader.samples(&all(None, DAY0 + 10, DAY0)).unwrap().is_empty());
}

#[tokio::test]
async fn counts_match_the_filters_and_range_of_the_lists_across_partitions() {
    let (_dir, writer, reader) = setup();
    // Day 0: a/m x3, b/m x1, a/n x1; day 1: a/m x2, c/p x1.
    let mut batch = vec![sample("b", "m", &[], DAY0 + 5_000, 0.0), sample("a", "n", &[], DAY0 + 5_000, 0.0)];
    for i in 0..3 {
        batch.push(sample("a", "m", &[], DAY0 + i * 1_000, 0.0));
    }
    for i in 0..2 {
        batch.push(sample("a", "m", &[], DAY0 + MS_PER_DAY + i * 1_000, 0.0));
    }
    batch.push(sample("c", "p", &[], DAY0 + MS_PER_DAY, 0.0));
    writer.write(batch).await.unwrap();
    let both_days = all(None, DAY0, DAY0 + 2 * MS_PER_DAY - 1);
    let count = |agent: Option<&str>, metric: Option<&str>, from, to| {
        let q = SampleQuery {
            agent_id: agent.map(Into::into),
            metric_name: metric.map(Into::into),
            from_ms: from,
            to_ms: to,
            limit: 1,
            offset: 5,
        };
        reader.sample_count(&q).unwrap()
    };
    assert_eq!(reader.samples(&both_days).unwrap().len(), 8);
    assert_eq!(count(None, None, both_days.from_ms, both_days.to_ms), 8, "the page does not change the count");
    assert_eq!(count(Some("a"), None, both_days.from_ms, both_days.to_ms), 6);
    assert_eq!(count(Some("a"), Some("m"), both_days.from_ms, both_days.to_ms), 5);
    assert_eq!(count(None, Some("m"), DAY0 + 1_000, DAY0 + MS_PER_DAY), 4, "the range clips both days");
    assert_eq!(count(Some("nobody"), None, both_days.from_ms, both_days.to_ms), 0);

    let distinct = |field, from, to| reader.distinct_count(field, from, to).unwrap();
    assert_eq!(distinct(SeriesField::MetricName, DAY0, DAY0 + MS_PER_DAY), 3, "m is counted once: m, n, p");
    assert_eq!(distinct(SeriesField::AgentId, DAY0, DAY0 + MS_PER_DAY), 3);
    assert_eq!(distinct(SeriesField::AgentId, DAY0 + MS_PER_DAY, DAY0 + MS_PER_DAY), 2, "day 1: a and c");
    assert_eq!(
        distinct(SeriesField::MetricName, DAY0, DAY0 + MS_PER_DAY) as usize,
        reader.distinct(SeriesField::MetricName, DAY0, DAY0 + MS_PER_DAY, 100, 0).unwrap().len()
    );
}

#[tokio::test]
async fn summary_distinct_and_latest() {
    let (_dir, writer, reader) = setup();
    writer
        .write(vec![
            sample("web-1", "cpu.usage", &[], DAY0 + 1_000, 10.0),
            sample("web-1", "cpu.usage", &[], DAY0 + 2_000, 30.0),
            sample("web-1", "cpu.core_usage", &[("core", "0")], DAY0 + 2_000, 5.0),
            sample("web-1", "cpu.core_usage", &[("core", "1")], DAY0 + 1_500, 7.0),
            sample("db-1", "memory.used", &[], DAY0 + 2_000, 1.0),
        ])
        .await
        .unwrap();
    let s = reader.summary("web-1", "cpu.usage", DAY0, DAY0 + 10_000).unwrap();
    assert_eq!(s, Summary { min: 10.0, max: 30.0, avg: 20.0, count: 2 });
    assert_eq!(reader.summary("nobody", "cpu.usage", DAY0, DAY0 + 10_000).unwrap(), Summary::default());
    let names = reader.distinct(SeriesField::MetricName, DAY0, DAY0 + 10, 10, 0).unwrap();
    assert_eq!(names, ["cpu.core_usage", "cpu.usage", "memory.used"]);
    assert_eq!(reader.distinct(SeriesField::MetricName, DAY0, DAY0 + 10, 1, 1).unwrap(), ["cpu.usage"]);
    assert_eq!(reader.distinct(SeriesField::AgentId, DAY0, DAY0 + 10, 10, 0).unwrap(), ["db-1", "web-1"]);
    let latest = reader.latest("web-1", &["cpu.usage", "cpu.core_usage"], DAY0, DAY0 + 10_000).unwrap();
    let got: Vec<(&str, Option<&str>, f64)> =
        latest.iter().map(|s| (s.metric_name.as_str(), s.labels.get("core"), s.value)).collect();
    assert_eq!(
        got,
        [("cpu.usage", None, 30.0), ("cpu.core_usage", Some("0"), 5.0), ("cpu.core_usage", Some("1"), 7.0)]
    );
    // Nothing newer than `since`.
    assert!(reader.latest("web-1", &["cpu.usage"], DAY0 + 3_000, DAY0 + 10_000).unwrap().is_empty());
}

#[tokio::test]
async fn retention_deletes_whole_old_partitions_with_their_wal_files() {
    let (dir, writer, reader) = setup();
    let mut batch = Vec::new();
    for d in 0..10 {
        batch.push(sample("a", "m", &[], DAY0 + d * MS_PER_DAY, d as f64));
    }
    writer.write(batch).await.unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a partition").unwrap();
    // Now = day 9; keep 7 days back: days 2..=9 stay.
    let removed = writer.retain(7, DAY0 + 9 * MS_PER_DAY + 5).await.unwrap();
    assert_eq!(removed.iter().map(Day::to_string).collect::<Vec<_>>(), ["2026-02-09", "2026-02-10"]);
    assert_eq!(reader.partitions().unwrap().len(), 8);
    for name in ["2026-02-09.db", "2026-02-09.db-wal", "2026-02-09.db-shm"] {
        assert!(!dir.path().join(name).exists(), "{name}");
    }
    assert!(dir.path().join("notes.txt").exists());
    // Writing to a removed day again simply recreates it.
    writer.write(vec![sample("a", "m", &[], DAY0, 1.0)]).await.unwrap();
    assert_eq!(reader.partitions().unwrap().len(), 9);
}

#[tokio::test]
async fn data_and_pending_compaction_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (writer, _clock) = start_writer(dir.path(), DAY0 + 10_000);
        writer.write(vec![sample("a", "m", &[("x", "1")], DAY0 + 1, 1.5)]).await.unwrap();
    }
    // The restarted writer finds the head rows and compacts them later.
    let (writer, _clock) = start_writer(dir.path(), DAY0 + 20_000);
    writer.write(vec![sample("a", "m", &[("x", "1")], DAY0 + 2, 2.5)]).await.unwrap();
    let reader = Reader::new(dir.path());
    let got = reader.series_range("a", "m", Some(&Labels::one("x", "1")), DAY0, DAY0 + 10).unwrap();
    assert_eq!(got[0].points, vec![(DAY0 + 1, 1.5), (DAY0 + 2, 2.5)]);
    writer.compact(DAY0 + MS_PER_DAY).await.unwrap();
    let conn = rusqlite_count(dir.path().join("2026-02-09.db"), "SELECT COUNT(*) FROM head");
    assert_eq!(conn, 0);
    assert_eq!(rusqlite_count(dir.path().join("2026-02-09.db"), "SELECT COUNT(*) FROM samples"), 2);
}

#[tokio::test]
async fn the_metrics_view_shows_plain_rows_for_sqlite3_users() {
    let (dir, writer, _reader) = setup();
    writer.write(vec![sample("a", "disk.used", &[("mount", "/")], DAY0 + 42, 7.0)]).await.unwrap();
    writer.write(vec![sample("a", "disk.used", &[("mount", "/")], DAY0 + BUCKET_MS * 3 + 5, 8.0)]).await.unwrap();
    writer.compact(DAY0 + BUCKET_MS * 2).await.unwrap(); // first bucket compacted, second still in head
    let conn = rusqlite::Connection::open(dir.path().join("2026-02-09.db")).unwrap();
    let rows: Vec<(i64, String, String, f64, String)> = conn
        .prepare("SELECT timestamp, agent_id, metric_name, value, labels FROM metrics ORDER BY timestamp")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (DAY0 + 42, "a".into(), "disk.used".into(), 7.0, r#"{"mount":"/"}"#.into()),
            (DAY0 + BUCKET_MS * 3 + 5, "a".into(), "disk.used".into(), 8.0, r#"{"mount":"/"}"#.into()),
        ]
    );
}

#[tokio::test]
async fn writes_with_unrepresentable_timestamps_are_refused_whole() {
    let (dir, writer, _reader) = setup();
    let err =
        writer.write(vec![sample("a", "m", &[], DAY0, 1.0), sample("a", "m", &[], i64::MAX, 1.0)]).await.unwrap_err();
    assert!(matches!(err, Error::TimestampOutOfRange(i64::MAX)), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing stored");
}

#[tokio::test]
async fn a_compacted_day_costs_at_most_24_bytes_per_sample() {
    let (dir, writer, _reader, clock) = setup_at(DAY0);
    // A day of 10 s samples for 40 series of one agent, the agent's shape:
    // fractional percentages, large integral byte counts. Each hour arrives
    // while its buckets are open, then they close and are compacted.
    let series = 40;
    let mut total = 0u64;
    for chunk in 0..24 {
        clock.set(DAY0 + chunk * 3_600_000);
        let mut batch = Vec::new();
        for i in 0..360 {
            let ts = DAY0 + (chunk * 360 + i) * 10_000;
            for s in 0..series {
                let value =
                    if s % 2 == 0 { 37.0 + (ts % 9973) as f64 / 97.0 } else { 16e9 + (ts % 100_000) as f64 * 4096.0 };
                batch.push(sample("web-01", "metric", &[("series", &s.to_string())], ts, value));
            }
        }
        total += batch.len() as u64;
        writer.write(batch).await.unwrap();
        let end = DAY0 + (chunk + 1) * 3_600_000 + 120_000;
        clock.set(end);
        writer.compact(end).await.unwrap();
    }
    drop(writer); // checkpoint the WAL into the database file
    let bytes = std::fs::metadata(dir.path().join("2026-02-09.db")).unwrap().len();
    let per_sample = bytes as f64 / total as f64;
    eprintln!("{per_sample:.2} bytes per sample");
    assert!(per_sample <= 24.0, "{per_sample:.1} bytes per sample ({bytes} bytes, {total} samples)");
}

fn rusqlite_count(path: std::path::PathBuf, sql: &str) -> i64 {
    rusqlite::Connection::open(path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn start_queueing(
    dir: &std::path::Path,
    now: i64,
    through: i64,
) -> (Writer, oxmon_storage::writer::EvaluationReceiver) {
    let (tx, rx) = oxmon_storage::writer::evaluation_channel(64);
    let config = WriterConfig {
        clock: Arc::new(move || now),
        evaluations: Some(tx),
        evaluated_through: through,
        ..WriterConfig::new(dir)
    };
    (Writer::start(config).unwrap(), rx)
}

/// (last_seq, values) of every evaluation waiting in `rx`.
fn drain(rx: &oxmon_storage::writer::EvaluationReceiver) -> Vec<(i64, Vec<f64>)> {
    rx.try_iter().map(|e| (e.last_seq, e.samples.iter().map(|s| s.value).collect())).collect()
}

#[tokio::test]
async fn queued_samples_are_handed_over_in_commit_order_and_replayed_after_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let now = DAY0 + 3_600_000;
    let (writer, rx) = start_queueing(dir.path(), now, 0);
    // Only the marked samples are queued; a batch spanning two days keeps
    // its order; an unmarked batch queues nothing.
    let batch = vec![
        sample("a", "cpu.usage", &[], now - 1_000, 1.0),
        sample("a", "net.in", &[], now - 1_000, 2.0),
        sample("a", "cpu.usage", &[], DAY0 - 1_000, 3.0),
    ];
    writer.write_queued(batch, vec![true, false, true]).await.unwrap();
    writer.write(vec![sample("a", "cpu.usage", &[], now, 4.0)]).await.unwrap();
    writer.write_queued(vec![sample("b", "cpu.usage", &[], now, 5.0)], vec![true]).await.unwrap();
    assert_eq!(drain(&rx), vec![(2, vec![1.0, 3.0]), (3, vec![5.0])]);
    // Every sample is stored, queued or not.
    assert_eq!(Reader::new(dir.path()).samples(&all(None, DAY0 - MS_PER_DAY, now + 1)).unwrap().len(), 5);
    drop(writer);

    // A restart whose engine had evaluated through 1 gets 2 and 3 again,
    // in order, before anything new; new samples continue the numbering.
    let (writer, rx) = start_queueing(dir.path(), now, 1);
    writer.write_queued(vec![sample("c", "cpu.usage", &[], now, 6.0)], vec![true]).await.unwrap();
    assert_eq!(drain(&rx), vec![(3, vec![3.0, 5.0]), (4, vec![6.0])]);
    // Reported evaluated through 4: the rows go with the next commit, and a
    // later start replays nothing.
    writer.evaluated(4);
    writer.write(vec![sample("c", "cpu.usage", &[], now + 1, 7.0)]).await.unwrap();
    drop(writer);
    let today = dir.path().join(Day::of_ms(now).unwrap().file_name());
    assert_eq!(rusqlite_count(today, "SELECT count(*) FROM eval_queue"), 0);
    let (writer, rx) = start_queueing(dir.path(), now, 4);
    writer.write_queued(vec![sample("c", "cpu.usage", &[], now + 2, 8.0)], vec![true]).await.unwrap();
    assert_eq!(drain(&rx), vec![(5, vec![8.0])], "nothing replayed twice; numbering never goes back");
}
