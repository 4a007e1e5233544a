//! Protobuf bindings of `proto/oxmon.proto` (package `oxmon`).
//!
//! The generated code is committed (`proto/oxmon.rs`) so that no build needs
//! `protoc`; `tests/bootstrap.rs` regenerates it and fails when it is stale.

mod generated {
    #![allow(warnings, clippy::all, clippy::pedantic, missing_debug_implementations)]
    include!("proto/oxmon.rs");
}

pub use generated::*;

/// Largest number of data points one `ReportMetrics` call may carry (oxmon 0.1's limit).
pub const MAX_POINTS_PER_BATCH: usize = 10_000;

/// Default largest encoded gRPC message accepted by the server (tonic's default).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
