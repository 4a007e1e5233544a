//! `oxmon-agent [config.toml]`: loads the config, installs logging, runs the agent until
//! SIGTERM or SIGINT.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use oxmon_agent::config::ProcessEnv;
use oxmon_agent::{AgentConfig, HostSource};
use tracing_subscriber::Layer as _;

/// `EX_USAGE`: bad command line or configuration.
const EXIT_USAGE: u8 = 64;

const USAGE: &str = "usage: oxmon-agent [config.toml]";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let path = args.next().map(PathBuf::from);
    if path.as_deref().is_some_and(|p| p == "-h" || p == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.next().is_some() {
        eprintln!("{USAGE}");
        return ExitCode::from(EXIT_USAGE);
    }
    let config = match AgentConfig::load(path.as_deref(), &ProcessEnv) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("oxmon-agent: {:#}", anyhow::Error::new(e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing();
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxmon-agent: {e:#}");
            let usage = e.downcast_ref::<oxmon_agent::Error>().is_some_and(oxmon_agent::Error::is_config);
            ExitCode::from(if usage { EXIT_USAGE } else { 1 })
        }
    }
}

fn run(config: AgentConfig) -> anyhow::Result<()> {
    // One thread is plenty for one RPC at a time and keeps the idle footprint small.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("building the tokio runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let source = HostSource::new(&config);
        oxmon_agent::run(config, source, shutdown).await?;
        Ok(())
    })
}

/// Completes on SIGTERM or SIGINT. The handlers are installed before this returns, so a
/// signal arriving during startup is not lost.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutting down");
    })
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    })
}

/// `RUST_LOG` when set (`level` and `target=level` directives, comma
/// separated); otherwise oxmon at INFO and everything else at WARN.
///
/// NB: `Targets` instead of `EnvFilter`: it needs no regex engine, which
/// keeps the agent's code, and so its resident memory, small. Span and field
/// filters of `EnvFilter` are not supported here.
fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    // Colour only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stdout).with_ansi(ansi);
    let default = || {
        Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target("oxmon_agent", LevelFilter::INFO)
            .with_target("oxmon_collector", LevelFilter::INFO)
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec.parse::<Targets>().unwrap_or_else(|e| {
            eprintln!("oxmon-agent: ignoring RUST_LOG ({e}); using the default log levels");
            default()
        }),
        _ => default(),
    };
    tracing_subscriber::registry().with(fmt.with_filter(filter)).init();
}
