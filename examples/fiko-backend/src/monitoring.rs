//! Monitoring (being written).
