//! `oxmon-operator`: reads its configuration from the environment, sets up
//! logging and runs until SIGTERM or SIGINT (releasing its lease) or until
//! it loses the lease (exit code 1, so the pod restarts as a standby).

use std::process::ExitCode;

use oxmon_operator::config::{Config, ProcessEnv};
use oxmon_operator::leader::Outcome;
use tokio::sync::watch;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

/// `EX_USAGE`: bad configuration.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let config = match Config::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oxmon-operator: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oxmon-operator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("shutting down");
            let _ = stop.send(true);
        });
        match oxmon_operator::app::run(config, stopped).await {
            Ok(Outcome::ShutDown) => ExitCode::SUCCESS,
            Ok(Outcome::LostLease) => {
                error!("lost the lease to another replica; exiting to restart as a standby");
                ExitCode::FAILURE
            }
            Err(e) => {
                error!(error = format!("{e:#}"), "oxmon-operator failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// SIGTERM or SIGINT.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                error!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the operator");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
