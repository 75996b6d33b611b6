//! The thread-per-core runtime: cores, rings, router, shards, metrics.

pub mod affinity;
pub mod allowed;
pub mod cores;
pub mod doorbell;
pub mod exchange;
pub mod inputs;
pub mod lane;
pub mod message;
pub mod metrics;
pub mod metrics_http;
pub mod ring;
pub mod router;
pub mod shard;
pub mod shard_inputs;
pub mod stage_runner;
pub mod topology;
mod watermarks;
