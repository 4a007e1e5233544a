//! The `oxmon-server` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use oxmon_server::config::{LogFormat, ServerConfig};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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
       oxmon-server migrate-0.1 <config.toml> [--dry-run]

Runs the oxmon server. Without an argument it reads config/server.toml if it
exists, else runs on built-in defaults (gRPC :9090, REST :8080, data in ./data).
Environment variables OXMON_SERVER_<KEY> and OXMON_SERVER_<SECTION>__<KEY>
override config keys.

init-rules, init-channels, init-dictionaries and init-configs insert a seed file's entries into the
management database under the config's data_dir, skipping existing ones.

migrate-0.1 takes over an oxmon 0.1 data dir (the config's data_dir; stop oxmon 0.1 first): backs
up the files it changes, converts them and prints a summary; --dry-run prints what it would
migrate and what it cannot, changing nothing. The server does the same at start when it finds
0.1 data.";

fn main() -> ExitCode {
    // Everything the server creates (databases, keys, backups) is owner-only,
    // whatever umask it was started with; storage also creates its files
    // with explicit modes, for callers of the library.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [cmd, config, seed] if cmd == "init-rules" => return init_rules(config, seed),
        [cmd, config, seed] if cmd == "init-channels" => return init_channels(config, seed),
        [cmd, config, seed] if cmd == "init-dictionaries" => return init_dictionaries(config, seed),
        [cmd, config, seed] if cmd == "init-configs" => return init_configs(config, seed),
        [cmd, config] if cmd == "migrate-0.1" && config != "--dry-run" => return migrate_0_1(config, false),
        [cmd, a, b] if cmd == "migrate-0.1" && (a == "--dry-run" || b == "--dry-run") => {
            return migrate_0_1(if a == "--dry-run" { b } else { a }, true);
        }
        [cmd, ..] if cmd == "migrate-0.1" => {
            eprintln!("oxmon-server: migrate-0.1 needs a config file (and optionally --dry-run)\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
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
    match runtime.block_on(async { oxmon_server::app::run(config, shutdown_signal()).await }) {
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

fn migrate_0_1(config: &str, dry_run: bool) -> ExitCode {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let config = match ServerConfig::load(Some(config.as_ref()), &vars) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oxmon-server: migrate-0.1: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match oxmon_server::cli::migrate_0_1(&config, dry_run) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oxmon-server: migrate-0.1: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` when set (`level` and `target=level` directives, comma
/// separated; `Targets` needs no regex engine, unlike `EnvFilter`, whose
/// span and field filters are not supported); otherwise INFO.
fn init_tracing(format: LogFormat) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec.parse::<Targets>().unwrap_or_else(|e| {
            eprintln!("oxmon-server: ignoring RUST_LOG ({e}); logging at INFO");
            Targets::new().with_default(LevelFilter::INFO)
        }),
        _ => Targets::new().with_default(LevelFilter::INFO),
    };
    // Colour only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_ansi(ansi);
    match format {
        LogFormat::Text => builder.finish().with(filter).init(),
        LogFormat::Json => builder.json().finish().with(filter).init(),
    }
}

/// Resolves on SIGTERM (what Kubernetes sends) or SIGINT. The handlers are
/// installed when this is called, not when the future is first polled, so
/// a signal that arrives while the server starts is not lost (nor fatal).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = recv(term) => {}
                () = recv(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
