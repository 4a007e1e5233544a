//! Where metrics come from: the [`Source`] trait and [`HostSource`], the only code that runs
//! `oxmon-collector` (the config only borrows its switch types).

use std::time::Instant;

use oxmon_collector::{Collector, CollectorConfig};
use oxmon_common::metric::Metric;
use tracing::{debug, info, warn};

use crate::config::AgentConfig;

/// A synchronous producer of one batch of metrics per call.
///
/// `collect` runs on a dedicated thread, never on the async runtime, so it may block.
pub trait Source: Send + 'static {
    fn collect(&mut self) -> Vec<Metric>;
}

impl<F> Source for F
where
    F: FnMut() -> Vec<Metric> + Send + 'static,
{
    fn collect(&mut self) -> Vec<Metric> {
        self()
    }
}

/// The host's metrics, read by `oxmon-collector` under the configured procfs/sysfs/rootfs.
#[derive(Debug)]
pub struct HostSource {
    collector: Collector,
    /// Error messages of the previous cycle: a failure is logged at WARN when it appears,
    /// at DEBUG while it persists, and at INFO when it clears.
    previous_errors: Vec<String>,
}

impl HostSource {
    pub fn new(config: &AgentConfig) -> Self {
        let defaults = CollectorConfig::default();
        let collector = Collector::new(CollectorConfig {
            procfs: config.procfs_path.clone(),
            sysfs: config.sysfs_path.clone(),
            rootfs: config.rootfs_path.clone(),
            exclude_interfaces: config.exclude_interfaces.clone().unwrap_or(defaults.exclude_interfaces),
            collectors: config.collectors,
            containers: config.containers.clone(),
        });
        Self { collector, previous_errors: Vec::new() }
    }
}

impl Source for HostSource {
    fn collect(&mut self) -> Vec<Metric> {
        let collection = self.collector.collect(Instant::now());
        let errors: Vec<String> = collection.errors.iter().map(ToString::to_string).collect();
        for error in &errors {
            if self.previous_errors.contains(error) {
                debug!(%error, "collector still failing");
            } else {
                warn!(%error, "collector failed; its metrics are skipped");
            }
        }
        for error in &self.previous_errors {
            if !errors.contains(error) {
                info!(%error, "collector recovered");
            }
        }
        self.previous_errors = errors;
        collection.metrics
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use oxmon_common::metric::{LOAD_1, MEMORY_TOTAL};

    use super::*;
    use crate::config::NoEnv;

    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_collector_is_logged_once_and_the_others_keep_reporting() -> Result<(), Box<dyn std::error::Error>> {
        let procfs = concat!(env!("CARGO_MANIFEST_DIR"), "/../collector/tests/fixtures/proc");
        let sysfs = tempfile::tempdir()?;
        // hwmon is a file, not a directory: the sensors collector fails every cycle.
        std::fs::create_dir(sysfs.path().join("class"))?;
        std::fs::write(sysfs.path().join("class/hwmon"), "")?;
        let text = format!(
            "agent_id = \"a\"\nprocfs_path = {procfs:?}\nsysfs_path = {:?}\ndisabled_collectors = [\"disk\", \"inodes\"]\n",
            sysfs.path()
        );
        let config = AgentConfig::from_toml_str(&text, &NoEnv)?;
        let mut source = HostSource::new(&config);
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let cycles: Vec<Vec<Metric>> =
            tracing::subscriber::with_default(subscriber, || (0..3).map(|_| source.collect()).collect());
        for metrics in &cycles {
            assert!(metrics.iter().any(|m| m.name == MEMORY_TOTAL), "{metrics:?}");
            assert!(metrics.iter().any(|m| m.name == LOAD_1), "{metrics:?}");
        }
        let text = String::from_utf8_lossy(&logs.0.lock().map_err(|_| "poisoned")?).into_owned();
        let warnings: Vec<&str> = text.lines().filter(|l| l.contains("collector failed")).collect();
        assert_eq!(warnings.len(), 1, "{text}");
        assert!(warnings[0].contains(" WARN ") && warnings[0].contains("class/hwmon"), "{text}");
        Ok(())
    }
}
