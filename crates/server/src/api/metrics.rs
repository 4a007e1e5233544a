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
