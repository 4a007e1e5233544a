//! Writing the generated CRD YAML (`deploy/crds/*.yaml`), for the `crdgen`
//! binary and the test that keeps the committed files up to date.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::crd;

/// Why the CRDs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CrdgenError {
    #[error("cannot encode CRD {file} as YAML: {message}")]
    Encode { file: &'static str, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// `deploy/crds/` of this repository.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds")
}

/// Every CRD as (file name, YAML).
pub fn documents() -> Result<Vec<(&'static str, String)>, CrdgenError> {
    crd::crds()
        .into_iter()
        .map(|(file, crd)| {
            crd::crd_yaml(&crd)
                .map(|yaml| (file, yaml))
                .map_err(|e| CrdgenError::Encode { file, message: e.to_string() })
        })
        .collect()
}

/// Writes every CRD into `dir`.
pub fn write(dir: &Path) -> Result<(), CrdgenError> {
    std::fs::create_dir_all(dir).map_err(|source| CrdgenError::Write { path: dir.to_owned(), source })?;
    for (file, yaml) in documents()? {
        let path = dir.join(file);
        std::fs::write(&path, yaml).map_err(|source| CrdgenError::Write { path, source })?;
    }
    Ok(())
}

/// Prints every CRD to stdout as one multi-document YAML stream.
pub fn print() -> Result<(), CrdgenError> {
    let mut out = std::io::stdout().lock();
    for (_, yaml) in documents()? {
        write!(out, "---\n{yaml}").map_err(|source| CrdgenError::Write { path: "<stdout>".into(), source })?;
    }
    Ok(())
}
