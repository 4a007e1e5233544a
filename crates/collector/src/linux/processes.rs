//! Task counts and context switches from `/proc/stat` and `/proc/loadavg`.

use std::time::Instant;

use oxmon_common::metric::{LABEL_STATE, Metric, SYSTEM_CONTEXT_SWITCHES, SYSTEM_PROCESSES};

use crate::Collection;

/// What `/proc/stat` says about tasks beyond the CPU lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct StatTasks {
    /// Runnable tasks (`procs_running`).
    pub(super) running: u64,
    /// Tasks in uninterruptible I/O wait (`procs_blocked`).
    pub(super) blocked: u64,
    /// Context switches since boot (`ctxt`).
    pub(super) context_switches: u64,
}

/// Parses the `ctxt`, `procs_running` and `procs_blocked` lines of
/// `/proc/stat`; all three are required (kernels since 2.6).
pub(super) fn parse_stat_tasks(text: &str) -> Result<StatTasks, &'static str> {
    let (mut running, mut blocked, mut context_switches) = (None, None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(' ') else { continue };
        let slot = match key {
            "ctxt" => &mut context_switches,
            "procs_running" => &mut running,
            "procs_blocked" => &mut blocked,
            _ => continue,
        };
        *slot = value.trim().parse().ok();
    }
    match (running, blocked, context_switches) {
        (Some(running), Some(blocked), Some(context_switches)) => Ok(StatTasks { running, blocked, context_switches }),
        _ => Err("expected ctxt, procs_running and procs_blocked"),
    }
}

/// `0.52 0.41 0.35 2/1234 56789` → 1234, the number of tasks that exist.
pub(super) fn parse_loadavg_tasks(text: &str) -> Result<u64, &'static str> {
    text.split_ascii_whitespace()
        .nth(3)
        .and_then(|field| field.split_once('/'))
        .and_then(|(_, total)| total.parse().ok())
        .ok_or("expected runnable/total tasks in the fourth field")
}

/// The processes sub-collector: the previous context-switch count.
#[derive(Debug, Default)]
pub(super) struct Processes {
    previous: Option<(u64, Instant)>,
}

impl Processes {
    /// Appends `system.processes{state}` for running and blocked and the
    /// context-switch rate since the previous reading. `total` comes from
    /// `/proc/loadavg`; `None` leaves that series out.
    pub(super) fn collect(&mut self, tasks: StatTasks, total: Option<u64>, now: Instant, out: &mut Collection) {
        out.metrics.push(Metric::labelled(SYSTEM_PROCESSES, LABEL_STATE, "running", tasks.running as f64));
        out.metrics.push(Metric::labelled(SYSTEM_PROCESSES, LABEL_STATE, "blocked", tasks.blocked as f64));
        if let Some(total) = total {
            out.metrics.push(Metric::labelled(SYSTEM_PROCESSES, LABEL_STATE, "total", total as f64));
        }
        let previous = self.previous.replace((tasks.context_switches, now));
        let Some((earlier, then)) = previous else { return };
        let seconds = now.saturating_duration_since(then).as_secs_f64();
        // The counter is 64-bit: going back means another boot, not a wrap.
        if let Some(delta) = tasks.context_switches.checked_sub(earlier)
            && seconds > 0.0
        {
            out.metrics.push(Metric::new(SYSTEM_CONTEXT_SWITCHES, delta as f64 / seconds));
        }
    }

    /// Forgets the previous reading (the file could not be read).
    pub(super) fn reset(&mut self) {
        self.previous = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn stat_yields_running_blocked_and_context_switches() {
        let stat = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 5 0 0\nctxt 88741235\nbtime 1717171717\n\
                    processes 301245\nprocs_running 3\nprocs_blocked 1\nsoftirq 1 2\n";
        assert_eq!(parse_stat_tasks(stat), Ok(StatTasks { running: 3, blocked: 1, context_switches: 88741235 }));
    }

    #[test]
    fn stat_without_task_lines_is_malformed() {
        let err = Err("expected ctxt, procs_running and procs_blocked");
        assert_eq!(parse_stat_tasks("cpu 1 2 3 4\nctxt 5\nprocs_running 1\n"), err);
        assert_eq!(parse_stat_tasks("ctxt x\nprocs_running 1\nprocs_blocked 0\n"), err);
        assert_eq!(parse_stat_tasks(""), err);
    }

    #[test]
    fn loadavg_yields_the_number_of_tasks() {
        assert_eq!(parse_loadavg_tasks("0.52 0.41 0.35 2/1234 56789\n"), Ok(1234));
        let err = Err("expected runnable/total tasks in the fourth field");
        assert_eq!(parse_loadavg_tasks("0.52 0.41 0.35\n"), err);
        assert_eq!(parse_loadavg_tasks("0.52 0.41 0.35 1234 1\n"), err);
        assert_eq!(parse_loadavg_tasks("0.52 0.41 0.35 2/x 1\n"), err);
    }

    fn values(out: &Collection) -> Vec<(&'static str, String, f64)> {
        out.metrics
            .iter()
            .map(|m| (m.name, m.labels.get(LABEL_STATE).unwrap_or_default().to_owned(), m.value))
            .collect()
    }

    #[test]
    fn context_switches_are_a_rate_from_the_second_reading() {
        let t0 = Instant::now();
        let mut processes = Processes::default();
        let tasks = |ctxt| StatTasks { running: 2, blocked: 0, context_switches: ctxt };
        let mut first = Collection::default();
        processes.collect(tasks(1000), Some(90), t0, &mut first);
        let state = |s: &str, v| (SYSTEM_PROCESSES, s.to_owned(), v);
        assert_eq!(values(&first), [state("running", 2.0), state("blocked", 0.0), state("total", 90.0)]);
        let mut second = Collection::default();
        processes.collect(tasks(6000), None, t0 + Duration::from_secs(4), &mut second);
        assert_eq!(
            values(&second),
            [state("running", 2.0), state("blocked", 0.0), (SYSTEM_CONTEXT_SWITCHES, String::new(), 1250.0)]
        );
        // Back to a lower count (another boot behind the same procfs): new baseline.
        let mut third = Collection::default();
        processes.collect(tasks(10), None, t0 + Duration::from_secs(8), &mut third);
        assert_eq!(third.metrics.len(), 2);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".*") {
            let _ = parse_stat_tasks(&text);
            let _ = parse_loadavg_tasks(&text);
        }
    }
}
