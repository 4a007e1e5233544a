//! UTC days: which partition file a timestamp belongs to.
//!
//! A partition holds every sample whose own timestamp falls on its UTC day,
//! so all arithmetic here is on milliseconds since the Unix epoch, with
//! `div_euclid` so that instants before 1970 land on the right day too.

use std::fmt;

use jiff::civil::Date;

pub const MS_PER_DAY: i64 = 86_400_000;

/// Width of a storage bucket inside a day partition (10 minutes).
///
/// Samples are kept in the compact `samples` table keyed by
/// `(bucket, series_id, ts)`, so whole buckets are appended in key order.
pub const BUCKET_MS: i64 = 600_000;

/// Buckets per day.
pub const BUCKETS_PER_DAY: i64 = MS_PER_DAY / BUCKET_MS;

/// A UTC calendar day, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i32);

impl Day {
    /// The day containing `ms`, or `None` when the date cannot be written as
    /// `YYYY-MM-DD` (years outside 0000..=9999).
    pub fn of_ms(ms: i64) -> Option<Day> {
        let d = Day(i32::try_from(ms.div_euclid(MS_PER_DAY)).ok()?);
        d.date().map(|_| d)
    }

    pub fn from_days_since_epoch(days: i32) -> Option<Day> {
        let d = Day(days);
        d.date().map(|_| d)
    }

    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// First millisecond of the day.
    pub fn start_ms(self) -> i64 {
        i64::from(self.0) * MS_PER_DAY
    }

    /// First millisecond of the next day.
    pub fn end_ms(self) -> i64 {
        self.start_ms() + MS_PER_DAY
    }

    /// Offset of `ms` from the start of this day; only meaningful for
    /// instants inside the day.
    pub fn offset_ms(self, ms: i64) -> i64 {
        ms - self.start_ms()
    }

    pub fn next(self) -> Day {
        Day(self.0 + 1)
    }

    pub fn prev(self) -> Day {
        Day(self.0 - 1)
    }

    /// `self - n` days.
    pub fn minus_days(self, n: u32) -> Day {
        Day(self.0.saturating_sub(i32::try_from(n).unwrap_or(i32::MAX)))
    }

    fn date(self) -> Option<Date> {
        let epoch = Date::constant(1970, 1, 1);
        let date = epoch.checked_add(jiff::Span::new().try_days(self.0).ok()?).ok()?;
        (0..=9999).contains(&date.year()).then_some(date)
    }

    /// Parses a partition file stem, `YYYY-MM-DD`.
    pub fn parse(stem: &str) -> Option<Day> {
        if stem.len() != 10 {
            return None;
        }
        let date: Date = stem.parse().ok()?;
        let days = date.since(Date::constant(1970, 1, 1)).ok()?.get_days();
        let day = Day(days);
        // Reject non-canonical spellings so one day has exactly one file name.
        (day.to_string() == stem).then_some(day)
    }

    /// The partition file name, `YYYY-MM-DD.db`.
    pub fn file_name(self) -> String {
        format!("{self}.db")
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.date() {
            Some(d) => write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
            None => write!(f, "day{}", self.0),
        }
    }
}

/// The days whose partitions a query over `[from_ms, to_ms]` must visit,
/// oldest first. Empty when `from_ms > to_ms`.
pub fn days_between(from_ms: i64, to_ms: i64) -> Vec<Day> {
    if from_ms > to_ms {
        return Vec::new();
    }
    let first = from_ms.div_euclid(MS_PER_DAY);
    let last = to_ms.div_euclid(MS_PER_DAY);
    (first..=last).filter_map(|d| i32::try_from(d).ok().and_then(Day::from_days_since_epoch)).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn epoch_and_known_dates_format_as_iso_days() {
        assert_eq!(Day::of_ms(0).unwrap().to_string(), "1970-01-01");
        assert_eq!(Day::of_ms(-1).unwrap().to_string(), "1969-12-31");
        // 2026-02-09T00:00:00Z
        assert_eq!(Day::of_ms(1_770_595_200_000).unwrap().to_string(), "2026-02-09");
        assert_eq!(Day::of_ms(1_770_595_199_999).unwrap().to_string(), "2026-02-08");
        assert_eq!(Day::parse("2026-02-09").unwrap().start_ms(), 1_770_595_200_000);
    }

    #[test]
    fn non_partition_names_do_not_parse() {
        for stem in ["cert", "2026-2-09", "2026-02-30", "20260209", "2026-02-09x", ""] {
            assert_eq!(Day::parse(stem), None, "{stem}");
        }
    }

    #[test]
    fn years_beyond_four_digits_have_no_partition() {
        assert_eq!(Day::of_ms(i64::MAX), None);
        assert_eq!(Day::of_ms(253_402_300_800_000), None); // 10000-01-01
        assert!(Day::of_ms(253_402_300_799_999).is_some()); // 9999-12-31
    }

    proptest! {
        #[test]
        fn every_instant_lies_inside_its_day(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            let day = Day::of_ms(ms).unwrap();
            prop_assert!(day.start_ms() <= ms && ms < day.end_ms());
            let off = day.offset_ms(ms);
            prop_assert!((0..MS_PER_DAY).contains(&off));
        }

        #[test]
        fn file_names_round_trip(days in -719_162i32..2_932_896) {
            let day = Day::from_days_since_epoch(days).unwrap();
            prop_assert_eq!(Day::parse(&day.to_string()), Some(day));
            prop_assert_eq!(day.next().prev(), day);
        }

        #[test]
        fn day_ranges_cover_both_bounds_in_order(a in 0i64..4_000_000_000_000, len in 0i64..(40 * MS_PER_DAY)) {
            let days = days_between(a, a + len);
            prop_assert_eq!(days.first().copied(), Day::of_ms(a));
            prop_assert_eq!(days.last().copied(), Day::of_ms(a + len));
            prop_assert!(days.windows(2).all(|w| w[1] == w[0].next()));
            prop_assert!(days_between(a + len + 1, a).is_empty());
        }
    }
}
