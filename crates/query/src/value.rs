//! Values of PromQL expressions.

use std::collections::BTreeMap;

/// A label set, `__name__` included, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// One sample: time in ms since the epoch, value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

/// A series and its samples, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// One element of an instant vector. `t` is the time of the sample a
/// selector picked (what `timestamp()` returns) or the evaluation time.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// The value of an expression at one evaluation time.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Element>),
    /// A range vector (a range selector or a subquery).
    Matrix(Vec<Series>),
}

impl Value {
    /// Prometheus's name of the value type.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A value as Prometheus writes it in JSON (Go's `FormatFloat(v, 'f', -1)`).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_formatted_as_prometheus_does() {
        assert_eq!(format_value(1.5), "1.5");
        assert_eq!(format_value(2.0), "2");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(-0.25), "-0.25");
    }
}
