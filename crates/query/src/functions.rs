//! PromQL functions, after Prometheus 2.42's `functions.go`.

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};

use crate::aggregate::{is_label_name, quantile};
use crate::eval::{Evaluator, check_unique, selector_matchers};
use crate::value::{Element, Labels, Sample, Value};
use crate::{Error, METRIC_NAME, Result};

fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// `[range start, range end]` of a range-vector argument evaluated at `t`.
fn range_bounds(ev: &Evaluator<'_>, arg: &Expr, t: i64) -> (i64, i64) {
    match unwrap_parens(arg) {
        Expr::MatrixSelector(ms) => {
            let end = ev.ref_time(&ms.vs.at, &ms.vs.offset, t);
            (end - ms.range.as_millis() as i64, end)
        }
        Expr::Subquery(sq) => {
            let end = ev.ref_time(&sq.at, &sq.offset, t);
            (end - sq.range.as_millis() as i64, end)
        }
        _ => (t, t),
    }
}

fn scalar_arg(v: Value, f: &str) -> Result<f64> {
    match v {
        Value::Scalar(s) => Ok(s),
        other => Err(Error::BadData(format!("expected scalar argument of {f}(), got {}", other.kind()))),
    }
}

fn string_arg(v: Value, f: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(Error::BadData(format!("expected string argument of {f}(), got {}", other.kind()))),
    }
}

fn vector_arg(v: Value, f: &str) -> Result<Vec<Element>> {
    match v {
        Value::Vector(v) => Ok(v),
        other => Err(Error::BadData(format!("expected instant vector argument of {f}(), got {}", other.kind()))),
    }
}

pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Value> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let arg = |i: usize| -> Result<&Expr> {
        args.get(i).copied().ok_or_else(|| Error::BadData(format!("missing argument {} of {name}()", i + 1)))
    };
    let out: Vec<Element> = match name {
        "time" => return Ok(Value::Scalar(t as f64 / 1000.0)),
        "vector" => {
            let v = scalar_arg(ev.eval_at(arg(0)?, t)?, name)?;
            return Ok(Value::Vector(vec![Element { labels: Labels::new(), t, v }]));
        }
        "scalar" => {
            let v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            return Ok(Value::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }));
        }
        "timestamp" => {
            let inner = unwrap_parens(arg(0)?);
            let keep_sample_time = matches!(inner, Expr::VectorSelector(_));
            vector_arg(ev.eval_at(inner, t)?, name)?
                .into_iter()
                .map(|mut e| {
                    e.labels.remove(METRIC_NAME);
                    e.v = if keep_sample_time { e.t as f64 / 1000.0 } else { t as f64 / 1000.0 };
                    e.t = t;
                    e
                })
                .collect()
        }
        "absent" => {
            let v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            if !v.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            vec![Element { labels: absent_labels(arg(0)?), t, v: 1.0 }]
        }
        "absent_over_time" => {
            let Value::Matrix(m) = ev.eval_at(arg(0)?, t)? else {
                return Err(Error::BadData("expected range vector argument of absent_over_time()".into()));
            };
            if !m.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            vec![Element { labels: absent_labels(arg(0)?), t, v: 1.0 }]
        }
        "sort" | "sort_desc" => {
            let mut v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            if name == "sort" {
                v.sort_by(|a, b| sort_key(a.v, false).total_cmp(&sort_key(b.v, false)));
            } else {
                v.sort_by(|a, b| sort_key(b.v, true).total_cmp(&sort_key(a.v, true)));
            }
            return Ok(Value::Vector(v));
        }
        "label_replace" => {
            let v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            let dst = string_arg(ev.eval_at(arg(1)?, t)?, name)?;
            let repl = string_arg(ev.eval_at(arg(2)?, t)?, name)?;
            let src = string_arg(ev.eval_at(arg(3)?, t)?, name)?;
            let re_src = string_arg(ev.eval_at(arg(4)?, t)?, name)?;
            let re = regex::Regex::new(&format!("^(?:{re_src})$"))
                .map_err(|e| Error::BadData(format!("invalid regular expression in label_replace(): {re_src}: {e}")))?;
            if !is_label_name(&dst) {
                return Err(Error::BadData(format!("invalid destination label name in label_replace(): {dst}")));
            }
            let mut out = Vec::with_capacity(v.len());
            for mut e in v {
                let value = e.labels.get(&src).cloned().unwrap_or_default();
                if let Some(caps) = re.captures(&value) {
                    let mut res = String::new();
                    caps.expand(&repl, &mut res);
                    if res.is_empty() {
                        e.labels.remove(&dst);
                    } else {
                        e.labels.insert(dst.clone(), res);
                    }
                }
                e.t = t;
                out.push(e);
            }
            out
        }
        "label_join" => {
            let v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            let dst = string_arg(ev.eval_at(arg(1)?, t)?, name)?;
            let sep = string_arg(ev.eval_at(arg(2)?, t)?, name)?;
            let mut srcs = Vec::new();
            for a in args.iter().skip(3) {
                let s = string_arg(ev.eval_at(a, t)?, name)?;
                if !is_label_name(&s) {
                    return Err(Error::BadData(format!("invalid source label name in label_join(): {s}")));
                }
                srcs.push(s);
            }
            if !is_label_name(&dst) {
                return Err(Error::BadData(format!("invalid destination label name in label_join(): {dst}")));
            }
            v.into_iter()
                .map(|mut e| {
                    let joined: Vec<String> =
                        srcs.iter().map(|s| e.labels.get(s).cloned().unwrap_or_default()).collect();
                    let joined = joined.join(&sep);
                    if joined.is_empty() {
                        e.labels.remove(&dst);
                    } else {
                        e.labels.insert(dst.clone(), joined);
                    }
                    e.t = t;
                    e
                })
                .collect()
        }
        "abs" | "ceil" | "floor" | "exp" | "ln" | "log2" | "log10" | "sqrt" | "sgn" => {
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "exp" => f64::exp,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                "sqrt" => f64::sqrt,
                _ => |v: f64| {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        v
                    }
                },
            };
            map_values(vector_arg(ev.eval_at(arg(0)?, t)?, name)?, t, f)
        }
        "round" => {
            let v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            let to_nearest = match args.get(1) {
                Some(a) => scalar_arg(ev.eval_at(a, t)?, name)?,
                None => 1.0,
            };
            let inv = 1.0 / to_nearest;
            map_values(v, t, |x| (x * inv + 0.5).floor() / inv)
        }
        "clamp" => {
            let v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            let min = scalar_arg(ev.eval_at(arg(1)?, t)?, name)?;
            let max = scalar_arg(ev.eval_at(arg(2)?, t)?, name)?;
            if max < min {
                return Ok(Value::Vector(Vec::new()));
            }
            map_values(v, t, |x| go_max(min, go_min(max, x)))
        }
        "clamp_min" | "clamp_max" => {
            let v = vector_arg(ev.eval_at(arg(0)?, t)?, name)?;
            let bound = scalar_arg(ev.eval_at(arg(1)?, t)?, name)?;
            if name == "clamp_min" {
                map_values(v, t, |x| go_max(bound, x))
            } else {
                map_values(v, t, |x| go_min(bound, x))
            }
        }
        _ => return range_function(ev, c, name, &args, t),
    };
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

fn sort_key(v: f64, desc: bool) -> f64 {
    if v.is_nan() { if desc { f64::INFINITY } else { f64::NEG_INFINITY } } else { v }
}

fn map_values(v: Vec<Element>, t: i64, f: impl Fn(f64) -> f64) -> Vec<Element> {
    v.into_iter()
        .map(|mut e| {
            e.labels.remove(METRIC_NAME);
            e.v = f(e.v);
            e.t = t;
            e
        })
        .collect()
}

/// Labels of `absent(sel)`: the equality matchers of a selector, except
/// names matched more than once.
fn absent_labels(arg: &Expr) -> Labels {
    let vs = match unwrap_parens(arg) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::new(),
    };
    let Ok(matchers) = selector_matchers(vs) else { return Labels::new() };
    let mut out = Labels::new();
    let mut drop = Vec::new();
    for m in &matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !out.contains_key(&m.name) {
            out.insert(m.name.clone(), m.value.clone());
        } else {
            drop.push(m.name.clone());
        }
    }
    for d in drop {
        out.remove(&d);
    }
    out
}

/// Functions over a range vector.
fn range_function(ev: &mut Evaluator<'_>, c: &Call, name: &str, args: &[&Expr], t: i64) -> Result<Value> {
    let (matrix_arg, param) = match name {
        "quantile_over_time" => {
            let q = scalar_arg(ev.eval_at(args[0], t)?, name)?;
            (args.get(1).copied(), Some(q))
        }
        "predict_linear" => {
            let d = match args.get(1) {
                Some(a) => scalar_arg(ev.eval_at(a, t)?, name)?,
                None => 0.0,
            };
            (args.first().copied(), Some(d))
        }
        _ => (args.first().copied(), None),
    };
    let Some(matrix_arg) = matrix_arg else {
        return Err(Error::BadData(format!("missing range vector argument of {}()", c.func.name)));
    };
    let Value::Matrix(m) = ev.eval_at(matrix_arg, t)? else {
        return Err(Error::BadData(format!("expected range vector argument of {name}()")));
    };
    let (range_start, range_end) = range_bounds(ev, matrix_arg, t);
    let range_secs = (range_end - range_start) as f64 / 1000.0;
    let mut out = Vec::with_capacity(m.len());
    for s in m {
        let p = &s.samples;
        let v = match name {
            "rate" => extrapolated_rate(p, range_start, range_end, range_secs, true, true),
            "increase" => extrapolated_rate(p, range_start, range_end, range_secs, true, false),
            "delta" => extrapolated_rate(p, range_start, range_end, range_secs, false, false),
            "irate" => instant_value(p, true),
            "idelta" => instant_value(p, false),
            "deriv" => (p.len() >= 2).then(|| linear_regression(p, p[0].t).0),
            "predict_linear" => (p.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(p, t);
                slope * param.unwrap_or(0.0) + intercept
            }),
            "avg_over_time" => {
                let (mut mean, mut count): (f64, f64) = (0.0, 0.0);
                for x in p {
                    count += 1.0;
                    if mean.is_infinite() {
                        if x.v.is_infinite() && (mean > 0.0) == (x.v > 0.0) {
                            continue;
                        }
                        if !x.v.is_infinite() && !x.v.is_nan() {
                            continue;
                        }
                    }
                    mean += x.v / count - mean / count;
                }
                Some(mean)
            }
            "min_over_time" => Some(p.iter().fold(f64::NAN, |m, x| if x.v < m || m.is_nan() { x.v } else { m })),
            "max_over_time" => Some(p.iter().fold(f64::NAN, |m, x| if x.v > m || m.is_nan() { x.v } else { m })),
            "sum_over_time" => Some(p.iter().map(|x| x.v).sum()),
            "count_over_time" => Some(p.len() as f64),
            "last_over_time" => p.last().map(|x| x.v),
            "present_over_time" => Some(1.0),
            "quantile_over_time" => Some(quantile(param.unwrap_or(f64::NAN), p.iter().map(|x| x.v).collect())),
            "stddev_over_time" | "stdvar_over_time" => {
                let (mut count, mut mean, mut acc) = (0.0, 0.0, 0.0);
                for x in p {
                    count += 1.0;
                    let delta = x.v - mean;
                    mean += delta / count;
                    acc += delta * (x.v - mean);
                }
                let var = acc / count;
                Some(if name == "stddev_over_time" { var.sqrt() } else { var })
            }
            "changes" => {
                Some(p.windows(2).filter(|w| w[0].v != w[1].v && !(w[0].v.is_nan() && w[1].v.is_nan())).count() as f64)
            }
            "resets" => Some(p.windows(2).filter(|w| w[1].v < w[0].v).count() as f64),
            other => return Err(Error::BadData(format!("unsupported PromQL construct: function {other}()"))),
        };
        let Some(v) = v else { continue };
        let mut labels = s.labels;
        if name != "last_over_time" {
            labels.remove(METRIC_NAME);
        }
        out.push(Element { labels, t, v });
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// Prometheus's `extrapolatedRate`.
fn extrapolated_rate(
    p: &[Sample],
    range_start: i64,
    range_end: i64,
    range_secs: f64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let first = p[0];
    let last = p[p.len() - 1];
    let mut result = last.v - first.v;
    if is_counter {
        let mut last_value = 0.0;
        for s in p {
            if s.v < last_value {
                result += last_value;
            }
            last_value = s.v;
        }
    }
    let mut to_start = (first.t - range_start) as f64 / 1000.0;
    let to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_between = sampled / (p.len() - 1) as f64;
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_between * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold { to_start } else { avg_between / 2.0 };
    interval += if to_end < threshold { to_end } else { avg_between / 2.0 };
    result *= interval / sampled;
    if is_rate {
        result /= range_secs;
    }
    Some(result)
}

/// Prometheus's `instantValue` (`irate`, `idelta`).
fn instant_value(p: &[Sample], is_rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let last = p[p.len() - 1];
    let prev = p[p.len() - 2];
    let mut result = if is_rate && last.v < prev.v { last.v } else { last.v - prev.v };
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares slope and the intercept at `intercept_t` (Kahan sums, as
/// Prometheus).
fn linear_regression(p: &[Sample], intercept_t: i64) -> (f64, f64) {
    let init = p[0].v;
    if p.iter().all(|s| s.v == init) {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for s in p {
        n += 1.0;
        let x = (s.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.abs() >= inc.abs() { c + ((sum - t) + inc) } else { c + ((inc - t) + sum) };
    (t, c)
}
