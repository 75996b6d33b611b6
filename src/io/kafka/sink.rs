//! A Kafka topic as the output: `--output 'kafka://HOST:PORT/TOPIC?format=json|csv&key=COL[,COL]'`.
//!
//! Each shard has its own producer (merge-free, no channel shared between
//! shards) and sends each result row as one message: the value is the row as
//! one CSV record (no header) or one JSON object; the key is the key columns'
//! values as one CSV record: the columns `key=` names, by default the query's
//! group key (and the window start of a windowed query), so a compacted topic
//! keeps the latest row per key of an `EMIT CHANGES` query. A query without a
//! group key sends messages without a key.
//!
//! # Delivery
//! A failed delivery (reported by librdkafka once its retries are spent, or
//! when the message is not delivered within `broker_timeout=`)
//! stops the shard at its next write, or at its close, with an error naming
//! the topic and the shard; a shard's close waits until every message it
//! sent is delivered or failed. A run that succeeds has delivered every row
//! the summary counts as written.
//!
//! # Threading
//! The producers are created by [`KafkaOutput::prepare`], called by the engine
//! builder on its (unpinned) thread, so librdkafka's threads, and the
//! producer's delivery-report thread, are not pinned to a shard core. Each
//! shard takes its own producer once, when it opens its sink, and uses it only
//! on its own thread; sending is non-blocking (a full producer queue makes
//! the shard back off and retry, as a full ring does).

use super::url::{KafkaUrl, ValueFormat};
use crate::data::{Batch, Schema};
use crate::error::Error;
use crate::io::sink::{JsonRows, OutputFormat};
use crate::sql::plan::{PlanBody, QueryPlan};
use crossbeam::utils::Backoff;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A shard's producer, waiting to be taken by its shard.
// Control plane: each shard takes its producer once, when it opens its sink;
// the data path never touches the lock.
#[allow(clippy::disallowed_types)]
type Slot = std::sync::Mutex<Option<ThreadedProducer<Delivery>>>;

/// The Kafka output of a run (in [`OutputSpec::Kafka`](crate::io::sink::OutputSpec)).
///
/// Equality is identity (the same `Arc`), so that `OutputSpec` stays `Eq`.
#[derive(Clone)]
pub struct KafkaOutput(Arc<Inner>);

struct Inner {
    spec: String,
    /// The `--output-format`, unless the URL says `format=`.
    format: OutputFormat,
    prepared: OnceLock<Prepared>,
}

struct Prepared {
    url: KafkaUrl,
    format: OutputFormat,
    /// Key columns, by index in the output schema.
    key: Vec<usize>,
    slots: Vec<Slot>,
}

impl KafkaOutput {
    /// The output `spec` (`kafka://...`), checked by [`prepare`](Self::prepare).
    pub fn new(spec: &str, format: OutputFormat) -> KafkaOutput {
        KafkaOutput(Arc::new(Inner {
            spec: spec.to_string(),
            format,
            prepared: OnceLock::new(),
        }))
    }

    /// The topic's URL, for messages.
    pub fn describe(&self) -> String {
        match self.0.prepared.get() {
            Some(p) => p.url.describe(),
            None => self.0.spec.clone(),
        }
    }

    /// The format rows are written in.
    pub fn format(&self) -> OutputFormat {
        match self.0.prepared.get() {
            Some(p) => p.format,
            None => self.0.format,
        }
    }

    /// Checks the URL and the key columns against `plan`, connects to the
    /// broker (failing within the URL's `timeout` if it does not answer or
    /// the topic does not exist), and creates one producer per shard.
    ///
    /// # Threading
    /// Call it on a thread not pinned to a shard core (the engine builder's).
    pub fn prepare(&self, shards: usize, plan: &QueryPlan) -> Result<(), Error> {
        let url = KafkaUrl::parse(&self.0.spec, "--output")?;
        url.check_for_output("--output")?;
        let format = match url.format {
            Some(ValueFormat::Json) => OutputFormat::Json,
            Some(ValueFormat::Csv) => OutputFormat::Csv,
            None => self.0.format,
        };
        let schema = &plan.output_schema;
        let key = match &url.key {
            Some(names) => names
                .iter()
                .map(|n| {
                    schema.index_of(n).ok_or_else(|| {
                        Error::Config(format!(
                            "--output {}: key column {n:?} is not in the output ({})",
                            url.describe(),
                            schema.header()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => group_key_columns(plan),
        };
        let what = |shard: Option<usize>| match shard {
            Some(s) => format!("Kafka output {} (shard {s})", url.describe()),
            None => format!("Kafka output {}", url.describe()),
        };
        let mut slots = Vec::with_capacity(shards);
        for shard in 0..shards {
            let producer: ThreadedProducer<Delivery> = producer_config(&url)
                .create_with_context(Delivery::default())
                .map_err(|e| Error::Kafka {
                    what: what(Some(shard)),
                    reason: format!("cannot create the producer: {e}"),
                })?;
            if shard == 0 {
                check_topic(&producer, &url).map_err(|reason| Error::Kafka {
                    what: what(None),
                    reason,
                })?;
            }
            slots.push(Slot::new(Some(producer)));
        }
        let prepared = Prepared {
            url,
            format,
            key,
            slots,
        };
        self.0.prepared.set(prepared).map_err(|_| {
            Error::Config(format!("--output {}: used by a second engine", self.0.spec))
        })
    }

    /// Shard `shard`'s sink, writing rows of `schema`; once per shard.
    pub fn take(&self, shard: usize, schema: &Schema) -> io::Result<KafkaShardSink> {
        let p = self.0.prepared.get().ok_or_else(|| {
            io::Error::other("the Kafka output was not prepared (KafkaOutput::prepare)")
        })?;
        let producer = p
            .slots
            .get(shard)
            .and_then(|slot| slot.lock().ok()?.take())
            .ok_or_else(|| io::Error::other(format!("no Kafka producer for shard {shard}")))?;
        Ok(KafkaShardSink {
            producer,
            topic: p.url.topic.clone(),
            // A message fails by broker_timeout; then flush returns.
            delivery_wait: p.url.broker_timeout + Duration::from_secs(5),
            shard,
            key: p.key.clone(),
            json: (p.format == OutputFormat::Json).then(|| JsonRows::new(schema)),
            value: Vec::new(),
            key_buf: Vec::new(),
        })
    }
}

impl std::fmt::Debug for KafkaOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KafkaOutput({:?})", self.0.spec)
    }
}

impl PartialEq for KafkaOutput {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for KafkaOutput {}

/// The output columns that are the query's group key (and a window's start).
fn group_key_columns(plan: &QueryPlan) -> Vec<usize> {
    let PlanBody::Aggregate(a) = &plan.body else {
        return Vec::new();
    };
    // The grouped row is the keys, then window_start and window_end.
    let keys = a.keys.len() + usize::from(a.window.is_some());
    a.project
        .iter()
        .enumerate()
        .filter(
            |(_, e)| matches!(e, crate::exec::expr::Expr::Column { index, .. } if *index < keys),
        )
        .map(|(i, _)| i)
        .collect()
}

fn producer_config(url: &KafkaUrl) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &url.brokers)
        .set(
            "socket.connection.setup.timeout.ms",
            url.connect_timeout.as_millis().max(1000).to_string(),
        )
        // Rows reach the broker promptly; librdkafka still batches under load.
        .set("linger.ms", "5")
        // A message not delivered within broker_timeout fails (a broker
        // gone for that long stops the run).
        .set(
            "message.timeout.ms",
            url.broker_timeout.as_millis().max(1000).to_string(),
        );
    for (k, v) in &url.properties {
        config.set(k, v);
    }
    config
}

/// Whether the broker answers and has the topic.
fn check_topic(producer: &ThreadedProducer<Delivery>, url: &KafkaUrl) -> Result<(), String> {
    let timeout = url.connect_timeout;
    let metadata = producer
        .client()
        .fetch_metadata(Some(&url.topic), timeout)
        .map_err(|e| {
            format!(
                "cannot reach the broker at {} within {timeout:?}: {e}",
                url.brokers
            )
        })?;
    let exists = metadata
        .topics()
        .iter()
        .any(|t| t.name() == url.topic && t.error().is_none() && !t.partitions().is_empty());
    match exists {
        true => Ok(()),
        false => Err(format!(
            "topic {} does not exist (create it first)",
            url.topic
        )),
    }
}

/// Delivery failures of one shard's producer, counted on the producer's own
/// polling thread and read by the shard.
#[derive(Default)]
pub struct Delivery {
    /// Written only by the delivery-report thread.
    failed: AtomicU64,
    /// The first failure's reason.
    first_failure: OnceLock<String>,
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if let Err((e, _)) = result {
            let _ = self.first_failure.set(e.to_string());
            // ORDERING: Release pairs with the Acquire in
            // KafkaShardSink::check, which then reads first_failure.
            self.failed.fetch_add(1, Ordering::Release);
        }
    }
}

/// One shard's Kafka producer.
///
/// # Threading
/// Lives on its shard's executor and is used only there.
pub struct KafkaShardSink {
    producer: ThreadedProducer<Delivery>,
    topic: String,
    /// Longest the close waits for its messages to be delivered.
    delivery_wait: Duration,
    shard: usize,
    key: Vec<usize>,
    json: Option<JsonRows>,
    value: Vec<u8>,
    key_buf: Vec<u8>,
}

impl KafkaShardSink {
    /// An error if a delivery failed.
    fn check(&self) -> io::Result<()> {
        let ctx = self.producer.context();
        // ORDERING: Acquire pairs with the Release in Delivery::delivery.
        let failed = ctx.failed.load(Ordering::Acquire);
        if failed == 0 {
            return Ok(());
        }
        let reason = ctx.first_failure.get().map_or("", String::as_str);
        Err(io::Error::other(format!(
            "{failed} message(s) to topic {} from shard {} were not delivered: {reason}",
            self.topic, self.shard
        )))
    }

    /// Sends every row of `batch` as one message.
    pub fn write(&mut self, batch: &Batch) -> io::Result<()> {
        self.check()?;
        self.value.clear();
        if let Some(j) = &self.json {
            j.write(batch, &mut self.value);
        }
        let mut json_start = 0;
        let backoff = Backoff::new();
        for row in 0..batch.len {
            let value_range = match &self.json {
                // One object per line; a newline inside a value is escaped.
                Some(_) => {
                    let end = json_start
                        + self.value[json_start..]
                            .iter()
                            .position(|&b| b == b'\n')
                            .unwrap_or(self.value.len() - json_start);
                    let range = json_start..end;
                    json_start = end + 1;
                    range
                }
                None => {
                    let start = self.value.len();
                    for (j, c) in batch.columns.iter().enumerate() {
                        if j > 0 {
                            self.value.push(b',');
                        }
                        c.write_csv(row, &mut self.value);
                    }
                    start..self.value.len()
                }
            };
            self.key_buf.clear();
            for (n, &c) in self.key.iter().enumerate() {
                if n > 0 {
                    self.key_buf.push(b',');
                }
                batch.columns[c].write_csv(row, &mut self.key_buf);
            }
            backoff.reset();
            loop {
                let mut record: BaseRecord<'_, [u8], [u8]> =
                    BaseRecord::to(&self.topic).payload(&self.value[value_range.clone()]);
                if !self.key.is_empty() {
                    record = record.key(&self.key_buf[..]);
                }
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // The producer's queue is full: wait for deliveries.
                        self.check()?;
                        if backoff.is_completed() {
                            std::thread::yield_now();
                        } else {
                            backoff.snooze();
                        }
                    }
                    Err((e, _)) => {
                        return Err(io::Error::other(format!(
                            "cannot send to topic {} from shard {}: {e}",
                            self.topic, self.shard
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    /// Waits until every message sent is delivered (or failed).
    pub fn close(self) -> io::Result<()> {
        let wait = self.delivery_wait;
        self.producer.flush(wait).map_err(|e| {
            io::Error::other(format!(
                "messages to topic {} from shard {} not delivered within {wait:?}: {e}",
                self.topic, self.shard
            ))
        })?;
        self.check()
    }
}
