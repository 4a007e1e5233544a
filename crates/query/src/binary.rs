//! Binary operators: arithmetic, comparison (with `bool`), the set
//! operators, and vector matching (`on`, `ignoring`, `group_left`,
//! `group_right`), as Prometheus 2.42 evaluates them.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::eval::check_unique;
use crate::value::{Element, Labels, Value};
use crate::{Error, METRIC_NAME, Result};

pub(crate) fn eval(b: &BinaryExpr, lhs: Value, rhs: Value, t: i64) -> Result<Value> {
    let op = b.op.to_string();
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let out = match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = elem(&op, l, r)?;
            return Ok(Value::Scalar(if is_comparison(&op) { f64::from(u8::from(keep)) } else { v }));
        }
        (Value::Vector(l), Value::Scalar(r)) => vector_scalar(&op, l, r, false, return_bool, t)?,
        (Value::Scalar(l), Value::Vector(r)) => vector_scalar(&op, r, l, true, return_bool, t)?,
        (Value::Vector(l), Value::Vector(r)) => match op.as_str() {
            "and" | "or" | "unless" => set_op(&op, b, l, r),
            _ => vector_vector(&op, b, l, r, return_bool, t)?,
        },
        (l, r) => {
            return Err(Error::BadData(format!(
                "binary expression must contain only scalar and instant vector types, got {} and {}",
                l.kind(),
                r.kind()
            )));
        }
    };
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

fn drops_name(op: &str) -> bool {
    // Prometheus 2.42 keeps the name for `atan2`.
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^")
}

/// Prometheus's `vectorElemBinop`: the value and, for comparisons,
/// whether the pair is kept (the value is then the left one).
fn elem(op: &str, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return Err(Error::BadData(format!("unsupported PromQL construct: operator {other}"))),
    })
}

fn vector_scalar(op: &str, v: Vec<Element>, s: f64, swap: bool, return_bool: bool, t: i64) -> Result<Vec<Element>> {
    let mut out = Vec::with_capacity(v.len());
    for mut e in v {
        let (l, r) = if swap { (s, e.v) } else { (e.v, s) };
        let (mut value, mut keep) = elem(op, l, r)?;
        if is_comparison(op) && swap {
            value = r;
        }
        if return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if keep {
            e.v = value;
            e.t = t;
            if drops_name(op) || return_bool {
                e.labels.remove(METRIC_NAME);
            }
            out.push(e);
        }
    }
    Ok(out)
}

/// `on` (true) or `ignoring` (false), and the labels named.
fn matching(b: &BinaryExpr) -> (bool, Vec<String>) {
    match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
        Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
        None => (false, Vec::new()),
    }
}

fn signature(labels: &Labels, on: bool, names: &[String]) -> Labels {
    if on {
        labels.iter().filter(|(k, _)| names.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    } else {
        labels
            .iter()
            .filter(|(k, _)| k.as_str() != METRIC_NAME && !names.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn set_op(op: &str, b: &BinaryExpr, lhs: Vec<Element>, rhs: Vec<Element>) -> Vec<Element> {
    let (on, names) = matching(b);
    match op {
        "and" => {
            let right: HashSet<Labels> = rhs.iter().map(|e| signature(&e.labels, on, &names)).collect();
            lhs.into_iter().filter(|e| right.contains(&signature(&e.labels, on, &names))).collect()
        }
        "unless" => {
            let right: HashSet<Labels> = rhs.iter().map(|e| signature(&e.labels, on, &names)).collect();
            lhs.into_iter().filter(|e| !right.contains(&signature(&e.labels, on, &names))).collect()
        }
        _ => {
            let left: HashSet<Labels> = lhs.iter().map(|e| signature(&e.labels, on, &names)).collect();
            let mut out = lhs;
            out.extend(rhs.into_iter().filter(|e| !left.contains(&signature(&e.labels, on, &names))));
            out
        }
    }
}

fn vector_vector(
    op: &str,
    b: &BinaryExpr,
    lhs: Vec<Element>,
    rhs: Vec<Element>,
    return_bool: bool,
    t: i64,
) -> Result<Vec<Element>> {
    let (on, names) = matching(b);
    let card = b.modifier.as_ref().map_or(VectorMatchCardinality::OneToOne, |m| m.card.clone());
    let (include, one_to_many, one_to_one) = match &card {
        VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => (Vec::new(), false, true),
        VectorMatchCardinality::ManyToOne(l) => (l.labels.clone(), false, false),
        VectorMatchCardinality::OneToMany(l) => (l.labels.clone(), true, false),
    };
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: HashMap<Labels, &Element> = HashMap::with_capacity(one.len());
    for e in &one {
        let sig = signature(&e.labels, on, &names);
        if let Some(dup) = right.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            return Err(Error::Execution(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                render(&sig),
                render(&e.labels),
                render(&dup.labels)
            )));
        }
        right.insert(sig, e);
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ls in &many {
        let sig = signature(&ls.labels, on, &names);
        let Some(rs) = right.get(&sig) else { continue };
        let (vl, vr) = if one_to_many { (rs.v, ls.v) } else { (ls.v, rs.v) };
        let (mut value, keep) = elem(op, vl, vr)?;
        if return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let mut metric = ls.labels.clone();
        if drops_name(op) || return_bool {
            metric.remove(METRIC_NAME);
        }
        if one_to_one {
            if on {
                metric.retain(|k, _| names.contains(k));
            } else {
                metric.retain(|k, _| !names.contains(k));
            }
        }
        for ln in &include {
            match rs.labels.get(ln) {
                Some(v) if !v.is_empty() => {
                    metric.insert(ln.clone(), v.clone());
                }
                _ => {
                    metric.remove(ln);
                }
            }
        }
        let inserted = matched.entry(sig).or_default();
        if one_to_one {
            if !inserted.is_empty() {
                return Err(Error::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
            inserted.insert(Labels::new());
        } else if !inserted.insert(metric.clone()) {
            return Err(Error::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        out.push(Element { labels: metric, t, v: value });
    }
    Ok(out)
}

/// A label set as Prometheus prints it: `{a="1", b="2"}`.
pub(crate) fn render(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}
