//! The crate's single error type.

use std::io;
use std::path::PathBuf;

/// Why part of a collection cycle produced no metrics.
///
/// The underlying I/O error is part of the message (not a `source`) because
/// the agent logs these one line each and the cause is what operators need.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },

    #[error("malformed {}: {reason}", path.display())]
    Malformed { path: PathBuf, reason: &'static str },

    #[error("more than {max} containers: the others are not reported (raise max_containers to report them)")]
    TooManyContainers { max: usize },

    #[error("cannot stat filesystem mounted at {mount} (via {}): {error}", path.display())]
    Statvfs { mount: String, path: PathBuf, error: io::Error },
}
