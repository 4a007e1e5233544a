//! Query parameters shared by list endpoints: pagination and time ranges.
//!
//! Values arrive as strings and are parsed here, so a bad value gets a 400
//! that names the parameter and says what is expected.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use utoipa::IntoParams;

use super::response::ApiError;

pub const DEFAULT_LIMIT: usize = 20;

/// `deserialize_with` for `Option<Option<T>>` body fields of partial
/// updates: tells a field sent as `null` (`Some(None)`, clear it) from an
/// absent one (`None`, keep it). Use with `#[serde(default)]`.
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
pub const MAX_LIMIT: usize = 1000;

/// `limit` (default 20, at most 1000) and `offset` (default 0): integers
/// from 0 to 2^63-1, surrounding spaces allowed (as in oxmon 0.1).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size (default 20); values above 1000 are taken as 1000.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0)]
    pub offset: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl PageParams {
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = parse_count("limit", self.limit.as_deref())?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
        let offset = parse_count("offset", self.offset.as_deref())?.unwrap_or(0);
        Ok(Page { limit, offset })
    }
}

impl Page {
    /// This page of a list held in memory, and the list's length (the
    /// total of [`super::response::ApiOk::page`]).
    pub fn of<T>(self, all: Vec<T>) -> (Vec<T>, u64) {
        let total = all.len() as u64;
        (all.into_iter().skip(self.offset).take(self.limit).collect(), total)
    }
}

/// A count as the document declares it (`integer`, `int64`, `minimum: 0`).
fn parse_count(name: &str, raw: Option<&str>) -> Result<Option<usize>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let digits = raw.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!("{name} must be a non-negative integer, got {raw:?}")));
    }
    let n = digits
        .parse::<i64>()
        .map_err(|_| ApiError::bad_request(format!("{name} must be at most {}, got {raw:?}", i64::MAX)))?;
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}

/// `timestamp__gte` / `timestamp__lte` (RFC 3339, inclusive); each endpoint
/// documents its default span.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimeRange {
    /// From (RFC 3339, inclusive); default `timestamp__lte` minus the endpoint's default span.
    #[serde(rename = "timestamp__gte")]
    #[param(rename = "timestamp__gte", format = DateTime)]
    pub from: Option<String>,
    /// To (RFC 3339, inclusive); default now.
    #[serde(rename = "timestamp__lte")]
    #[param(rename = "timestamp__lte", format = DateTime)]
    pub to: Option<String>,
}

impl TimeRange {
    /// The range in Unix milliseconds.
    pub fn resolve(&self, now_ms: i64, default_span_ms: i64) -> Result<(i64, i64), ApiError> {
        time_range(self.from.as_deref(), self.to.as_deref(), now_ms, default_span_ms)
    }
}

/// Parses an RFC 3339 instant to Unix milliseconds.
/// An empty value is refused: the document declares `format: date-time`.
pub fn parse_time(name: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw.map(str::trim) else {
        return Ok(None);
    };
    raw.parse::<Timestamp>().map(|t| Some(t.as_millisecond())).map_err(|_| {
        ApiError::bad_request(format!("{name} must be an RFC 3339 timestamp such as 2026-02-09T00:00:00Z, got {raw:?}"))
    })
}

/// A `[gte, lte]` range; `lte` defaults to now and `gte` to `lte - default_span_ms`.
fn time_range(gte: Option<&str>, lte: Option<&str>, now_ms: i64, default_span_ms: i64) -> Result<(i64, i64), ApiError> {
    let to = parse_time("timestamp__lte", lte)?.unwrap_or(now_ms);
    let from = parse_time("timestamp__gte", gte)?.unwrap_or(to - default_span_ms);
    Ok((from, to))
}

/// Renders Unix milliseconds as RFC 3339 UTC (`Z`, fractional seconds only
/// when non-zero).
pub fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// Requires a non-empty query parameter.
pub fn required<'a>(name: &str, value: Option<&'a str>) -> Result<&'a str, ApiError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| ApiError::bad_request(format!("{name} is required")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_clamps_and_explains_errors() {
        let p = |l: Option<&str>, o: Option<&str>| {
            PageParams { limit: l.map(Into::into), offset: o.map(Into::into) }.page()
        };
        assert_eq!(p(None, None).unwrap(), Page { limit: 20, offset: 0 });
        assert_eq!(p(Some(" 5 "), Some("7")).unwrap(), Page { limit: 5, offset: 7 });
        assert_eq!(p(Some("5000"), None).unwrap().limit, 1000);
        assert_eq!(p(Some("0"), None).unwrap().limit, 0);
        assert_eq!(p(Some("-1"), None).unwrap_err().message, "limit must be a non-negative integer, got \"-1\"");
        assert!(p(None, Some("abc")).unwrap_err().message.starts_with("offset must be"));
        // Exactly the document's int64: one more is refused, and so is an
        // empty value (0.1 refused it too).
        assert_eq!(p(None, Some("9223372036854775807")).unwrap().offset as u64, i64::MAX as u64);
        assert!(p(None, Some("9223372036854775808")).is_err());
        assert!(p(Some(""), None).is_err());
    }

    #[test]
    fn a_page_of_a_list_in_memory_tells_the_list_length() {
        let page = |limit, offset| Page { limit, offset }.of((0..25).collect::<Vec<i32>>());
        assert_eq!(page(20, 0), ((0..20).collect(), 25));
        assert_eq!(page(20, 20), ((20..25).collect(), 25));
        assert_eq!(page(0, 0), (vec![], 25));
        assert_eq!(page(5, usize::MAX), (vec![], 25));
    }

    #[test]
    fn times_parse_as_rfc3339_and_render_back() {
        assert_eq!(parse_time("t", Some("2026-02-09T00:00:00Z")).unwrap(), Some(1_770_595_200_000));
        assert_eq!(parse_time("t", Some("2026-02-09T08:00:00+08:00")).unwrap(), Some(1_770_595_200_000));
        assert!(parse_time("timestamp__gte", Some("yesterday")).unwrap_err().message.contains("timestamp__gte"));
        assert_eq!(rfc3339(1_770_595_200_000), "2026-02-09T00:00:00Z");
        assert_eq!(rfc3339(1_770_595_200_123), "2026-02-09T00:00:00.123Z");
        assert_eq!(time_range(None, None, 10_000, 1_000).unwrap(), (9_000, 10_000));
    }
}
