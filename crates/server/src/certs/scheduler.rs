//! The certificate scheduler: every `tick_secs`, the enabled domains that
//! are due (never checked, or checked at least their interval ago) are
//! checked, at most `max_concurrent` at a time; a tick waits for its
//! checks before the next one starts. Shutdown cancels a tick in progress.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;

/// Runs until `stopped` turns true.
pub async fn run(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.cert_check.tick_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(
        tick_secs = every.as_secs(),
        max_concurrent = state.config.cert_check.max_concurrent,
        "certificate scheduler started"
    );
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = check_due(&state) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// One tick: checks every due domain; returns how many were checked.
pub async fn check_due(state: &Arc<AppState>) -> usize {
    let now_s = state.clock.now_ms().div_euclid(1000);
    let default_interval = state.config.cert_check.default_interval_secs;
    let due = match state.management(move |m| m.due_cert_domains(now_s, default_interval)).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "listing domains due for a certificate check failed; will retry");
            return 0;
        }
    };
    if due.is_empty() {
        return 0;
    }
    let results = super::check_domains(state, due, state.config.cert_check.max_concurrent).await;
    let mut checked = 0;
    for r in results {
        match r {
            Ok(_) => checked += 1,
            Err(error) => tracing::warn!(%error, "storing a certificate check failed"),
        }
    }
    tracing::debug!(checked, "certificate scheduler tick done");
    checked
}
