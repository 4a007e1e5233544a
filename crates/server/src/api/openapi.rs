//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! Routes are registered through `utoipa_axum::routes!`, which documents a
//! route in the same call that mounts it, so the document cannot miss one.
//! Served (public) at `/v1/openapi.json` and `/v1/openapi.yaml`.

use std::collections::BTreeSet;

use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayItems, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi, ToSchema};

/// Name of the security scheme (as in oxmon 0.1).
pub const BEARER: &str = "bearer_auth";
/// Name of the session-cookie security scheme (the web console's).
pub const COOKIE: &str = "cookie_auth";

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
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::auth::SESSION_COOKIE,
                "The JWT in the `oxmon_session` cookie set by `POST /v1/auth/session` (the web console). \
                 State-changing requests (not GET/HEAD/OPTIONS) authenticated by it must send the `oxmon_csrf` \
                 cookie's value in an `X-CSRF-Token` header, or get 403.",
            ))),
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

/// Error responses shared by many operations, declared once in
/// `components/responses` and referenced by [`finish`]:
/// (status, component name, description).
const SHARED_RESPONSES: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "A query parameter or the body is malformed or invalid (1001); the message names it"),
    (
        "401",
        "Unauthorized",
        "No valid token: `missing authorization header`, `invalid authorization header`, \
         `invalid token`, `token revoked` (1002) or `token expired` (1003)",
    ),
    ("413", "PayloadTooLarge", "The body is larger than 1 MiB (1001)"),
    ("415", "UnsupportedMediaType", "The body is not sent as `Content-Type: application/json` (1001)"),
];

/// Properties that hold RFC 3339 instants, wherever they appear.
const DATE_TIME_PROPERTIES: &[&str] = &[
    "created_at",
    "updated_at",
    "timestamp",
    "last_seen",
    "first_seen",
    "last_checked",
    "last_checked_at",
    "checked_at",
    "not_before",
    "not_after",
    "predicted_breach",
    "first_triggered_at",
];

/// Completes the generated document with what holds for every operation,
/// so handlers do not repeat it:
/// - paged lists (operations with a `limit` parameter) answer 200 with
///   `X-Total-Count`, as [`super::response::ApiOk::page`] sets it;
/// - protected operations answer 401; operations with query parameters or
///   a body answer 400; operations with a JSON body answer 413 and 415 (an
///   operation's own description of a status wins);
/// - timestamps are `format: date-time`;
/// - every property of a response object is required: responses always
///   carry every field, `null` when there is no value.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description) in SHARED_RESPONSES {
        components.responses.insert((*name).to_owned(), RefOr::T(error_response(&format!("{description}."))));
    }
    let mut request_schemas = BTreeSet::new();
    for item in doc.paths.paths.values_mut() {
        for op in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
        {
            add_cookie_auth(op);
            add_shared_responses(op);
            add_total_count(op);
            if let Some(body) = &op.request_body {
                for content in body.content.values() {
                    if let Some(RefOr::Ref(r)) = &content.schema {
                        request_schemas.insert(schema_name(r).to_owned());
                    }
                }
            }
        }
    }
    // Request bodies may nest other components (a batch of items).
    let mut pending: Vec<String> = request_schemas.iter().cloned().collect();
    while let Some(name) = pending.pop() {
        if let Some(RefOr::T(schema)) = components.schemas.get(&name) {
            let mut nested = Vec::new();
            refs_in(schema, &mut nested);
            for n in nested {
                if request_schemas.insert(n.clone()) {
                    pending.push(n);
                }
            }
        }
    }
    for (name, schema) in components.schemas.iter_mut() {
        if let RefOr::T(schema) = schema {
            walk(schema, !request_schemas.contains(name));
        }
    }
    for item in doc.paths.paths.values_mut() {
        for op in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
        {
            for response in op.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    for content in response.content.values_mut() {
                        if let Some(RefOr::T(schema)) = &mut content.schema {
                            walk(schema, true);
                        }
                    }
                }
            }
        }
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(RefOr::Ref(Ref::from_schema_name("EmptyEnvelope")))).build(),
        )
        .build()
}

/// Every operation that takes the bearer token takes the session cookie too.
fn add_cookie_auth(op: &mut Operation) {
    let Some(security) = op.security.as_mut() else { return };
    let names = |r: &SecurityRequirement| {
        serde_json::to_value(r)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
            .unwrap_or_default()
    };
    let has = |name: &str, s: &Vec<SecurityRequirement>| s.iter().any(|r| names(r).iter().any(|n| n == name));
    if has(BEARER, security) && !has(COOKIE, security) {
        security.push(SecurityRequirement::new(COOKIE, Vec::<String>::new()));
    }
}

fn add_shared_responses(op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let has_query = op.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Query));
    for (status, name, _) in SHARED_RESPONSES {
        let applies = match *status {
            "400" => has_body || has_query,
            "401" => secured,
            _ => has_body,
        };
        if applies {
            op.responses
                .responses
                .entry((*status).to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
        }
    }
}

/// Declares `X-Total-Count` on the 200 response of a paged list.
fn add_total_count(op: &mut Operation) {
    let paged =
        op.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Query) && p.name == "limit");
    if !paged {
        return;
    }
    if let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") {
        let schema = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0));
        let header = HeaderBuilder::new()
            .schema(schema)
            .description(Some("Items matching the list's filters, whatever `limit` and `offset` are"))
            .build();
        ok.headers.insert("X-Total-Count".to_owned(), header);
    }
}

/// `string`, or `["string", "null"]`.
fn is_string(t: &SchemaType) -> bool {
    match t {
        SchemaType::Type(Type::String) => true,
        SchemaType::Array(types) => types.iter().all(|t| matches!(t, Type::String | Type::Null)),
        _ => false,
    }
}

fn schema_name(r: &Ref) -> &str {
    r.ref_location.rsplit('/').next().unwrap_or_default()
}

/// Names of the components `schema` refers to.
fn refs_in(schema: &Schema, out: &mut Vec<String>) {
    let visit = |s: &RefOr<Schema>, out: &mut Vec<String>| match s {
        RefOr::Ref(r) => out.push(schema_name(r).to_owned()),
        RefOr::T(s) => refs_in(s, out),
    };
    match schema {
        Schema::Object(o) => o.properties.values().for_each(|p| visit(p, out)),
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &a.items {
                visit(items, out);
            }
        }
        Schema::OneOf(x) => x.items.iter().for_each(|p| visit(p, out)),
        Schema::AllOf(x) => x.items.iter().for_each(|p| visit(p, out)),
        Schema::AnyOf(x) => x.items.iter().for_each(|p| visit(p, out)),
        _ => {}
    }
}

/// Sets `format: date-time` on timestamp properties and, in responses,
/// makes every property required.
fn walk(schema: &mut Schema, response: bool) {
    let visit = |s: &mut RefOr<Schema>| {
        if let RefOr::T(s) = s {
            walk(s, response);
        }
    };
    match schema {
        Schema::Object(o) => {
            for (name, property) in o.properties.iter_mut() {
                if DATE_TIME_PROPERTIES.contains(&name.as_str())
                    && let RefOr::T(Schema::Object(p)) = property
                    && p.format.is_none()
                    && is_string(&p.schema_type)
                {
                    p.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
                }
                visit(property);
            }
            if response {
                o.required = o.properties.keys().cloned().collect();
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                visit(items);
            }
        }
        Schema::OneOf(x) => x.items.iter_mut().for_each(visit),
        Schema::AllOf(x) => x.items.iter_mut().for_each(visit),
        Schema::AnyOf(x) => x.items.iter_mut().for_each(visit),
        _ => {}
    }
}
