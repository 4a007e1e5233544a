//! oxmon-agent.
