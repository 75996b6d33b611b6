//! The Kafka consumer's own thread: the librdkafka client, its group
//! membership, rebalances and offset commits, off the shard cores.
//!
//! The thread creates the client (so librdkafka's own threads inherit this
//! thread's CPU set, not a shard's), checks that the broker answers and the
//! topic exists, then polls messages and hands them to the
//! [`KafkaSource`](super::source::KafkaSource) in [`Chunk`]s over a bounded
//! channel (backpressure: a full channel stops the polling). The source sends
//! back, for each partition, the next offset after the records that were
//! read and routed; the thread stores those for the next commit.
//!
//! # Offsets (at least once)
//! With a `group`, `enable.auto.offset.store` is off and only offsets the
//! source reported routed are stored; librdkafka commits stored offsets
//! every `auto.commit.interval.ms` and when a rebalance revokes partitions.
//! When the source goes away (end of input, a stop, an error) the thread
//! stores what the source last reported, commits synchronously and closes
//! the consumer, which leaves the group: a partition handed to another member
//! resumes where this one stopped. Records handed over but not yet routed
//! when partitions are revoked are read again by their next owner.
//!
//! # Stopping at the end (`stop=end`)
//! The end offsets (high watermarks) of every partition are read once, at
//! start. A partition is done when a record at or past its end offset - 1
//! has been read, or the consumer reports the partition's end (tansu 0.6
//! reports the base offset of the last record batch + 1 as the end, so the
//! partition-end event is what ends a partition whose last batch holds
//! several records). Records at or past the end offset are not handed over.
//! When every assigned partition is done the thread sends [`Event::End`].
//!
//! # Assignment
//! After every poll the thread checks the partitions assigned to it and
//! tells the source when they change ([`Event::Assigned`]), before it hands
//! over the records of that poll, for the per-partition watermark: a
//! rebalance happens within a poll, so the source hears of a partition before
//! its first record.
//!
//! # Threading
//! Everything here runs on the thread [`spawn`] starts; it shares nothing
//! with the router thread but the two channels.

use super::url::{KafkaUrl, StartOffset, StopAt};
use crate::error::Error;
use crossbeam::channel::{self, Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::thread::JoinHandle;
use std::time::Duration;

/// Records handed over per chunk, at most.
const CHUNK_RECORDS: usize = 1024;
/// Chunks waiting for the source, at most.
const CHUNKS_QUEUED: usize = 16;
/// Longest one poll of the client waits, so the thread sees the source
/// going away promptly.
const POLL_WAIT: Duration = Duration::from_millis(20);

/// One consumed record: where it came from, and its value in
/// [`Chunk::bytes`].
#[derive(Debug, Clone, Copy)]
pub struct RecordMeta {
    pub partition: i32,
    pub offset: i64,
    /// The message timestamp (ms since the epoch), if it has one.
    pub timestamp: Option<i64>,
    /// The value's byte range in [`Chunk::bytes`]; `None` for a null value.
    pub value: Option<(u32, u32)>,
}

/// Records polled together: their values back to back in one buffer.
#[derive(Debug, Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub records: Vec<RecordMeta>,
}

/// What the consumer thread tells the source.
#[derive(Debug)]
pub enum Event {
    Records(Chunk),
    /// The partitions assigned now (sorted): at start, and after a rebalance.
    Assigned(Vec<i32>),
    /// `stop=end`: every assigned partition reached its end offset.
    End,
    /// The client failed; the run stops with this error.
    Failed(Error),
}

/// What the source tells the consumer thread: per partition, the offset
/// after the last record read and routed.
#[derive(Debug, Default)]
pub struct Routed(pub BTreeMap<i32, i64>);

/// The source's ends of the consumer thread.
pub struct ConsumerThread {
    pub events: Receiver<Event>,
    pub routed: Option<Sender<Routed>>,
    pub handle: Option<JoinHandle<()>>,
}

/// The librdkafka properties of the consumer for `url`.
fn consumer_config(url: &KafkaUrl) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &url.brokers)
        .set("enable.partition.eof", "true")
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

/// Starts the consumer thread for `url` and waits (up to the connect
/// timeout and a little) until it has reached the broker and found the topic.
pub fn spawn(url: &KafkaUrl) -> Result<ConsumerThread, Error> {
    let (ready_tx, ready_rx) = channel::bounded::<Result<(), Error>>(1);
    let (event_tx, events) = channel::bounded(CHUNKS_QUEUED);
    let (routed_tx, routed_rx) = channel::unbounded();
    let thread_url = url.clone();
    let handle = std::thread::Builder::new()
        .name(format!("corestream-kafka-{}", url.topic))
        .spawn(move || {
            let consumer = match start(&thread_url) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            run(consumer, &thread_url, &event_tx, &routed_rx);
        })
        .map_err(|source| Error::Io {
            what: "cannot start the Kafka consumer thread".into(),
            source,
        })?;
    let wait = url.connect_timeout + Duration::from_secs(5);
    match ready_rx.recv_timeout(wait) {
        Ok(Ok(())) => Ok(ConsumerThread {
            events,
            routed: Some(routed_tx),
            handle: Some(handle),
        }),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        // The thread is stuck in the client; leave it (it ends with the process).
        Err(_) => Err(kafka_error(
            url,
            format!("no answer from the broker within {wait:?}"),
        )),
    }
}

/// An error about the Kafka input at `url`.
fn kafka_error(url: &KafkaUrl, reason: impl Into<String>) -> Error {
    Error::Kafka {
        what: format!("Kafka input {}", url.describe()),
        reason: reason.into(),
    }
}

/// A started consumer and what it must read.
struct Started {
    consumer: BaseConsumer<DefaultConsumerContext>,
    /// `stop=end`: each partition's end offset at start.
    ends: Option<BTreeMap<i32, i64>>,
}

/// Creates the client, checks the broker and the topic, reads the end
/// offsets if needed, and subscribes (with a group) or assigns every partition.
fn start(url: &KafkaUrl) -> Result<Started, Error> {
    let consumer: BaseConsumer<DefaultConsumerContext> = consumer_config(url)
        .create()
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
    let partitions: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
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
            for &p in &partitions {
                tpl.add_partition_offset(&url.topic, p, start)
                    .map_err(|e| kafka_error(url, e.to_string()))?;
            }
            consumer
                .assign(&tpl)
                .map_err(|e| kafka_error(url, format!("cannot assign partitions: {e}")))?;
        }
    }
    Ok(Started { consumer, ends })
}

/// Per partition, how far `stop=end` reading has got.
#[derive(Default)]
struct EndTracker {
    ends: BTreeMap<i32, i64>,
    done: BTreeSet<i32>,
}

impl EndTracker {
    /// Whether a record at `offset` of `partition` is before the end (to be
    /// handed over); marks the partition done when it reaches the end.
    fn take(&mut self, partition: i32, offset: i64) -> bool {
        let end = self.ends.get(&partition).copied().unwrap_or(i64::MAX);
        if offset + 1 >= end {
            self.done.insert(partition);
        }
        offset < end
    }

    /// Whether every partition in `assigned` is done (an empty assignment
    /// is not: the group has not assigned anything yet).
    fn all_done(&mut self, assigned: &[i32]) -> bool {
        for &p in assigned {
            // A partition that is empty up to its end is done at once.
            if self.ends.get(&p).is_some_and(|&e| e <= 0) {
                self.done.insert(p);
            }
        }
        !assigned.is_empty() && assigned.iter().all(|p| self.done.contains(p))
    }
}

/// Polls until the source goes away; hands records over, stores routed
/// offsets, and at the end commits and leaves the group.
fn run(started: Started, url: &KafkaUrl, events: &Sender<Event>, routed_rx: &Receiver<Routed>) {
    let Started { consumer, ends } = started;
    let mut tracker = ends.map(|ends| EndTracker {
        ends,
        done: BTreeSet::new(),
    });
    let mut ended = false;
    let mut routed: BTreeMap<i32, i64> = BTreeMap::new();
    let mut stored: BTreeMap<i32, i64> = BTreeMap::new();
    let mut chunk = Chunk::default();
    let mut assigned: Vec<i32> = Vec::new();
    let mut told_assignment = false;
    // Takes routed offsets; false once the source has gone away.
    let take_routed = |routed: &mut BTreeMap<i32, i64>| loop {
        match routed_rx.try_recv() {
            Ok(Routed(offsets)) => routed.extend(offsets),
            Err(channel::TryRecvError::Empty) => return true,
            Err(channel::TryRecvError::Disconnected) => return false,
        }
    };
    'poll: loop {
        if !take_routed(&mut routed) {
            break;
        }
        if url.group.is_some() {
            store(&consumer, url, &routed, &mut stored);
        }
        if ended {
            // Wait for the source to go away (it commits the last offsets then).
            match routed_rx.recv_timeout(POLL_WAIT) {
                Ok(Routed(offsets)) => routed.extend(offsets),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            continue;
        }
        // Up to a chunk of records, waiting only for the first.
        let mut wait = POLL_WAIT;
        while chunk.records.len() < CHUNK_RECORDS {
            match consumer.poll(wait) {
                None => break,
                Some(Ok(m)) => {
                    wait = Duration::ZERO;
                    let (partition, offset) = (m.partition(), m.offset());
                    if let Some(t) = tracker.as_mut() {
                        if !t.take(partition, offset) {
                            continue;
                        }
                    }
                    let value = m.payload().map(|v| {
                        let start = chunk.bytes.len() as u32;
                        chunk.bytes.extend_from_slice(v);
                        (start, chunk.bytes.len() as u32)
                    });
                    chunk.records.push(RecordMeta {
                        partition,
                        offset,
                        timestamp: m.timestamp().to_millis(),
                        value,
                    });
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    if let Some(t) = tracker.as_mut() {
                        t.done.insert(p);
                    }
                }
                Some(Err(e)) => {
                    let _ = events.send(Event::Failed(kafka_error(url, e.to_string())));
                    break 'poll;
                }
            }
        }
        // Backpressure: wait while the source is behind, but keep storing
        // what it routes, and notice it going away (false).
        let send = |mut event: Event, routed: &mut BTreeMap<i32, i64>| loop {
            match events.send_timeout(event, POLL_WAIT) {
                Ok(()) => return true,
                Err(SendTimeoutError::Timeout(e)) => {
                    event = e;
                    if !take_routed(routed) {
                        return false;
                    }
                }
                Err(SendTimeoutError::Disconnected(_)) => return false,
            }
        };
        // A rebalance happens within a poll, before the records of the
        // partitions it assigns: checked after every poll, the assignment
        // reaches the source before any record of a new partition.
        let mut now: Vec<i32> = consumer
            .assignment()
            .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        now.sort_unstable();
        if now != assigned || !told_assignment {
            told_assignment = true;
            assigned = now;
            if !send(Event::Assigned(assigned.clone()), &mut routed) {
                break 'poll;
            }
        }
        if !chunk.records.is_empty()
            && !send(Event::Records(std::mem::take(&mut chunk)), &mut routed)
        {
            break 'poll;
        }
        if let Some(t) = tracker.as_mut() {
            if t.all_done(&assigned) {
                ended = true;
                if events.send(Event::End).is_err() {
                    break;
                }
            }
        }
    }
    // The source has gone away: commit what it routed, then leave the group
    // (dropping the consumer closes it).
    take_routed(&mut routed);
    if url.group.is_some() {
        store(&consumer, url, &routed, &mut stored);
        if !stored.is_empty() {
            let _ = consumer.commit(&offsets_list(url, &stored), CommitMode::Sync);
        }
    }
}

/// Stores the routed offsets that moved since the last store, for the next
/// automatic commit. A partition this member no longer owns is skipped.
fn store(
    consumer: &BaseConsumer<DefaultConsumerContext>,
    url: &KafkaUrl,
    routed: &BTreeMap<i32, i64>,
    stored: &mut BTreeMap<i32, i64>,
) {
    let moved: BTreeMap<i32, i64> = routed
        .iter()
        .filter(|(p, o)| stored.get(p) != Some(o))
        .map(|(&p, &o)| (p, o))
        .collect();
    if moved.is_empty() {
        return;
    }
    // Per partition: after a rebalance revoked one, storing fails for it alone.
    for (p, o) in moved {
        let mut tpl = TopicPartitionList::new();
        if tpl
            .add_partition_offset(&url.topic, p, Offset::Offset(o))
            .is_ok()
            && consumer.store_offsets(&tpl).is_ok()
        {
            stored.insert(p, o);
        }
    }
}

/// `offsets` of the URL's topic as a partition list.
fn offsets_list(url: &KafkaUrl, offsets: &BTreeMap<i32, i64>) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (&p, &o) in offsets {
        let _ = tpl.add_partition_offset(&url.topic, p, Offset::Offset(o));
    }
    tpl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_ends_at_its_end_offset_and_nothing_past_it_is_taken() {
        let mut t = EndTracker {
            ends: BTreeMap::from([(0, 3), (1, 0)]),
            done: BTreeSet::new(),
        };
        assert!(!t.all_done(&[]));
        assert!(t.take(0, 0) && t.take(0, 1));
        assert!(!t.all_done(&[0, 1]));
        assert!(t.take(0, 2));
        assert!(!t.take(0, 3));
        assert!(t.all_done(&[0, 1]), "partition 1 is empty");
    }
}
