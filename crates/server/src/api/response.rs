//! The response envelope `{err_code, err_msg, trace_id, data}`, API errors
//! and extractors whose rejections use the same envelope.
//!
//! Every response carries `X-Trace-Id`; the id is set by [`trace_id`]
//! middleware in a task-local, so handlers never pass it around.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

tokio::task_local! {
    static TRACE_ID: String;
}

pub const TRACE_HEADER: &str = "x-trace-id";

/// On every page of a list: how many items match the list's filters,
/// whatever `limit` and `offset` are.
pub const TOTAL_COUNT_HEADER: &str = "x-total-count";

/// Business error codes of oxmon 0.1 (spec/api.md §2.1).
pub mod code {
    pub const OK: i32 = 0;
    pub const BAD_REQUEST: i32 = 1001;
    pub const UNAUTHORIZED: i32 = 1002;
    pub const TOKEN_EXPIRED: i32 = 1003;
    pub const NOT_FOUND: i32 = 1004;
    pub const CONFLICT: i32 = 1005;
    pub const PAYLOAD_TOO_LARGE: i32 = 1001;
    pub const INTERNAL: i32 = 1500;
    pub const STORAGE: i32 = 1501;
    /// 0.1's catch-all for named errors (`no_config`, `invalid_config`,
    /// `unknown_channel_type`, `missing_config`, ...).
    pub const OTHER: i32 = 1999;
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    err_code: i32,
    err_msg: &'a str,
    trace_id: &'a str,
    data: T,
}

fn current_trace_id() -> String {
    TRACE_ID.try_with(Clone::clone).unwrap_or_else(|_| new_trace_id())
}

/// 16 lowercase hex characters from 8 random bytes.
pub fn new_trace_id() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn envelope<T: Serialize>(status: StatusCode, err_code: i32, err_msg: &str, data: T) -> Response {
    let trace_id = current_trace_id();
    let body = serde_json::to_vec(&Envelope { err_code, err_msg, trace_id: &trace_id, data });
    match body {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A successful enveloped response.
#[derive(Debug)]
pub struct ApiOk(Response);

impl ApiOk {
    /// 200 with `data`, `err_msg = "success"`.
    pub fn data<T: Serialize>(data: T) -> Self {
        Self(envelope(StatusCode::OK, code::OK, "success", data))
    }

    /// 200 with one page of a list in `data` and `total`, the number of
    /// items matching the list's filters, in `X-Total-Count`. Every paged
    /// list answers through this, so the body keeps 0.1's shape.
    pub fn page<T: Serialize>(data: T, total: u64) -> Self {
        let mut response = envelope(StatusCode::OK, code::OK, "success", data);
        response.headers_mut().insert(TOTAL_COUNT_HEADER, HeaderValue::from(total));
        Self(response)
    }

    /// 201 with `data`.
    pub fn created<T: Serialize>(data: T) -> Self {
        Self(envelope(StatusCode::CREATED, code::OK, "success", data))
    }

    /// 200 with `data = null` and an action message.
    pub fn message(msg: &str) -> Self {
        Self(envelope(StatusCode::OK, code::OK, msg, ()))
    }
}

impl IntoResponse for ApiOk {
    fn into_response(self) -> Response {
        self.0
    }
}

/// An error answered with the envelope and `data = null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i32,
    pub message: String,
}

pub type ApiResult = Result<ApiOk, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: i32, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
    }

    pub fn storage(error: &oxmon_storage::Error) -> Self {
        tracing::error!(%error, "storage query failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code::STORAGE, "Internal query error")
    }
}

/// Storage failures are logged and answered 500/1501 `Internal query error`.
impl From<oxmon_storage::Error> for ApiError {
    fn from(error: oxmon_storage::Error) -> Self {
        ApiError::storage(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        envelope(self.status, self.code, &self.message, ())
    }
}

/// Assigns the request's trace id and copies it to `X-Trace-Id`.
pub async fn trace_id(request: Request, next: Next) -> Response {
    let id = new_trace_id();
    let mut response = TRACE_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(TRACE_HEADER, v);
    }
    response
}

/// Unknown routes: an enveloped 404 instead of an empty body.
pub async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no route for {} {}", request.method(), request.uri().path()))
}

/// A known path with a method it does not have: an enveloped 405 (the
/// router adds the `Allow` header).
pub async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::BAD_REQUEST,
        format!("method {} is not allowed on {}", request.method(), request.uri().path()),
    )
}

/// `Query<T>` whose rejection is an enveloped 400 naming the problem.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(q) => Ok(Self(q.0)),
            Err(e) => Err(query_rejection(e)),
        }
    }
}

fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("invalid query string: {}", e.body_text()))
}

/// `Json<T>` whose rejections are enveloped: 400 for malformed JSON or wrong
/// types, 413 for bodies over the limit, 415 without a JSON content type.
///
/// A tolerant reader, as oxmon 0.1 was: fields of the body that `T` does
/// not know are ignored (a client that GETs an object, edits it and PUTs it
/// back sends read-only fields such as `id` or `created_at`). They are
/// named in a DEBUG log, found through `T`'s OpenAPI schema.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + ToSchema> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::BAD_REQUEST,
                "invalid request body: Expected request with `Content-Type: application/json`",
            ));
        }
        let path = req.uri().path().to_owned();
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            let status = if status == StatusCode::PAYLOAD_TOO_LARGE { status } else { StatusCode::BAD_REQUEST };
            ApiError::new(status, code::BAD_REQUEST, format!("invalid request body: {}", e.body_text()))
        })?;
        let Json(body) = Json::<T>::from_bytes(&bytes).map_err(json_rejection)?;
        if tracing::enabled!(tracing::Level::DEBUG)
            && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
        {
            let ignored = unknown_fields::<T>(&value);
            if !ignored.is_empty() {
                tracing::debug!(%path, fields = ?ignored, "request body: unknown fields ignored");
            }
        }
        Ok(Self(body))
    }
}

/// `application/json` or any `+json` type, as axum's `Json` requires.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some((kind, sub)) = essence.split_once('/') else { return false };
    kind == "application" && (sub == "json" || sub.ends_with("+json"))
}

/// Top-level keys of `body` that are not properties of `T`'s schema.
pub fn unknown_fields<T: ToSchema>(body: &serde_json::Value) -> Vec<String> {
    let (Some(fields), RefOr::T(Schema::Object(schema))) = (body.as_object(), T::schema()) else {
        return Vec::new();
    };
    fields.keys().filter(|k| !schema.properties.contains_key(*k)).cloned().collect()
}

fn json_rejection(e: JsonRejection) -> ApiError {
    let status = e.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE { code::PAYLOAD_TOO_LARGE } else { code::BAD_REQUEST };
    let status = match status {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => status,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, code, format!("invalid request body: {}", e.body_text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, ToSchema)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        note: Option<String>,
    }

    #[test]
    fn unknown_fields_are_the_keys_the_schema_lacks() {
        let body = serde_json::json!({"name": "n", "id": 1, "note": null, "created_at": "x"});
        let mut unknown = unknown_fields::<Body>(&body);
        unknown.sort();
        assert_eq!(unknown, ["created_at", "id"]);
        assert!(unknown_fields::<Body>(&serde_json::json!([1])).is_empty());
    }
}
