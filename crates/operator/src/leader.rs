//! Leader election: only the replica holding the `oxmon-operator` Lease (in
//! its own namespace) runs the controllers, so two replicas never write the
//! same server object. The lease is held with `kube-lease-manager` and
//! released on shutdown, so a standby replica takes over at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::health::{Health, Phase};

/// Name of the Lease.
pub const LEASE_NAME: &str = "oxmon-operator";
/// Seconds a lease is valid after its last renewal.
const LEASE_DURATION_SECS: u64 = 15;
/// Seconds before expiry the holder renews.
const LEASE_GRACE_SECS: u64 = 5;

/// How long shutdown waits for the lease to be released.
const RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where and as whom to take the lease.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub identity: String,
}

/// How leading ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Shutdown was requested (before or while leading).
    ShutDown,
    /// The lease went to another replica while this one led.
    LostLease,
}

/// Resolves when the work must stop.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

/// Takes part in the election and runs `work` while leading; releases the
/// lease before returning.
pub async fn lead<W, F>(
    client: kube::Client,
    lease: LeaseConfig,
    health: &Health,
    shutdown: watch::Receiver<bool>,
    work: W,
) -> Result<Outcome, LeaseManagerError>
where
    W: FnOnce(StopSignal) -> F,
    F: Future<Output = ()>,
{
    let manager = LeaseManagerBuilder::new(client, LEASE_NAME)
        .with_namespace(&lease.namespace)
        .with_identity(&lease.identity)
        .with_duration(LEASE_DURATION_SECS)
        .with_grace(LEASE_GRACE_SECS)
        .build()
        .await?;
    let (leading, task) = manager.watch().await;
    info!(lease = LEASE_NAME, namespace = %lease.namespace, identity = %lease.identity, "waiting for the lease");
    let outcome = run_while_leading(leading, shutdown, health, work).await;
    // Dropping the last receiver makes the manager release the lease and stop.
    match tokio::time::timeout(RELEASE_TIMEOUT, task).await {
        Ok(Ok(Ok(_))) => info!("lease released"),
        Ok(Ok(Err(e))) => warn!(error = %e, "releasing the lease"),
        Ok(Err(e)) => warn!(error = %e, "lease task"),
        Err(_) => warn!("the lease was not released in time; it expires by itself"),
    }
    Ok(outcome)
}

/// Waits for `leading` to turn true, then runs `work` until leadership is
/// lost or `shutdown` turns true. Consumes `leading`.
pub async fn run_while_leading<W, F>(
    mut leading: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
    health: &Health,
    work: W,
) -> Outcome
where
    W: FnOnce(StopSignal) -> F,
    F: Future<Output = ()>,
{
    health.set(Phase::Standby);
    loop {
        if *shutdown.borrow_and_update() {
            return Outcome::ShutDown;
        }
        if *leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leading.changed() => if changed.is_err() {
                warn!("the lease manager stopped before this replica led");
                return Outcome::LostLease;
            },
            changed = shutdown.changed() => if changed.is_err() {
                return Outcome::ShutDown;
            },
        }
    }
    info!("leading: starting the controllers");
    health.set(Phase::Leading);
    let lost = Arc::new(AtomicBool::new(false));
    let stop = {
        let lost = lost.clone();
        async move {
            tokio::select! {
                _ = leading.wait_for(|l| !*l) => lost.store(true, Ordering::Release),
                _ = shutdown.wait_for(|s| *s) => {}
            }
        }
    };
    work(Box::pin(stop)).await;
    health.set(Phase::Stopping);
    if lost.load(Ordering::Acquire) {
        warn!("lost the lease: stopped the controllers");
        Outcome::LostLease
    } else {
        Outcome::ShutDown
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Work that runs until stopped and says so.
    async fn work(stop: StopSignal, ran: Arc<AtomicBool>) {
        ran.store(true, Ordering::Release);
        stop.await;
    }

    #[tokio::test]
    async fn work_starts_only_when_leading_and_stops_when_the_lease_is_lost() {
        let (lead_tx, lead_rx) = watch::channel(false);
        let (_shut_tx, shut_rx) = watch::channel(false);
        let health = Arc::new(Health::default());
        let ran = Arc::new(AtomicBool::new(false));
        let task = {
            let (health, ran) = (health.clone(), ran.clone());
            tokio::spawn(async move { run_while_leading(lead_rx, shut_rx, &health, |s| work(s, ran)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!ran.load(Ordering::Acquire), "standby replicas run nothing");
        assert_eq!(health.phase(), Phase::Standby);
        lead_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while health.phase() != Phase::Leading {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        lead_tx.send(false).unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
        assert_eq!(outcome, Outcome::LostLease);
        assert!(ran.load(Ordering::Acquire));
        assert_eq!(health.phase(), Phase::Stopping);
    }

    #[tokio::test]
    async fn shutdown_stops_a_leader_and_a_standby() {
        let health = Health::default();
        let (_lead_tx, lead_rx) = watch::channel(true);
        let (shut_tx, shut_rx) = watch::channel(false);
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            shut_tx.send(true).unwrap();
        });
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let outcome = run_while_leading(lead_rx, shut_rx, &health, |s| work(s, r)).await;
        assert_eq!(outcome, Outcome::ShutDown);
        assert!(ran.load(Ordering::Acquire));
        stopper.await.unwrap();

        let (_lead_tx, lead_rx) = watch::channel(false);
        let (_shut_tx, shut_rx) = watch::channel(true);
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        assert_eq!(run_while_leading(lead_rx, shut_rx, &health, |s| work(s, r)).await, Outcome::ShutDown);
        assert!(!ran.load(Ordering::Acquire), "a standby shuts down without running");
    }
}
