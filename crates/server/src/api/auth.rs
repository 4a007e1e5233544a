//! `/v1/auth`: login, password change, and the middleware that guards every
//! non-public route.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::response::{ApiError, ApiJson, ApiOk, ApiResult, code};
use crate::auth::{self, TokenError};

/// The authenticated user, put into request extensions by [`require_user`]
/// (absent for the operator token).
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
}

/// Who is calling: a user with a JWT, or the Kubernetes operator with the
/// configured `[auth] operator_token`. Always in the request extensions of
/// protected routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    User,
    Operator,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED, message)
}

/// Rejects requests without a valid, unrevoked bearer token (401 with
/// oxmon 0.1's messages).
pub async fn require_user(State(state): AppStateRef, mut request: Request, next: Next) -> Response {
    let Some(header) = request.headers().get(header::AUTHORIZATION) else {
        return unauthorized("missing authorization header").into_response();
    };
    let token = match header.to_str().ok().and_then(|h| h.strip_prefix("Bearer ")) {
        Some(t) if !t.is_empty() => t,
        _ => return unauthorized("invalid authorization header").into_response(),
    };
    if auth::matches_secret(state.config.auth.operator_token.as_deref(), token) {
        request.extensions_mut().insert(Caller::Operator);
        return next.run(request).await;
    }
    let claims = match state.auth.verify(token) {
        Ok(c) => c,
        Err(TokenError::Expired) => {
            return ApiError::new(StatusCode::UNAUTHORIZED, code::TOKEN_EXPIRED, "token expired").into_response();
        }
        Err(TokenError::Invalid) => return unauthorized("invalid token").into_response(),
    };
    let name = claims.username.clone();
    let user = match state.management(move |m| m.user_by_name(&name)).await {
        Ok(Some(u)) => u,
        Ok(None) => return unauthorized("invalid token").into_response(),
        Err(e) => return ApiError::storage(&e).into_response(),
    };
    if user.id != claims.sub || user.token_version != claims.token_version {
        return unauthorized("token revoked").into_response();
    }
    request.extensions_mut().insert(AuthUser { id: user.id, username: user.username });
    request.extensions_mut().insert(Caller::User);
    next.run(request).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    username: String,
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginData {
    /// HS256 JWT for `Authorization: Bearer`.
    token: String,
    /// Lifetime of the token in seconds.
    expires_in: u64,
}

/// Log in (public). After 5 failed attempts for a user within 15 minutes,
/// logins for it are refused for 60 s with 429.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody, responses(
    (status = 200, description = "A token", body = Envelope<LoginData>),
    (status = 400, description = "Missing or malformed fields", body = EmptyEnvelope),
    (status = 401, description = "`invalid credentials`", body = EmptyEnvelope),
    (status = 429, description = "Too many failed logins (see `Retry-After`)", body = EmptyEnvelope)))]
pub async fn login(
    state: AppStateRef,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    if body.username.is_empty() || body.password.is_empty() {
        return Err(ApiError::bad_request("username and password are required"));
    }
    let ip = Some(peer.ip());
    if let Some(wait) = state.auth.locked_out(&body.username, ip) {
        let secs = wait.as_secs().max(1);
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            code::UNAUTHORIZED,
            format!("too many failed logins; try again in {secs} s"),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(response);
    }
    let (username, password) = (body.username.clone(), body.password);
    let now = state.clock.now_ms() / 1000;
    let user = state
        .management(move |m| {
            let user = m.user_by_name(&username)?;
            // Verify against a dummy hash for unknown users too, so timing
            // does not tell which user names exist.
            let hash = user.as_ref().map_or(auth::dummy_hash(), |u| u.password_hash.as_str());
            let ok = auth::verify_password(hash, &password);
            if let Some(u) = user.as_ref().filter(|u| ok && auth::needs_rehash(&u.password_hash)) {
                // An oxmon 0.1 bcrypt hash: store the proven password as argon2id.
                if m.rehash_password(&u.id, &u.password_hash, &auth::hash_password(&password), now)? {
                    tracing::info!(user = %u.username, "password hash upgraded from bcrypt to argon2id");
                }
            }
            Ok(user.filter(|_| ok))
        })
        .await?;
    let Some(user) = user else {
        state.auth.record_failure(&body.username, ip);
        tracing::info!(user = %body.username, %peer, "failed login");
        return Err(unauthorized("invalid credentials"));
    };
    state.auth.record_success(&user.username);
    let token = state.auth.issue(&user.id, &user.username, user.token_version, now);
    Ok(ApiOk::data(LoginData { token, expires_in: state.auth.expire_secs() }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    current_password: String,
    /// At least 8 characters.
    #[serde(default)]
    #[schema(required = true, min_length = 8)]
    new_password: String,
}

/// Shortest password accepted by `POST /v1/auth/password`.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Change the caller's password; revokes every token issued before,
/// including the caller's.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = PasswordBody,
    security(("bearer_auth" = [])), responses(
    (status = 200, description = "`password changed, please login again`", body = EmptyEnvelope),
    (status = 400, description = "Missing fields or a new password under 8 characters", body = EmptyEnvelope),
    (status = 401, description = "Wrong current password or no valid token", body = EmptyEnvelope),
    (status = 403, description = "Called with the operator token", body = EmptyEnvelope)))]
pub async fn change_password(
    state: AppStateRef,
    user: Option<axum::Extension<AuthUser>>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult {
    let Some(axum::Extension(user)) = user else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, code::OTHER, "the operator token has no password to change"));
    };
    if body.current_password.is_empty() || body.new_password.is_empty() {
        return Err(ApiError::bad_request("current_password and new_password are required"));
    }
    if body.new_password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(format!("new_password must be at least {MIN_PASSWORD_LEN} characters")));
    }
    let now = state.clock.now_ms() / 1000;
    let changed = state
        .management(move |m| {
            let Some(record) = m.user_by_name(&user.username)? else { return Ok(false) };
            if !auth::verify_password(&record.password_hash, &body.current_password) {
                return Ok(false);
            }
            m.set_password(&record.id, &auth::hash_password(&body.new_password), now)
        })
        .await?;
    if !changed {
        return Err(unauthorized("invalid credentials"));
    }
    Ok(ApiOk::message("password changed, please login again"))
}
