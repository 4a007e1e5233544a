//! `/healthz` (the process runs) and `/readyz` (the operator has joined the
//! leader election: it leads, or stands by ready to take over) for probes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;

/// Where the operator stands, shared with the probe handlers.
#[derive(Debug, Default)]
pub struct Health(AtomicU8);

/// The operator's phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Starting = 0,
    Standby = 1,
    Leading = 2,
    Stopping = 3,
}

impl Health {
    pub fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::Release);
    }

    pub fn phase(&self) -> Phase {
        match self.0.load(Ordering::Acquire) {
            1 => Phase::Standby,
            2 => Phase::Leading,
            3 => Phase::Stopping,
            _ => Phase::Starting,
        }
    }
}

/// The probe routes.
pub fn router(health: Arc<Health>) -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" })).route("/readyz", get(ready)).with_state(health)
}

async fn ready(State(health): State<Arc<Health>>) -> (StatusCode, &'static str) {
    match health.phase() {
        Phase::Leading => (StatusCode::OK, "leading\n"),
        Phase::Standby => (StatusCode::OK, "standby\n"),
        Phase::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
        Phase::Stopping => (StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
    }
}

/// Binds the probe listener (so a taken port fails at start).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the probes until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(health)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn probes_follow_the_phase() {
        let health = Arc::new(Health::default());
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, health.clone(), async move {
            let _ = stopped.await;
        }));
        let get = |path: &'static str| {
            let url = format!("{base}{path}");
            async move {
                let resp = reqwest::get(url).await.unwrap();
                (resp.status().as_u16(), resp.text().await.unwrap())
            }
        };
        assert_eq!(get("/healthz").await, (200, "ok\n".into()));
        assert_eq!(get("/readyz").await, (503, "starting\n".into()));
        health.set(Phase::Standby);
        assert_eq!(get("/readyz").await, (200, "standby\n".into()));
        health.set(Phase::Leading);
        assert_eq!(get("/readyz").await, (200, "leading\n".into()));
        health.set(Phase::Stopping);
        assert_eq!(get("/readyz").await.0, 503);
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
