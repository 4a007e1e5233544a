//! `/v1/metrics`: stored samples, names, agents, summaries and series.

use std::hash::{Hash, Hasher};

use oxmon_common::metric::Labels;
use oxmon_storage::reader::{SampleQuery, SeriesField};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, TimeRange, required, rfc3339};
use super::response::{ApiError, ApiOk, ApiQuery, ApiResult};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Labels as a JSON object.
pub type LabelsJson = serde_json::Map<String, serde_json::Value>;

pub fn labels_json(labels: &Labels) -> LabelsJson {
    labels.iter().map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned()))).collect()
}

/// Filters of `GET /v1/metrics`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this agent.
    #[serde(rename = "agent_id__eq")]
    #[param(rename = "agent_id__eq")]
    agent_id: Option<String>,
    /// Only this metric.
    #[serde(rename = "metric_name__eq")]
    #[param(rename = "metric_name__eq")]
    metric_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricItem {
    /// Stable id of the sample: its timestamp and a hash of its series.
    id: String,
    /// RFC 3339.
    timestamp: String,
    agent_id: String,
    metric_name: String,
    value: f64,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    labels: LabelsJson,
    /// oxmon 0.1 stored an insert time per row; we do not (it would double
    /// the bytes per sample), so this repeats `timestamp`.
    created_at: String,
}

/// Samples, newest first (default: the last hour), paged in SQL partition
/// by partition.
#[utoipa::path(get, path = "/metrics", tag = "metrics", params(ListParams, TimeRange, PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Samples", body = Envelope<Vec<MetricItem>>),
        (status = 400, description = "Bad parameter", body = EmptyEnvelope),
        (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn list(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<ListParams>,
    ApiQuery(range): ApiQuery<TimeRange>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult {
    let page = p.page()?;
    let (from, to) = stored(&state, range.resolve(state.clock.now_ms(), HOUR_MS)?).await?;
    let query = SampleQuery {
        agent_id: q.agent_id.filter(|s| !s.is_empty()),
        metric_name: q.metric_name.filter(|s| !s.is_empty()),
        from_ms: from,
        to_ms: to,
        limit: page.limit,
        offset: page.offset,
    };
    // The count reads every matching point of the range again (see
    // `Reader::sample_count`): the price of `X-Total-Count` on samples.
    let (rows, total) = state.read(move |r| Ok((r.samples(&query)?, r.sample_count(&query)?))).await?;
    let items: Vec<MetricItem> = rows
        .into_iter()
        .map(|s| {
            let ts = rfc3339(s.timestamp_ms);
            MetricItem {
                id: sample_id(&s.agent_id, &s.metric_name, &s.labels, s.timestamp_ms),
                created_at: ts.clone(),
                timestamp: ts,
                labels: labels_json(&s.labels),
                agent_id: s.agent_id,
                metric_name: s.metric_name,
                value: s.value,
            }
        })
        .collect();
    Ok(ApiOk::page(items, total))
}

/// A stable id for a sample: its timestamp and a hash of its series.
fn sample_id(agent: &str, metric: &str, labels: &Labels, ts: i64) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (agent, metric, labels).hash(&mut h);
    format!("{ts}-{:016x}", h.finish())
}

/// Metric names with data in the range's days (default: the last 24 hours), sorted.
#[utoipa::path(get, path = "/metrics/names", tag = "metrics", params(TimeRange, PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Names", body = Envelope<Vec<String>>),
        (status = 400, description = "Bad parameter", body = EmptyEnvelope)))]
pub async fn names(state: AppStateRef, q: ApiQuery<TimeRange>, p: ApiQuery<PageParams>) -> ApiResult {
    distinct(state, q.0, p.0, SeriesField::MetricName).await
}

/// Agent ids with data in the range's days (default: the last 24 hours), sorted.
#[utoipa::path(get, path = "/metrics/agents", tag = "metrics", params(TimeRange, PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Agent ids", body = Envelope<Vec<String>>),
        (status = 400, description = "Bad parameter", body = EmptyEnvelope)))]
pub async fn agents(state: AppStateRef, q: ApiQuery<TimeRange>, p: ApiQuery<PageParams>) -> ApiResult {
    distinct(state, q.0, p.0, SeriesField::AgentId).await
}

async fn distinct(state: AppStateRef, range: TimeRange, p: PageParams, field: SeriesField) -> ApiResult {
    let page = p.page()?;
    let (from, to) = stored(&state, range.resolve(state.clock.now_ms(), DAY_MS)?).await?;
    let (values, total) = state
        .read(move |r| Ok((r.distinct(field, from, to, page.limit, page.offset)?, r.distinct_count(field, from, to)?)))
        .await?;
    Ok(ApiOk::page(values, total))
}

/// One agent's metric.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    #[serde(default)]
    #[param(required = true, min_length = 1)]
    agent_id: String,
    #[serde(default)]
    #[param(required = true, min_length = 1)]
    metric_name: String,
}

impl SeriesParams {
    /// The required agent and metric, and the range (default: the last hour).
    fn resolve(&self, range: &TimeRange, now_ms: i64) -> Result<(String, String, i64, i64), ApiError> {
        let agent = required("agent_id", Some(&self.agent_id))?.to_owned();
        let metric = required("metric_name", Some(&self.metric_name))?.to_owned();
        let (from, to) = range.resolve(now_ms, HOUR_MS)?;
        Ok((agent, metric, from, to))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryData {
    min: f64,
    max: f64,
    avg: f64,
    count: u64,
}

/// Min, max, average and count of one agent's metric (all label sets); all
/// zero without data.
#[utoipa::path(get, path = "/metrics/summary", tag = "metrics", params(SeriesParams, TimeRange),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Summary", body = Envelope<SummaryData>),
        (status = 400, description = "Missing agent_id or metric_name, or a bad time", body = EmptyEnvelope)))]
pub async fn summary(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<SeriesParams>,
    ApiQuery(range): ApiQuery<TimeRange>,
) -> ApiResult {
    let (agent, metric, from, to) = q.resolve(&range, state.clock.now_ms())?;
    let s = state.read(move |r| r.summary(&agent, &metric, from, to)).await?;
    Ok(ApiOk::data(SummaryData { min: s.min, max: s.max, avg: s.avg, count: s.count }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesItem {
    agent_id: String,
    metric_name: String,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    labels: LabelsJson,
    /// `[unix_ms, value]` pairs, oldest first.
    #[schema(value_type = Vec<Vec<f64>>)]
    points: Vec<(i64, f64)>,
}

/// Every point of each series of one agent's metric in the range (default:
/// the last hour, at most 31 days), unpaged. Added in 0.2.
#[utoipa::path(get, path = "/metrics/series", tag = "metrics", params(SeriesParams, TimeRange),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Series", body = Envelope<Vec<SeriesItem>>),
        (status = 400, description = "Missing parameter, bad time, or a range over 31 days", body = EmptyEnvelope)))]
pub async fn series(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<SeriesParams>,
    ApiQuery(range): ApiQuery<TimeRange>,
) -> ApiResult {
    let (agent, metric, from, to) = q.resolve(&range, state.clock.now_ms())?;
    if to - from > 31 * DAY_MS {
        return Err(ApiError::bad_request("the range of /v1/metrics/series is limited to 31 days"));
    }
    let series = state.read(move |r| r.series_range(&agent, &metric, None, from, to)).await?;
    let items: Vec<SeriesItem> = series
        .into_iter()
        .map(|s| SeriesItem {
            labels: labels_json(&s.labels),
            agent_id: s.agent_id,
            metric_name: s.metric_name,
            points: s.points,
        })
        .collect();
    Ok(ApiOk::data(items))
}

/// A range cut to the days that have partitions on disk: reads visit one
/// partition per day, so a range of centuries would otherwise keep a
/// request busy for a long time finding nothing.
async fn stored(state: &AppStateRef, (from, to): (i64, i64)) -> Result<(i64, i64), ApiError> {
    let days = state.read(|r| r.partitions()).await?;
    match (days.first(), days.last()) {
        (Some(first), Some(last)) => Ok((from.max(first.day.start_ms()), to.min(last.day.end_ms()))),
        _ => Ok((from, from.saturating_sub(1))),
    }
}

/// Parameters of `GET /v1/metrics/downsample`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownsampleParams {
    /// Most buckets per series (1..=10000, default 300): the step is the
    /// smallest round step (1 s, 2 s, 5 s, ... 12 h, 1 d, then whole days)
    /// that fits the range in this many buckets; a chart passes its width.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000, example = 600)]
    max_points: Option<String>,
}

/// Most buckets per series a request may ask for.
const MAX_DOWNSAMPLE_POINTS: usize = 10_000;
/// Longest range of `/v1/metrics/downsample`.
const MAX_DOWNSAMPLE_DAYS: i64 = 400;

#[derive(Debug, Serialize, ToSchema)]
pub struct DownsampledSeries {
    agent_id: String,
    metric_name: String,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    labels: LabelsJson,
    /// Width of every bucket, ms.
    step_ms: i64,
    /// `[bucket_start_ms, min, avg, max, count]` per bucket with samples,
    /// oldest first; buckets without samples are left out.
    #[schema(value_type = Vec<Vec<f64>>, example = json!([[1765152000000_i64, 3.5, 12.25, 40.0, 180]]))]
    points: Vec<(i64, f64, f64, f64, u64)>,
}

/// Each series of one agent's metric in the range (default: the last hour,
/// at most 400 days), downsampled: min, average, max and count of the
/// samples per step, the step chosen from `max_points`. A 7-day chart of
/// 10 s samples gets `max_points` buckets per series instead of 60,480
/// points. Added in 0.2 (the web console's charts use it).
#[utoipa::path(get, path = "/metrics/downsample", tag = "metrics", params(SeriesParams, TimeRange, DownsampleParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Downsampled series, sorted by labels", body = Envelope<Vec<DownsampledSeries>>,
            example = json!({"err_code": 0, "err_msg": "success", "trace_id": "4f1c2a9e0b7d4c55",
                "data": [{"agent_id": "web-1", "metric_name": "cpu.usage", "labels": {}, "step_ms": 1800000,
                    "points": [[1765152000000_i64, 3.5, 12.25, 40.0, 180], [1765153800000_i64, 2.0, 9.5, 31.0, 180]]}]})),
        (status = 400, description = "Missing parameter, bad time or max_points, or a range over 400 days", body = EmptyEnvelope)))]
pub async fn downsample(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<SeriesParams>,
    ApiQuery(range): ApiQuery<TimeRange>,
    ApiQuery(d): ApiQuery<DownsampleParams>,
) -> ApiResult {
    let (agent, metric, from, to) = q.resolve(&range, state.clock.now_ms())?;
    let max_points = match d.max_points.as_deref().filter(|s| !s.is_empty()) {
        None => 300,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_DOWNSAMPLE_POINTS).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "max_points must be an integer from 1 to {MAX_DOWNSAMPLE_POINTS}, got {raw:?}"
                )));
            }
        },
    };
    if to - from > MAX_DOWNSAMPLE_DAYS * DAY_MS {
        return Err(ApiError::bad_request(format!(
            "the range of /v1/metrics/downsample is limited to {MAX_DOWNSAMPLE_DAYS} days"
        )));
    }
    let step = crate::downsample::step_for(from, to, max_points);
    let (read_from, read_to) = stored(&state, (from, to)).await?;
    let (a, m) = (agent.clone(), metric.clone());
    let series = state
        .read(move |r| {
            let mut d = crate::downsample::Downsampler::new(step);
            // One day of raw points at a time: the reader's range read,
            // folded into buckets before the next day is read.
            for (chunk_from, chunk_to) in crate::downsample::day_chunks(read_from, read_to) {
                for s in r.series_range(&a, &m, None, chunk_from, chunk_to)? {
                    d.add(&s.labels, &s.points);
                }
            }
            Ok(d.finish())
        })
        .await?;
    let items: Vec<DownsampledSeries> = series
        .into_iter()
        .map(|(labels, buckets)| DownsampledSeries {
            agent_id: agent.clone(),
            metric_name: metric.clone(),
            labels: labels_json(&labels),
            step_ms: step,
            points: buckets.into_iter().map(|b| (b.start_ms, b.min, b.avg, b.max, b.count)).collect(),
        })
        .collect();
    Ok(ApiOk::data(items))
}
