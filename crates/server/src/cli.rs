//! The `init-*` subcommands: load seed files into the management database
//! under a config's `data_dir`. They work while the server is stopped (or
//! running: SQLite serialises the writes), are idempotent (existing names
//! are skipped) and apply a file completely or not at all.

use std::path::Path;

use anyhow::Context as _;
use oxmon_storage::management::Management;

use crate::config::ServerConfig;
use crate::rules::{RuleSeed, SeedReport, seed_rules, unknown_metrics};

/// `oxmon-server init-rules <config.toml> <seed.json>`.
pub fn init_rules(config_path: &Path, seed_path: &Path, vars: &[(String, String)]) -> anyhow::Result<SeedReport> {
    let config = ServerConfig::load(Some(config_path), vars)?;
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
    let config = ServerConfig::load(Some(config_path), vars)?;
    let text = std::fs::read_to_string(seed_path).with_context(|| format!("reading {}", seed_path.display()))?;
    let seed: crate::dictionaries::DictionarySeed = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a dictionaries seed file: {e}", seed_path.display()))?;
    let m = Management::open(&config.data_dir)
        .with_context(|| format!("opening the management database in {}", config.data_dir.display()))?;
    crate::dictionaries::apply_seed(&m, seed, jiff::Timestamp::now().as_second())
        .map_err(|e| anyhow::anyhow!("{}: {e}", seed_path.display()))
}
