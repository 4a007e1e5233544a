//! oxmon-operator: keeps the oxmon server's alert rules, notification
//! channels and silence windows in sync with Kubernetes custom resources
//! (`AlertRule`, `NotificationChannel`, `SilenceWindow` in `oxmon.io/v1alpha1`).
//!
//! * [`crd`]: the resource types, which generate the CRDs (`crdgen`).
//! * [`reconcile`]: the shared reconcile skeleton and one module per kind.
//! * [`server`]: the typed REST client of the oxmon server.
//! * [`controller`], [`leader`], [`health`], [`app`]: running it.

#![forbid(unsafe_code)]

pub mod app;
pub mod backoff;
pub mod config;
pub mod controller;
pub mod crd;
pub mod crdgen;
pub mod health;
pub mod leader;
pub mod reconcile;
pub mod server;
