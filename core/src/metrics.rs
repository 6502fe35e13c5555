//! Metrics engine. (being written)
