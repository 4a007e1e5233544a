//! oxmon-server: takes agents' samples over gRPC, stores them in day
//! partitions and serves them over a REST API.
//!
//! `main.rs` only parses the command line, loads the config, installs
//! logging and waits for a signal; everything else is here so tests can
//! start a real server on ephemeral ports (`app::start`).

#![forbid(unsafe_code)]

pub mod agents;
pub mod alerting;
pub mod api;
pub mod app;
pub mod auth;
pub mod certs;
pub mod channels;
pub mod cli;
pub mod config;
pub mod dictionaries;
pub mod downsample;
pub mod grpc;
pub mod promql;
pub mod rules;
pub mod state;
pub mod telemetry;
