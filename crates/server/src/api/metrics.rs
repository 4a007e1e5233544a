//! `/v1/metrics`: stored samples, names, agents, summaries and series.

use std::hash::{Hash, Hasher};

use oxmon_common::metric::Labels;
use oxmon_storage::reader::{SampleQuery, SeriesField};
use serde::{Deserialize, Serialize};

use super::AppStateRef;
use super::params::{PageParams, required, rfc3339, time_range};
use super::response::{ApiError, ApiOk, ApiQuery, ApiResult};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Labels as a JSON object.
pub type LabelsJson = serde_json::Map<String, serde_json::Value>;

pub fn labels_json(labels: &Labels) -> LabelsJson {
    labels.iter().map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned()))).collect()
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(rename = "agent_id__eq")]
    agent_id: Option<String>,
    #[serde(rename = "metric_name__eq")]
    metric_name: Option<String>,
    #[serde(rename = "timestamp__gte")]
    from: Option<String>,
    #[serde(rename = "timestamp__lte")]
    to: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

#[derive(Serialize)]
struct MetricItem {
    id: String,
    timestamp: String,
    agent_id: String,
    metric_name: String,
    value: f64,
    labels: LabelsJson,
    /// oxmon 0.1 stored an insert time per row; we do not (it would double
    /// the bytes per sample), so this repeats `timestamp`.
    created_at: String,
}

/// `GET /v1/metrics`: samples newest first, paged in SQL.
pub async fn list(state: AppStateRef, ApiQuery(q): ApiQuery<ListParams>) -> ApiResult {
    let page = q.page.page()?;
    let (from, to) = time_range(q.from.as_deref(), q.to.as_deref(), state.clock.now_ms(), HOUR_MS)?;
    let query = SampleQuery {
        agent_id: q.agent_id.filter(|s| !s.is_empty()),
        metric_name: q.metric_name.filter(|s| !s.is_empty()),
        from_ms: from,
        to_ms: to,
        limit: page.limit,
        offset: page.offset,
    };
    let rows = state.read(move |r| r.samples(&query)).await.map_err(|e| ApiError::storage(&e))?;
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
    Ok(ApiOk::data(items))
}

/// A stable id for a sample: its timestamp and a hash of its series.
fn sample_id(agent: &str, metric: &str, labels: &Labels, ts: i64) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (agent, metric, labels).hash(&mut h);
    format!("{ts}-{:016x}", h.finish())
}

#[derive(Debug, Deserialize)]
pub struct RangeParams {
    #[serde(rename = "timestamp__gte")]
    from: Option<String>,
    #[serde(rename = "timestamp__lte")]
    to: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

/// `GET /v1/metrics/names`: metric names with series in the range's days.
pub async fn names(state: AppStateRef, q: ApiQuery<RangeParams>) -> ApiResult {
    distinct(state, q.0, SeriesField::MetricName).await
}

/// `GET /v1/metrics/agents`: agent ids with series in the range's days.
pub async fn agents(state: AppStateRef, q: ApiQuery<RangeParams>) -> ApiResult {
    distinct(state, q.0, SeriesField::AgentId).await
}

async fn distinct(state: AppStateRef, q: RangeParams, field: SeriesField) -> ApiResult {
    let page = q.page.page()?;
    let (from, to) = time_range(q.from.as_deref(), q.to.as_deref(), state.clock.now_ms(), DAY_MS)?;
    let values = state
        .read(move |r| r.distinct(field, from, to, page.limit, page.offset))
        .await
        .map_err(|e| ApiError::storage(&e))?;
    Ok(ApiOk::data(values))
}

#[derive(Debug, Deserialize)]
pub struct SeriesParams {
    agent_id: Option<String>,
    metric_name: Option<String>,
    #[serde(rename = "timestamp__gte")]
    from: Option<String>,
    #[serde(rename = "timestamp__lte")]
    to: Option<String>,
}

impl SeriesParams {
    /// The required agent and metric, and the range (default: the last hour).
    fn resolve(&self, now_ms: i64) -> Result<(String, String, i64, i64), ApiError> {
        let agent = required("agent_id", self.agent_id.as_deref())?.to_owned();
        let metric = required("metric_name", self.metric_name.as_deref())?.to_owned();
        let (from, to) = time_range(self.from.as_deref(), self.to.as_deref(), now_ms, HOUR_MS)?;
        Ok((agent, metric, from, to))
    }
}

/// `GET /v1/metrics/summary`: min, max, avg and count of one agent's metric.
pub async fn summary(state: AppStateRef, ApiQuery(q): ApiQuery<SeriesParams>) -> ApiResult {
    let (agent, metric, from, to) = q.resolve(state.clock.now_ms())?;
    let s = state.read(move |r| r.summary(&agent, &metric, from, to)).await.map_err(|e| ApiError::storage(&e))?;
    Ok(ApiOk::data(serde_json::json!({ "min": s.min, "max": s.max, "avg": s.avg, "count": s.count })))
}

#[derive(Serialize)]
struct SeriesItem {
    agent_id: String,
    metric_name: String,
    labels: LabelsJson,
    /// `[unix_ms, value]` pairs, oldest first.
    points: Vec<(i64, f64)>,
}

/// `GET /v1/metrics/series` (added in 0.2): every point of each series of
/// one agent's metric in the range (default: the last hour), unpaged.
pub async fn series(state: AppStateRef, ApiQuery(q): ApiQuery<SeriesParams>) -> ApiResult {
    let (agent, metric, from, to) = q.resolve(state.clock.now_ms())?;
    if to - from > 31 * DAY_MS {
        return Err(ApiError::bad_request("the range of /v1/metrics/series is limited to 31 days"));
    }
    let series = state
        .read(move |r| r.series_range(&agent, &metric, None, from, to))
        .await
        .map_err(|e| ApiError::storage(&e))?;
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
