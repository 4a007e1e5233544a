//! Load averages from `/proc/loadavg` and uptime from `/proc/uptime`.

use std::path::Path;

use oxmon_common::metric::{LOAD_1, LOAD_5, LOAD_15, LOAD_UPTIME, Metric};

use super::ProcFile;
use crate::Collection;

/// `0.52 0.41 0.35 2/1234 56789` → the 1, 5 and 15 minute averages.
pub(super) fn parse_loadavg(text: &str) -> Result<[f64; 3], &'static str> {
    let mut fields = text.split_ascii_whitespace();
    let mut averages = [0.0; 3];
    for slot in &mut averages {
        *slot = fields.next().and_then(parse_non_negative).ok_or("expected three load averages")?;
    }
    Ok(averages)
}

/// `350735.47 1363121.82` → seconds since boot (the second field is idle
/// time summed over CPUs).
pub(super) fn parse_uptime(text: &str) -> Result<f64, &'static str> {
    text.split_ascii_whitespace().next().and_then(parse_non_negative).ok_or("expected seconds since boot")
}

/// A finite, non-negative number; Rust also accepts `inf` and `NaN`, which
/// no kernel writes and no chart could use.
fn parse_non_negative(field: &str) -> Option<f64> {
    field.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)
}

/// The load sub-collector: `/proc/loadavg` is read by the caller, which
/// shares it with the processes collector; uptime is its own.
pub(super) struct Load {
    uptime: ProcFile,
}

impl Load {
    pub(super) fn new(procfs: &Path) -> Self {
        Self { uptime: ProcFile::new(procfs.join("uptime")) }
    }

    /// Appends the load averages from `loadavg`, already read, and uptime.
    /// Returns whether `loadavg` parsed, so its errors are reported once.
    pub(super) fn collect(&mut self, loadavg: Option<&ProcFile>, out: &mut Collection) -> bool {
        let parsed = match loadavg.map(|file| parse_loadavg(&file.text()).map_err(|reason| file.malformed(reason))) {
            Some(Ok([one, five, fifteen])) => {
                out.metrics.extend([
                    Metric::new(LOAD_1, one),
                    Metric::new(LOAD_5, five),
                    Metric::new(LOAD_15, fifteen),
                ]);
                true
            }
            Some(Err(e)) => {
                out.errors.push(e);
                false
            }
            None => false,
        };
        match self.uptime.parse(parse_uptime) {
            Ok(seconds) => out.metrics.push(Metric::new(LOAD_UPTIME, seconds)),
            Err(e) => out.errors.push(e),
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn loadavg_yields_the_three_averages() {
        assert_eq!(parse_loadavg("0.52 0.41 0.35 2/1234 56789\n"), Ok([0.52, 0.41, 0.35]));
        assert_eq!(parse_loadavg("12.00 7.5 3\n"), Ok([12.0, 7.5, 3.0]));
    }

    #[test]
    fn malformed_loadavg_is_an_error() {
        let err = Err("expected three load averages");
        assert_eq!(parse_loadavg(""), err);
        assert_eq!(parse_loadavg("0.52 0.41"), err);
        assert_eq!(parse_loadavg("0.52 nan 0.35"), err);
        assert_eq!(parse_loadavg("0.52 -1 0.35"), err);
        assert_eq!(parse_loadavg("0.52 inf 0.35"), err);
    }

    #[test]
    fn uptime_is_the_first_field_in_seconds() {
        assert_eq!(parse_uptime("350735.47 1363121.82\n"), Ok(350735.47));
        assert_eq!(parse_uptime("12"), Ok(12.0));
        assert_eq!(parse_uptime(""), Err("expected seconds since boot"));
        assert_eq!(parse_uptime("up 5 days"), Err("expected seconds since boot"));
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".*") {
            let _ = parse_loadavg(&text);
            let _ = parse_uptime(&text);
        }
    }
}
