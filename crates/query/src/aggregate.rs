//! Aggregation operators with `by` / `without`.

use promql_parser::parser::{AggregateExpr, LabelModifier};

use crate::value::{Element, Labels, Value, format_value};
use crate::{Error, METRIC_NAME, Result};

pub(crate) fn eval(a: &AggregateExpr, param: Option<Value>, input: Vec<Element>, t: i64) -> Result<Value> {
    let op = a.op.to_string();
    let group_of = |labels: &Labels| -> Labels {
        match &a.modifier {
            None => Labels::new(),
            Some(LabelModifier::Include(by)) => {
                labels.iter().filter(|(k, _)| by.labels.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            Some(LabelModifier::Exclude(without)) => labels
                .iter()
                .filter(|(k, _)| k.as_str() != METRIC_NAME && !without.labels.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    };
    let scalar_param = || match &param {
        Some(Value::Scalar(v)) => Ok(*v),
        _ => Err(Error::BadData(format!("expected scalar parameter of {op}"))),
    };
    // Groups in order of first appearance.
    let mut keys: Vec<Labels> = Vec::new();
    let mut index: std::collections::HashMap<Labels, usize> = Default::default();
    let mut groups: Vec<Vec<Element>> = Vec::new();
    let label_name = if op == "count_values" {
        match &param {
            Some(Value::String(s)) => {
                if !is_label_name(s) {
                    return Err(Error::Execution(format!("invalid label name {s:?}")));
                }
                Some(s.clone())
            }
            _ => return Err(Error::BadData("expected string parameter of count_values".into())),
        }
    } else {
        None
    };
    for e in input {
        let mut key = group_of(&e.labels);
        if let Some(name) = &label_name {
            key.insert(name.clone(), format_value(e.v));
        }
        let i = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(e);
    }
    let mut out = Vec::new();
    match op.as_str() {
        "topk" | "bottomk" => {
            let k = scalar_param()?;
            if k.is_nan() || k < 1.0 {
                return Ok(Value::Vector(out));
            }
            let k = if k > 1e9 { usize::MAX } else { k as usize };
            for mut g in groups {
                // NaN counts as the smallest value for topk and the largest
                // for bottomk: it is picked last either way.
                if op == "topk" {
                    g.sort_by(|x, y| key_desc(y.v).total_cmp(&key_desc(x.v)));
                } else {
                    g.sort_by(|x, y| key_asc(x.v).total_cmp(&key_asc(y.v)));
                }
                for mut e in g.into_iter().take(k) {
                    e.t = t;
                    out.push(e);
                }
            }
            return Ok(Value::Vector(out));
        }
        _ => {}
    }
    let q = if op == "quantile" { Some(scalar_param()?) } else { None };
    for (labels, g) in keys.into_iter().zip(groups) {
        let vals: Vec<f64> = g.iter().map(|e| e.v).collect();
        let n = vals.len() as f64;
        let v = match op.as_str() {
            "sum" => vals.iter().sum(),
            "avg" => {
                let mut mean: f64 = 0.0;
                let mut count = 0.0;
                for &v in &vals {
                    count += 1.0;
                    if mean.is_infinite() {
                        if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                            continue;
                        }
                        if !v.is_infinite() && !v.is_nan() {
                            continue;
                        }
                    }
                    mean += v / count - mean / count;
                }
                mean
            }
            "count" | "count_values" => n,
            "group" => 1.0,
            "min" => vals.iter().copied().fold(f64::NAN, |m, v| if m > v || m.is_nan() { v } else { m }),
            "max" => vals.iter().copied().fold(f64::NAN, |m, v| if m < v || m.is_nan() { v } else { m }),
            "stddev" | "stdvar" => {
                let (mut count, mut mean, mut acc) = (0.0, 0.0, 0.0);
                for &v in &vals {
                    count += 1.0;
                    let delta = v - mean;
                    mean += delta / count;
                    acc += delta * (v - mean);
                }
                let var = acc / count;
                if op == "stddev" { var.sqrt() } else { var }
            }
            "quantile" => quantile(q.unwrap_or(f64::NAN), vals),
            other => return Err(Error::BadData(format!("unsupported PromQL construct: aggregation {other}"))),
        };
        out.push(Element { labels, t, v });
    }
    Ok(Value::Vector(out))
}

fn key_desc(v: f64) -> f64 {
    if v.is_nan() { f64::NEG_INFINITY } else { v }
}

fn key_asc(v: f64) -> f64 {
    if v.is_nan() { f64::INFINITY } else { v }
}

/// Prometheus's `quantile`: linear interpolation between the closest ranks.
pub(crate) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Whether `s` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
