//! Regenerates the committed protobuf bindings and fails when they differ.
//!
//! Run with `OXMON_UPDATE_GENERATED=1` to rewrite `src/proto/oxmon.rs` after
//! editing `proto/oxmon.proto`. No system `protoc` is needed: `protox`
//! compiles the schema in pure Rust.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::path::PathBuf;

#[test]
fn generated_proto_bindings_are_up_to_date() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let proto_dir = root.join("../../proto");
    let committed = root.join("src/proto/oxmon.rs");

    let fds = protox::compile(["oxmon.proto"], [&proto_dir]).expect("compile proto/oxmon.proto");
    let out = tempfile::tempdir().unwrap();
    tonic_prost_build::configure()
        .build_transport(false)
        .out_dir(out.path())
        .compile_fds(fds)
        .expect("generate bindings");
    let fresh = std::fs::read_to_string(out.path().join("oxmon.rs")).unwrap();

    let current = std::fs::read_to_string(&committed).unwrap_or_default();
    if current == fresh {
        return;
    }
    if std::env::var_os("OXMON_UPDATE_GENERATED").is_some() {
        std::fs::write(&committed, fresh).unwrap();
        return;
    }
    panic!("{} is stale: rerun with OXMON_UPDATE_GENERATED=1 and commit the result", committed.display());
}
