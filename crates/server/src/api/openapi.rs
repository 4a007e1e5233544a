//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! Routes are registered through `utoipa_axum::routes!`, which documents a
//! route in the same call that mounts it, so the document cannot miss one.
//! Served (public) at `/v1/openapi.json` and `/v1/openapi.yaml`.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Name of the security scheme (as in oxmon 0.1).
pub const BEARER: &str = "bearer_auth";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "oxmon API",
        description = "REST API of oxmon-server. Every response is an envelope \
            `{err_code, err_msg, trace_id, data}`; `err_code` 0 is success. All routes except \
            `/v1/health` and `/v1/auth/login` need `Authorization: Bearer <token>`.",
        license(name = "MIT")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and version"),
        (name = "auth", description = "Login and password"),
        (name = "agents", description = "Agents that report, and their latest values"),
        (name = "whitelist", description = "Agents allowed to report when agent auth is on"),
        (name = "metrics", description = "Stored samples"),
        (name = "rules", description = "Alert rules"),
        (name = "alerts", description = "Alert events"),
        (name = "certificates", description = "Certificate domains, checks and the certificates found"),
        (name = "channels", description = "Notification channels, their recipients and test sends"),
        (name = "notification-logs", description = "What was sent, to whom, and how it went"),
        (name = "silence", description = "Periods in which notifications are held back"),
        (name = "dashboard", description = "Front-page numbers"),
        (name = "system", description = "Configuration, storage and runtime settings"),
        (name = "dictionaries", description = "Named lists of constants for user interfaces")
    )
)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The response envelope around `data` (documentation of the wire shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// 0 on success, a business code otherwise.
    pub err_code: i32,
    /// `success`, an action message, or what went wrong.
    pub err_msg: String,
    /// The request's id, also in the `X-Trace-Id` header.
    pub trace_id: String,
    pub data: T,
}

/// An envelope whose `data` is null: errors and data-less successes.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmptyEnvelope {
    /// 0 on success; 1001 bad request, 1002 unauthorized, 1003 token expired,
    /// 1004 not found, 1005 conflict, 1500 internal, 1501 storage.
    pub err_code: i32,
    pub err_msg: String,
    pub trace_id: String,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
}
