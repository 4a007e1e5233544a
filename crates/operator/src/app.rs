//! Wiring: probes, the Kubernetes and oxmon clients, leader election and
//! the controllers, from a validated [`Config`] to a clean stop.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;
use tracing::info;

use crate::config::Config;
use crate::health::{self, Health, Phase};
use crate::leader::{self, LeaseConfig, Outcome};
use crate::reconcile::Context;
use crate::server::OxmonClient;

/// Runs the operator until `shutdown` turns true (then releases the lease)
/// or the lease is lost.
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<Outcome> {
    let health = Arc::new(Health::default());
    let listener = health::bind(config.health_addr)
        .await
        .with_context(|| format!("binding the probe address {}", config.health_addr))?;
    let (probes_stop, probes_stopped) = watch::channel(false);
    let probes = tokio::spawn(health::serve(listener, health.clone(), async move {
        let mut stopped = probes_stopped;
        let _ = stopped.wait_for(|s| *s).await;
    }));

    let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
    let server = OxmonClient::new(&config.server_url, &config.token).context("setting up the oxmon server client")?;
    let lease = LeaseConfig {
        namespace: config.pod_namespace.clone().unwrap_or_else(|| client.default_namespace().to_owned()),
        identity: config.identity.clone(),
    };
    info!(server = %config.server_url, namespace = config.namespace.as_deref().unwrap_or("(all)"), "oxmon-operator starting");
    let ctx = Arc::new(Context::new(client.clone(), server, config.resync, Some(config.identity.clone())));
    let namespace = config.namespace.clone();
    let outcome = leader::lead(client, lease, &health, shutdown, |stop| crate::controller::run(ctx, namespace, stop))
        .await
        .context("taking part in the leader election")?;

    health.set(Phase::Stopping);
    let _ = probes_stop.send(true);
    let _ = probes.await;
    Ok(outcome)
}
