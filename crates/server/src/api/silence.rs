//! `/v1/notifications/silence-windows`: periods in which notifications are
//! held back. Unlike 0.1, a window is validated when it is written (0.1
//! stored bad ones and ignored them later), and it can name a time zone and
//! days of the week.

use axum::extract::Path;
use oxmon_common::rule::Source;
use oxmon_common::silence::Window;
use oxmon_storage::management::SilenceRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWindow {
    /// `HH:MM`.
    start_time: String,
    /// `HH:MM`; before `start_time` means the window runs past midnight.
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
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope),
        (status = 401, description = "No valid token", body = EmptyEnvelope)))]
pub async fn list(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let windows = state.management(move |m| m.silence_windows(page.limit, page.offset)).await?;
    Ok(ApiOk::data(windows.into_iter().map(WindowItem::from).collect::<Vec<_>>()))
}

/// Add a silence window.
#[utoipa::path(post, path = "/notifications/silence-windows", tag = "silence", request_body = CreateWindow,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The window", body = Envelope<WindowItem>),
        (status = 400, description = "Bad time, recurrence or time zone, with the reason", body = EmptyEnvelope),
        (status = 401, description = "No valid token", body = EmptyEnvelope)))]
pub async fn create(state: AppStateRef, ApiJson(body): ApiJson<CreateWindow>) -> ApiResult {
    let window =
        Window::parse(&body.start_time, &body.end_time, body.recurrence.as_deref()).map_err(ApiError::bad_request)?;
    let timezone = body.timezone.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).unwrap_or_else(|| "UTC".into());
    check_timezone(&timezone).map_err(ApiError::bad_request)?;
    let record = SilenceRecord {
        id: String::new(),
        name: body.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        start_time: window.start.to_string(),
        end_time: window.end.to_string(),
        recurrence: body.recurrence.map(|r| r.trim().to_ascii_lowercase()).filter(|r| !r.is_empty()),
        timezone,
        source: Source::Api.as_str().into(),
        created_at: 0,
        updated_at: 0,
    };
    let now = state.clock.now_ms() / 1000;
    let stored = state.management(move |m| m.create_silence_window(record, now)).await?;
    state.notifications_changed().await;
    Ok(ApiOk::created(WindowItem::from(stored)))
}

/// Remove a silence window.
#[utoipa::path(delete, path = "/notifications/silence-windows/{id}", tag = "silence", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Window id")), responses(
        (status = 200, description = "`Silence window deleted`", body = EmptyEnvelope),
        (status = 401, description = "No valid token", body = EmptyEnvelope),
        (status = 404, description = "`Silence window not found`", body = EmptyEnvelope),
        (status = 409, description = "The window belongs to a custom resource", body = EmptyEnvelope)))]
pub async fn delete(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let key = id.clone();
    let window = state
        .management(move |m| m.silence_window(&key))
        .await?
        .ok_or_else(|| ApiError::not_found("Silence window not found"))?;
    if Source::parse_lenient(&window.source) == Source::Crd {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            super::response::code::CONFLICT,
            "this silence window is managed by a Kubernetes SilenceWindow custom resource; delete it there",
        ));
    }
    state.management(move |m| m.delete_silence_window(&id)).await?;
    state.notifications_changed().await;
    Ok(ApiOk::message("Silence window deleted"))
}
