//! Taking over an oxmon 0.1 data dir (`oxmon_storage::legacy`), on copies of
//! the committed 0.1 fixture (`tests/fixtures/oxmon-0.1`, made by its
//! `generate.py` with 0.1's own schema and secret formats).

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oxmon_common::metric::Labels;
use oxmon_storage::day::{Day, MS_PER_DAY};
use oxmon_storage::legacy::{self, CertDb, Options};
use oxmon_storage::management::Management;
use oxmon_storage::reader::{Reader, SampleQuery};
use oxmon_storage::writer::{Writer, WriterConfig};
use oxmon_storage::{MANAGEMENT_DB, Sample};

/// The fixture's secrets (see `generate.py`).
const ADMIN_PASSWORD: &str = "oxmon-0.1-admin-pw";
fn web01_token() -> String {
    b64(&(100u8..132).collect::<Vec<_>>())
}
fn db02_token() -> String {
    b64(&(150u8..182).collect::<Vec<_>>())
}

/// 2026-02-08T00:00:00Z and 2026-02-09T00:00:00Z.
const DAY8: i64 = 1_770_508_800_000;
const DAY9: i64 = 1_770_595_200_000;
/// 2020-01-01T00:00:00Z: the fixture's one sample from a wrong agent clock.
const ANCIENT: i64 = 1_577_836_800_000;

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oxmon-0.1/data")
}

/// A temp dir holding a copy of the fixture data dir.
fn copy_fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    tmp
}

/// Every file under `dir` (recursively) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Noon on 2026-02-10, with a week of retention: the 2020 sample is too old.
fn options() -> Options {
    Options { retention_days: 7, now_ms: DAY9 + MS_PER_DAY + MS_PER_DAY / 2 }
}

const EXPECTED: &[(&str, u64)] = &[
    ("metric samples", 147),
    ("users", 1),
    ("agent whitelist entries", 2),
    ("alert rules", 3),
    ("system configs", 2),
    ("dictionary types", 1),
    ("dictionary items", 2),
    ("certificate domains", 1),
    ("certificate check results", 1),
    ("certificate details", 1),
    ("notification logs", 2),
    ("notification channels", 2),
    ("notification recipients", 3),
    ("silence windows", 1),
    ("alert events", 3),
];

fn assert_counts(summary: &legacy::Summary) {
    for (kind, n) in EXPECTED {
        assert_eq!(summary.count(kind), *n, "{kind}\n{summary}");
    }
    assert_eq!(summary.rejected.len(), 1, "{summary}");
    let r = &summary.rejected[0];
    assert_eq!(
        (r.what.as_str(), r.count, r.reason.as_str()),
        ("metric samples in 2026-02-09.db", 1, "older than retention_days (7)")
    );
    let days: Vec<String> = summary.partitions.iter().map(Day::to_string).collect();
    assert_eq!(days, ["2026-02-08", "2026-02-09"]);
}

#[test]
fn the_fixture_is_detected_as_oxmon_0_1() {
    let tmp = copy_fixture();
    let d = legacy::detect(tmp.path()).unwrap();
    assert_eq!(d.cert_db, CertDb::Legacy);
    let days: Vec<(String, bool)> = d.day_files.iter().map(|f| (f.day.to_string(), f.hybrid)).collect();
    assert_eq!(days, [("2026-02-08".into(), false), ("2026-02-09".into(), false)]);
    assert!(d.found() && !d.interrupted);
    // A data dir of ours is not.
    let ours = tempfile::tempdir().unwrap();
    drop(Management::open(ours.path()).unwrap());
    let d = legacy::detect(ours.path()).unwrap();
    assert_eq!((d.cert_db, d.found()), (CertDb::Current, false));
    assert!(!legacy::detect(&ours.path().join("missing")).unwrap().found());
}

#[test]
fn a_dry_run_reports_what_it_would_migrate_and_changes_nothing() {
    let tmp = copy_fixture();
    let before = snapshot(tmp.path());
    let summary = legacy::dry_run(tmp.path(), options()).unwrap();
    assert_eq!(snapshot(tmp.path()), before, "not a byte changed, no file added");
    assert!(summary.dry_run && summary.found && summary.backup.is_none());
    assert_counts(&summary);
    let text = summary.to_string();
    assert!(text.starts_with("dry run: oxmon 0.1 data in "), "{text}");
    assert!(text.contains("would migrate:\n  metric samples "), "{text}");
    assert!(text.contains("cannot be migrated:\n  1 metric samples in 2026-02-09.db: older than retention_days (7)"));
    assert!(text.contains("48 samples of system.load_1/5/15 and system.uptime are stored as load."), "{text}");
    assert!(text.contains("agent tokens kept as 0.1 bcrypt hashes") && text.contains(": db-02;"), "{text}");
    // With a longer retention the old sample is carried over too.
    let long = legacy::dry_run(tmp.path(), Options { retention_days: 3650, ..options() }).unwrap();
    assert_eq!(long.count("metric samples"), 148);
    assert!(long.rejected.is_empty());
    assert!(long.to_string().contains("cannot be migrated: nothing"));
}

#[test]
fn a_run_converts_everything_backs_up_the_0_1_files_and_a_second_run_changes_nothing() {
    let tmp = copy_fixture();
    let dir = tmp.path();
    let summary = legacy::run(dir, options()).unwrap();
    assert!(!summary.dry_run && summary.found);
    assert_counts(&summary);
    assert!(summary.to_string().starts_with("took over the oxmon 0.1 data in "), "{summary}");

    // The backup holds the 0.1 files exactly as they were.
    let backup = summary.backup.clone().unwrap();
    assert_eq!(backup, dir.join(legacy::BACKUP_DIR));
    let saved = snapshot(&backup);
    let original = snapshot(&fixture());
    for name in ["cert.db", "2026-02-08.db", "2026-02-09.db", "token.key"] {
        assert_eq!(saved.get(Path::new(name)), original.get(Path::new(name)), "{name}");
    }
    assert!(saved.contains_key(Path::new("README.txt")));
    assert!(!dir.join(legacy::STAGING_DIR).exists(), "staging removed");

    // Nothing 0.1-shaped is left: a second run finds nothing and changes nothing.
    assert!(!legacy::detect(dir).unwrap().found());
    let before = snapshot(dir);
    let again = legacy::run(dir, options()).unwrap();
    assert!(!again.found);
    assert_eq!(again.to_string(), format!("no oxmon 0.1 data in {}: nothing to migrate\n", dir.display()));
    assert_eq!(snapshot(dir), before);
    assert!(!dir.join(format!("{}-2", legacy::BACKUP_DIR)).exists());

    // Samples are in the partitions of their own days, load metrics renamed.
    let reader = Reader::new(dir);
    let q = |agent: &str, metric: &str, from: i64, to: i64| {
        let q = SampleQuery {
            agent_id: Some(agent.into()),
            metric_name: Some(metric.into()),
            from_ms: from,
            to_ms: to,
            limit: 1000,
            offset: 0,
        };
        reader.samples(&q).unwrap()
    };
    let buffered = q("db-02", "cpu.usage", DAY8, DAY9 - 1);
    let times: Vec<i64> = buffered.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(times, [DAY9 - 600_000, DAY9 - 1_200_000, DAY9 - 1_800_000], "filed on 2026-02-08, their own day");
    assert_eq!(q("web-01", "load.load_1", DAY8, DAY9 - 1).len(), 24);
    assert_eq!(q("web-01", "load.load_1", DAY9, DAY9 + MS_PER_DAY - 1).len(), 24);
    assert!(q("web-01", "system.load_1", DAY8, DAY9 + MS_PER_DAY).is_empty());
    let disk = q("web-01", "disk.usage", DAY9, DAY9 + MS_PER_DAY - 1);
    assert_eq!(disk.len(), 24);
    assert_eq!(disk[0].labels, Labels::from_pairs([("mount", "/")]));
    assert_eq!((disk[0].timestamp_ms, disk[0].value), (DAY9 + 23 * 3_600_000, 50.23));
    assert!(q("db-02", "memory.usage", ANCIENT, ANCIENT).is_empty(), "too old: reported, not stored");
    let parts: Vec<String> = reader.partitions().unwrap().iter().map(|p| p.day.to_string()).collect();
    assert_eq!(parts, ["2026-02-08", "2026-02-09"]);

    // The management rows, through our own storage API.
    let m = Management::open(dir).unwrap();
    let admin = m.user_by_name("admin").unwrap().unwrap();
    assert!(admin.password_hash.starts_with("$2b$10$"), "bcrypt kept until the first login");
    assert!(bcrypt::verify(ADMIN_PASSWORD, &admin.password_hash).unwrap());
    assert_eq!(admin.token_version, 3);
    assert_eq!(m.verify_agent_token("web-01", &web01_token()).unwrap(), Some(true), "sealed token opened");
    assert_eq!(m.verify_agent_token("web-01", &db02_token()).unwrap(), Some(false));
    assert_eq!(m.verify_agent_token("db-02", &db02_token()).unwrap(), Some(true), "bcrypt-only token");
    assert_eq!(m.verify_agent_token("db-02", "wrong").unwrap(), Some(false));
    let agents: Vec<(String, i64, i64)> =
        m.agents().unwrap().into_iter().map(|a| (a.agent_id, a.first_seen_ms, a.last_seen_ms)).collect();
    assert_eq!(
        agents,
        [("db-02".into(), DAY9 - 1_800_000, DAY9 - 600_000), ("web-01".into(), DAY8, DAY9 + 23 * 3_600_000)]
    );
    drop(m);

    // And by SQL, for what has no one-line accessor.
    let c = rusqlite::Connection::open(dir.join(MANAGEMENT_DB)).unwrap();
    let strings = |sql: &str| -> Vec<String> {
        let mut stmt = c.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    };
    let channels =
        strings("SELECT name || ' ' || channel_type || ' ' || config_json FROM notification_channels ORDER BY name");
    let parsed: Vec<(String, serde_json::Value)> = channels
        .iter()
        .map(|c| {
            let mut parts = c.splitn(3, ' ');
            let _ = parts.next();
            let name_tail = parts.next().unwrap();
            let rest = parts.next().unwrap();
            let (ty, json) = rest.split_once(' ').unwrap();
            (format!("{name_tail} {ty}"), serde_json::from_str(json).unwrap())
        })
        .collect();
    assert_eq!(parsed[0].0, "mail email");
    assert_eq!(parsed[0].1["smtp_password"], "mail-secret");
    assert_eq!(parsed[1].0, "sms sms", "0.1's sms_aliyun is the sms type...");
    assert_eq!(parsed[1].1["provider"], "aliyun", "...with the aliyun provider");
    assert_eq!(parsed[1].1["access_key_secret"], "sms-secret");
    assert_eq!(
        strings(
            "SELECT c.name || ': ' || r.value FROM notification_recipients r JOIN notification_channels c
              ON c.id = r.channel_id ORDER BY 1"
        ),
        ["ops mail: boss@example.com", "ops mail: oncall@example.com", "ops sms: 13800138000"]
    );
    assert_eq!(
        strings("SELECT id || ' ' || status || ' ' || timestamp_ms FROM alert_events ORDER BY id"),
        [
            format!("1001 1 {}", DAY8 + 5 * 3_600_000),
            format!("1002 2 {}", DAY9 + 7 * 3_600_000),
            format!("1003 3 {}", DAY9 + 8 * 3_600_000),
        ],
        "open, acknowledged, and the recovery stored as resolved"
    );
    assert_eq!(
        strings("SELECT status || ' ' || created_at_ms FROM notification_logs ORDER BY created_at_ms, status"),
        ["failed 1770600120000", "success 1770600120000"]
    );
    assert_eq!(
        strings(
            "SELECT start_time || '-' || end_time || ' ' || recurrence || ' ' || timezone FROM notification_silence_windows"
        ),
        ["02:00-04:00 daily UTC"]
    );
    assert_eq!(
        strings("SELECT domain || ' ' || subject_alt_names || ' ' || tls_version FROM certificate_details"),
        ["example.org [] TLSv1_3"]
    );
    assert_eq!(
        strings("SELECT name FROM alert_rules ORDER BY name"),
        ["CPU critical", "Certificate expiry", "Load warning"]
    );
}

fn sample(agent: &str, metric: &str, ts: i64, value: f64) -> Sample {
    Sample { timestamp_ms: ts, agent_id: agent.into(), metric_name: metric.into(), value, labels: Labels::new() }
}

/// Writes `samples` into `dir` as oxmon 0.2.0 (c5d331b) did, before schema
/// versions were checked: its writer opened every day file at start, adding
/// its own tables beside 0.1's `metrics` table (today's writer refuses such
/// a file untouched). The samples are written by today's writer into a
/// scratch dir; then each 0.1 day file gets that schema, with the rows of
/// its day, and days with no 0.1 file are moved in as they are.
async fn write_as_0_2_0_did(dir: &Path, samples: Vec<Sample>) {
    let scratch = tempfile::tempdir().unwrap();
    let writer = Writer::start(WriterConfig::new(scratch.path())).unwrap();
    writer.write(samples).await.unwrap();
    drop(writer);
    let day_files = |d: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "db") && !p.ends_with(MANAGEMENT_DB))
            .collect();
        files.sort();
        files
    };
    let ours = day_files(scratch.path());
    let template = ours.first().unwrap().clone();
    for file in &ours {
        let target = dir.join(file.file_name().unwrap());
        if !target.exists() {
            std::fs::copy(file, &target).unwrap();
        }
    }
    for target in day_files(dir) {
        let c = rusqlite::Connection::open(&target).unwrap();
        let is_0_1: bool = c
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'metrics'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
            == 1;
        if !is_0_1 {
            continue;
        }
        let same_day = scratch.path().join(target.file_name().unwrap());
        let (source, with_rows) = if same_day.exists() { (same_day, true) } else { (template.clone(), false) };
        c.execute("ATTACH ?1 AS ours", [source.to_str().unwrap()]).unwrap();
        let objects: Vec<(String, String, String)> = {
            let mut stmt = c
                .prepare(
                    "SELECT type, name, sql FROM ours.sqlite_master WHERE sql IS NOT NULL \
                     AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
                )
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        for (kind, name, sql) in &objects {
            if name == "metrics" {
                continue; // 0.2.0's `CREATE VIEW IF NOT EXISTS metrics` left 0.1's table alone
            }
            c.execute_batch(sql).unwrap();
            if kind == "table" && with_rows {
                c.execute_batch(&format!("INSERT INTO main.{name} SELECT * FROM ours.{name}")).unwrap();
            }
        }
        let version: i64 = c.query_row("PRAGMA ours.user_version", [], |r| r.get(0)).unwrap();
        c.execute_batch(&format!("DETACH ours; PRAGMA user_version = {version};")).unwrap();
    }
}

/// The workaround: `cert.db` deleted and this version started on
/// the dir. Its fresh `cert.db` (with the user it created) stays, the 0.1
/// alert events join it, the samples it wrote into a 0.1 day file are kept
/// beside the converted ones, and a partition of ours on a day that receives
/// 0.1 samples is rebuilt with its own samples too.
#[tokio::test(flavor = "current_thread")]
async fn a_dir_this_version_already_ran_on_keeps_what_it_stored() {
    let tmp = copy_fixture();
    let dir = tmp.path();
    std::fs::remove_file(dir.join(MANAGEMENT_DB)).unwrap();
    let m = Management::open(dir).unwrap();
    m.create_user("root", "argon-hash", 1).unwrap().unwrap();
    drop(m);
    write_as_0_2_0_did(
        dir,
        vec![sample("new-1", "cpu.usage", DAY9 + 60_000, 5.0), sample("new-1", "cpu.usage", ANCIENT + 60_000, 6.0)],
    )
    .await;

    let d = legacy::detect(dir).unwrap();
    assert_eq!(d.cert_db, CertDb::Current);
    let hybrid: Vec<bool> = d.day_files.iter().map(|f| f.hybrid).collect();
    assert_eq!(hybrid, [true, true], "opening them for writing added our tables");

    let options = Options { retention_days: 36_500, ..options() };
    let summary = legacy::run(dir, options).unwrap();
    assert_eq!(summary.count("metric samples"), 148, "{summary}");
    assert_eq!(summary.count("samples of ours kept"), 2, "{summary}");
    assert_eq!(summary.count("alert events"), 3);
    assert_eq!(summary.count("users"), 0, "0.1's cert.db is gone");
    let backup: Vec<String> = snapshot(&summary.backup.unwrap())
        .into_keys()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".db"))
        .collect();
    assert_eq!(backup, ["2020-01-01.db", "2026-02-08.db", "2026-02-09.db", "cert.db"]);

    let reader = Reader::new(dir);
    let values = |agent: &str, from: i64, to: i64| -> Vec<f64> {
        let q =
            SampleQuery { agent_id: Some(agent.into()), from_ms: from, to_ms: to, limit: 100, ..Default::default() };
        reader.samples(&q).unwrap().into_iter().map(|s| s.value).collect()
    };
    assert_eq!(values("new-1", DAY9, DAY9 + MS_PER_DAY), [5.0]);
    assert_eq!(values("new-1", ANCIENT, ANCIENT + MS_PER_DAY), [6.0]);
    assert_eq!(values("db-02", ANCIENT, ANCIENT + MS_PER_DAY), [42.0]);
    assert_eq!(values("web-01", DAY9, DAY9 + MS_PER_DAY).len(), 72);
    let m = Management::open(dir).unwrap();
    assert!(m.user_by_name("root").unwrap().is_some());
    assert!(!legacy::detect(dir).unwrap().found());
}
