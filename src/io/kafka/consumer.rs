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
//! # Offsets with checkpoints (exactly once)
//! In a run that takes checkpoints nothing routed is stored: the group's
//! offsets are those of the last committed checkpoint, committed when the
//! source hears that it is ([`Command::Commit`]), and those of the end of
//! input when the run has read it all. A resumed run starts every partition
//! at the checkpoint's offset: assigned there without a group; with one,
//! records before it (the group's offsets may lag the checkpoint by one
//! commit) are skipped.
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
//! with the router thread but the two channels. The thread connects and
//! checks at once, but joins the group (or assigns) and polls only once the
//! source says [`Command::Start`], so a run resumed from a checkpoint starts
//! where the checkpoint says.

use super::connect::{begin, connect, kafka_error, Started};
use super::end_tracker::EndTracker;
use super::health::BrokerHealth;
use super::lag::{measure_lags, PartitionLags, LAG_EVERY};
use super::url::KafkaUrl;
use crate::error::Error;
use crossbeam::channel::{self, Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// With `key_column=`: the key's byte range in [`Chunk::bytes`]; `None`
    /// for a message without a key (or without `key_column=`).
    pub key: Option<(u32, u32)>,
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

/// Which readers of one Kafka input this consumer is (see
/// [`KafkaSource::open_readers`](super::source::KafkaSource::open_readers)):
/// with a group, every reader joins it and the group shares the partitions
/// out; without one, reader `index` reads every `of`-th partition from the
/// `index`-th.
#[derive(Debug, Clone, Copy)]
pub struct Share {
    pub index: usize,
    pub of: usize,
}

impl Share {
    pub const ALL: Share = Share { index: 0, of: 1 };
}

/// Where a run resumed from a checkpoint starts reading.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Per partition, the next offset to read.
    pub offsets: BTreeMap<i32, i64>,
    /// `stop=end`: the end offsets the first run read at its start.
    pub ends: Option<BTreeMap<i32, i64>>,
}

/// What the source tells the consumer thread.
#[derive(Debug)]
pub enum Command {
    /// Join the group (or assign) and start polling: first, once.
    Start {
        /// The run takes checkpoints (see the module docs).
        checkpoints: bool,
        resume: Option<Resume>,
    },
    /// Per partition, the offset after the last record read and routed.
    Routed(BTreeMap<i32, i64>),
    /// A checkpoint holding these offsets is committed: commit them to the
    /// group.
    Commit(BTreeMap<i32, i64>),
}

/// The consumer's context: notes each partition's end offset, and when a
/// broker was last seen up, from the client's statistics (served by `poll`,
/// on the consumer thread).
pub struct Context {
    pub(super) lags: OnceLock<Arc<PartitionLags>>,
    health: BrokerHealth,
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        self.health.seen(&statistics);
        let Some(lags) = self.lags.get() else {
            return;
        };
        let Some(topic) = statistics.topics.get(&lags.topic) else {
            return;
        };
        for (p, _, end) in &lags.lags {
            if let Some(seen) = topic.partitions.get(p) {
                end.store(seen.hi_offset, Ordering::Relaxed);
            }
        }
    }
}

impl ConsumerContext for Context {}

impl Context {
    pub(super) fn new() -> Context {
        Context {
            lags: OnceLock::new(),
            health: BrokerHealth::new(),
        }
    }
}

pub(super) type Client = BaseConsumer<Context>;

/// The source's ends of the consumer thread.
pub struct ConsumerThread {
    pub events: Receiver<Event>,
    pub commands: Option<Sender<Command>>,
    pub handle: Option<JoinHandle<()>>,
    /// `stop=end`: each partition's end offset, read at start.
    pub ends: Option<BTreeMap<i32, i64>>,
    pub lags: Arc<PartitionLags>,
}

impl ConsumerThread {
    /// The topic's partitions.
    pub fn partitions(&self) -> usize {
        self.lags.lags.len()
    }
}

/// Starts the consumer thread for `url` and waits (up to the connect
/// timeout and a little) until it has reached the broker and found the topic.
pub fn spawn(url: &KafkaUrl, share: Share) -> Result<ConsumerThread, Error> {
    type Ready = (Option<BTreeMap<i32, i64>>, Arc<PartitionLags>);
    let (ready_tx, ready_rx) = channel::bounded::<Result<Ready, Error>>(1);
    let (event_tx, events) = channel::bounded(CHUNKS_QUEUED);
    let (command_tx, command_rx) = channel::unbounded();
    let thread_url = url.clone();
    let handle = std::thread::Builder::new()
        .name(format!("corestream-kafka-{}", url.topic))
        .spawn(move || {
            let started = match connect(&thread_url) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok((started.ends.clone(), started.lags.clone())));
            // Nothing to do before the source says start (or goes away).
            let Ok(Command::Start {
                checkpoints,
                resume,
            }) = command_rx.recv()
            else {
                return;
            };
            let started = match begin(started, &thread_url, share, resume) {
                Ok(s) => s,
                Err(e) => {
                    let _ = event_tx.send(Event::Failed(e));
                    return;
                }
            };
            run(started, &thread_url, checkpoints, &event_tx, &command_rx);
        })
        .map_err(|source| Error::Io {
            what: "cannot start the Kafka consumer thread".into(),
            source,
        })?;
    let wait = url.connect_timeout + Duration::from_secs(5);
    match ready_rx.recv_timeout(wait) {
        Ok(Ok((ends, lags))) => Ok(ConsumerThread {
            events,
            commands: Some(command_tx),
            handle: Some(handle),
            ends,
            lags,
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

/// What the thread keeps of the source's commands while it polls.
struct Commands<'a> {
    receiver: &'a Receiver<Command>,
    /// Per partition, the offset after the last record routed.
    routed: BTreeMap<i32, i64>,
    /// Checkpoint offsets not yet committed (the last one wins).
    commit: Option<BTreeMap<i32, i64>>,
}

impl Commands<'_> {
    /// Takes what the source sent; false once it has gone away.
    fn take(&mut self) -> bool {
        loop {
            match self.receiver.try_recv() {
                Ok(c) => self.keep(c),
                Err(channel::TryRecvError::Empty) => return true,
                Err(channel::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn keep(&mut self, command: Command) {
        match command {
            Command::Routed(offsets) => self.routed.extend(offsets),
            Command::Commit(offsets) => self.commit = Some(offsets),
            Command::Start { .. } => {}
        }
    }
}

/// Polls until the source goes away; hands records over, stores routed
/// offsets (or, with checkpoints, commits the checkpoints' offsets), and
/// at the end commits and leaves the group.
fn run(
    started: Started,
    url: &KafkaUrl,
    checkpoints: bool,
    events: &Sender<Event>,
    receiver: &Receiver<Command>,
) {
    let Started {
        consumer,
        ends,
        from,
        lags,
        ..
    } = started;
    let mut lags_due = Instant::now();
    let mut tracker = ends.map(|ends| EndTracker {
        ends,
        from: from.clone(),
        done: BTreeSet::new(),
    });
    let mut ended = false;
    let mut commands = Commands {
        receiver,
        routed: BTreeMap::new(),
        commit: None,
    };
    let mut stored: BTreeMap<i32, i64> = BTreeMap::new();
    let mut chunk = Chunk::default();
    let mut assigned: Vec<i32> = Vec::new();
    let mut told_assignment = false;
    // Stores routed offsets, or commits a committed checkpoint's.
    let settle = |commands: &mut Commands<'_>, stored: &mut BTreeMap<i32, i64>| {
        if url.group.is_none() {
            return;
        }
        match checkpoints {
            false => store(&consumer, url, &commands.routed, stored),
            true => {
                if let Some(offsets) = commands.commit.take() {
                    // A failed commit is made good by the next checkpoint's;
                    // a resumed run starts at the checkpoint's offsets anyway.
                    let _ = consumer.commit(&offsets_list(url, &offsets), CommitMode::Sync);
                }
            }
        }
    };
    'poll: loop {
        if !commands.take() {
            break;
        }
        settle(&mut commands, &mut stored);
        if ended {
            // Wait for the source to go away: at once without checkpoints;
            // with them, after the run's final checkpoint (its Commit). The
            // client is not polled meanwhile, so this member holds up any
            // rebalance of its group until then (see docs/kafka.md).
            match receiver.recv_timeout(POLL_WAIT) {
                Ok(c) => commands.keep(c),
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
                    consumer.context().health.up();
                    let (partition, offset) = (m.partition(), m.offset());
                    if let Some(t) = tracker.as_mut() {
                        if !t.take(partition, offset) {
                            continue;
                        }
                    }
                    // Routed before the checkpoint this run resumed from.
                    if from.get(&partition).is_some_and(|&f| offset < f) {
                        continue;
                    }
                    let mut keep = |bytes: &[u8]| {
                        let start = chunk.bytes.len() as u32;
                        chunk.bytes.extend_from_slice(bytes);
                        (start, chunk.bytes.len() as u32)
                    };
                    let value = m.payload().map(&mut keep);
                    let key = m.key().filter(|_| url.key_column.is_some()).map(keep);
                    chunk.records.push(RecordMeta {
                        partition,
                        offset,
                        timestamp: m.timestamp().to_millis(),
                        value,
                        key,
                    });
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    if let Some(t) = tracker.as_mut() {
                        t.done.insert(p);
                    }
                }
                // librdkafka reconnects; `broker_timeout` bounds the wait.
                Some(Err(e)) if super::health::transient(&e) => break,
                Some(Err(e)) => {
                    let _ = events.send(Event::Failed(kafka_error(url, e.to_string())));
                    break 'poll;
                }
            }
        }
        if let Some(down) = consumer.context().health.down_for(url.broker_timeout) {
            let reason = format!(
                "no broker at {} has answered for {down:?} (broker_timeout={:?})",
                url.brokers, url.broker_timeout
            );
            let _ = events.send(Event::Failed(kafka_error(url, reason)));
            break 'poll;
        }
        // Backpressure: wait while the source is behind, but keep taking
        // its commands, and notice it going away (false).
        let send = |mut event: Event, commands: &mut Commands<'_>| loop {
            match events.send_timeout(event, POLL_WAIT) {
                Ok(()) => return true,
                Err(SendTimeoutError::Timeout(e)) => {
                    event = e;
                    if !commands.take() {
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
            if !send(Event::Assigned(assigned.clone()), &mut commands) {
                break 'poll;
            }
        }
        if !chunk.records.is_empty()
            && !send(Event::Records(std::mem::take(&mut chunk)), &mut commands)
        {
            break 'poll;
        }
        if Instant::now() >= lags_due {
            lags_due = Instant::now() + LAG_EVERY;
            measure_lags(&consumer, &lags, &assigned, &commands.routed);
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
    // The source has gone away: commit what it routed (with checkpoints:
    // what it said to commit), then leave the group (dropping the consumer
    // closes it).
    commands.take();
    settle(&mut commands, &mut stored);
    if url.group.is_some() && !checkpoints && !stored.is_empty() {
        let _ = consumer.commit(&offsets_list(url, &stored), CommitMode::Sync);
    }
}

/// Stores the routed offsets that moved since the last store, for the next
/// automatic commit. A partition this member no longer owns is skipped.
fn store(
    consumer: &Client,
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
