//! `crdgen`: writes the CRDs to `deploy/crds/` (or the directory given as
//! the first argument), or prints them with `-`.
//!
//! ```bash
//! cargo run -p oxmon-operator --bin crdgen              # writes deploy/crds/*.yaml
//! cargo run -p oxmon-operator --bin crdgen -- - | kubectl apply -f -
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let target = std::env::args().nth(1);
    let result = match target.as_deref() {
        Some("-") => oxmon_operator::crdgen::print(),
        Some(dir) => oxmon_operator::crdgen::write(&PathBuf::from(dir)),
        None => oxmon_operator::crdgen::write(&oxmon_operator::crdgen::default_dir()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crdgen: {e}");
            ExitCode::FAILURE
        }
    }
}
