//! The `oxmon-server` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use oxmon_server::config::{LogFormat, ServerConfig};
use tracing_subscriber::EnvFilter;

/// Ingest allocates a few small strings per sample; mimalloc handles that
/// churn markedly better than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `EX_USAGE`: bad command line or configuration.
const EXIT_USAGE: u8 = 64;

const USAGE: &str = "usage: oxmon-server [config.toml]
       oxmon-server init-rules <config.toml> <rules.seed.json>
       oxmon-server init-channels <config.toml> <channels.seed.json>
       oxmon-server init-dictionaries <config.toml> <dictionaries.seed.json>
       oxmon-server init-configs <config.toml> <configs.seed.json>

Runs the oxmon server. Without an argument it reads config/server.toml if it
exists, else runs on built-in defaults (gRPC :9090, REST :8080, data in ./data).
Environment variables OXMON_SERVER_<KEY> and OXMON_SERVER_<SECTION>__<KEY>
override config keys.

init-rules, init-channels, init-dictionaries and init-configs insert a seed file's entries into the
management database under the config's data_dir, skipping existing ones.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [cmd, config, seed] if cmd == "init-rules" => return init_rules(config, seed),
        [cmd, config, seed] if cmd == "init-channels" => return init_channels(config, seed),
        [cmd, config, seed] if cmd == "init-dictionaries" => return init_dictionaries(config, seed),
        [cmd, config, seed] if cmd == "init-configs" => return init_configs(config, seed),
        [cmd, ..] if cmd.starts_with("init-") => {
            eprintln!("oxmon-server: {cmd} needs a config file and a seed file\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
        [] => None,
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [flag] if flag == "-V" || flag == "--version" => {
            println!("oxmon-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        [path] => Some(PathBuf::from(path)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let config = match ServerConfig::load(path.as_deref(), &vars) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oxmon-server: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing(config.log.format);
    for warning in config.deprecation_warnings() {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oxmon-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(oxmon_server::app::run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxmon-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_rules(config: &str, seed: &str) -> ExitCode {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    match oxmon_server::cli::init_rules(config.as_ref(), seed.as_ref(), &vars) {
        Ok(report) => {
            println!("inserted {} rules, skipped {} existing", report.inserted.len(), report.skipped.len());
            for name in &report.skipped {
                println!("  skipped: {name}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oxmon-server: init-rules: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_channels(config: &str, seed: &str) -> ExitCode {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    match oxmon_server::cli::init_channels(config.as_ref(), seed.as_ref(), &vars) {
        Ok(r) => {
            println!(
                "inserted {} channels, skipped {} existing; inserted {} silence windows, skipped {} existing",
                r.channels_inserted,
                r.channels_skipped.len(),
                r.windows_inserted,
                r.windows_skipped
            );
            for name in &r.channels_skipped {
                println!("  skipped: {name}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oxmon-server: init-channels: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_dictionaries(config: &str, seed: &str) -> ExitCode {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    match oxmon_server::cli::init_dictionaries(config.as_ref(), seed.as_ref(), &vars) {
        Ok((types, items, skipped)) => {
            println!("inserted {types} types and {items} items, skipped {skipped} existing items");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oxmon-server: init-dictionaries: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_configs(config: &str, seed: &str) -> ExitCode {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    match oxmon_server::cli::init_configs(config.as_ref(), seed.as_ref(), &vars) {
        Ok((inserted, skipped)) => {
            println!("inserted {inserted} configs, skipped {skipped} existing");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oxmon-server: init-configs: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves on SIGTERM (what Kubernetes sends) or SIGINT.
async fn shutdown_signal() {
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
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
