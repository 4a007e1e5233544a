//! The REST API: routes, middleware, and one module per resource.
//!
//! Paths, parameters, envelope and error codes follow oxmon 0.1
//! (spec/api.md), so its clients keep working; additions are additive.
//! Routes are mounted with `utoipa_axum::routes!`, which also documents
//! them: the OpenAPI document (`/v1/openapi.json`, `.yaml`) is generated
//! from the same registrations that serve the requests.

mod agents;
mod alerts;
pub mod auth;
mod certs;
mod channels;
mod dashboard;
mod dictionaries;
mod health;
pub mod http_errors;
mod metrics;
mod notification_logs;
pub mod openapi;
mod ownership;
pub mod params;
pub mod prometheus;
pub mod response;
mod rules;
mod silence;
mod system;
mod whitelist;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use silence::{check_timezone, normalized as normalized_silence_window};

/// Largest request body accepted (oxmon 0.1 silently emptied larger ones;
/// we answer 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub type AppStateRef = State<Arc<AppState>>;

/// The whole HTTP surface and its OpenAPI document.
pub fn router(state: Arc<AppState>) -> Router {
    let (router, mut doc) = documented_routes(state.clone()).split_for_parts();
    openapi::finish(&mut doc);
    let json = Arc::new(doc.to_pretty_json().unwrap_or_default());
    let yaml = Arc::new(doc.to_yaml().unwrap_or_default());
    router
        .route(
            "/v1/openapi.json",
            get(move || {
                let json = json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], json.as_str().to_owned()).into_response() }
            }),
        )
        .route(
            "/v1/openapi.yaml",
            get(move || {
                let yaml = yaml.clone();
                async move { ([(header::CONTENT_TYPE, "text/yaml")], yaml.as_str().to_owned()).into_response() }
            }),
        )
        .merge(prometheus::router(state.clone()))
        .route("/docs", get(|| async { axum::response::Redirect::permanent("/docs/") }))
        .route("/docs/", get(|| swagger_ui(String::new())))
        .route("/docs/{*file}", get(|axum::extract::Path(file): axum::extract::Path<String>| swagger_ui(file)))
        // The web console (crates/console): its pages and hashed assets.
        .merge(oxmon_console::router())
        .fallback(response::not_found)
        .method_not_allowed_fallback(response::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(middleware::from_fn(response::trace_id))
        .layer(cors(&state.config.http.cors_allowed_origins))
        .with_state(state)
}

/// Cross-origin access for the configured origins only (none by default):
/// their pages may send the bearer token and JSON bodies; no other site
/// gets an `Access-Control-Allow-Origin`, and credentials (cookies) are
/// never allowed cross-origin.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if origins.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([
            HeaderName::from_static(response::TRACE_HEADER),
            HeaderName::from_static(response::TOTAL_COUNT_HEADER),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// The OpenAPI document alone (what `/v1/openapi.json` serves).
pub fn openapi_document(state: Arc<AppState>) -> utoipa::openapi::OpenApi {
    let mut doc = documented_routes(state).split_for_parts().1;
    openapi::finish(&mut doc);
    doc
}

fn documented_routes(state: Arc<AppState>) -> OpenApiRouter<Arc<AppState>> {
    let public = OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(auth::login))
        .routes(routes!(auth::create_session, auth::delete_session));
    let protected = OpenApiRouter::new()
        .routes(routes!(auth::get_session))
        .routes(routes!(auth::change_password))
        .routes(routes!(agents::list))
        .routes(routes!(agents::latest))
        .routes(routes!(agents::forget))
        .routes(routes!(whitelist::create, whitelist::list))
        .routes(routes!(whitelist::update, whitelist::delete))
        .routes(routes!(whitelist::rotate))
        .routes(routes!(metrics::list))
        .routes(routes!(metrics::names))
        .routes(routes!(metrics::agents))
        .routes(routes!(metrics::summary))
        .routes(routes!(metrics::series))
        .routes(routes!(metrics::downsample))
        .routes(routes!(rules::list, rules::create))
        .routes(routes!(rules::get, rules::update, rules::delete))
        .routes(routes!(rules::enable))
        .routes(routes!(alerts::history))
        .routes(routes!(alerts::active))
        .routes(routes!(alerts::summary))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::resolve))
        .routes(routes!(channels::list))
        .routes(routes!(channels::get))
        .routes(routes!(channels::test))
        .routes(routes!(channels::list_configs, channels::create_config))
        .routes(routes!(channels::get_config, channels::update_config, channels::delete_config))
        .routes(routes!(channels::set_recipients, channels::get_recipients))
        .routes(routes!(notification_logs::list))
        .routes(routes!(notification_logs::summary))
        .routes(routes!(dashboard::overview))
        .routes(routes!(silence::list, silence::create))
        .routes(routes!(silence::update, silence::delete))
        .routes(routes!(system::config))
        .routes(routes!(system::storage))
        .routes(routes!(system::cleanup))
        .routes(routes!(system::list_configs, system::create_config))
        .routes(routes!(system::get_config, system::update_config, system::delete_config))
        .routes(routes!(dictionaries::list_types, dictionaries::create_type))
        .routes(routes!(dictionaries::update_type, dictionaries::delete_type))
        .routes(routes!(dictionaries::list_items))
        .routes(routes!(dictionaries::create_item))
        .routes(routes!(dictionaries::get_item, dictionaries::update_item, dictionaries::delete_item))
        .routes(routes!(certs::list_certificates))
        .routes(routes!(certs::get_certificate))
        .routes(routes!(certs::certificate_chain))
        .routes(routes!(certs::create_domain, certs::list_domains))
        .routes(routes!(certs::create_domains))
        .routes(routes!(certs::get_domain, certs::update_domain, certs::delete_domain))
        .routes(routes!(certs::check_domain))
        .routes(routes!(certs::domain_history))
        .routes(routes!(certs::check_all))
        .routes(routes!(certs::status))
        .routes(routes!(certs::domain_status))
        .routes(routes!(certs::summary))
        // route_layer: unknown paths still answer 404, not 401.
        .route_layer(middleware::from_fn_with_state(state, auth::require_user));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/v1", public.merge(protected))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::prometheus))
}

/// Swagger UI (public, as in oxmon 0.1), reading `/v1/openapi.json`. The
/// files are compiled in from the `utoipa-swagger-ui-vendored` crate.
async fn swagger_ui(file: String) -> Response {
    static CONFIG: std::sync::LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
        std::sync::LazyLock::new(|| Arc::new(utoipa_swagger_ui::Config::new(["/v1/openapi.json"])));
    match utoipa_swagger_ui::serve(&file, CONFIG.clone()) {
        Ok(Some(f)) => ([(header::CONTENT_TYPE, f.content_type)], f.bytes.into_owned()).into_response(),
        Ok(None) => response::ApiError::not_found(format!("no route for GET /docs/{file}")).into_response(),
        Err(error) => {
            tracing::error!(%error, "serving Swagger UI failed");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn count_requests(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    state.telemetry.http_requests.get_or_create(&vec![("status", class)]).inc();
    response
}
