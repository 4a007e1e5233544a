//! The evaluator over an in-memory storage: selectors, staleness, `offset`
//! and `@`, rates, aggregations, vector matching, subqueries, limits and
//! refusals of unsupported constructs. Expected values are worked out by
//! hand from Prometheus's definitions.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::time::Duration;

use oxmon_query::{Error, Limits, MemoryStorage, Range, Value, instant_query, range_query};

const M: i64 = 60_000;

/// `up` of a and b every minute from 0 to 20 min; `req` a counter of a
/// (+60 a minute, reset at 10 min); `gap` of a with nothing from 5 to 15 min.
fn storage() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    for i in 0..=20 {
        let t = i * M;
        s.add(&[("__name__", "up"), ("agent_id", "a"), ("job", "x")], t, 1.0 + i as f64);
        s.add(&[("__name__", "up"), ("agent_id", "b"), ("job", "x")], t, 100.0 + i as f64);
        let since = if i >= 10 { i - 10 } else { i };
        s.add(&[("__name__", "req"), ("agent_id", "a")], t, 60.0 * since as f64);
        if !(5..15).contains(&i) {
            s.add(&[("__name__", "gap"), ("agent_id", "a")], t, 7.0);
        }
    }
    s
}

fn vector(v: Value) -> Vec<(String, f64)> {
    let Value::Vector(v) = v else { panic!("not a vector: {v:?}") };
    let mut out: Vec<(String, f64)> = v
        .into_iter()
        .map(|e| (e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","), e.v))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn at(q: &str, t: i64) -> Vec<(String, f64)> {
    vector(instant_query(&storage(), q, t, Limits::default()).unwrap_or_else(|e| panic!("{q}: {e}")))
}

fn scalar(q: &str, t: i64) -> f64 {
    match instant_query(&storage(), q, t, Limits::default()).unwrap() {
        Value::Scalar(v) => v,
        other => panic!("{q}: not a scalar: {other:?}"),
    }
}

#[test]
fn selectors_match_with_all_four_matcher_kinds() {
    assert_eq!(at("up{agent_id=\"a\"}", 3 * M), vec![("__name__=up,agent_id=a,job=x".into(), 4.0)]);
    assert_eq!(at("up{agent_id!=\"a\"}", 3 * M).len(), 1);
    assert_eq!(at("up{agent_id=~\"a|b\"}", 3 * M).len(), 2);
    assert_eq!(at("up{agent_id!~\"b\"}", 3 * M)[0].1, 4.0);
    assert_eq!(at("{__name__=~\"u.\"}", 3 * M).len(), 2);
}

#[test]
fn lookback_is_five_minutes_so_a_gap_goes_stale() {
    // Last sample before the gap at 4 min: visible up to 9 min, gone after.
    assert_eq!(at("gap", 9 * M).len(), 1);
    assert!(at("gap", 9 * M + 1).is_empty());
    assert_eq!(at("gap", 15 * M).len(), 1);
    // Between samples, the newest one counts.
    assert_eq!(at("up{agent_id=\"a\"}", 3 * M + 30_000)[0].1, 4.0);
}

#[test]
fn offset_and_at_move_the_reference_time() {
    assert_eq!(at("up{agent_id=\"a\"} offset 2m", 5 * M)[0].1, 4.0);
    assert_eq!(at("up{agent_id=\"a\"} @ 120", 19 * M)[0].1, 3.0);
    assert_eq!(at("up{agent_id=\"a\"} offset -1m", 5 * M)[0].1, 7.0);
}

#[test]
fn rate_extrapolates_and_handles_counter_resets() {
    // 60 a minute = 1/s.
    let r = at("rate(req[5m])", 16 * M);
    assert_eq!(r.len(), 1);
    assert!((r[0].1 - 1.0).abs() < 1e-9, "{r:?}");
    assert!(!r[0].0.contains("__name__"), "rate drops the name");
    assert!((at("increase(req[5m])", 16 * M)[0].1 - 300.0).abs() < 1e-9);
    // Over the reset at 10 min: 420, 480, 540, 0, 60, 120 is 120 - 420 + 540.
    let inc = at("increase(req[5m])", 12 * M);
    assert!((inc[0].1 - 240.0).abs() < 1e-9, "{inc:?}");
    assert_eq!(at("resets(req[20m])", 20 * M)[0].1, 1.0);
    assert!((at("irate(req[5m])", 12 * M)[0].1 - 1.0).abs() < 1e-9);
    // irate after a reset takes the new value as the increase.
    assert!((at("irate(req[5m])", 10 * M)[0].1 - 0.0).abs() < 1e-9);
    assert!((at("deriv(up{agent_id=\"a\"}[5m])", 10 * M)[0].1 - 1.0 / 60.0).abs() < 1e-9);
}

#[test]
fn over_time_functions_use_closed_windows() {
    // [5m, 10m] holds the samples of 5..=10 min: 6 of them.
    assert_eq!(at("count_over_time(up{agent_id=\"a\"}[5m])", 10 * M)[0].1, 6.0);
    assert_eq!(at("sum_over_time(up{agent_id=\"a\"}[2m])", 10 * M)[0].1, 9.0 + 10.0 + 11.0);
    assert_eq!(at("max_over_time(up[2m])", 10 * M)[1].1, 110.0);
    assert_eq!(at("quantile_over_time(0.5, up{agent_id=\"a\"}[2m])", 10 * M)[0].1, 10.0);
    assert_eq!(at("last_over_time(up{agent_id=\"a\"}[2m])", 10 * M)[0].0, "__name__=up,agent_id=a,job=x");
}

#[test]
fn aggregations_group_by_and_without() {
    assert_eq!(at("sum(up)", 0), vec![(String::new(), 101.0)]);
    assert_eq!(at("sum by (job) (up)", 0), vec![("job=x".into(), 101.0)]);
    assert_eq!(at("max without (agent_id) (up)", 0), vec![("job=x".into(), 100.0)]);
    assert_eq!(at("topk(1, up)", 0)[0].0, "__name__=up,agent_id=b,job=x");
    assert_eq!(at("bottomk(1, up)", 0)[0].1, 1.0);
    assert_eq!(at("quantile(0.5, up)", 0)[0].1, 50.5);
    assert_eq!(at("stddev(up)", 0)[0].1, 49.5);
    assert_eq!(at("count_values(\"v\", up)", 0).len(), 2);
    assert_eq!(at("group(up)", 0)[0].1, 1.0);
}

#[test]
fn binary_operators_match_vectors() {
    assert_eq!(at("up - on(agent_id) req", 0)[0], ("agent_id=a".into(), 1.0));
    assert_eq!(at("up > 50", 0).len(), 1);
    assert_eq!(at("up > bool 50", 0), vec![("agent_id=a,job=x".into(), 0.0), ("agent_id=b,job=x".into(), 1.0)]);
    assert_eq!(at("up and on(agent_id) req", 0).len(), 1);
    assert_eq!(at("up unless on(agent_id) req", 0).len(), 1);
    assert_eq!(at("req or up", 0).len(), 3, "the ups carry job, req does not: none matches");
    let joined = at("up * on(agent_id) group_left(job) req", M);
    // group_left(job) copies job from the "one" side, where it is absent.
    assert_eq!(joined, vec![("agent_id=a".into(), 2.0 * 60.0)]);
    match instant_query(&storage(), "up / on(job) up", 0, Limits::default()) {
        Err(Error::Execution(m)) => assert!(m.contains("many-to-many matching not allowed"), "{m}"),
        other => panic!("expected a matching error, got {other:?}"),
    }
    assert!(scalar("0 / 0", 0).is_nan());
    assert_eq!(scalar("2 ^ 3 % 5", 0), 3.0);
}

#[test]
fn functions_on_labels_and_absence() {
    assert_eq!(
        at("label_replace(up{agent_id=\"a\"}, \"host\", \"h-$1\", \"agent_id\", \"(.*)\")", 0)[0].0,
        "__name__=up,agent_id=a,host=h-a,job=x"
    );
    assert_eq!(
        at("label_join(up{agent_id=\"a\"}, \"k\", \"/\", \"agent_id\", \"job\")", 0)[0].0,
        "__name__=up,agent_id=a,job=x,k=a/x"
    );
    assert_eq!(at("absent(nope{job=\"y\"})", 0), vec![("job=y".into(), 1.0)]);
    assert!(at("absent(up)", 0).is_empty());
    assert_eq!(scalar("scalar(up{agent_id=\"a\"})", M), 2.0);
    assert_eq!(at("timestamp(up{agent_id=\"a\"})", 90_000)[0].1, 60.0);
    assert_eq!(scalar("time()", 90_000), 90.0);
    assert_eq!(at("clamp(up, 5, 50)", 0), vec![("agent_id=a,job=x".into(), 5.0), ("agent_id=b,job=x".into(), 50.0)]);
}

#[test]
fn subqueries_are_aligned_to_their_step() {
    // Steps at 6,8,10 min of [4m, 10m] (aligned to 2m): up of a is 7, 9, 11.
    assert_eq!(at("max_over_time(up{agent_id=\"a\"}[5m:2m])", 10 * M)[0].1, 11.0);
    assert_eq!(at("count_over_time(up{agent_id=\"a\"}[5m:2m])", 10 * M)[0].1, 3.0);
}

#[test]
fn range_queries_give_one_series_per_label_set() {
    let r =
        range_query(&storage(), "up * 2", Range { start_ms: 0, end_ms: 2 * M, step_ms: M }, Limits::default()).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].samples.iter().map(|s| s.v).collect::<Vec<_>>(), vec![2.0, 4.0, 6.0]);
    let stale =
        range_query(&storage(), "gap", Range { start_ms: 0, end_ms: 20 * M, step_ms: M }, Limits::default()).unwrap();
    assert_eq!(stale[0].samples.len(), 21 - 5, "10..=14 min are past the lookback");
}

#[test]
fn unsupported_constructs_are_refused_by_name() {
    for (q, named) in [
        ("histogram_quantile(0.9, up)", "function histogram_quantile()"),
        ("limitk(1, up)", "aggregation limitk"),
        ("holt_winters(up[5m], 0.5, 0.5)", "holt_winters"),
    ] {
        match instant_query(&storage(), q, 0, Limits::default()) {
            Err(Error::BadData(m)) => assert!(m.contains(named), "{q}: {m}"),
            other => panic!("{q}: expected bad_data, got {other:?}"),
        }
    }
    assert!(matches!(instant_query(&storage(), "sum(", 0, Limits::default()), Err(Error::BadData(_))));
}

#[test]
fn limits_stop_a_query() {
    let tight = Limits { max_samples: 10, timeout: Duration::from_secs(60) };
    assert_eq!(instant_query(&storage(), "count_over_time(up[20m])", 20 * M, tight), Err(Error::TooManySamples));
    let none = Limits { max_samples: 1_000, timeout: Duration::ZERO };
    assert!(matches!(
        range_query(&storage(), "up", Range { start_ms: 0, end_ms: 20 * M, step_ms: M }, none),
        Err(Error::Timeout(_))
    ));
    assert!(matches!(
        range_query(&storage(), "up", Range { start_ms: 0, end_ms: 20_000 * M, step_ms: 1_000 }, Limits::default()),
        Err(Error::BadData(m)) if m.contains("11,000 points")
    ));
}
