//! Silence windows: daily time-of-day ranges during which notifications
//! are held back, on chosen days of the week, in a named time zone.
//!
//! Wire form (oxmon 0.1 plus additions): `start_time`/`end_time` as `HH:MM`
//! (a range whose end is before its start wraps past midnight),
//! `recurrence` (`daily` or absent, `weekdays`, `weekends`, or a comma list
//! such as `mon,wed,fri`), `timezone` (IANA name, default `UTC`).

use std::fmt;

/// Minutes since midnight, 0..1440.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub fn parse(field: &str, s: &str) -> Result<Self, String> {
        let bad = || format!("{field} must be a time of day as HH:MM (00:00 to 23:59), got {s:?}");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// Days of the week a window applies to; bit 0 = Monday … bit 6 = Sunday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Days(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Days {
    pub const ALL: Days = Days(0x7f);

    /// Parses a recurrence; absent or `daily` is every day.
    pub fn parse(recurrence: Option<&str>) -> Result<Self, String> {
        let Some(r) = recurrence.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(Days::ALL) };
        match r.to_ascii_lowercase().as_str() {
            "daily" => return Ok(Days::ALL),
            "weekdays" => return Ok(Days(0x1f)),
            "weekends" => return Ok(Days(0x60)),
            _ => {}
        }
        let mut bits = 0u8;
        for part in r.split(',') {
            let name = part.trim().to_ascii_lowercase();
            let day = DAY_NAMES
                .iter()
                .position(|d| name == *d || (name.len() > 3 && full_name(d) == name))
                .ok_or_else(|| {
                    format!(
                        "recurrence must be daily, weekdays, weekends or a comma list of days (mon,tue,...), got {r:?}"
                    )
                })?;
            bits |= 1 << day;
        }
        Ok(Days(bits))
    }

    /// `day`: 0 = Monday … 6 = Sunday.
    pub fn contains(self, day: u8) -> bool {
        day < 7 && self.0 & (1 << day) != 0
    }
}

fn full_name(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

/// A validated window (the time zone is checked by the server, which has the
/// time-zone database).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub days: Days,
}

impl Window {
    pub fn parse(start: &str, end: &str, recurrence: Option<&str>) -> Result<Self, String> {
        let w = Window {
            start: TimeOfDay::parse("start_time", start)?,
            end: TimeOfDay::parse("end_time", end)?,
            days: Days::parse(recurrence)?,
        };
        if w.start == w.end {
            return Err("start_time and end_time must differ".into());
        }
        Ok(w)
    }

    /// Whether local time `minute` (since midnight) on weekday `day`
    /// (0 = Monday) is inside the window. A wrapping window (end before
    /// start) belongs to the day it starts on: 22:00–06:00 on `fri` covers
    /// Friday 22:00 to Saturday 06:00.
    pub fn contains(&self, day: u8, minute: u16) -> bool {
        let (s, e) = (self.start.minutes(), self.end.minutes());
        if s < e {
            self.days.contains(day) && (s..e).contains(&minute)
        } else {
            let yesterday = (day + 6) % 7;
            (self.days.contains(day) && minute >= s) || (self.days.contains(yesterday) && minute < e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_recurrences_parse_strictly() {
        assert_eq!(TimeOfDay::parse("t", "02:30").unwrap().minutes(), 150);
        assert_eq!(TimeOfDay::parse("t", "23:59").unwrap().to_string(), "23:59");
        for bad in ["24:00", "2:30", "02:60", "0230", "ab:cd", ""] {
            assert!(TimeOfDay::parse("start_time", bad).unwrap_err().starts_with("start_time must be"), "{bad}");
        }
        assert_eq!(Days::parse(None).unwrap(), Days::ALL);
        assert_eq!(Days::parse(Some("Daily")).unwrap(), Days::ALL);
        let wd = Days::parse(Some("weekdays")).unwrap();
        assert!(wd.contains(0) && wd.contains(4) && !wd.contains(5));
        let some = Days::parse(Some("mon, Wednesday,fri")).unwrap();
        assert!(some.contains(0) && some.contains(2) && some.contains(4) && !some.contains(1));
        assert!(Days::parse(Some("someday")).unwrap_err().starts_with("recurrence must be"));
        assert_eq!(Window::parse("02:00", "02:00", None).unwrap_err(), "start_time and end_time must differ");
    }

    #[test]
    fn windows_cover_their_range_and_wrap_midnight_from_their_start_day() {
        let w = Window::parse("02:00", "04:00", None).unwrap();
        assert!(w.contains(3, 120) && w.contains(3, 239) && !w.contains(3, 240) && !w.contains(3, 119));
        let night = Window::parse("22:00", "06:00", Some("fri")).unwrap();
        assert!(night.contains(4, 22 * 60), "Friday 22:00");
        assert!(night.contains(5, 5 * 60), "Saturday 05:00, the night that began Friday");
        assert!(!night.contains(5, 22 * 60), "Saturday 22:00");
        assert!(!night.contains(4, 5 * 60), "Friday 05:00 belongs to Thursday's night");
    }
}
