//! A Kafka input's lag per partition, for the metrics endpoint
//! (`corestream_kafka_lag_records`, see [`crate::runtime::metrics_http`]).

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::Offset;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Per partition of the topic, its lag: the records after the last one
/// routed (or, before any is, after the consumer's position), by the
/// partition's end offset in librdkafka's statistics (about once a
/// second); -1 while unknown or not assigned. Written by the consumer
/// thread, read by the metrics endpoint.
#[derive(Debug)]
pub struct PartitionLags {
    pub topic: String,
    /// Per partition: its number, its lag, its end offset (-1: unknown).
    pub lags: Vec<(i32, AtomicI64, AtomicI64)>,
}

/// How often the consumer thread refreshes [`PartitionLags`].
pub const LAG_EVERY: Duration = Duration::from_secs(1);

/// Refreshes `lags` (see [`PartitionLags`]): local calls only, no request
/// to the broker.
pub fn measure_lags(
    consumer: &BaseConsumer<impl ConsumerContext>,
    lags: &PartitionLags,
    assigned: &[i32],
    routed: &BTreeMap<i32, i64>,
) {
    let positions = consumer.position().ok();
    for (p, lag, end) in &lags.lags {
        let next = routed.get(p).copied().or_else(|| {
            let e = positions.as_ref()?.find_partition(&lags.topic, *p)?;
            match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            }
        });
        let end = end.load(Ordering::Relaxed);
        let value = match (assigned.contains(p), next) {
            (true, Some(next)) if end >= 0 => (end - next).max(0),
            _ => -1,
        };
        lag.store(value, Ordering::Relaxed);
    }
}
