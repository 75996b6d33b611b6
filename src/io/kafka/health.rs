//! Whether a Kafka client's brokers answer, for `broker_timeout=`: a run
//! goes on while librdkafka reconnects, and fails (exit 1, naming the
//! brokers) once none has been up for that long, instead of waiting for
//! ever.
//!
//! A broker counts as up when the client's statistics (about once a second,
//! `statistics.interval.ms`) show one in state `UP`, or when a message
//! arrives or is delivered.
//!
//! # Threading
//! Written by the client's callbacks and read by the thread that polls the
//! client (the consumer thread, or a shard for its producer): one atomic,
//! relaxed (it carries no other data).

use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When a broker was last seen up.
#[derive(Debug)]
pub struct BrokerHealth {
    start: Instant,
    /// Milliseconds from `start` to when a broker was last seen up.
    last_up_ms: AtomicU64,
}

impl BrokerHealth {
    /// Counts the brokers as up now (the client has just connected).
    pub fn new() -> BrokerHealth {
        BrokerHealth {
            start: Instant::now(),
            last_up_ms: AtomicU64::new(0),
        }
    }

    /// A broker answered just now.
    pub fn up(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_up_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Notes the brokers' states in the client's statistics.
    pub fn seen(&self, statistics: &Statistics) {
        if statistics.brokers.values().any(|b| b.state == "UP") {
            self.up();
        }
    }

    /// How long no broker has been up, when that is at least `timeout`.
    pub fn down_for(&self, timeout: Duration) -> Option<Duration> {
        let last = Duration::from_millis(self.last_up_ms.load(Ordering::Relaxed));
        let down = self.start.elapsed().saturating_sub(last);
        (down >= timeout).then_some(down)
    }
}

/// Whether a client error is one librdkafka recovers from by itself
/// (a broker or the network away for a while): the run goes on, bounded
/// by `broker_timeout=`.
pub fn transient(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(
            C::BrokerTransportFailure
                | C::AllBrokersDown
                | C::Resolve
                | C::NetworkException
                | C::RequestTimedOut
                | C::OperationTimedOut
                | C::BrokerNotAvailable
                | C::LeaderNotAvailable
                | C::NotLeaderForPartition
                | C::NotCoordinator
                | C::CoordinatorNotAvailable
                | C::CoordinatorLoadInProgress
        )
    )
}

impl Default for BrokerHealth {
    fn default() -> Self {
        BrokerHealth::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_are_down_only_once_none_has_been_up_for_the_timeout() {
        let h = BrokerHealth::new();
        assert_eq!(h.down_for(Duration::from_secs(60)), None);
        assert!(h.down_for(Duration::ZERO).is_some());
        h.up();
        assert_eq!(h.down_for(Duration::from_secs(1)), None);
    }

    #[test]
    fn a_broker_away_is_transient_and_a_bad_request_is_not() {
        let away = KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure);
        assert!(transient(&away));
        let bad = KafkaError::MessageConsumption(RDKafkaErrorCode::TopicAuthorizationFailed);
        assert!(!transient(&bad));
    }
}
