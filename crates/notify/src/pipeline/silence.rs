//! Whether a silence window is active: each window in its own time zone,
//! on its own days of the week.

use jiff::Timestamp;

use super::SilenceEntry;

/// Whether any window contains `now_ms` (Unix milliseconds).
pub(super) fn active(windows: &[SilenceEntry], now_ms: i64) -> bool {
    let Ok(now) = Timestamp::from_millisecond(now_ms) else { return false };
    windows.iter().any(|w| {
        let local = now.to_zoned(w.timezone.clone());
        let day = u8::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
        let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        w.window.contains(day, minute)
    })
}

#[cfg(test)]
mod tests {
    use jiff::tz::{Offset, TimeZone};
    use oxmon_common::silence::Window;

    use super::*;

    fn entry(start: &str, end: &str, recurrence: Option<&str>, tz: TimeZone) -> SilenceEntry {
        SilenceEntry { window: Window::parse(start, end, recurrence).unwrap(), timezone: tz }
    }

    // 2024-05-01 is a Wednesday; 12:00 UTC.
    const WED_NOON_UTC: i64 = 1_714_564_800_000;

    #[test]
    fn windows_are_read_in_their_time_zone_and_days() {
        let utc = entry("11:30", "12:30", None, TimeZone::UTC);
        assert!(active(&[utc], WED_NOON_UTC));
        // 12:00 UTC is 20:00 at UTC+8.
        let plus8 = TimeZone::fixed(Offset::constant(8));
        assert!(!active(&[entry("11:30", "12:30", None, plus8.clone())], WED_NOON_UTC));
        assert!(active(&[entry("19:00", "21:00", None, plus8.clone())], WED_NOON_UTC));
        assert!(!active(&[entry("19:00", "21:00", Some("weekends"), plus8.clone())], WED_NOON_UTC));
        assert!(active(&[entry("19:00", "21:00", Some("wed"), plus8)], WED_NOON_UTC));
        assert!(!active(&[], WED_NOON_UTC));
    }
}
