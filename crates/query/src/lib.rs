//! oxmon query: PromQL, parsed by `promql-parser` and evaluated with
//! Prometheus 2.42's semantics over a small [`Storage`] trait.
//!
//! The crate is pure: no IO, no clock, no threads. The server implements
//! [`Storage`] over its partitions and mounts the HTTP handlers; tests
//! implement it in memory ([`MemoryStorage`]).
//!
//! Semantics kept from Prometheus: a lookback delta of 5 minutes for
//! instant selectors (a series whose newest sample is older is absent:
//! that is how a gap becomes stale), closed range windows `[t - range, t]`,
//! `offset` and `@` (with `start()` / `end()`), subqueries aligned to
//! multiples of their step, extrapolated `rate`/`increase`/`delta`, vector
//! matching with `on`/`ignoring`/`group_left`/`group_right`. Whatever this
//! evaluator does not implement is refused with [`Error::BadData`] naming
//! the construct, never answered approximately.

#![forbid(unsafe_code)]

mod aggregate;
mod binary;
mod eval;
mod functions;
mod memory;
mod value;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use aggregate::is_label_name;
pub use memory::MemoryStorage;
pub use promql_parser::label::{MatchOp, Matcher};
pub use value::{Element, Labels, Sample, Series, Value, format_value};

/// The name label.
pub const METRIC_NAME: &str = "__name__";

/// Errors of a query, in Prometheus's `errorType` classes.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    /// The query is malformed or uses something this evaluator does not
    /// support (HTTP 400, `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed on the data (HTTP 422, `execution`).
    #[error("{0}")]
    Execution(String),
    /// The query loaded more samples than [`Limits::max_samples`]
    /// (HTTP 422, `execution`, Prometheus's message).
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query ran longer than [`Limits::timeout`] (HTTP 503, `timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The storage failed (HTTP 500 or 503, `internal`/`unavailable`).
    #[error("{0}")]
    Storage(String),
}

impl Error {
    /// Prometheus's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::BadData(_) => "bad_data",
            Error::Execution(_) | Error::TooManySamples => "execution",
            Error::Timeout(_) => "timeout",
            Error::Storage(_) => "internal",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the evaluator reads. Implementations answer from their own store;
/// both calls may be made several times per query.
pub trait Storage {
    /// The label sets (including `__name__`) of every series that matches
    /// all `matchers` and has a sample in `[start_ms, end_ms]`.
    fn series(&self, matchers: &[Matcher], start_ms: i64, end_ms: i64) -> Result<Vec<Labels>>;

    /// The samples of the series `labels` (as returned by
    /// [`Storage::series`]) in `[start_ms, end_ms]`, oldest first.
    fn samples(&self, labels: &Labels, start_ms: i64, end_ms: i64) -> Result<Vec<Sample>>;
}

/// Bounds on one query, so one query cannot take the server down.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Samples a query may load from storage, over all its selectors
    /// (Prometheus's `--query.max-samples`, 50,000,000 by default).
    pub max_samples: usize,
    /// Wall time a query may take.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_samples: 50_000_000, timeout: Duration::from_secs(120) }
    }
}

/// Instant selectors see a sample this much older than the evaluation time.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Step of a subquery that names none (`x[1h:]`): Prometheus's default
/// global evaluation interval.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60 * 1000;

/// Range queries are refused above this many steps (Prometheus's limit).
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// A query's time parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// Parses `query` and checks that every construct in it is supported.
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr> {
    let expr =
        promql_parser::parser::parse(query).map_err(|e| Error::BadData(format!("invalid parameter \"query\": {e}")))?;
    eval::check_supported(&expr)?;
    Ok(expr)
}

/// Evaluates `query` at `time_ms`: a vector, a scalar or a string.
pub fn instant_query(storage: &dyn Storage, query: &str, time_ms: i64, limits: Limits) -> Result<Value> {
    let expr = parse(query)?;
    let range = Range { start_ms: time_ms, end_ms: time_ms, step_ms: 1 };
    let mut ev = eval::Evaluator::new(storage, range, limits, Instant::now());
    ev.load(&expr)?;
    ev.eval_at(&expr, time_ms)
}

/// Evaluates `query` at every step of `range`: a matrix, series sorted by
/// labels, steps without a value left out.
pub fn range_query(storage: &dyn Storage, query: &str, range: Range, limits: Limits) -> Result<Vec<Series>> {
    if range.step_ms <= 0 {
        return Err(Error::BadData(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"
                .into(),
        ));
    }
    if range.end_ms < range.start_ms {
        return Err(Error::BadData("invalid parameter \"end\": end timestamp must not be before start time".into()));
    }
    if (range.end_ms - range.start_ms) / range.step_ms >= MAX_POINTS_PER_SERIES {
        return Err(Error::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                .into(),
        ));
    }
    let expr = parse(query)?;
    let kind = eval::value_kind(&expr);
    if kind == "string" || kind == "range vector" {
        return Err(Error::BadData(format!(
            "invalid expression type \"{kind}\" for range query, must be Scalar or instant Vector"
        )));
    }
    let started = Instant::now();
    let mut ev = eval::Evaluator::new(storage, range, limits, started);
    ev.load(&expr)?;
    let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    let mut t = range.start_ms;
    while t <= range.end_ms {
        ev.check_deadline("query range evaluation")?;
        match ev.eval_at(&expr, t)? {
            Value::Scalar(v) => out.entry(Labels::new()).or_default().push(Sample { t, v }),
            Value::Vector(v) => {
                for s in v {
                    out.entry(s.labels).or_default().push(Sample { t, v: s.v });
                }
            }
            other => {
                return Err(Error::BadData(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    other.kind()
                )));
            }
        }
        t += range.step_ms;
    }
    Ok(out.into_iter().map(|(labels, samples)| Series { labels, samples }).collect())
}

/// Series (label sets) matching any of `selectors` (each a PromQL vector
/// selector), for `/api/v1/series`, sorted and without duplicates.
pub fn find_series(storage: &dyn Storage, selectors: &[String], start_ms: i64, end_ms: i64) -> Result<Vec<Labels>> {
    let mut all = std::collections::BTreeSet::new();
    for s in selectors {
        let matchers = parse_selector(s)?;
        all.extend(storage.series(&matchers, start_ms, end_ms)?);
    }
    Ok(all.into_iter().collect())
}

/// The matchers of a vector selector given as a `match[]` parameter.
pub fn parse_selector(selector: &str) -> Result<Vec<Matcher>> {
    let bad = || Error::BadData(format!("invalid parameter \"match[]\": {selector:?} is not a vector selector"));
    let expr = promql_parser::parser::parse(selector)
        .map_err(|e| Error::BadData(format!("invalid parameter \"match[]\": {e}")))?;
    match expr {
        promql_parser::parser::Expr::VectorSelector(vs) if vs.offset.is_none() && vs.at.is_none() => {
            let m = eval::selector_matchers(&vs)?;
            if m.iter().all(|m| m.is_match("")) {
                return Err(Error::BadData(
                    "invalid parameter \"match[]\": match[] must contain at least one non-empty matcher".into(),
                ));
            }
            Ok(m)
        }
        _ => Err(bad()),
    }
}

/// A PromQL duration (`5m`, `1h30m`) in milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    promql_parser::util::parse_duration(s).ok().map(|d| d.as_millis() as i64)
}
