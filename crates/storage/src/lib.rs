//! oxmon-storage.
