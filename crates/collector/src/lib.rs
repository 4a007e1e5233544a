//! oxmon-collector.
