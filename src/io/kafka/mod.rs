//! Kafka in and out: a topic as a source, a topic as the output.
//!
//! - [`url`]: `kafka://HOST:PORT/TOPIC?...`, corestream's options and the
//!   librdkafka client properties passed through.
//! - [`consumer`]: the consumer's own thread (client, group membership,
//!   rebalances, offset commits), off the shard cores.
//! - `connect`: creating that client, checking the broker and topic,
//!   joining the group or assigning partitions.
//! - [`source`]: the [`Source`](crate::io::source::Source) the router polls.
//! - [`watermark`]: the input's watermark, the smallest of its partitions'.
//! - [`end_tracker`]: `stop=end`, which partitions have reached their end.
//! - [`health`]: whether the brokers answer (`broker_timeout=`).
//! - [`lag`]: each partition's lag, for the metrics endpoint.
//! - [`sink`]: one producer per shard.
//!
//! # Threading
//! Kafka clients (rdkafka, with its bundled librdkafka; the blocking API, no
//! async runtime) are created on threads that are not pinned to a shard core,
//! because librdkafka's own threads inherit their creator's CPU set. Shards
//! never wait on a consumer; a shard's producer sends without blocking.

mod connect;
pub mod consumer;
pub mod end_tracker;
pub mod health;
pub mod lag;
pub mod sink;
pub mod source;
pub mod url;
pub mod watermark;

pub use sink::KafkaOutput;
pub use source::KafkaSource;
