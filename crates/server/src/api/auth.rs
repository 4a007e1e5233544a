//! `/v1/auth`: login, browser sessions, password change, and the middleware
//! that guards every non-public route.
//!
//! One auth model for the API and the web console: a JWT, sent either as
//! `Authorization: Bearer` (API clients) or in the `oxmon_session` cookie
//! (`HttpOnly; SameSite=Strict; Path=/`) that `POST /v1/auth/session` sets
//! (the console). Expiry and the password-change revocation apply to both.
//! A request authenticated by the cookie that may change state (any method
//! but GET, HEAD, OPTIONS) must echo the `oxmon_csrf` cookie in an
//! `X-CSRF-Token` header (double submit); bearer requests are unaffected.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
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

/// The cookie holding the session's JWT (`HttpOnly`).
pub const SESSION_COOKIE: &str = "oxmon_session";
/// The cookie holding the CSRF token (readable by the page's script).
pub const CSRF_COOKIE: &str = "oxmon_csrf";
/// The header that must echo [`CSRF_COOKIE`] on state-changing requests
/// authenticated by [`SESSION_COOKIE`].
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether the request carries an `X-CSRF-Token` header equal to its
/// `oxmon_csrf` cookie (compared in constant time).
fn csrf_ok(headers: &HeaderMap) -> bool {
    let given = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or("");
    !given.is_empty() && auth::matches_secret(Some(expected), given)
}

fn csrf_refused() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        code::OTHER,
        "missing or wrong X-CSRF-Token header: requests authenticated by the session cookie that change state must \
         echo the oxmon_csrf cookie in it",
    )
    .into_response()
}

/// Rejects requests without a valid, unrevoked token, given as a bearer
/// header or the session cookie (401 with oxmon 0.1's messages), and
/// cookie-authenticated state-changing requests without the CSRF token (403).
pub async fn require_user(State(state): AppStateRef, mut request: Request, next: Next) -> Response {
    let token = if let Some(header) = request.headers().get(header::AUTHORIZATION) {
        let token = match header.to_str().ok().and_then(|h| h.strip_prefix("Bearer ")) {
            Some(t) if !t.is_empty() => t.to_owned(),
            _ => return unauthorized("invalid authorization header").into_response(),
        };
        if auth::matches_secret(state.config.auth.operator_token.as_deref(), &token) {
            request.extensions_mut().insert(Caller::Operator);
            return next.run(request).await;
        }
        token
    } else if let Some(token) = cookie(request.headers(), SESSION_COOKIE).filter(|t| !t.is_empty()) {
        let token = token.to_owned();
        let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe && !csrf_ok(request.headers()) {
            return csrf_refused();
        }
        token
    } else {
        return unauthorized("missing authorization header").into_response();
    };
    let claims = match state.auth.verify(&token) {
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
    let (token, _) = match authenticate(&state, peer, body).await? {
        Ok(t) => t,
        Err(refused) => return Ok(refused),
    };
    Ok(ApiOk::data(LoginData { token, expires_in: state.auth.expire_secs() }).into_response())
}

/// Checks the credentials: `Ok(Ok((token, username)))`, or `Ok(Err(response))`
/// when the login is throttled (429).
async fn authenticate(
    state: &AppStateRef,
    peer: SocketAddr,
    body: LoginBody,
) -> Result<Result<(String, String), Response>, ApiError> {
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
        return Ok(Err(response));
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
    Ok(Ok((token, user.username)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionData {
    /// The logged-in user (`null` for the operator token).
    username: Option<String>,
    /// Seconds the session lasts from its login (the token lifetime).
    expires_in: u64,
    /// The CSRF token: send it as `X-CSRF-Token` on state-changing requests
    /// (it is also in the `oxmon_csrf` cookie).
    csrf_token: Option<String>,
}

/// Whether the session cookies get `Secure`: `[http] secure_cookies`, or the
/// request came over TLS through a proxy (`X-Forwarded-Proto: https`).
fn secure_cookies(state: &AppStateRef, headers: &HeaderMap) -> bool {
    state.config.http.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: u64, http_only: bool, secure: bool) {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Strict");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// A random CSRF token (32 bytes, hex).
fn new_csrf_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Log in for a browser session (public; the web console uses it). Same
/// credentials, throttling and token as `/auth/login`, but the token is
/// set in the `oxmon_session` cookie (`HttpOnly; SameSite=Strict; Path=/`,
/// `Secure` over TLS or with `[http] secure_cookies`) instead of the body,
/// with a CSRF token in the `oxmon_csrf` cookie and the body.
#[utoipa::path(post, path = "/auth/session", tag = "auth", request_body = LoginBody, responses(
    (status = 200, description = "Logged in; `Set-Cookie: oxmon_session=...; HttpOnly` and `oxmon_csrf=...`",
        body = Envelope<SessionData>),
    (status = 400, description = "Missing or malformed fields", body = EmptyEnvelope),
    (status = 401, description = "`invalid credentials`", body = EmptyEnvelope),
    (status = 429, description = "Too many failed logins (see `Retry-After`)", body = EmptyEnvelope)))]
pub async fn create_session(
    state: AppStateRef,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let (token, username) = match authenticate(&state, peer, body).await? {
        Ok(t) => t,
        Err(refused) => return Ok(refused),
    };
    let secure = secure_cookies(&state, &headers);
    let expires_in = state.auth.expire_secs();
    let csrf = new_csrf_token();
    let mut response =
        ApiOk::data(SessionData { username: Some(username), expires_in, csrf_token: Some(csrf.clone()) })
            .into_response();
    set_cookie(&mut response, SESSION_COOKIE, &token, expires_in, true, secure);
    set_cookie(&mut response, CSRF_COOKIE, &csrf, expires_in, false, secure);
    Ok(response)
}

/// The session's user (requires a valid session cookie or bearer token).
#[utoipa::path(get, path = "/auth/session", tag = "auth",
    security(("bearer_auth" = []), ("cookie_auth" = [])), responses(
    (status = 200, description = "Who is logged in", body = Envelope<SessionData>),
    (status = 401, description = "No valid session", body = EmptyEnvelope)))]
pub async fn get_session(state: AppStateRef, headers: HeaderMap, user: Option<axum::Extension<AuthUser>>) -> ApiResult {
    Ok(ApiOk::data(SessionData {
        username: user.map(|u| u.0.username),
        expires_in: state.auth.expire_secs(),
        csrf_token: cookie(&headers, CSRF_COOKIE).map(str::to_owned),
    }))
}

/// Log out (public): clears the session cookies. With a session cookie,
/// the `X-CSRF-Token` header must match as on every state-changing request.
/// The token itself stays valid until it expires or the password changes.
#[utoipa::path(delete, path = "/auth/session", tag = "auth", responses(
    (status = 200, description = "`logged out`; both cookies cleared", body = EmptyEnvelope),
    (status = 403, description = "Session cookie without the CSRF token", body = EmptyEnvelope)))]
pub async fn delete_session(state: AppStateRef, headers: HeaderMap) -> Response {
    if cookie(&headers, SESSION_COOKIE).is_some_and(|t| !t.is_empty()) && !csrf_ok(&headers) {
        return csrf_refused();
    }
    let secure = secure_cookies(&state, &headers);
    let mut response = ApiOk::message("logged out").into_response();
    set_cookie(&mut response, SESSION_COOKIE, "", 0, true, secure);
    set_cookie(&mut response, CSRF_COOKIE, "", 0, false, secure);
    response
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
