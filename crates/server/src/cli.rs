//! The `init-*` subcommands: load seed files into the management database
//! under a config's `data_dir`. They work while the server is stopped (or
//! running: SQLite serialises the writes), are idempotent (existing names
//! are skipped) and apply a file completely or not at all.
//!
//! `migrate-0.1` (and the same takeover at server start): converts an
//! oxmon 0.1 data dir in place (`oxmon_storage::legacy`).

use std::path::Path;

use anyhow::Context as _;
use oxmon_storage::management::Management;

use crate::config::ServerConfig;
use crate::rules::{RuleSeed, SeedReport, seed_rules, unknown_metrics};

/// Loads the server config and prints its deprecation warnings on stderr.
fn load_config(config_path: &Path, vars: &[(String, String)]) -> anyhow::Result<ServerConfig> {
    let config = ServerConfig::load(Some(config_path), vars)?;
    for warning in config.deprecation_warnings() {
        eprintln!("oxmon-server: warning: {warning}");
    }
    Ok(config)
}

/// `oxmon-server init-rules <config.toml> <seed.json>`.
pub fn init_rules(config_path: &Path, seed_path: &Path, vars: &[(String, String)]) -> anyhow::Result<SeedReport> {
    let config = load_config(config_path, vars)?;
    let text = std::fs::read_to_string(seed_path).with_context(|| format!("reading {}", seed_path.display()))?;
    let rules = RuleSeed::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", seed_path.display()))?;
    for metric in unknown_metrics(&rules) {
        eprintln!("oxmon-server: note: metric {metric:?} is not one the oxmon agent emits");
    }
    let m = Management::open(&config.data_dir)
        .with_context(|| format!("opening the management database in {}", config.data_dir.display()))?;
    Ok(seed_rules(&m, rules, jiff::Timestamp::now().as_second())?)
}

/// `oxmon-server init-dictionaries <config.toml> <seed.json>`: returns
/// (types inserted, items inserted, items skipped).
pub fn init_dictionaries(
    config_path: &Path,
    seed_path: &Path,
    vars: &[(String, String)],
) -> anyhow::Result<(usize, usize, usize)> {
    let config = load_config(config_path, vars)?;
    let text = std::fs::read_to_string(seed_path).with_context(|| format!("reading {}", seed_path.display()))?;
    let seed: crate::dictionaries::DictionarySeed = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a dictionaries seed file: {e}", seed_path.display()))?;
    let m = Management::open(&config.data_dir)
        .with_context(|| format!("opening the management database in {}", config.data_dir.display()))?;
    crate::dictionaries::apply_seed(&m, seed, jiff::Timestamp::now().as_second())
        .map_err(|e| anyhow::anyhow!("{}: {e}", seed_path.display()))
}

/// Runtime settings of oxmon 0.1.10+'s `runtime.seed.example.json` for
/// features this oxmon does not have (UI language, AI reports): skipped
/// with a note, so 0.1's own seed file loads. Other unknown runtime keys
/// are still refused (a typo must not pass silently).
const OXMON_0_1_ONLY_RUNTIME: &[&str] =
    &["language", "ai_report_schedule_enabled", "ai_report_schedule_time", "ai_report_send_notification"];

/// A system-configs seed file (oxmon 0.1's format).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigSeed {
    configs: Vec<SeedConfig>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedConfig {
    config_key: String,
    config_type: String,
    provider: Option<String>,
    display_name: String,
    description: Option<String>,
    config: serde_json::Value,
    enabled: Option<bool>,
}

/// `oxmon-server init-configs <config.toml> <seed.json>`: inserts rows
/// whose key does not exist yet; returns (inserted, skipped). Runtime rows
/// are checked like the API checks them; other types (0.1's legacy rows)
/// are stored as given and shown redacted.
pub fn init_configs(config_path: &Path, seed_path: &Path, vars: &[(String, String)]) -> anyhow::Result<(usize, usize)> {
    use oxmon_common::settings::RuntimeSetting;
    use oxmon_storage::management::{ConfigRecord, Write};

    let config = load_config(config_path, vars)?;
    let text = std::fs::read_to_string(seed_path).with_context(|| format!("reading {}", seed_path.display()))?;
    let seed: ConfigSeed = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a system configs seed file: {e}", seed_path.display()))?;
    let mut rows = Vec::with_capacity(seed.configs.len());
    for (i, c) in seed.configs.into_iter().enumerate() {
        let at = |m: String| anyhow::anyhow!("{}: configs[{i}] ({}): {m}", seed_path.display(), c.config_key);
        if c.config_key.trim().is_empty() || c.display_name.trim().is_empty() {
            return Err(at("config_key and display_name are required".into()));
        }
        if !c.config.is_object() {
            return Err(at("config must be a JSON object".into()));
        }
        if c.config_type == "runtime" {
            if OXMON_0_1_ONLY_RUNTIME.contains(&c.config_key.trim()) {
                eprintln!(
                    "oxmon-server: note: {}: configs[{i}] ({}) is a runtime setting of later oxmon 0.1 releases that \
                     this oxmon does not have; not inserted",
                    seed_path.display(),
                    c.config_key
                );
                continue;
            }
            let setting = RuntimeSetting::find(&c.config_key).ok_or_else(|| at("unknown runtime setting".into()))?;
            setting.check(&c.config).map_err(at)?;
        }
        rows.push(ConfigRecord {
            id: String::new(),
            config_key: c.config_key.trim().to_owned(),
            config_type: c.config_type,
            provider: c.provider,
            display_name: c.display_name,
            description: c.description,
            config_json: c.config.to_string(),
            enabled: c.enabled.unwrap_or(true),
            created_at: 0,
            updated_at: 0,
        });
    }
    let m = Management::open(&config.data_dir)
        .with_context(|| format!("opening the management database in {}", config.data_dir.display()))?;
    let now = jiff::Timestamp::now().as_second();
    let (mut inserted, mut skipped) = (0, 0);
    for row in rows {
        match m.create_config(row, now)? {
            Write::Done(_) => inserted += 1,
            _ => skipped += 1,
        }
    }
    Ok((inserted, skipped))
}

/// A channels seed file (oxmon 0.1's format).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelSeed {
    #[serde(default)]
    channels: Vec<SeedChannel>,
    #[serde(default)]
    silence_windows: Vec<SeedWindow>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedChannel {
    name: String,
    channel_type: String,
    description: Option<String>,
    min_severity: Option<String>,
    enabled: Option<bool>,
    config: serde_json::Value,
    #[serde(default)]
    recipients: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedWindow {
    start_time: String,
    end_time: String,
    recurrence: Option<String>,
    timezone: Option<String>,
    name: Option<String>,
}

/// What `init-channels` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ChannelSeedReport {
    pub channels_inserted: usize,
    pub channels_skipped: Vec<String>,
    pub windows_inserted: usize,
    pub windows_skipped: usize,
}

/// `oxmon-server init-channels <config.toml> <seed.json>`: every channel is
/// validated like the API validates it (0.1's `sms_*` types are the `sms`
/// type with that provider) before anything is written; channels whose name
/// exists and silence windows identical to a stored one are skipped.
pub fn init_channels(
    config_path: &Path,
    seed_path: &Path,
    vars: &[(String, String)],
) -> anyhow::Result<ChannelSeedReport> {
    use oxmon_common::rule::Source;
    use oxmon_storage::management::{SilenceRecord, Write};

    use crate::channels::{NewChannel, check_new};

    let config = load_config(config_path, vars)?;
    let text = std::fs::read_to_string(seed_path).with_context(|| format!("reading {}", seed_path.display()))?;
    let seed: ChannelSeed = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a channels seed file: {e}", seed_path.display()))?;
    let mut channels = Vec::with_capacity(seed.channels.len());
    for (i, c) in seed.channels.into_iter().enumerate() {
        let label = format!("{}: channels[{i}] ({})", seed_path.display(), c.name);
        let record = check_new(
            NewChannel {
                name: c.name,
                channel_type: c.channel_type,
                description: c.description,
                min_severity: c.min_severity,
                enabled: c.enabled,
                config: Some(c.config),
            },
            Source::Seed,
        )
        .map_err(|e| anyhow::anyhow!("{label}: {}", e.message()))?;
        channels.push((record, crate::channels::clean_recipients(c.recipients)));
    }
    let mut windows = Vec::with_capacity(seed.silence_windows.len());
    for (i, w) in seed.silence_windows.into_iter().enumerate() {
        let window = crate::api::normalized_silence_window(SilenceRecord {
            id: String::new(),
            name: w.name,
            start_time: w.start_time,
            end_time: w.end_time,
            recurrence: w.recurrence,
            timezone: w.timezone.unwrap_or_default(),
            source: Source::Seed.as_str().into(),
            created_at: 0,
            updated_at: 0,
        })
        .map_err(|m| anyhow::anyhow!("{}: silence_windows[{i}]: {m}", seed_path.display()))?;
        windows.push(window);
    }
    let m = Management::open(&config.data_dir)
        .with_context(|| format!("opening the management database in {}", config.data_dir.display()))?;
    let now = jiff::Timestamp::now().as_second();
    let mut report = ChannelSeedReport::default();
    for (record, recipients) in channels {
        let name = record.name.clone();
        match m.create_channel(record, &recipients, now)? {
            Write::Done(_) => report.channels_inserted += 1,
            _ => report.channels_skipped.push(name),
        }
    }
    let existing = m.silence_windows(usize::MAX >> 1, 0)?;
    for w in windows {
        let same = |e: &SilenceRecord| {
            (&e.start_time, &e.end_time, &e.recurrence, &e.timezone)
                == (&w.start_time, &w.end_time, &w.recurrence, &w.timezone)
        };
        if existing.iter().any(same) {
            report.windows_skipped += 1;
        } else {
            m.create_silence_window(w, now)?;
            report.windows_inserted += 1;
        }
    }
    Ok(report)
}

/// The takeover's options under `config`: samples older than the
/// config's retention would be deleted at once, so they are reported.
fn takeover_options(config: &ServerConfig, now_ms: i64) -> oxmon_storage::legacy::Options {
    oxmon_storage::legacy::Options { retention_days: config.retention_days, now_ms }
}

/// `oxmon-server migrate-0.1 <config.toml> [--dry-run]`: takes over the
/// oxmon 0.1 data dir under the config's `data_dir` (or, with `dry_run`,
/// reports what that would do, changing nothing). Stop the 0.1 server first.
pub fn migrate_0_1(config: &ServerConfig, dry_run: bool) -> anyhow::Result<oxmon_storage::legacy::Summary> {
    let options = takeover_options(config, jiff::Timestamp::now().as_millisecond());
    let dir = &config.data_dir;
    let summary =
        if dry_run { oxmon_storage::legacy::dry_run(dir, options) } else { oxmon_storage::legacy::run(dir, options) };
    summary.with_context(|| format!("taking over the oxmon 0.1 data in {}", dir.display()))
}

/// Run at server start, before storage opens: takes over an oxmon 0.1 data
/// dir if there is one (backing up its files first) and logs the summary.
pub fn take_over_at_start(config: &ServerConfig, now_ms: i64) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    let detection = oxmon_storage::legacy::detect(dir)
        .with_context(|| format!("looking for oxmon 0.1 data in {}", dir.display()))?;
    if !detection.found() {
        return Ok(());
    }
    tracing::warn!(data_dir = %dir.display(), "oxmon 0.1 data found; taking it over (its files are backed up first)");
    let summary = oxmon_storage::legacy::run(dir, takeover_options(config, now_ms))
        .with_context(|| format!("taking over the oxmon 0.1 data in {}", dir.display()))?;
    for line in summary.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
