//! `/v1/notifications/silence-windows`: periods in which notifications are
//! held back. Unlike 0.1, a window is validated when it is written (0.1
//! stored bad ones and ignored them later), and it can name a time zone and
//! days of the week.

use axum::Extension;
use axum::extract::Path;
use oxmon_common::silence::Window;
use oxmon_storage::management::SilenceRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppStateRef;
use super::auth::Caller;
use super::openapi::{EmptyEnvelope, Envelope};
use super::ownership;
use super::params::{PageParams, present, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWindow {
    /// `HH:MM` (or `HH:MM:00`, stored as `HH:MM`).
    #[schema(pattern = r"^\s*([01][0-9]|2[0-3]):[0-5][0-9](:00)?\s*$")]
    start_time: String,
    /// `HH:MM` (or `HH:MM:00`); before `start_time` means the window runs
    /// past midnight. Must differ from `start_time`.
    #[schema(pattern = r"^\s*([01][0-9]|2[0-3]):[0-5][0-9](:00)?\s*$")]
    end_time: String,
    /// `daily` (default), `weekdays`, `weekends`, or days such as `mon,wed,fri`.
    recurrence: Option<String>,
    /// IANA time zone of the times (default `UTC`), e.g. `Asia/Shanghai`.
    timezone: Option<String>,
    /// A label for people (added in 0.2).
    name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WindowItem {
    id: String,
    name: Option<String>,
    start_time: String,
    end_time: String,
    recurrence: Option<String>,
    timezone: String,
    source: String,
    created_at: String,
    updated_at: String,
}

impl From<SilenceRecord> for WindowItem {
    fn from(w: SilenceRecord) -> Self {
        Self {
            created_at: rfc3339(w.created_at * 1000),
            updated_at: rfc3339(w.updated_at * 1000),
            id: w.id,
            name: w.name,
            start_time: w.start_time,
            end_time: w.end_time,
            recurrence: w.recurrence,
            timezone: w.timezone,
            source: w.source,
        }
    }
}

/// Checks an IANA time-zone name against the time-zone database.
pub fn check_timezone(name: &str) -> Result<(), String> {
    jiff::tz::TimeZone::get(name).map(drop).map_err(|_| format!("timezone {name:?} is not a known IANA time zone"))
}

/// Silence windows, newest first.
#[utoipa::path(get, path = "/notifications/silence-windows", tag = "silence", params(PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Windows", body = Envelope<Vec<WindowItem>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope)))]
pub async fn list(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let windows = state.management(move |m| m.silence_windows(page.limit, page.offset)).await?;
    Ok(ApiOk::page(windows.items.into_iter().map(WindowItem::from).collect::<Vec<_>>(), windows.total))
}

/// Body of `PUT /v1/notifications/silence-windows/{id}` (added in 0.2):
/// any subset; `null` clears `recurrence` (daily) or `name`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateWindow {
    start_time: Option<String>,
    end_time: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    recurrence: Option<Option<String>>,
    timezone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
}

/// Validates and normalises a window as it will be stored (the API and
/// `init-channels` share it): canonical `HH:MM`, lowercase recurrence,
/// `UTC` for an empty zone, trimmed name.
pub fn normalized(mut w: SilenceRecord) -> Result<SilenceRecord, String> {
    let (start, end) = (without_seconds("start_time", &w.start_time)?, without_seconds("end_time", &w.end_time)?);
    let window = Window::parse(start, end, w.recurrence.as_deref())?;
    w.timezone = Some(w.timezone.trim().to_owned()).filter(|t| !t.is_empty()).unwrap_or_else(|| "UTC".into());
    check_timezone(&w.timezone)?;
    w.start_time = window.start.to_string();
    w.end_time = window.end.to_string();
    w.recurrence = w.recurrence.map(|r| r.trim().to_ascii_lowercase()).filter(|r| !r.is_empty());
    w.name = w.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    Ok(w)
}

/// `HH:MM:SS` with zero seconds, which 0.1 clients send, as `HH:MM`;
/// anything else is left to [`Window::parse`]. Windows have minute
/// precision, so other seconds are refused rather than rounded.
fn without_seconds<'a>(field: &str, time: &'a str) -> Result<&'a str, String> {
    let t = time.trim();
    if t.len() != 8 || !t.is_ascii() {
        return Ok(t);
    }
    match t.split_at(5) {
        (hm, ":00") => Ok(hm),
        (_, sec) if sec.starts_with(':') && sec[1..].bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("{field} has minute precision; seconds must be 00, got {time:?}"))
        }
        _ => Ok(t),
    }
}

fn checked(w: SilenceRecord) -> Result<SilenceRecord, ApiError> {
    normalized(w).map_err(ApiError::bad_request)
}

fn not_found() -> ApiError {
    ApiError::not_found("Silence window not found")
}

/// A window `caller` may change.
async fn load_owned(state: &AppStateRef, caller: Caller, id: String) -> Result<SilenceRecord, ApiError> {
    let window = state.management(move |m| m.silence_window(&id)).await?.ok_or_else(not_found)?;
    let what = match &window.name {
        Some(name) => format!("silence window '{name}'"),
        None => format!("silence window {}", window.id),
    };
    ownership::check(caller, &window.source, &what, "SilenceWindow")?;
    Ok(window)
}

/// Add a silence window.
#[utoipa::path(post, path = "/notifications/silence-windows", tag = "silence", request_body = CreateWindow,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The window", body = Envelope<WindowItem>),
        (status = 400, description = "Bad time, recurrence or time zone, with the reason", body = EmptyEnvelope)))]
pub async fn create(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateWindow>,
) -> ApiResult {
    let record = checked(SilenceRecord {
        id: String::new(),
        name: body.name,
        start_time: body.start_time,
        end_time: body.end_time,
        recurrence: body.recurrence,
        timezone: body.timezone.unwrap_or_default(),
        source: ownership::source_for(caller).as_str().into(),
        created_at: 0,
        updated_at: 0,
    })?;
    let now = state.clock.now_ms() / 1000;
    let stored = state.management(move |m| m.create_silence_window(record, now)).await?;
    state.notifications_changed().await;
    Ok(ApiOk::created(WindowItem::from(stored)))
}

/// Change a silence window (added in 0.2; 0.1 could only delete and re-add).
#[utoipa::path(put, path = "/notifications/silence-windows/{id}", tag = "silence", request_body = UpdateWindow,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Window id")), responses(
        (status = 200, description = "The window", body = Envelope<WindowItem>),
        (status = 400, description = "Bad time, recurrence or time zone, with the reason", body = EmptyEnvelope),
        (status = 404, description = "`Silence window not found`", body = EmptyEnvelope),
        (status = 409, description = "The window belongs to a custom resource (or, for the operator, does not)", body = EmptyEnvelope)))]
pub async fn update(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWindow>,
) -> ApiResult {
    let mut w = load_owned(&state, caller, id).await?;
    if let Some(v) = body.start_time {
        w.start_time = v;
    }
    if let Some(v) = body.end_time {
        w.end_time = v;
    }
    if let Some(v) = body.recurrence {
        w.recurrence = v;
    }
    if let Some(v) = body.timezone {
        w.timezone = v;
    }
    if let Some(v) = body.name {
        w.name = v;
    }
    let w = checked(w)?;
    let now = state.clock.now_ms() / 1000;
    let stored = state.management(move |m| m.update_silence_window(&w, now)).await?.ok_or_else(not_found)?;
    state.notifications_changed().await;
    Ok(ApiOk::data(WindowItem::from(stored)))
}

/// Remove a silence window.
#[utoipa::path(delete, path = "/notifications/silence-windows/{id}", tag = "silence", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Window id")), responses(
        (status = 200, description = "`Silence window deleted`", body = EmptyEnvelope),
        (status = 404, description = "`Silence window not found`", body = EmptyEnvelope),
        (status = 409, description = "The window belongs to a custom resource (or, for the operator, does not)", body = EmptyEnvelope)))]
pub async fn delete(state: AppStateRef, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> ApiResult {
    let window = load_owned(&state, caller, id).await?;
    if !state.management(move |m| m.delete_silence_window(&window.id)).await? {
        return Err(not_found());
    }
    state.notifications_changed().await;
    Ok(ApiOk::message("Silence window deleted"))
}
