//! The REST API: routes, middleware, and one module per resource.
//!
//! Paths, parameters, envelope and error codes follow oxmon 0.1
//! (spec/api.md), so its clients keep working; additions are additive.

mod agents;
pub mod auth;
mod health;
mod metrics;
pub mod params;
pub mod response;
mod whitelist;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use tower_http::cors::CorsLayer;

use crate::state::AppState;

/// Largest request body accepted (oxmon 0.1 silently emptied larger ones;
/// we answer 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub type AppStateRef = State<Arc<AppState>>;

/// The whole HTTP surface: `/v1/...`, probes and `/metrics`.
pub fn router(state: Arc<AppState>) -> Router {
    let public = Router::new().route("/health", get(health::health)).route("/auth/login", post(auth::login));
    let protected = Router::new()
        .route("/auth/password", post(auth::change_password))
        .route("/agents", get(agents::list))
        .route("/agents/whitelist", post(whitelist::create).get(whitelist::list))
        .route("/agents/whitelist/{id}", put(whitelist::update).delete(whitelist::delete))
        .route("/agents/whitelist/{id}/token", post(whitelist::rotate))
        .route("/agents/{id}/latest", get(agents::latest))
        .route("/metrics", get(metrics::list))
        .route("/metrics/names", get(metrics::names))
        .route("/metrics/agents", get(metrics::agents))
        .route("/metrics/summary", get(metrics::summary))
        .route("/metrics/series", get(metrics::series))
        // route_layer: unknown paths still answer 404, not 401.
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_user));
    Router::new()
        .nest("/v1", public.merge(protected))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::prometheus))
        .fallback(response::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(middleware::from_fn(response::trace_id))
        .layer(CorsLayer::very_permissive())
        .with_state(state)
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
