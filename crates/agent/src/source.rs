//! Where metrics come from: the [`Source`] trait and [`HostSource`], the only code that
//! touches `oxmon-collector`.

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
            ..defaults
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
