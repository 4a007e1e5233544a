//! Metric names, label keys and the sample type the agent produces.
//!
//! The names are those of the oxmon README. oxmon 0.1 agents report the load
//! metrics as `system.*`; the server stores them under the `load.*` names
//! ([`canonical_metric_name`]), and [`LEGACY_LOAD_METRICS`] lists the old
//! names so that data stored under them before is still shown.

use std::fmt;

pub const CPU_USAGE: &str = "cpu.usage";
pub const CPU_CORE_USAGE: &str = "cpu.core_usage";

pub const MEMORY_TOTAL: &str = "memory.total";
pub const MEMORY_USED: &str = "memory.used";
pub const MEMORY_AVAILABLE: &str = "memory.available";
pub const MEMORY_USED_PERCENT: &str = "memory.used_percent";
pub const MEMORY_SWAP_TOTAL: &str = "memory.swap_total";
pub const MEMORY_SWAP_USED: &str = "memory.swap_used";
pub const MEMORY_SWAP_PERCENT: &str = "memory.swap_percent";

pub const DISK_TOTAL: &str = "disk.total";
pub const DISK_USED: &str = "disk.used";
pub const DISK_AVAILABLE: &str = "disk.available";
pub const DISK_USED_PERCENT: &str = "disk.used_percent";
pub const DISK_INODES_TOTAL: &str = "disk.inodes_total";
pub const DISK_INODES_USED: &str = "disk.inodes_used";
pub const DISK_INODES_USED_PERCENT: &str = "disk.inodes_used_percent";
pub const DISK_READ_BYTES: &str = "disk.read_bytes";
pub const DISK_WRITE_BYTES: &str = "disk.write_bytes";
pub const DISK_READ_OPS: &str = "disk.read_ops";
pub const DISK_WRITE_OPS: &str = "disk.write_ops";
pub const DISK_IO_UTIL: &str = "disk.io_util";

pub const NETWORK_BYTES_RECV: &str = "network.bytes_recv";
pub const NETWORK_BYTES_SENT: &str = "network.bytes_sent";
pub const NETWORK_PACKETS_RECV: &str = "network.packets_recv";
pub const NETWORK_PACKETS_SENT: &str = "network.packets_sent";
pub const NETWORK_TCP_CONNECTIONS: &str = "network.tcp_connections";

pub const LOAD_1: &str = "load.load_1";
pub const LOAD_5: &str = "load.load_5";
pub const LOAD_15: &str = "load.load_15";
pub const LOAD_UPTIME: &str = "load.uptime";

pub const SYSTEM_PROCESSES: &str = "system.processes";
pub const SYSTEM_CONTEXT_SWITCHES: &str = "system.context_switches";

pub const SENSORS_TEMPERATURE: &str = "sensors.temperature";

pub const CONTAINER_CPU_USAGE: &str = "container.cpu_usage";
pub const CONTAINER_CPU_THROTTLED_SECONDS: &str = "container.cpu_throttled_seconds";
pub const CONTAINER_MEMORY_WORKING_SET: &str = "container.memory_working_set";
pub const CONTAINER_MEMORY_LIMIT: &str = "container.memory_limit";
pub const CONTAINER_OOM_KILLS: &str = "container.oom_kills";

pub const CERT_DAYS_UNTIL_EXPIRY: &str = "certificate.days_until_expiry";
pub const CERT_IS_VALID: &str = "certificate.is_valid";

pub const LABEL_CORE: &str = "core";
pub const LABEL_MOUNT: &str = "mount";
pub const LABEL_INTERFACE: &str = "interface";
pub const LABEL_DOMAIN: &str = "domain";
pub const LABEL_DEVICE: &str = "device";
pub const LABEL_STATE: &str = "state";
pub const LABEL_CHIP: &str = "chip";
pub const LABEL_SENSOR: &str = "sensor";
pub const LABEL_NAMESPACE: &str = "namespace";
pub const LABEL_POD: &str = "pod";
pub const LABEL_CONTAINER: &str = "container";

/// Every metric the agent emits, in the order the README lists them.
pub const AGENT_METRICS: &[&str] = &[
    CPU_USAGE,
    CPU_CORE_USAGE,
    MEMORY_TOTAL,
    MEMORY_USED,
    MEMORY_AVAILABLE,
    MEMORY_USED_PERCENT,
    MEMORY_SWAP_TOTAL,
    MEMORY_SWAP_USED,
    MEMORY_SWAP_PERCENT,
    DISK_TOTAL,
    DISK_USED,
    DISK_AVAILABLE,
    DISK_USED_PERCENT,
    DISK_INODES_TOTAL,
    DISK_INODES_USED,
    DISK_INODES_USED_PERCENT,
    DISK_READ_BYTES,
    DISK_WRITE_BYTES,
    DISK_READ_OPS,
    DISK_WRITE_OPS,
    DISK_IO_UTIL,
    NETWORK_BYTES_RECV,
    NETWORK_BYTES_SENT,
    NETWORK_PACKETS_RECV,
    NETWORK_PACKETS_SENT,
    NETWORK_TCP_CONNECTIONS,
    LOAD_1,
    LOAD_5,
    LOAD_15,
    LOAD_UPTIME,
    SYSTEM_PROCESSES,
    SYSTEM_CONTEXT_SWITCHES,
    SENSORS_TEMPERATURE,
    CONTAINER_CPU_USAGE,
    CONTAINER_CPU_THROTTLED_SECONDS,
    CONTAINER_MEMORY_WORKING_SET,
    CONTAINER_MEMORY_LIMIT,
    CONTAINER_OOM_KILLS,
];

/// The per-container metrics (a subset of [`AGENT_METRICS`]): only hosts
/// that run containers emit them.
pub const CONTAINER_METRICS: &[&str] = &[
    CONTAINER_CPU_USAGE,
    CONTAINER_CPU_THROTTLED_SECONDS,
    CONTAINER_MEMORY_WORKING_SET,
    CONTAINER_MEMORY_LIMIT,
    CONTAINER_OOM_KILLS,
];

/// The names oxmon 0.1 agents use for the load metrics.
pub const LEGACY_LOAD_METRICS: &[&str] = &["system.load_1", "system.load_5", "system.load_15", "system.uptime"];

/// The name a reported sample is stored under: oxmon 0.1's `system.load_1`,
/// `system.load_5`, `system.load_15` and `system.uptime` become
/// [`LOAD_1`], [`LOAD_5`], [`LOAD_15`] and [`LOAD_UPTIME`], so rules,
/// dictionary and queries need only one name; any other name is kept.
pub fn canonical_metric_name(name: String) -> String {
    let renamed = match name.as_str() {
        "system.load_1" => LOAD_1,
        "system.load_5" => LOAD_5,
        "system.load_15" => LOAD_15,
        "system.uptime" => LOAD_UPTIME,
        _ => return name,
    };
    renamed.to_owned()
}

/// Label set of one series: pairs sorted by key, keys unique.
///
/// Sorting once at construction gives every series one canonical form, so
/// two label sets are equal exactly when their renderings are.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// A label set with a single pair.
    pub fn one(key: &str, value: impl Into<String>) -> Self {
        Self(vec![(key.to_owned(), value.into())])
    }

    /// Builds a label set; a later duplicate key replaces an earlier one.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        // Stable sort keeps insertion order among equal keys; keep the last one.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, String)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        Self(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|i| self.0[i].1.as_str())
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Canonical JSON object rendering (keys sorted), as stored on disk.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(2 + self.0.len() * 24);
        s.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_json_string(&mut s, k);
            s.push(':');
            push_json_string(&mut s, v);
        }
        s.push('}');
        s
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Appends `value` to `out` as a JSON string literal.
pub fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One measured value of one series, as a collector produces it.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub labels: Labels,
    pub value: f64,
}

impl Metric {
    pub fn new(name: &'static str, value: f64) -> Self {
        Self { name, labels: Labels::new(), value }
    }

    pub fn labelled(name: &'static str, key: &str, label: impl Into<String>, value: f64) -> Self {
        Self { name, labels: Labels::one(key, label), value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oxmon_0_1_load_names_map_to_the_agent_s_names() {
        let mapped: Vec<String> = LEGACY_LOAD_METRICS.iter().map(|n| canonical_metric_name((*n).to_owned())).collect();
        assert_eq!(mapped, [LOAD_1, LOAD_5, LOAD_15, LOAD_UPTIME]);
        assert!(mapped.iter().all(|m| AGENT_METRICS.contains(&m.as_str())));
        for kept in ["cpu.usage", "load.load_1", "system.load_2", "system.load_1 ", "custom.metric"] {
            assert_eq!(canonical_metric_name(kept.to_owned()), kept);
        }
    }

    #[test]
    fn labels_are_sorted_and_deduplicated_keeping_the_last_value() {
        let l = Labels::from_pairs([("mount", "/"), ("agent", "a"), ("mount", "/data")]);
        assert_eq!(l.to_json(), r#"{"agent":"a","mount":"/data"}"#);
        assert_eq!(l.get("mount"), Some("/data"));
        assert_eq!(l.get("missing"), None);
    }

    #[test]
    fn label_json_escapes_quotes_and_control_characters() {
        let l = Labels::one("k", "a\"b\\c\n\u{1}");
        assert_eq!(l.to_json(), r#"{"k":"a\"b\\c\n\u0001"}"#);
    }

    #[test]
    fn agent_metrics_are_unique() {
        let mut names = AGENT_METRICS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AGENT_METRICS.len());
    }
}
