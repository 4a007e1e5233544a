//! The Prometheus HTTP API on the HTTP port: PromQL queries
//! (`/api/v1/query`, `/api/v1/query_range`), series and label discovery,
//! metadata, build info, and the remote_write receiver (`/api/v1/write`).
//!
//! Prometheus's JSON shapes and errors
//! (`{"status":"error","errorType":"bad_data","error":"..."}`), not oxmon's
//! envelope; these routes are not part of the `/v1` OpenAPI document.
//! Reads take a user's token (as `/v1`), the operator token or
//! `[prometheus] read_token`; writes a user's token, an agent's token (for
//! its own series), `agent_shared_token` or `[prometheus] write_token`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oxmon_common::proto::{MAX_POINTS_PER_BATCH, MetricBatchProto, MetricDataPointProto};
use oxmon_common::remote_write;
use oxmon_query::{Labels, Limits, Range, Value, format_value};
use serde_json::{Map, json};

use crate::api::auth::Caller;
use crate::grpc::{Validation, store};
use crate::promql::{AGENT_LABEL, INSTANCE_LABEL, PartitionStorage};
use crate::state::AppState;

/// Agent id of remote-written series that carry neither `agent_id` nor
/// `instance`.
pub const DEFAULT_REMOTE_AGENT: &str = "remote_write";

/// The Prometheus version whose API these endpoints follow (what
/// `/api/v1/status/buildinfo` reports, so clients such as Grafana pick
/// matching features).
pub const PROMETHEUS_API_VERSION: &str = "2.42.0";

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let read = Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(label_names).post(label_names))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_reader));
    let write = Router::new()
        .route("/api/v1/write", post(write))
        .route_layer(middleware::from_fn_with_state(state, require_writer));
    read.merge(write)
}

// === errors and responses ===

/// A Prometheus API error.
#[derive(Debug)]
struct PromError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl PromError {
    fn bad_data(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind: "bad_data", message: message.into() }
    }
}

impl From<oxmon_query::Error> for PromError {
    fn from(e: oxmon_query::Error) -> Self {
        let status = match &e {
            oxmon_query::Error::BadData(_) => StatusCode::BAD_REQUEST,
            oxmon_query::Error::Execution(_) | oxmon_query::Error::TooManySamples => StatusCode::UNPROCESSABLE_ENTITY,
            oxmon_query::Error::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            oxmon_query::Error::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "prometheus query failed");
        }
        Self { status, kind: e.error_type(), message: e.to_string() }
    }
}

impl IntoResponse for PromError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "errorType": self.kind, "error": self.message});
        (self.status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    }
}

fn success(data: serde_json::Value) -> Response {
    let body = json!({"status": "success", "data": data});
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

// === auth ===

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
}

/// The password of HTTP basic auth (`Authorization: Basic ...`), for
/// clients that can send no bearer token (`promtool`, URLs with user info).
fn basic_password(headers: &HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let encoded = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, p)| p.to_owned())
}

/// `[prometheus] read_token` (as a bearer token, or as the password of
/// basic auth), or whatever `/v1` accepts.
async fn require_reader(state: State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let read_token = state.config.prometheus.read_token.as_deref();
    if bearer(request.headers()).is_some_and(|t| crate::auth::matches_secret(read_token, t))
        || basic_password(request.headers()).is_some_and(|p| crate::auth::matches_secret(read_token, &p))
    {
        return next.run(request).await;
    }
    crate::api::auth::require_user(state, request, next).await
}

/// Who may write: anyone the token allows (`All`) or only the agent(s)
/// whose whitelist token it is (checked against the series in the body).
#[derive(Clone, Debug)]
enum Writer {
    All,
    AgentToken(String),
}

/// `[prometheus] write_token` or `agent_shared_token`: any series; a
/// user's token (checked as on `/v1`): any series; anything else is tried
/// as an agent's whitelist token by the handler.
async fn require_writer(state: State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let Some(token) = bearer(request.headers()).map(str::to_owned) else {
        return PromError {
            status: StatusCode::UNAUTHORIZED,
            kind: "unauthorized",
            message: "missing bearer token".into(),
        }
        .into_response();
    };
    let config = &state.config;
    if crate::auth::matches_secret(config.prometheus.write_token.as_deref(), &token)
        || crate::auth::matches_secret(config.agent_shared_token.as_deref(), &token)
    {
        request.extensions_mut().insert(Writer::All);
        return next.run(request).await;
    }
    if state.auth.verify(&token).is_ok() {
        request.extensions_mut().insert(Writer::All);
        return crate::api::auth::require_user(state, request, next).await;
    }
    request.extensions_mut().insert(Writer::AgentToken(token));
    next.run(request).await
}

// === parameters ===

/// Parameters from the query string and, for POST, a form body.
fn params(method: &Method, raw: Option<String>, headers: &HeaderMap, body: &Bytes) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if *method == Method::POST && is_form {
        out.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    out
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn params_all(p: &[(String, String)], name: &str) -> Vec<String> {
    p.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

/// Prometheus's `parseTime`: Unix seconds (fractions allowed) or RFC 3339.
pub fn parse_time(name: &str, s: &str) -> Result<i64, PromErrorPublic> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    s.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(|_| {
        PromErrorPublic(format!("invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"))
    })
}

/// Prometheus's `parseDuration`: seconds (fractions allowed) or a PromQL
/// duration such as `5m`.
pub fn parse_duration(name: &str, s: &str) -> Result<i64, PromErrorPublic> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    oxmon_query::parse_duration(s)
        .ok_or(())
        .map_err(|_| PromErrorPublic(format!("invalid parameter \"{name}\": cannot parse \"{s}\" to a valid duration")))
}

/// A parameter error (`bad_data`).
#[derive(Debug, PartialEq, Eq)]
pub struct PromErrorPublic(pub String);

impl From<PromErrorPublic> for PromError {
    fn from(e: PromErrorPublic) -> Self {
        PromError::bad_data(e.0)
    }
}

fn limits(state: &AppState, p: &[(String, String)]) -> Result<Limits, PromError> {
    let mut timeout = Duration::from_secs(state.config.prometheus.query_timeout_secs);
    if let Some(t) = param(p, "timeout") {
        let ms = parse_duration("timeout", t)?;
        if ms > 0 {
            timeout = timeout.min(Duration::from_millis(ms as u64));
        }
    }
    Ok(Limits { max_samples: state.config.prometheus.max_samples, timeout })
}

/// Runs `f` over the partitions on a blocking thread.
async fn with_storage<T: Send + 'static>(
    state: &Arc<AppState>,
    max_samples: usize,
    f: impl FnOnce(&PartitionStorage<'_>) -> oxmon_query::Result<T> + Send + 'static,
) -> Result<T, PromError> {
    let reader = state.reader.clone();
    let joined = tokio::task::spawn_blocking(move || f(&PartitionStorage::new(&reader, max_samples))).await;
    match joined {
        Ok(r) => r.map_err(PromError::from),
        Err(e) => Err(PromError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            message: format!("query task failed: {e}"),
        }),
    }
}

fn labels_json(l: &Labels) -> serde_json::Value {
    serde_json::Value::Object(l.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>())
}

fn time_json(ms: i64) -> serde_json::Value {
    // Seconds with millisecond precision, as a JSON number.
    let v = ms as f64 / 1000.0;
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

// === handlers ===

async fn query(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&method, raw, &headers, &body);
    run_query(state, p).await.unwrap_or_else(IntoResponse::into_response)
}

async fn run_query(state: Arc<AppState>, p: Vec<(String, String)>) -> Result<Response, PromError> {
    let q = param(&p, "query").ok_or_else(|| PromError::bad_data("invalid parameter \"query\": query is empty"))?;
    let time = match param(&p, "time") {
        Some(t) => parse_time("time", t)?,
        None => state.clock.now_ms(),
    };
    let limits = limits(&state, &p)?;
    let q = q.to_owned();
    let value =
        with_storage(&state, limits.max_samples, move |s| oxmon_query::instant_query(s, &q, time, limits)).await?;
    let data = match value {
        Value::Scalar(v) => json!({"resultType": "scalar", "result": [time_json(time), format_value(v)]}),
        Value::String(s) => json!({"resultType": "string", "result": [time_json(time), s]}),
        Value::Vector(v) => json!({
            "resultType": "vector",
            "result": v.iter().map(|e| json!({"metric": labels_json(&e.labels), "value": [time_json(time), format_value(e.v)]})).collect::<Vec<_>>(),
        }),
        Value::Matrix(m) => json!({
            "resultType": "matrix",
            "result": m.iter().map(|s| json!({
                "metric": labels_json(&s.labels),
                "values": s.samples.iter().map(|p| json!([time_json(p.t), format_value(p.v)])).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
    };
    Ok(success(data))
}

async fn query_range(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&method, raw, &headers, &body);
    run_query_range(state, p).await.unwrap_or_else(IntoResponse::into_response)
}

async fn run_query_range(state: Arc<AppState>, p: Vec<(String, String)>) -> Result<Response, PromError> {
    let q = param(&p, "query").ok_or_else(|| PromError::bad_data("invalid parameter \"query\": query is empty"))?;
    let start = parse_time(
        "start",
        param(&p, "start").ok_or_else(|| PromError::bad_data("invalid parameter \"start\": missing"))?,
    )?;
    let end =
        parse_time("end", param(&p, "end").ok_or_else(|| PromError::bad_data("invalid parameter \"end\": missing"))?)?;
    let step = parse_duration(
        "step",
        param(&p, "step").ok_or_else(|| PromError::bad_data("invalid parameter \"step\": missing"))?,
    )?;
    let limits = limits(&state, &p)?;
    let q = q.to_owned();
    let range = Range { start_ms: start, end_ms: end, step_ms: step };
    let m = with_storage(&state, limits.max_samples, move |s| oxmon_query::range_query(s, &q, range, limits)).await?;
    Ok(success(json!({
        "resultType": "matrix",
        "result": m.iter().map(|s| json!({
            "metric": labels_json(&s.labels),
            "values": s.samples.iter().map(|p| json!([time_json(p.t), format_value(p.v)])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })))
}

/// `start`/`end` of the discovery endpoints: all kept data by default.
fn discovery_range(state: &AppState, p: &[(String, String)]) -> Result<(i64, i64), PromError> {
    let now = state.clock.now_ms();
    let start = match param(p, "start") {
        Some(s) => parse_time("start", s)?,
        None => Validation::at(now, state.config.retention_days, false).oldest_ms,
    };
    let end = match param(p, "end") {
        Some(s) => parse_time("end", s)?,
        None => now + crate::grpc::MAX_FUTURE_MS,
    };
    Ok((start, end))
}

async fn matching_series(
    state: &Arc<AppState>,
    p: &[(String, String)],
    required: bool,
) -> Result<Vec<Labels>, PromError> {
    let (start, end) = discovery_range(state, p)?;
    let mut selectors = params_all(p, "match[]");
    if selectors.is_empty() {
        if required {
            return Err(PromError::bad_data("no match[] parameter provided"));
        }
        selectors.push("{__name__=~\".+\"}".to_owned());
    }
    let max = state.config.prometheus.max_samples;
    with_storage(state, max, move |s| oxmon_query::find_series(s, &selectors, start, end)).await
}

async fn series(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&method, raw, &headers, &body);
    match matching_series(&state, &p, true).await {
        Ok(all) => success(serde_json::Value::Array(all.iter().map(labels_json).collect())),
        Err(e) => e.into_response(),
    }
}

async fn label_names(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&method, raw, &headers, &body);
    match matching_series(&state, &p, false).await {
        Ok(all) => {
            let names: BTreeSet<&String> = all.iter().flat_map(|l| l.keys()).collect();
            success(json!(names))
        }
        Err(e) => e.into_response(),
    }
}

async fn label_values(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if !oxmon_query::is_label_name(&name) {
        return PromError::bad_data(format!("invalid label name: \"{name}\"")).into_response();
    }
    let p = params(&Method::GET, raw, &headers, &Bytes::new());
    match matching_series(&state, &p, false).await {
        Ok(all) => {
            let values: BTreeSet<&String> = all.iter().filter_map(|l| l.get(&name)).collect();
            success(json!(values))
        }
        Err(e) => e.into_response(),
    }
}

async fn metadata(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let p = params(&Method::GET, raw, &headers, &Bytes::new());
    let (start, end) = match discovery_range(&state, &[]) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let names = state
        .read(move |r| r.distinct(oxmon_storage::reader::SeriesField::MetricName, start, end, usize::MAX, 0))
        .await;
    let names = match names {
        Ok(n) => n,
        Err(e) => {
            return PromError { status: StatusCode::INTERNAL_SERVER_ERROR, kind: "internal", message: e.to_string() }
                .into_response();
        }
    };
    let wanted = param(&p, "metric");
    let limit = param(&p, "limit").and_then(|l| l.parse::<i64>().ok()).filter(|l| *l >= 0);
    let mut out = Map::new();
    for name in names {
        let prom = remote_write::prometheus_name(&name);
        if wanted.is_some_and(|w| w != prom) || out.contains_key(&prom) {
            continue;
        }
        if limit.is_some_and(|l| out.len() as i64 >= l) {
            break;
        }
        let kind = if oxmon_common::metric::AGENT_METRICS.contains(&name.as_str()) { "gauge" } else { "unknown" };
        out.insert(prom, json!([{"type": kind, "help": format!("oxmon metric {name}"), "unit": ""}]));
    }
    success(serde_json::Value::Object(out))
}

async fn buildinfo() -> Response {
    success(json!({
        "version": PROMETHEUS_API_VERSION,
        "revision": format!("oxmon-server {}", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

// === remote_write ===

fn write_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

/// `POST /api/v1/write`: remote-write 1.0. 204 once every sample is stored;
/// 400 for a body that is not a `WriteRequest`, a bad series or sample
/// (nothing stored) or samples outside the accepted time window (the rest
/// stored, as Prometheus's receiver does); 401 for a token that may not
/// write these series; 503 while storage is overloaded (senders retry).
async fn write(
    State(state): State<Arc<AppState>>,
    writer: Option<axum::Extension<Writer>>,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let writer = match (writer, caller) {
        (_, Some(_)) => Writer::All,
        (Some(axum::Extension(w)), None) => w,
        (None, None) => Writer::All,
    };
    let request = match remote_write::decode(&body) {
        Ok(r) => r,
        Err(e) => return write_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let points = match to_points(request) {
        Ok(p) => p,
        Err(message) => return write_error(StatusCode::BAD_REQUEST, message),
    };
    if points.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut agents: Vec<String> = Vec::new();
    for p in &points {
        if !agents.contains(&p.agent_id) {
            agents.push(p.agent_id.clone());
        }
    }
    if let Writer::AgentToken(token) = writer {
        for agent in &agents {
            let (id, t) = (agent.clone(), token.clone());
            match state.management(move |m| m.verify_agent_token(&id, &t)).await {
                Ok(Some(true)) => {}
                Ok(_) => {
                    return write_error(
                        StatusCode::UNAUTHORIZED,
                        format!(
                            "the bearer token is not a user's token, a write token or the token of agent {agent:?}"
                        ),
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "remote_write authentication failed");
                    return write_error(StatusCode::INTERNAL_SERVER_ERROR, "authentication error");
                }
            }
        }
    }
    let now = state.clock.now_ms();
    let rules = Validation::at(now, state.config.retention_days, false);
    let total = points.len();
    let mut samples = Vec::with_capacity(total);
    let mut refused = Vec::new();
    let mut stored_agents: Vec<String> = Vec::new();
    let mut offset = 0u32;
    let mut points = points;
    while !points.is_empty() {
        let rest = points.split_off(points.len().min(MAX_POINTS_PER_BATCH));
        let chunk = std::mem::replace(&mut points, rest);
        let n = chunk.len() as u32;
        let batch = MetricBatchProto { agent_id: chunk[0].agent_id.clone(), timestamp_ms: now, data_points: chunk };
        match rules.check(batch) {
            Ok(checked) => {
                for a in checked.stored_agents() {
                    if !stored_agents.contains(&a) {
                        stored_agents.push(a);
                    }
                }
                samples.extend(checked.samples);
                refused.extend(checked.refused.into_iter().map(|mut r| {
                    r.index += offset;
                    r
                }));
            }
            Err(crate::grpc::Rejection::Invalid(m)) | Err(crate::grpc::Rejection::PermissionDenied(m)) => {
                return write_error(StatusCode::BAD_REQUEST, m);
            }
        }
        offset += n;
    }
    if !refused.is_empty() {
        state
            .telemetry
            .dropped("expired", refused.iter().filter(|r| r.reason == crate::grpc::Refusal::Expired).count() as u64);
        state
            .telemetry
            .dropped("future", refused.iter().filter(|r| r.reason == crate::grpc::Refusal::Future).count() as u64);
    }
    match store(&state, samples, &stored_agents, now).await {
        Ok(()) if refused.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Ok(()) => write_error(StatusCode::BAD_REQUEST, rules.refusal_message(&refused, total)),
        Err(oxmon_storage::Error::Overloaded) => {
            write_error(StatusCode::SERVICE_UNAVAILABLE, "server busy: storage queue full, retry later")
        }
        Err(e) => {
            tracing::error!(error = %e, "storing remote_write samples failed");
            write_error(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
        }
    }
}

/// The data points of a `WriteRequest`, named back to oxmon: the metric by
/// [`remote_write::oxmon_metric_name`], the agent from `agent_id`, else
/// `instance`, else [`DEFAULT_REMOTE_AGENT`]; other labels as sent (an
/// `instance` that differs from `agent_id` is kept as a label). Staleness
/// markers are skipped: oxmon's lookback ends a series by its gap.
fn to_points(request: remote_write::WriteRequest) -> Result<Vec<MetricDataPointProto>, String> {
    let mut out = Vec::new();
    for (i, ts) in request.timeseries.into_iter().enumerate() {
        let mut labels: HashMap<String, String> = HashMap::with_capacity(ts.labels.len());
        for l in ts.labels {
            if l.value.is_empty() {
                continue;
            }
            if labels.insert(l.name.clone(), l.value).is_some() {
                return Err(format!("series {i}: label {:?} appears twice", l.name));
            }
        }
        let Some(name) = labels.remove(oxmon_query::METRIC_NAME) else {
            return Err(format!("series {i}: no __name__ label"));
        };
        let agent = match labels.remove(AGENT_LABEL) {
            Some(a) => {
                if labels.get(INSTANCE_LABEL) == Some(&a) {
                    labels.remove(INSTANCE_LABEL);
                }
                a
            }
            None => labels.remove(INSTANCE_LABEL).unwrap_or_else(|| DEFAULT_REMOTE_AGENT.to_owned()),
        };
        let metric = remote_write::oxmon_metric_name(&name);
        for s in ts.samples {
            if s.is_stale_marker() {
                continue;
            }
            out.push(MetricDataPointProto {
                timestamp_ms: s.timestamp,
                agent_id: agent.clone(),
                metric_name: metric.clone(),
                value: s.value,
                labels: labels.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_parse_as_prometheus_does() {
        assert_eq!(parse_time("time", "1700000000.5"), Ok(1_700_000_000_500));
        assert_eq!(parse_time("time", "2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert!(parse_time("time", "yesterday").unwrap_err().0.contains("invalid parameter \"time\""));
        assert_eq!(parse_duration("step", "15"), Ok(15_000));
        assert_eq!(parse_duration("step", "1m30s"), Ok(90_000));
        assert!(parse_duration("step", "soon").is_err());
    }

    #[test]
    fn remote_series_are_named_back_to_oxmon() {
        let label = |n: &str, v: &str| remote_write::Label { name: n.into(), value: v.into() };
        let req = remote_write::WriteRequest {
            timeseries: vec![
                remote_write::TimeSeries {
                    labels: vec![label("__name__", "cpu_usage"), label("instance", "web-1"), label("job", "node")],
                    samples: vec![
                        remote_write::Sample { value: 1.0, timestamp: 10 },
                        remote_write::Sample { value: f64::from_bits(remote_write::STALE_NAN_BITS), timestamp: 20 },
                    ],
                },
                remote_write::TimeSeries {
                    labels: vec![label("__name__", "up"), label("agent_id", "a"), label("instance", "b")],
                    samples: vec![remote_write::Sample { value: 2.0, timestamp: 10 }],
                },
                remote_write::TimeSeries {
                    labels: vec![label("__name__", "job:up:sum")],
                    samples: vec![remote_write::Sample { value: 3.0, timestamp: 10 }],
                },
            ],
        };
        let p = to_points(req).unwrap();
        assert_eq!(p.len(), 3, "the staleness marker is skipped");
        assert_eq!((p[0].agent_id.as_str(), p[0].metric_name.as_str()), ("web-1", "cpu.usage"));
        assert_eq!(p[0].labels, HashMap::from([("job".to_owned(), "node".to_owned())]));
        assert_eq!((p[1].agent_id.as_str(), p[1].metric_name.as_str()), ("a", "up"));
        assert_eq!(p[1].labels, HashMap::from([("instance".to_owned(), "b".to_owned())]));
        assert_eq!(p[2].agent_id, DEFAULT_REMOTE_AGENT);
        let nameless = remote_write::WriteRequest {
            timeseries: vec![remote_write::TimeSeries { labels: vec![label("job", "x")], samples: vec![] }],
        };
        assert_eq!(to_points(nameless).unwrap_err(), "series 0: no __name__ label");
    }
}
