//! oxmon-server.
