//! Helpers for the tests against a real Kafka-protocol broker: finding or
//! starting the broker, making topics, producing and consuming messages.
//!
//! The broker is `CORESTREAM_KAFKA=HOST:PORT` when set (`tools/test` and
//! `.ci/run` start one with `tools/kafka-broker start`); otherwise the
//! tests start one themselves through `tools/kafka-broker` (which builds
//! tansu once into a cache), stopped when the test process exits. If no
//! broker can be had, every test fails saying so: none is skipped.
#![allow(dead_code)] // each test crate compiles this module and uses only part of it

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::future::Future;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// The broker's address, found or started once per test process.
pub fn broker() -> &'static str {
    static BROKER: OnceLock<Result<String, String>> = OnceLock::new();
    let found = BROKER.get_or_init(|| {
        if let Ok(addr) = std::env::var("CORESTREAM_KAFKA") {
            return Ok(addr);
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/kafka-broker");
        let out = std::process::Command::new(script)
            .arg("start")
            .env("CORESTREAM_KAFKA_OWNER", std::process::id().to_string())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        let addr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match out.status.success() && !addr.is_empty() {
            true => Ok(addr),
            false => Err(format!("{script} start failed ({})", out.status)),
        }
    });
    match found {
        Ok(addr) => addr,
        Err(e) => panic!(
            "no Kafka broker for these tests: set CORESTREAM_KAFKA=HOST:PORT, or let \
             tools/kafka-broker start one: {e}"
        ),
    }
}

/// A topic name unique to this process and call.
pub fn topic(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a future to completion on this thread (the admin client's futures
/// are completed by its own thread).
pub fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(50)),
        }
    }
}

/// A broker of the caller's own (stopped with [`stop_broker`], or when
/// the test process exits): for tests that stop it.
pub fn own_broker() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/kafka-broker");
    let out = std::process::Command::new(script)
        .arg("start")
        .env("CORESTREAM_KAFKA_OWNER", std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("tools/kafka-broker runs");
    assert!(out.status.success(), "tools/kafka-broker start failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Stops a broker [`own_broker`] started.
pub fn stop_broker(addr: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/kafka-broker");
    let status = std::process::Command::new(script)
        .args(["stop", addr])
        .status()
        .expect("tools/kafka-broker runs");
    assert!(status.success(), "tools/kafka-broker stop {addr} failed");
}

pub fn create_topic(name: &str, partitions: i32) {
    create_topic_on(broker(), name, partitions)
}

pub fn create_topic_on(addr: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .expect("admin client");
    let results = block_on(admin.create_topics(
        &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
    ))
    .expect("create_topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
}

/// Produces `(key, value)` messages, one per record batch, and waits until
/// every one is delivered.
pub fn produce(topic: &str, messages: &[(String, String)]) {
    produce_on(broker(), topic, messages)
}

/// [`produce`] to the broker at `addr`.
pub fn produce_on(addr: &str, topic: &str, messages: &[(String, String)]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    for (k, v) in messages {
        let mut record = BaseRecord::to(topic).key(k.as_str()).payload(v.as_str());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("every message delivered");
}

/// Produces values to a chosen partition, with a chosen message timestamp
/// (ms) when given, one per record batch, in order; waits until every one
/// is delivered.
pub fn produce_to(topic: &str, messages: &[(i32, Option<i64>, String)]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .set("max.in.flight.requests.per.connection", "1")
        .create()
        .expect("producer");
    for (partition, timestamp, v) in messages {
        let mut record = BaseRecord::<(), str>::to(topic)
            .partition(*partition)
            .payload(v.as_str());
        if let Some(ms) = timestamp {
            record = record.timestamp(*ms);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("every message delivered");
}

/// Reads `count` messages of `topic` (every partition from the start), or
/// fails after a minute naming what each partition gave and what the
/// broker says each holds; returns (key, value) pairs.
///
/// A fetch the broker leaves unanswered is retried after a few seconds
/// (librdkafka's default waits a minute), and client errors are kept for
/// the failure message rather than dropped.
pub fn consume(topic: &str, count: usize) -> Vec<(String, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .set("group.id", "corestream-test-reader")
        .set("enable.auto.commit", "false")
        // Should the broker fail a partition's first offset lookup, restart
        // it from the beginning, not from its end (librdkafka's default).
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100")
        .set("socket.timeout.ms", "3000")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    assert!(!partitions.is_empty(), "{topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    let mut per_partition = std::collections::BTreeMap::<i32, usize>::new();
    let mut errors = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let text =
                    |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
                *per_partition.entry(m.partition()).or_default() += 1;
                out.push((text(m.key()), text(m.payload())));
            }
            Some(Err(e)) => errors.push(e.to_string()),
            None => {}
        }
    }
    if out.len() != count {
        let held: Vec<_> = partitions
            .iter()
            .map(|&p| {
                (
                    p,
                    consumer.fetch_watermarks(topic, p, Duration::from_secs(5)),
                )
            })
            .collect();
        panic!(
            "read {} of {count} messages from {topic}: per partition {per_partition:?}; \
             the broker's (low, high) offsets {held:?}; client errors {errors:?}",
            out.len()
        );
    }
    out
}
