//! Property tests of the engine's invariants, through the public API: a
//! threshold rule fires only after a continuous breach of its duration (and
//! always does with regular samples), an open alert emits at most one fired
//! event per silence period, and recoveries only ever follow fired events.
#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::{BTreeMap, HashMap};

use oxmon_alert::{Engine, Event, EventKind, Point, Rule};
use oxmon_common::metric::Labels;
use oxmon_common::rule::{
    Direction, Operator, RateMode, RateOfChangeConfig, RuleConfig, Severity, ThresholdConfig, TrendPredictionConfig,
};
use proptest::prelude::*;

const T0: i64 = 1_750_000_000_000;
const METRIC: &str = "cpu.usage";
const LIMIT: f64 = 90.0;

fn rule(id: &str, silence_secs: u64, config: RuleConfig) -> Rule {
    Rule {
        id: id.into(),
        name: id.into(),
        metric: METRIC.into(),
        agent_pattern: "*".into(),
        severity: Severity::Critical,
        silence_secs,
        config,
    }
}

fn threshold(duration_secs: u64) -> RuleConfig {
    RuleConfig::Threshold(ThresholdConfig { operator: Operator::GreaterThan, value: LIMIT, duration_secs })
}

/// A sample: which of three mounts, sample second, value, and how many
/// seconds the server clock advances before it arrives.
#[derive(Clone, Debug)]
struct Step {
    mount: u8,
    ts_secs: i64,
    value: f64,
    advance_secs: i64,
}

fn steps(max_len: usize) -> impl Strategy<Value = Vec<Step>> {
    let value = prop_oneof![Just(50.0), Just(LIMIT), Just(95.0), 0.0..100.0];
    prop::collection::vec(
        (0u8..3, 0i64..900, value, 0i64..40).prop_map(|(mount, ts_secs, value, advance_secs)| Step {
            mount,
            ts_secs,
            value,
            advance_secs,
        }),
        1..max_len,
    )
}

fn labels(mount: u8) -> Labels {
    Labels::one("mount", format!("/m{mount}"))
}

/// Feeds the steps (sample times in any order, the clock only moving
/// forward), calling `after` with each step, its events and the engine.
fn replay(engine: &mut Engine, steps: &[Step], mut after: impl FnMut(&Step, i64, &[Event], &Engine)) {
    let mut now = T0;
    for step in steps {
        now += step.advance_secs * 1000;
        let labels = labels(step.mount);
        let point = Point {
            agent_id: "a",
            metric: METRIC,
            labels: &labels,
            timestamp_ms: T0 + step.ts_secs * 1000,
            value: step.value,
        };
        let events = engine.observe(&point, now);
        after(step, now, &events, engine);
    }
}

/// Whether some sample at or before `newest − duration` starts a run of
/// breaching samples (by time) that reaches the newest sample.
fn breached_for(history: &BTreeMap<i64, f64>, duration_secs: i64) -> bool {
    let Some((&newest, _)) = history.last_key_value() else { return false };
    let mut run_start = None;
    for (&ts, &value) in history.iter().rev() {
        if value <= LIMIT {
            break;
        }
        run_start = Some(ts);
    }
    run_start.is_some_and(|start| start <= newest - duration_secs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn threshold_fires_only_after_a_continuous_breach_of_its_duration(
        duration_secs in 0u64..120,
        silence_secs in 0u64..120,
        steps in steps(80),
    ) {
        let mut engine = Engine::new(vec![rule("r", silence_secs, threshold(duration_secs))]).unwrap();
        let mut history: HashMap<u8, BTreeMap<i64, f64>> = HashMap::new();
        replay(&mut engine, &steps, |step, _, events, _| {
            let h = history.entry(step.mount).or_default();
            h.insert(step.ts_secs, step.value);
            for e in events.iter().filter(|e| e.kind != EventKind::Recovered) {
                assert_eq!(e.labels, labels(step.mount));
                assert!(breached_for(h, duration_secs as i64), "fired without a {duration_secs}s breach: {h:?}");
            }
            // Every event is stamped with its series' newest sample, whatever the clock.
            let newest = h.last_key_value().map(|(ts, _)| T0 + ts * 1000);
            for e in events {
                assert_eq!(Some(e.timestamp_ms), newest, "{e:?}");
            }
        });
    }

    #[test]
    fn regular_samples_breaching_for_the_duration_are_always_active(
        duration_secs in 0u64..120,
        interval_secs in 1i64..60,
        values in prop::collection::vec(prop_oneof![Just(50.0), Just(95.0)], 1..60),
    ) {
        let mut engine = Engine::new(vec![rule("r", 600, threshold(duration_secs))]).unwrap();
        let mut history = BTreeMap::new();
        let labels = Labels::new();
        for (i, value) in values.into_iter().enumerate() {
            let ts = i as i64 * interval_secs;
            history.insert(ts, value);
            let point = Point { agent_id: "a", metric: METRIC, labels: &labels, timestamp_ms: T0 + ts * 1000, value };
            engine.observe(&point, T0 + ts * 1000);
            // Gaps never exceed 2 × duration here unless the duration is shorter than half the interval.
            if breached_for(&history, duration_secs as i64) && (duration_secs == 0 || 2 * duration_secs as i64 >= interval_secs) {
                prop_assert!(engine.is_active("r", "a", &labels), "not active after {history:?}");
            }
        }
    }

    #[test]
    fn at_most_one_fired_event_per_series_per_silence_period(
        silence_secs in 0u64..200,
        steps in steps(120),
    ) {
        let mut engine = Engine::new(vec![rule("r", silence_secs, threshold(0))]).unwrap();
        // Per series, the last fired event of the open alert (a recovery
        // closes it, and the next breach is a new alert).
        let mut last_fired: HashMap<u8, i64> = HashMap::new();
        replay(&mut engine, &steps, |step, now, events, _| {
            for e in events {
                assert_eq!(e.labels, labels(step.mount));
                if e.kind == EventKind::Recovered {
                    last_fired.remove(&step.mount);
                } else if let Some(previous) = last_fired.insert(step.mount, now) {
                    assert!(now - previous >= silence_secs as i64 * 1000, "fired at {previous} and {now}");
                }
            }
        });
    }

    #[test]
    fn every_recovery_follows_a_fired_event_of_the_same_series(
        kind in 0u8..3,
        silence_secs in 0u64..100,
        steps in steps(150),
    ) {
        let config = match kind {
            0 => threshold(30),
            1 => RuleConfig::RateOfChange(RateOfChangeConfig {
                rate_threshold: 30.0,
                window_secs: 120,
                mode: RateMode::Percent,
                direction: Direction::Both,
            }),
            _ => RuleConfig::TrendPrediction(TrendPredictionConfig {
                predict_threshold: 99.0,
                horizon_secs: 3600,
                min_data_points: 3,
                window_secs: 600,
                min_lead_secs: 0,
                min_coverage: 0.0,
                min_r_squared: 0.0,
            }),
        };
        let mut engine = Engine::new(vec![rule("r", silence_secs, config)]).unwrap();
        // Per series: the first trigger time of the open alert, if any.
        let mut open: HashMap<u8, i64> = HashMap::new();
        replay(&mut engine, &steps, |step, _, events, engine| {
            for e in events {
                let first = e.first_triggered_at_ms.unwrap();
                match e.kind {
                    EventKind::Fired => {
                        assert_eq!(first, e.timestamp_ms, "an alert starts at the sample that fired it");
                        assert_eq!(open.insert(step.mount, first), None, "fired while already open");
                    }
                    EventKind::Reminder => {
                        assert_eq!(open.get(&step.mount), Some(&first), "a reminder keeps the first trigger time");
                    }
                    EventKind::Recovered => {
                        assert_eq!(open.remove(&step.mount), Some(first), "recovered without a fired event");
                    }
                }
            }
            assert_eq!(engine.is_active("r", "a", &labels(step.mount)), open.contains_key(&step.mount));
        });
    }
}

proptest! {
    #[test]
    fn extreme_times_values_and_spans_never_panic(
        spans in (any::<u64>(), any::<u64>(), any::<u64>()),
        points in prop::collection::vec((any::<i64>(), any::<f64>(), any::<i64>()), 1..40),
    ) {
        let (duration_secs, window_secs, silence_secs) = spans;
        let rules = vec![
            rule("t", silence_secs, threshold(duration_secs)),
            rule("r", silence_secs, RuleConfig::RateOfChange(RateOfChangeConfig {
                rate_threshold: 1.0,
                window_secs: window_secs.max(1),
                mode: RateMode::Percent,
                direction: Direction::Both,
            })),
            rule("q", silence_secs, RuleConfig::RateOfChange(RateOfChangeConfig {
                rate_threshold: 1.0,
                window_secs: window_secs.max(1),
                mode: RateMode::Points,
                direction: Direction::Increase,
            })),
            rule("p", silence_secs, RuleConfig::TrendPrediction(TrendPredictionConfig {
                predict_threshold: 1e300,
                horizon_secs: u64::MAX,
                min_data_points: 2,
                window_secs: window_secs.max(1),
                min_lead_secs: 0,
                min_coverage: 0.5,
                min_r_squared: 0.5,
            })),
        ];
        let mut engine = Engine::new(rules).unwrap();
        let labels = Labels::new();
        for (timestamp_ms, value, now_ms) in points {
            let point = Point { agent_id: "a", metric: METRIC, labels: &labels, timestamp_ms, value };
            for e in engine.observe(&point, now_ms) {
                prop_assert!(e.value.is_finite());
            }
            engine.expire(now_ms);
        }
    }
}
