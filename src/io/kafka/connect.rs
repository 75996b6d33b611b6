//! Creating the Kafka input's client on the consumer thread: its librdkafka
//! properties, the checks that the broker answers and the topic exists, the
//! end offsets for `stop=end`, then joining the group or assigning this
//! reader's partitions (see [`super::consumer`] for the thread itself).

use super::consumer::{Client, Context, Resume, Share};
use super::lag::PartitionLags;
use super::url::{KafkaUrl, StartOffset, StopAt};
use crate::error::Error;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

/// The librdkafka properties of the consumer for `url`.
fn consumer_config(url: &KafkaUrl) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &url.brokers)
        .set("enable.partition.eof", "true")
        // Each partition's end offset, for its lag (see `Context`).
        .set("statistics.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.offset.reset",
            match url.start {
                StartOffset::Earliest => "earliest",
                StartOffset::Latest => "latest",
            },
        )
        // Give up on a broker that is not there within the connect timeout.
        .set(
            "socket.connection.setup.timeout.ms",
            url.connect_timeout.as_millis().max(1000).to_string(),
        );
    match &url.group {
        Some(g) => {
            config.set("group.id", g).set("enable.auto.commit", "true");
        }
        // librdkafka wants a group id even for assigned partitions; nothing
        // is committed under it.
        None => {
            config
                .set("group.id", "corestream-unused")
                .set("enable.auto.commit", "false");
        }
    }
    for (k, v) in &url.properties {
        config.set(k, v);
    }
    config
}

/// An error about the Kafka input at `url`.
pub(super) fn kafka_error(url: &KafkaUrl, reason: impl Into<String>) -> Error {
    Error::Kafka {
        what: format!("Kafka input {}", url.describe()),
        reason: reason.into(),
    }
}

/// A connected consumer and what it must read.
pub(super) struct Started {
    pub(super) consumer: Client,
    pub(super) partitions: Vec<i32>,
    /// `stop=end`: each partition's end offset at start.
    pub(super) ends: Option<BTreeMap<i32, i64>>,
    /// Per partition, the first offset to hand over (a resumed run).
    pub(super) from: BTreeMap<i32, i64>,
    pub(super) lags: Arc<PartitionLags>,
}

/// Creates the client, checks the broker and the topic, and reads the end
/// offsets if needed.
pub(super) fn connect(url: &KafkaUrl) -> Result<Started, Error> {
    let consumer: Client = consumer_config(url)
        .create_with_context(Context::new())
        .map_err(|e| kafka_error(url, format!("cannot create the client: {e}")))?;
    let timeout = url.connect_timeout;
    let metadata = consumer
        .fetch_metadata(Some(&url.topic), timeout)
        .map_err(|e| {
            kafka_error(
                url,
                format!(
                    "cannot reach the broker at {} within {timeout:?}: {e}",
                    url.brokers
                ),
            )
        })?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == url.topic)
        .ok_or_else(|| kafka_error(url, format!("topic {} does not exist", url.topic)))?;
    if let Some(err) = topic.error() {
        let err = rdkafka::types::RDKafkaErrorCode::from(err);
        return Err(kafka_error(
            url,
            match err {
                rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition
                | rdkafka::types::RDKafkaErrorCode::UnknownTopic => {
                    format!("topic {} does not exist", url.topic)
                }
                e => format!("topic {}: {e}", url.topic),
            },
        ));
    }
    let mut partitions: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    if partitions.is_empty() {
        return Err(kafka_error(
            url,
            format!("topic {} does not exist (no partitions)", url.topic),
        ));
    }
    let ends = match url.stop {
        StopAt::Never => None,
        StopAt::EndAtStart => {
            let mut ends = BTreeMap::new();
            for &p in &partitions {
                let (_low, high) =
                    consumer
                        .fetch_watermarks(&url.topic, p, timeout)
                        .map_err(|e| {
                            kafka_error(url, format!("cannot read the end of partition {p}: {e}"))
                        })?;
                ends.insert(p, high);
            }
            Some(ends)
        }
    };
    let lags = Arc::new(PartitionLags {
        topic: url.topic.clone(),
        lags: (partitions.iter())
            .map(|&p| (p, AtomicI64::new(-1), AtomicI64::new(-1)))
            .collect(),
    });
    // Set once, before the statistics can be served (by the first poll).
    let _ = consumer.context().lags.set(lags.clone());
    Ok(Started {
        consumer,
        partitions,
        ends,
        from: BTreeMap::new(),
        lags,
    })
}

/// Subscribes (with a group) or assigns every partition, from where
/// `resume` says if the run resumes a checkpoint.
pub(super) fn begin(
    mut started: Started,
    url: &KafkaUrl,
    share: Share,
    resume: Option<Resume>,
) -> Result<Started, Error> {
    if let Some(r) = resume {
        // The first run's ends: a resumed run stops where it would have.
        if r.ends.is_some() {
            started.ends = r.ends;
        }
        started.from = r.offsets;
    }
    let consumer = &started.consumer;
    match &url.group {
        Some(_) => consumer
            .subscribe(&[&url.topic])
            .map_err(|e| kafka_error(url, format!("cannot subscribe: {e}")))?,
        None => {
            let start = match url.start {
                StartOffset::Earliest => Offset::Beginning,
                StartOffset::Latest => Offset::End,
            };
            let mut tpl = TopicPartitionList::new();
            // This reader's share: every `of`-th partition.
            started.partitions = (started.partitions.iter().copied())
                .skip(share.index)
                .step_by(share.of.max(1))
                .collect();
            for &p in &started.partitions {
                let at = started.from.get(&p).map_or(start, |&o| Offset::Offset(o));
                tpl.add_partition_offset(&url.topic, p, at)
                    .map_err(|e| kafka_error(url, e.to_string()))?;
            }
            consumer
                .assign(&tpl)
                .map_err(|e| kafka_error(url, format!("cannot assign partitions: {e}")))?;
        }
    }
    Ok(started)
}
