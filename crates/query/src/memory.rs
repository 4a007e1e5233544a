//! An in-memory [`Storage`], for tests and examples.

use crate::{Labels, Matcher, Result, Sample, Series, Storage};

/// Series held in memory, each with its samples oldest first.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    series: Vec<Series>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample to the series `labels` (created on first use); samples
    /// may come in any order.
    pub fn add(&mut self, labels: &[(&str, &str)], t: i64, v: f64) {
        let labels: Labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let idx = match self.series.iter().position(|s| s.labels == labels) {
            Some(i) => i,
            None => {
                self.series.push(Series { labels, samples: Vec::new() });
                self.series.len() - 1
            }
        };
        let samples = &mut self.series[idx].samples;
        let at = samples.partition_point(|s| s.t < t);
        if samples.get(at).is_some_and(|s| s.t == t) {
            samples[at].v = v;
        } else {
            samples.insert(at, Sample { t, v });
        }
    }
}

fn matches(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.is_match(labels.get(&m.name).map_or("", String::as_str)))
}

impl Storage for MemoryStorage {
    fn series(&self, matchers: &[Matcher], start_ms: i64, end_ms: i64) -> Result<Vec<Labels>> {
        Ok(self
            .series
            .iter()
            .filter(|s| matches(&s.labels, matchers))
            .filter(|s| s.samples.iter().any(|p| p.t >= start_ms && p.t <= end_ms))
            .map(|s| s.labels.clone())
            .collect())
    }

    fn samples(&self, labels: &Labels, start_ms: i64, end_ms: i64) -> Result<Vec<Sample>> {
        Ok(self
            .series
            .iter()
            .find(|s| &s.labels == labels)
            .map(|s| s.samples.iter().copied().filter(|p| p.t >= start_ms && p.t <= end_ms).collect())
            .unwrap_or_default())
    }
}
