//! Types shared by every oxmon crate: metric names, samples and the protobuf
//! bindings of the agent/server wire protocol.

#![forbid(unsafe_code)]

pub mod glob;
pub mod metric;
pub mod proto;
pub mod remote_write;
pub mod rule;
pub mod settings;
pub mod silence;
pub mod throttle;
