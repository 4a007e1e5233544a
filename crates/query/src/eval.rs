//! The evaluator: loads every selector's samples once per query, then
//! evaluates the expression tree at one time after another.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promql_parser::label::MatchOp;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

use crate::value::{Element, Labels, Sample, Series, Value};
use crate::{DEFAULT_SUBQUERY_STEP_MS, Error, LOOKBACK_MS, Limits, METRIC_NAME, Matcher, Range, Result, Storage};

/// Functions this evaluator implements.
pub(crate) const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "count_over_time",
    "delta",
    "deriv",
    "exp",
    "floor",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "time",
    "timestamp",
    "vector",
];

/// Aggregations this evaluator implements.
pub(crate) const AGGREGATIONS: &[&str] =
    &["sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group"];

/// Refuses, naming it, any construct the evaluator does not implement.
pub(crate) fn check_supported(expr: &Expr) -> Result<()> {
    let unsupported = |what: String| Err(Error::BadData(format!("unsupported PromQL construct: {what}")));
    match expr {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return unsupported(format!("aggregation {op}"));
            }
            check_supported(&a.expr)?;
            if let Some(p) = &a.param {
                check_supported(p)?;
            }
            Ok(())
        }
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return unsupported("fill modifiers of binary operators".into());
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)
        }
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Subquery(s) => check_supported(&s.expr),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::VectorSelector(vs) => selector_matchers(vs).map(drop),
        Expr::MatrixSelector(ms) => selector_matchers(&ms.vs).map(drop),
        Expr::Call(c) => {
            if !FUNCTIONS.contains(&c.func.name) {
                return unsupported(format!("function {}()", c.func.name));
            }
            c.args.args.iter().try_for_each(|a| check_supported(a))
        }
        Expr::Extension(_) => unsupported("extension expression".into()),
    }
}

/// Prometheus's name of an expression's type.
pub(crate) fn value_kind(expr: &Expr) -> &'static str {
    match expr.value_type() {
        ValueType::Vector => "vector",
        ValueType::Scalar => "scalar",
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    }
}

/// A selector's matchers, the metric name included as a `__name__` matcher.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(Error::BadData("unsupported PromQL construct: `or` between label matchers".into()));
    }
    let mut out = vs.matchers.matchers.clone();
    if let Some(name) = &vs.name
        && !out.iter().any(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal && &m.value == name)
    {
        out.insert(0, Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    Ok(out)
}

fn selector_key(matchers: &[Matcher]) -> String {
    let mut parts: Vec<String> = matchers.iter().map(|m| format!("{}{}{:?}", m.name, m.op, m.value)).collect();
    parts.sort();
    parts.join(",")
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Evaluation state of one query.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Storage,
    range: Range,
    limits: Limits,
    started: Instant,
    loaded: usize,
    /// Load window per selector key, then its series.
    windows: HashMap<String, (i64, i64)>,
    data: HashMap<String, Vec<Series>>,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(storage: &'a dyn Storage, range: Range, limits: Limits, started: Instant) -> Self {
        Self { storage, range, limits, started, loaded: 0, windows: HashMap::new(), data: HashMap::new() }
    }

    pub(crate) fn check_deadline(&self, during: &'static str) -> Result<()> {
        if self.started.elapsed() > self.limits.timeout { Err(Error::Timeout(during)) } else { Ok(()) }
    }

    /// The reference time of a selector or subquery evaluated at `t`.
    pub(crate) fn ref_time(&self, at: &Option<AtModifier>, offset: &Option<Offset>, t: i64) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start) => self.range.start_ms,
            Some(AtModifier::End) => self.range.end_ms,
            Some(AtModifier::At(st)) => system_time_ms(st),
        };
        base - offset_ms(offset)
    }

    /// Loads the samples every selector of `expr` can need.
    pub(crate) fn load(&mut self, expr: &Expr) -> Result<()> {
        self.plan(expr, self.range.start_ms, self.range.end_ms)?;
        let windows: Vec<(String, (i64, i64))> = self.windows.iter().map(|(k, w)| (k.clone(), *w)).collect();
        for (key, (lo, hi)) in windows {
            self.check_deadline("query preparation")?;
            let matchers = self.matchers_by_key(expr, &key)?;
            let mut series = Vec::new();
            // Sorted by labels, as Prometheus iterates them: aggregations
            // then add in the same order and round alike.
            let mut found = self.storage.series(&matchers, lo, hi)?;
            found.sort();
            found.dedup();
            for labels in found {
                let samples = self.storage.samples(&labels, lo, hi)?;
                self.loaded += samples.len();
                if self.loaded > self.limits.max_samples {
                    return Err(Error::TooManySamples);
                }
                if !samples.is_empty() {
                    series.push(Series { labels, samples });
                }
            }
            self.data.insert(key, series);
        }
        Ok(())
    }

    fn matchers_by_key(&self, expr: &Expr, key: &str) -> Result<Vec<Matcher>> {
        let mut found = None;
        visit_selectors(expr, &mut |vs| {
            if found.is_none()
                && let Ok(m) = selector_matchers(vs)
                && selector_key(&m) == key
            {
                found = Some(m);
            }
        });
        found.ok_or_else(|| Error::Execution(format!("internal error: selector {key} not found")))
    }

    /// Widens the load window of every selector in `expr` evaluated at
    /// times in `[lo, hi]`.
    fn plan(&mut self, expr: &Expr, lo: i64, hi: i64) -> Result<()> {
        match expr {
            Expr::VectorSelector(vs) => self.widen(vs, lo, hi, LOOKBACK_MS),
            Expr::MatrixSelector(ms) => self.widen(&ms.vs, lo, hi, ms.range.as_millis() as i64),
            Expr::Subquery(sq) => {
                let (rlo, rhi) = match &sq.at {
                    Some(_) => {
                        let r = self.ref_time(&sq.at, &sq.offset, lo);
                        (r, r)
                    }
                    None => (lo - offset_ms(&sq.offset), hi - offset_ms(&sq.offset)),
                };
                self.plan(&sq.expr, rlo - sq.range.as_millis() as i64, rhi)
            }
            Expr::Aggregate(a) => {
                self.plan(&a.expr, lo, hi)?;
                if let Some(p) = &a.param {
                    self.plan(p, lo, hi)?;
                }
                Ok(())
            }
            Expr::Unary(u) => self.plan(&u.expr, lo, hi),
            Expr::Binary(b) => {
                self.plan(&b.lhs, lo, hi)?;
                self.plan(&b.rhs, lo, hi)
            }
            Expr::Paren(p) => self.plan(&p.expr, lo, hi),
            Expr::Call(c) => c.args.args.iter().try_for_each(|a| self.plan(a, lo, hi)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => Ok(()),
        }
    }

    fn widen(&mut self, vs: &VectorSelector, lo: i64, hi: i64, back: i64) -> Result<()> {
        let key = selector_key(&selector_matchers(vs)?);
        let (rlo, rhi) = match &vs.at {
            Some(_) => {
                let r = self.ref_time(&vs.at, &vs.offset, lo);
                (r, r)
            }
            None => (lo - offset_ms(&vs.offset), hi - offset_ms(&vs.offset)),
        };
        let w = self.windows.entry(key).or_insert((rlo - back, rhi));
        w.0 = w.0.min(rlo - back);
        w.1 = w.1.max(rhi);
        Ok(())
    }

    fn series_of(&self, vs: &VectorSelector) -> Result<&[Series]> {
        let key = selector_key(&selector_matchers(vs)?);
        Ok(self.data.get(&key).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// The value of `expr` at time `t` (ms).
    pub(crate) fn eval_at(&mut self, expr: &Expr, t: i64) -> Result<Value> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval_at(&p.expr, t),
            Expr::VectorSelector(vs) => {
                let r = self.ref_time(&vs.at, &vs.offset, t);
                let mut out = Vec::new();
                for s in self.series_of(vs)? {
                    let i = s.samples.partition_point(|p| p.t <= r);
                    if i == 0 {
                        continue;
                    }
                    let p = s.samples[i - 1];
                    if p.t >= r - LOOKBACK_MS {
                        out.push(Element { labels: s.labels.clone(), t: p.t, v: p.v });
                    }
                }
                Ok(Value::Vector(out))
            }
            Expr::MatrixSelector(ms) => {
                let r = self.ref_time(&ms.vs.at, &ms.vs.offset, t);
                let from = r - ms.range.as_millis() as i64;
                let mut out = Vec::new();
                for s in self.series_of(&ms.vs)? {
                    let a = s.samples.partition_point(|p| p.t < from);
                    let b = s.samples.partition_point(|p| p.t <= r);
                    if a < b {
                        out.push(Series { labels: s.labels.clone(), samples: s.samples[a..b].to_vec() });
                    }
                }
                Ok(Value::Matrix(out))
            }
            Expr::Subquery(sq) => {
                let r = self.ref_time(&sq.at, &sq.offset, t);
                let step = sq.step.map_or(DEFAULT_SUBQUERY_STEP_MS, |s| s.as_millis() as i64).max(1);
                let from = r - sq.range.as_millis() as i64;
                let mut ts = from.div_euclid(step) * step;
                if ts < from {
                    ts += step;
                }
                let mut out: std::collections::BTreeMap<Labels, Vec<Sample>> = Default::default();
                while ts <= r {
                    self.check_deadline("subquery evaluation")?;
                    match self.eval_at(&sq.expr, ts)? {
                        Value::Vector(v) => {
                            for e in v {
                                out.entry(e.labels).or_default().push(Sample { t: ts, v: e.v });
                            }
                        }
                        Value::Scalar(v) => out.entry(Labels::new()).or_default().push(Sample { t: ts, v }),
                        other => {
                            return Err(Error::BadData(format!(
                                "subquery is only allowed on instant vector, got {}",
                                other.kind()
                            )));
                        }
                    }
                    ts += step;
                }
                Ok(Value::Matrix(out.into_iter().map(|(labels, samples)| Series { labels, samples }).collect()))
            }
            Expr::Unary(u) => match self.eval_at(&u.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(v) => {
                    let out: Vec<Element> = v
                        .into_iter()
                        .map(|mut e| {
                            e.labels.remove(METRIC_NAME);
                            e.v = -e.v;
                            e.t = t;
                            e
                        })
                        .collect();
                    check_unique(&out)?;
                    Ok(Value::Vector(out))
                }
                other => Err(Error::BadData(format!(
                    "unary expression only allowed on scalars or vectors, got {}",
                    other.kind()
                ))),
            },
            Expr::Binary(b) => {
                let lhs = self.eval_at(&b.lhs, t)?;
                let rhs = self.eval_at(&b.rhs, t)?;
                crate::binary::eval(b, lhs, rhs, t)
            }
            Expr::Aggregate(a) => {
                let param = match &a.param {
                    Some(p) => Some(self.eval_at(p, t)?),
                    None => None,
                };
                let Value::Vector(v) = self.eval_at(&a.expr, t)? else {
                    return Err(Error::BadData("aggregation expects an instant vector".into()));
                };
                crate::aggregate::eval(a, param, v, t)
            }
            Expr::Call(c) => crate::functions::call(self, c, t),
            Expr::Extension(_) => Err(Error::BadData("unsupported PromQL construct: extension expression".into())),
        }
    }
}

/// Prometheus's check after functions and operators.
pub(crate) fn check_unique(v: &[Element]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    for e in v {
        if !seen.insert(&e.labels) {
            return Err(Error::Execution("vector cannot contain metrics with the same labelset".into()));
        }
    }
    Ok(())
}

/// Calls `f` on every vector selector of `expr` (those of range selectors
/// included).
pub(crate) fn visit_selectors(expr: &Expr, f: &mut dyn FnMut(&VectorSelector)) {
    match expr {
        Expr::VectorSelector(vs) => f(vs),
        Expr::MatrixSelector(ms) => f(&ms.vs),
        Expr::Subquery(s) => visit_selectors(&s.expr, f),
        Expr::Aggregate(a) => {
            visit_selectors(&a.expr, f);
            if let Some(p) = &a.param {
                visit_selectors(p, f);
            }
        }
        Expr::Unary(u) => visit_selectors(&u.expr, f),
        Expr::Binary(b) => {
            visit_selectors(&b.lhs, f);
            visit_selectors(&b.rhs, f);
        }
        Expr::Paren(p) => visit_selectors(&p.expr, f),
        Expr::Call(c) => c.args.args.iter().for_each(|a| visit_selectors(a, f)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
