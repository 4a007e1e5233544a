//! oxmon's partitions as an `oxmon_query::Storage`, over the existing
//! reader functions (no SQL of its own), and the naming between oxmon and
//! PromQL.
//!
//! Naming: the series of agent `a`, metric `cpu.usage`, labels `{core="0"}`
//! is `cpu_usage{agent_id="a", instance="a", core="0"}` (names through
//! [`prometheus_name`]; a stored `instance` label wins over the agent id).
//!
//! Blocking: run queries on a blocking thread.

use std::cell::RefCell;
use std::collections::HashMap;

use oxmon_common::metric::Labels as OxLabels;
use oxmon_common::remote_write::prometheus_name;
use oxmon_query::{Labels, METRIC_NAME, MatchOp, Matcher, Sample, Storage};
use oxmon_storage::reader::{Reader, SampleQuery, SeriesField};

/// The label holding the agent id.
pub const AGENT_LABEL: &str = "agent_id";
/// The label Prometheus gives a scrape target; oxmon fills it with the
/// agent id.
pub const INSTANCE_LABEL: &str = "instance";

/// One query's view of the partitions. Series lookups read the samples of
/// the matching metrics once and keep them for the sample reads that follow.
#[derive(Debug)]
pub struct PartitionStorage<'a> {
    reader: &'a Reader,
    /// Samples loaded per lookup are bounded by this (the query's limit).
    max_samples: usize,
    loaded: RefCell<HashMap<Labels, Loaded>>,
}

/// Samples of one series read by a lookup, and the range they cover.
type Loaded = (i64, i64, Vec<Sample>);

impl<'a> PartitionStorage<'a> {
    pub fn new(reader: &'a Reader, max_samples: usize) -> Self {
        Self { reader, max_samples, loaded: RefCell::new(HashMap::new()) }
    }
}

/// The PromQL labels of an oxmon series.
pub fn promql_labels(agent_id: &str, metric_name: &str, labels: &OxLabels) -> Labels {
    let mut out = Labels::new();
    out.insert(METRIC_NAME.to_owned(), prometheus_name(metric_name));
    out.insert(INSTANCE_LABEL.to_owned(), agent_id.to_owned());
    for (k, v) in labels.iter() {
        out.insert(prometheus_name(k), v.to_owned());
    }
    out.insert(AGENT_LABEL.to_owned(), agent_id.to_owned());
    out
}

fn storage_error(e: oxmon_storage::Error) -> oxmon_query::Error {
    oxmon_query::Error::Storage(format!("reading partitions failed: {e}"))
}

fn matches(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.is_match(labels.get(&m.name).map_or("", String::as_str)))
}

impl Storage for PartitionStorage<'_> {
    fn series(&self, matchers: &[Matcher], start_ms: i64, end_ms: i64) -> oxmon_query::Result<Vec<Labels>> {
        let names =
            self.reader.distinct(SeriesField::MetricName, start_ms, end_ms, usize::MAX, 0).map_err(storage_error)?;
        let name_matchers: Vec<&Matcher> = matchers.iter().filter(|m| m.name == METRIC_NAME).collect();
        let agent = matchers.iter().find(|m| m.name == AGENT_LABEL && m.op == MatchOp::Equal).map(|m| m.value.clone());
        let mut out = Vec::new();
        let mut loaded = self.loaded.borrow_mut();
        let mut budget = self.max_samples;
        for name in names {
            let prom = prometheus_name(&name);
            if !name_matchers.iter().all(|m| m.is_match(&prom)) {
                continue;
            }
            let query = SampleQuery {
                agent_id: agent.clone(),
                metric_name: Some(name),
                from_ms: start_ms,
                to_ms: end_ms,
                limit: budget.saturating_add(1),
                offset: 0,
            };
            let samples = self.reader.samples(&query).map_err(storage_error)?;
            if samples.len() > budget {
                return Err(oxmon_query::Error::TooManySamples);
            }
            budget -= samples.len();
            // Newest first: walk backwards to append oldest first.
            let mut series: HashMap<(String, OxLabels), Vec<Sample>> = HashMap::new();
            for s in samples.into_iter().rev() {
                series.entry((s.agent_id, s.labels)).or_default().push(Sample { t: s.timestamp_ms, v: s.value });
            }
            for ((agent_id, labels), points) in series {
                let labels = promql_labels(&agent_id, &query.metric_name.clone().unwrap_or_default(), &labels);
                if !matches(&labels, matchers) {
                    continue;
                }
                out.push(labels.clone());
                loaded.insert(labels, (start_ms, end_ms, points));
            }
        }
        Ok(out)
    }

    fn samples(&self, labels: &Labels, start_ms: i64, end_ms: i64) -> oxmon_query::Result<Vec<Sample>> {
        let loaded = self.loaded.borrow();
        match loaded.get(labels) {
            Some((lo, hi, points)) if *lo <= start_ms && *hi >= end_ms => {
                Ok(points.iter().copied().filter(|p| p.t >= start_ms && p.t <= end_ms).collect())
            }
            // The evaluator reads only series it has just looked up.
            _ => Err(oxmon_query::Error::Storage(format!("series {labels:?} was not looked up first"))),
        }
    }
}
