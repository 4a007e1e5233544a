//! Prometheus remote-write 1.0 messages (`prometheus.WriteRequest`,
//! snappy-compressed protobuf), for the receiver at `/api/v1/write` and
//! for senders (tests today, the remote_write sender later).
//!
//! Only the fields oxmon reads are declared; prost skips the others
//! (exemplars, histograms, metadata).

use prost::Message;

/// The value Prometheus writes to mark a series stale (a NaN with this
/// exact bit pattern).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Eq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Why a body is not a remote-write request.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    Snappy(String),
    Protobuf(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Snappy(e) => write!(f, "body is not snappy-compressed (block format): {e}"),
            DecodeError::Protobuf(e) => write!(f, "body is not a protobuf WriteRequest: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Sample {
    /// Whether this is Prometheus's staleness marker.
    pub fn is_stale_marker(&self) -> bool {
        self.value.to_bits() == STALE_NAN_BITS
    }
}

/// Decodes a snappy-compressed (block format) `WriteRequest`.
pub fn decode(body: &[u8]) -> Result<WriteRequest, DecodeError> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))
}

/// Encodes and snappy-compresses a `WriteRequest`.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    let raw = request.encode_to_vec();
    // Compressing into a vector cannot fail for inputs below 4 GiB.
    snap::raw::Encoder::new().compress_vec(&raw).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_encoding_and_bad_bodies_are_named() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label { name: "__name__".into(), value: "up".into() }],
                samples: vec![Sample { value: 1.5, timestamp: 1000 }],
            }],
        };
        assert_eq!(decode(&encode(&req)).unwrap(), req);
        assert!(matches!(decode(b"not snappy at all"), Err(DecodeError::Snappy(_))));
        let garbage = snap::raw::Encoder::new().compress_vec(&[0xff, 0xff, 0xff]).unwrap();
        assert!(matches!(decode(&garbage), Err(DecodeError::Protobuf(_))));
        assert!(Sample { value: f64::from_bits(STALE_NAN_BITS), timestamp: 0 }.is_stale_marker());
        assert!(!Sample { value: f64::NAN, timestamp: 0 }.is_stale_marker());
    }
}

/// The PromQL name of an oxmon metric or label name: every character
/// other than `[A-Za-z0-9_:]` becomes `_` (`cpu.usage` is `cpu_usage`),
/// and a leading digit gets a `_` in front.
pub fn prometheus_name(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The oxmon metric a remote-written name is stored under: the oxmon
/// metric whose PromQL name it is (`cpu_usage` is stored as `cpu.usage`),
/// any other name as sent (`node_load1`).
pub fn oxmon_metric_name(name: &str) -> String {
    crate::metric::AGENT_METRICS
        .iter()
        .chain([crate::metric::CERT_DAYS_UNTIL_EXPIRY, crate::metric::CERT_IS_VALID].iter())
        .find(|m| prometheus_name(m) == name)
        .map_or_else(|| name.to_owned(), |m| (*m).to_owned())
}

#[cfg(test)]
mod naming_tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        assert_eq!(prometheus_name("cpu.usage"), "cpu_usage");
        assert_eq!(prometheus_name("certificate.days_until_expiry"), "certificate_days_until_expiry");
        assert_eq!(prometheus_name("9lives-x"), "_9lives_x");
        assert_eq!(oxmon_metric_name("cpu_usage"), "cpu.usage");
        assert_eq!(oxmon_metric_name("load_load_1"), "load.load_1");
        assert_eq!(oxmon_metric_name("node_load1"), "node_load1");
        assert_eq!(oxmon_metric_name("cpu.usage"), "cpu.usage");
    }
}
