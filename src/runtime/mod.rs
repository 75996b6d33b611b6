//! The thread-per-core runtime: cores, rings, router, shards, metrics.

pub mod affinity;
pub mod cores;
pub mod doorbell;
pub mod inputs;
pub mod message;
pub mod metrics;
pub mod ring;
pub mod router;
pub mod shard;
pub mod topology;
