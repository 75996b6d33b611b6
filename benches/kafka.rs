//! Kafka topic -> corestream (S2) -> Kafka topic on this machine, against a
//! bare rdkafka consume loop over the same topic in the same run.
//!
//! - **throughput**: S2 (`GROUP BY trader_id, symbol`, four aggregates,
//!   `EMIT FINAL`, as `scenarios.rs`) reads a topic of generated trades (one
//!   CSV record per message, keyed by trader, [`PARTITIONS`] partitions) to
//!   its end (`stop=end`) and writes its result rows to another topic, with
//!   one shard and with one per online core. The **bare** loop is one
//!   `BaseConsumer` with the engine consumer's settings that assigns every
//!   partition from the beginning, reads to the same end offsets and counts
//!   messages and bytes: it decodes nothing, what the client alone costs.
//!   The three alternate trial by trial over the same topic (produced once);
//!   the medians are printed, with `engine / bare`.
//!
//!   A run's time is wall-clock from creating the client (the engine: from
//!   `build()`, which connects, reads the end offsets and makes one producer
//!   per shard) until every record has been read (the engine: until its
//!   results are delivered to the output topic). `CPU` is this process's
//!   user+system CPU time over the run (`/proc/self/stat`, 10 ms ticks): the
//!   consumer's, librdkafka's, the router's and the shards' threads alike, so
//!   `rec/CPU-s` is records per second of one busy core. The broker (tansu,
//!   another process on the same cores) is not in it; its own CPU time over
//!   the run is shown as `broker CPU` when its pid file is found. On two
//!   cores shared with the broker, "1 shard" is not "1 core": the consumer
//!   and router threads are not pinned and use the other core too.
//!
//! - **latency**: the same S2 with `EMIT CHANGES` (one output row per input
//!   record) over a topic that a producer thread fills at a fixed offered load
//!   (`CORESTREAM_BENCH_RATE` records/s, one record per produce request,
//!   `linger.ms=0`): record `i` is due `i / rate` s after the start and sent
//!   then. A consumer thread reads the output topic; an output row
//!   `(trader, symbol, trade_count = k)` is the k-th record of that group (a
//!   group's records stay in order: one partition per trader, one shard per
//!   group), and its latency is from that record's due time to when the
//!   reader polled the row: producer client, broker, engine consumer, router
//!   (5 ms linger), shard, sink producer (5 ms linger), broker, reader.
//!   A sender that falls behind its schedule counts as latency. The first
//!   second's records (start-up) are not counted. The **bare** side is the
//!   same path with a forwarder instead of the engine: one `BaseConsumer`
//!   thread that counts per group and produces `trader,symbol,count` with
//!   the engine sink's `linger.ms=5`: what the two Kafka hops cost alone.
//!   Engine and bare alternate, each over new topics; p50/p99 are medians
//!   over the trials. Beside the engine's, its own `RunSummary` latency
//!   (router read to the shard's sink hand-off): the part of the path that is
//!   the engine's code rather than a Kafka client's or the broker's.
//!
//! Consumer settings: librdkafka's defaults, as the engine's, unless
//! `CORESTREAM_BENCH_KAFKA_PROPS=name=value&...` gives properties to every
//! consumer (the engine's through its URL, the bare ones alike). Against
//! tansu the fetch wait matters: with the default `fetch.wait.max.ms` (500)
//! it appears to answer a fetch only when the wait is up, which sets the
//! latency of both sides; `fetch.wait.max.ms=10` shows the rest.
//!
//! Not shown: a broker on another machine (here tansu 0.6, in memory, on the
//! same two cores, so broker and engine compete for them), batches of more
//! than one record per produce request (tansu's end offsets need one), a
//! consumer group (every partition is assigned), exactly-once output.
//!
//! `cargo bench --bench kafka`; the broker is `CORESTREAM_KAFKA=HOST:PORT`,
//! else one started (and stopped) through `tools/kafka-broker`.
//! `CORESTREAM_BENCH_RECORDS` (default 300,000), `CORESTREAM_BENCH_TRIALS`
//! (default 5), `CORESTREAM_BENCH_RATE` (default 2,000 records/s) for
//! `CORESTREAM_BENCH_SECONDS` (default 10) per latency run. Without
//! `--bench` (as under `cargo test --benches`) it runs only with
//! `CORESTREAM_KAFKA` set, briefly, checking counts.

mod support;

use corestream::io::generator::{trades_schema, GeneratorOptions, TradesGenerator};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::cores::CoreSet;
use corestream::runtime::metrics::{new_latency_histogram, LatencyHistogram};
use corestream::Engine;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};
use support::median;

/// Partitions of every topic the bench makes.
const PARTITIONS: i32 = 4;
/// Groups: traders x symbols.
const TRADERS: u32 = 1000;
const SYMBOLS: u32 = 10;

const S2: &str = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
                  SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value \
                  FROM trades GROUP BY trader_id, symbol";

const TIMEOUT: Duration = Duration::from_secs(10);

/// `CORESTREAM_BENCH_KAFKA_PROPS` (`name=value&...`): librdkafka properties
/// given to every consumer of the bench, the engine's (in its URL) and the
/// bare ones alike; default none.
fn consumer_props() -> Vec<(String, String)> {
    std::env::var("CORESTREAM_BENCH_KAFKA_PROPS")
        .unwrap_or_default()
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// [`consumer_props`] as URL options (`&name=value...`).
fn url_props() -> String {
    consumer_props()
        .iter()
        .map(|(k, v)| format!("&{k}={v}"))
        .collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------- broker

/// The broker: `CORESTREAM_KAFKA`, or one this process started (and stops).
struct Broker {
    addr: String,
    ours: bool,
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/kafka-broker");

impl Broker {
    fn find_or_start() -> Broker {
        if let Ok(addr) = std::env::var("CORESTREAM_KAFKA") {
            return Broker { addr, ours: false };
        }
        let out = std::process::Command::new(SCRIPT)
            .arg("start")
            // Stopped when this process exits, even if it panics.
            .env("CORESTREAM_KAFKA_OWNER", std::process::id().to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {SCRIPT}: {e}"));
        let addr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success() && !addr.is_empty(),
            "{SCRIPT} start failed ({}); set CORESTREAM_KAFKA=HOST:PORT",
            out.status
        );
        Broker { addr, ours: true }
    }

    /// The broker's pid, from `tools/kafka-broker`'s pid file, if found.
    fn pid(&self) -> Option<u32> {
        let port = self.addr.rsplit(':').next()?;
        let cache = std::env::var("CORESTREAM_CACHE").ok().or_else(|| {
            let base = std::env::var("XDG_CACHE_HOME")
                .ok()
                .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.cache")))?;
            Some(format!("{base}/corestream"))
        })?;
        let text = std::fs::read_to_string(format!("{cache}/kafka-run/broker-{port}.pid")).ok()?;
        text.trim().parse().ok()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.ours {
            let _ = std::process::Command::new(SCRIPT)
                .args(["stop", &self.addr])
                .status();
        }
    }
}

/// User+system CPU seconds of process `pid` ("self" for this one), from
/// `/proc/PID/stat` (clock ticks of 10 ms).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// CPU seconds of this process and of the broker.
struct Cpu {
    broker: Option<String>,
}

impl Cpu {
    fn new(broker: &Broker) -> Cpu {
        Cpu {
            broker: broker.pid().map(|p| p.to_string()),
        }
    }

    fn read(&self) -> (f64, Option<f64>) {
        (
            cpu_seconds("self").unwrap_or(0.0),
            self.broker.as_deref().and_then(cpu_seconds),
        )
    }
}

/// Runs a future to completion on this thread (the admin client's futures
/// are completed by its own thread).
fn block_on<F: Future>(f: F) -> F::Output {
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
            std::task::Poll::Ready(v) => return v,
            std::task::Poll::Pending => std::thread::park_timeout(Duration::from_millis(50)),
        }
    }
}

fn admin(addr: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .expect("admin client")
}

/// A new topic of [`PARTITIONS`] partitions, named uniquely for this process.
fn create_topic(addr: &str, tag: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "bench-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let results = block_on(admin(addr).create_topics(
        &[NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1))],
        &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
    ))
    .expect("create_topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
    name
}

/// Deletes the bench's topics (the broker keeps them in memory); best effort.
fn delete_topics(addr: &str, topics: &[String]) {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let _ = block_on(admin(addr).delete_topics(&names, &AdminOptions::new()));
}

// ---------------------------------------------------------------- records

/// `records` generated trades as CSV lines without header, with their trader.
struct Trades {
    lines: Vec<u8>,
    /// Per record, its line's byte range in `lines`.
    ends: Vec<(u32, u32)>,
}

impl Trades {
    fn generate(records: u64, seed: u64) -> Trades {
        let mut g = TradesGenerator::new(GeneratorOptions {
            records: Some(records),
            traders: TRADERS,
            symbols: SYMBOLS,
            seed,
            ..GeneratorOptions::default()
        });
        let mut lines = Vec::new();
        while let Poll::Batch(b) = g.poll(4096, None).expect("the generator does not fail") {
            b.write_csv(&mut lines);
        }
        let mut ends = Vec::with_capacity(records as usize);
        let mut start = 0;
        for (i, &c) in lines.iter().enumerate() {
            if c == b'\n' {
                ends.push((start as u32, i as u32));
                start = i + 1;
            }
        }
        assert_eq!(ends.len() as u64, records, "the generator's records");
        Trades { lines, ends }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn line(&self, i: usize) -> &[u8] {
        let (s, e) = self.ends[i];
        &self.lines[s as usize..e as usize]
    }

    /// The `n`-th comma-separated field of record `i`.
    fn field(&self, i: usize, n: usize) -> &[u8] {
        self.line(i)
            .split(|&c| c == b',')
            .nth(n)
            .unwrap_or_default()
    }

    /// The (trader, symbol) group of record `i`, as `trader,symbol`.
    fn group(&self, i: usize) -> &[u8] {
        let line = self.line(i);
        let first = memchr_n(line, 1).expect("a trade has 5 fields");
        let third = memchr_n(line, 3).expect("a trade has 5 fields");
        &line[first + 1..third]
    }

    /// Groups (trader, symbol) among the records.
    fn groups(&self) -> usize {
        (0..self.len())
            .map(|i| self.group(i))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// The byte index of the `n`-th comma (1-based) of `line`.
fn memchr_n(line: &[u8], n: usize) -> Option<usize> {
    line.iter()
        .enumerate()
        .filter(|(_, &c)| c == b',')
        .nth(n - 1)
        .map(|(i, _)| i)
}

/// A producer of one record per produce request (tansu's end offsets are
/// exact only then), sent at once.
fn producer(
    addr: &str,
    linger_ms: &str,
    one_per_batch: bool,
) -> ThreadedProducer<DefaultProducerContext> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", addr)
        .set("linger.ms", linger_ms);
    if one_per_batch {
        config.set("batch.num.messages", "1");
    }
    config.create().expect("producer")
}

/// Sends `value` keyed by `key`, waiting while the producer's queue is full.
fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, key: &[u8], value: &[u8]) {
    let mut record = BaseRecord::to(topic).key(key).payload(value);
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                p.poll(Duration::from_millis(1));
            }
            Err((e, _)) => panic!("cannot send to {topic}: {e}"),
        }
    }
}

/// Produces every trade to `topic`, keyed by trader; returns the seconds it took.
fn produce_all(addr: &str, topic: &str, trades: &Trades) -> f64 {
    let t = Instant::now();
    let p = producer(addr, "0", true);
    for i in 0..trades.len() {
        send(&p, topic, trades.field(i, 1), trades.line(i));
    }
    p.flush(Duration::from_secs(120))
        .expect("every message delivered");
    t.elapsed().as_secs_f64()
}

/// A consumer with the engine's consumer settings (`src/io/kafka/consumer.rs`,
/// no group), every partition of `topic` assigned from the beginning; returns
/// it with each partition's end offset.
fn bare_consumer(addr: &str, topic: &str) -> (BaseConsumer, BTreeMap<i32, i64>) {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", addr)
        .set("enable.partition.eof", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("group.id", "corestream-bench-unused")
        .set("enable.auto.commit", "false");
    for (k, v) in consumer_props() {
        config.set(k, v);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in metadata.topics()[0].partitions() {
        let (_, high) = consumer
            .fetch_watermarks(topic, p.id(), TIMEOUT)
            .expect("end offsets");
        ends.insert(p.id(), high);
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    (consumer, ends)
}

// ---------------------------------------------------------------- throughput

/// One timed run.
#[derive(Clone, Copy, Default)]
struct Run {
    seconds: f64,
    cpu: f64,
    broker_cpu: Option<f64>,
    records: u64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }

    fn per_cpu(&self) -> f64 {
        self.records as f64 / self.cpu.max(0.01)
    }
}

fn timed(cpu: &Cpu, f: impl FnOnce() -> u64) -> Run {
    let (c0, b0) = cpu.read();
    let t = Instant::now();
    let records = f();
    let seconds = t.elapsed().as_secs_f64();
    let (c1, b1) = cpu.read();
    Run {
        seconds,
        cpu: c1 - c0,
        broker_cpu: b0.zip(b1).map(|(a, b)| b - a),
        records,
    }
}

/// The bare loop: reads `topic` to its end offsets, counting messages and bytes.
fn bare(addr: &str, topic: &str) -> (u64, u64) {
    let (consumer, ends) = bare_consumer(addr, topic);
    let mut done: BTreeSet<i32> = ends
        .iter()
        .filter(|(_, &e)| e == 0)
        .map(|(&p, _)| p)
        .collect();
    let (mut messages, mut bytes) = (0u64, 0u64);
    while done.len() < ends.len() {
        match consumer.poll(Duration::from_millis(20)) {
            None => {}
            Some(Ok(m)) => {
                let end = ends[&m.partition()];
                if m.offset() < end {
                    messages += 1;
                    bytes += m.payload_len() as u64;
                }
                if m.offset() + 1 >= end {
                    done.insert(m.partition());
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                done.insert(p);
            }
            Some(Err(e)) => panic!("bare consumer: {e}"),
        }
    }
    black_box((messages, bytes))
}

/// S2 `EMIT FINAL` from `input` to `output` on `cores`; returns records read
/// and rows written.
fn engine_final(addr: &str, input: &str, output: &str, cores: &CoreSet) -> (u64, u64) {
    let out = Engine::builder()
        .sql(format!("{S2} EMIT FINAL"))
        .input(format!(
            "kafka://{addr}/{input}?stop=end&format=csv{}",
            url_props()
        ))
        .schema(trades_schema())
        .cores(cores.clone())
        .output(OutputSpec::parse(&format!(
            "kafka://{addr}/{output}?format=csv"
        )))
        .build()
        .expect("S2 plans")
        .run()
        .expect("S2 runs");
    (out.summary.records_read, out.summary.total().rows_out)
}

fn throughput(broker: &Broker, records: u64, trials: usize, topics: &mut Vec<String>) {
    let addr = broker.addr.as_str();
    let cpu = Cpu::new(broker);
    let trades = Trades::generate(records, 7);
    let groups = trades.groups() as u64;
    let input = create_topic(addr, "in");
    topics.push(input.clone());
    let seconds = produce_all(addr, &input, &trades);
    println!(
        "produced {records} trades ({groups} groups, {} bytes of values) to {input} \
         ({PARTITIONS} partitions) in {seconds:.1} s ({:.0} records/s, one per request)",
        trades.lines.len() - trades.len(),
        records as f64 / seconds
    );
    drop(trades);
    let online = CoreSet::online_cpus().expect("the online CPUs are readable");
    let one = CoreSet::from_list(&online[0].to_string(), &online).expect("a core is online");
    let all = CoreSet::from_list(
        &online
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
        &online,
    )
    .expect("the online cores");
    let sides: [(&str, Option<&CoreSet>); 3] = [
        ("bare rdkafka loop", None),
        ("engine, 1 shard", Some(&one)),
        ("engine, all cores", Some(&all)),
    ];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); sides.len()];
    for trial in 0..trials {
        for (s, (name, cores)) in sides.iter().enumerate() {
            let run = match cores {
                None => timed(&cpu, || {
                    let (messages, _) = bare(addr, &input);
                    messages
                }),
                Some(cores) => {
                    let output = create_topic(addr, "out");
                    topics.push(output.clone());
                    timed(&cpu, || {
                        let (read, rows) = engine_final(addr, &input, &output, cores);
                        assert_eq!(rows, groups, "{name}: one result row per group");
                        read
                    })
                }
            };
            assert_eq!(run.records, records, "{name}: every record read");
            println!(
                "  trial {}: {name}: {:.2} s, {:.0} records/s, CPU {:.2} s",
                trial + 1,
                run.seconds,
                run.rate(),
                run.cpu
            );
            runs[s].push(run);
        }
    }
    println!(
        "throughput, {records} records, median of {trials} trials \
         (rec/CPU-s: records per second of this process's CPU time):"
    );
    let bare_rate = median(runs[0].iter().map(Run::rate).collect());
    let bare_cpu = median(runs[0].iter().map(Run::per_cpu).collect());
    for (s, (name, cores)) in sides.iter().enumerate() {
        let rate = median(runs[s].iter().map(Run::rate).collect());
        let per_cpu = median(runs[s].iter().map(Run::per_cpu).collect());
        let cpu_s = median(runs[s].iter().map(|r| r.cpu).collect());
        let broker_cpu = match runs[s].iter().all(|r| r.broker_cpu.is_some()) {
            true => format!(
                "{:.2} s",
                median(runs[s].iter().filter_map(|r| r.broker_cpu).collect())
            ),
            false => "n/a".into(),
        };
        let shards = cores.map_or(String::new(), |c| {
            format!(", {:.0} records/s per shard", rate / c.len() as f64)
        });
        println!(
            "  {name:<18} {:>9.0} records/s{shards}; CPU {cpu_s:.2} s, {:.0} rec/CPU-s; \
             broker CPU {broker_cpu}; engine/bare {:.2} (wall), {:.2} (per CPU-s)",
            rate,
            per_cpu,
            rate / bare_rate,
            per_cpu / bare_cpu
        );
    }
}

// ---------------------------------------------------------------- latency

/// Ingest-to-sink latencies (us) of one run at `rate` records/s.
/// With the engine's own ingest-to-sink-hand-off p50 and p99 (us, its
/// `RunSummary`: from the router reading a batch to the shard handing its
/// rows to the sink), for the engine side.
fn latency_run(
    addr: &str,
    engine: bool,
    rate: u64,
    seconds: f64,
    topics: &mut Vec<String>,
) -> (LatencyHistogram, Option<(u64, u64)>) {
    let n = ((rate as f64 * seconds) as u64).max(1);
    let trades = Trades::generate(n, 11);
    // Per group (`trader,symbol`), its records' indices in order.
    let mut by_group: HashMap<&[u8], Vec<u32>> = HashMap::new();
    for i in 0..trades.len() {
        by_group.entry(trades.group(i)).or_default().push(i as u32);
    }
    let input = create_topic(addr, "lat-in");
    let output = create_topic(addr, "lat-out");
    topics.extend([input.clone(), output.clone()]);
    let done = AtomicBool::new(false);
    let warmup = rate as usize; // the first second's records
    let start = Instant::now() + Duration::from_millis(500);
    let due = |i: usize| start + Duration::from_nanos(i as u64 * 1_000_000_000 / rate);
    let deadline = due(trades.len()) + Duration::from_secs(30);

    std::thread::scope(|s| {
        // The reader of the output topic.
        let reader = s.spawn(|| {
            let (consumer, _) = bare_consumer(addr, &output);
            let mut latency = new_latency_histogram();
            let mut received = 0usize;
            while received < trades.len() && Instant::now() < deadline {
                let Some(m) = consumer.poll(Duration::from_millis(20)) else {
                    continue;
                };
                let now = Instant::now();
                let m = match m {
                    Ok(m) => m,
                    Err(KafkaError::PartitionEOF(_)) => continue,
                    Err(e) => panic!("output reader: {e}"),
                };
                let value = m.payload().unwrap_or_default();
                let group_end = memchr_n(value, 2).expect("trader,symbol,count,...");
                let count_end = memchr_n(value, 3).unwrap_or(value.len());
                let k: usize = std::str::from_utf8(&value[group_end + 1..count_end])
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .expect("the count is the third column");
                let i = by_group[&value[..group_end]][k - 1] as usize;
                received += 1;
                if i >= warmup {
                    let us = now.saturating_duration_since(due(i)).as_micros();
                    latency.saturating_record(u64::try_from(us).unwrap_or(u64::MAX));
                }
            }
            done.store(true, Ordering::Release);
            assert_eq!(
                received,
                trades.len(),
                "every output row read before the deadline"
            );
            latency
        });
        // The paced sender.
        s.spawn(|| {
            let p = producer(addr, "0", true);
            for i in 0..trades.len() {
                let at = due(i);
                let now = Instant::now();
                if now < at {
                    std::thread::park_timeout(at - now);
                    while Instant::now() < at {
                        std::hint::spin_loop();
                    }
                }
                send(&p, &input, trades.field(i, 1), trades.line(i));
            }
            p.flush(Duration::from_secs(60))
                .expect("every input delivered");
        });
        let internal = if engine {
            let run = Engine::builder()
                .sql(format!("{S2} EMIT CHANGES"))
                .input(format!("kafka://{addr}/{input}?format=csv{}", url_props()))
                .schema(trades_schema())
                .output(OutputSpec::parse(&format!(
                    "kafka://{addr}/{output}?format=csv"
                )))
                .build()
                .expect("S2 plans")
                .run_until(&|| done.load(Ordering::Acquire))
                .expect("S2 runs");
            assert_eq!(run.summary.records_read, n, "engine: every record read");
            let p = run.summary.total_latency();
            Some((p.p50, p.p99))
        } else {
            forward(addr, &input, &output, &done);
            None
        };
        (reader.join().expect("the reader does not panic"), internal)
    })
}

/// The bare side: reads `input`, counts per group, and produces
/// `trader,symbol,count` to `output` (with the engine sink's `linger.ms`),
/// until `done`.
fn forward(addr: &str, input: &str, output: &str, done: &AtomicBool) {
    let (consumer, _) = bare_consumer(addr, input);
    let p = producer(addr, "5", false);
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut value = Vec::new();
    while !done.load(Ordering::Acquire) {
        match consumer.poll(Duration::from_millis(20)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Ok(m)) => {
                let line = m.payload().unwrap_or_default();
                let first = memchr_n(line, 1).expect("a trade has 5 fields");
                let third = memchr_n(line, 3).expect("a trade has 5 fields");
                let group = &line[first + 1..third];
                if !counts.contains_key(group) {
                    counts.insert(group.to_vec(), 0);
                }
                let count = counts.get_mut(group).expect("inserted");
                *count += 1;
                value.clear();
                value.extend_from_slice(group);
                value.push(b',');
                value.extend_from_slice(itoa::Buffer::new().format(*count).as_bytes());
                send(&p, output, group, &value);
            }
            Some(Err(e)) => panic!("forwarder: {e}"),
        }
    }
    p.flush(Duration::from_secs(30)).expect("forwarded");
}

fn latency(broker: &Broker, rate: u64, seconds: f64, trials: usize, topics: &mut Vec<String>) {
    let addr = broker.addr.as_str();
    let mut p = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    let mut inside = (Vec::new(), Vec::new());
    for trial in 0..trials {
        for (side, engine) in [(0, true), (1, false)] {
            let (h, internal) = latency_run(addr, engine, rate, seconds, topics);
            if let Some((p50, p99)) = internal {
                inside.0.push(p50 as f64);
                inside.1.push(p99 as f64);
            }
            let (p50, p99) = (h.value_at_quantile(0.5), h.value_at_quantile(0.99));
            println!(
                "  trial {}: {}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} records)",
                trial + 1,
                if engine { "engine" } else { "bare forwarder" },
                p50 as f64 / 1e3,
                p99 as f64 / 1e3,
                h.max() as f64 / 1e3,
                h.len()
            );
            p[side].0.push(p50 as f64);
            p[side].1.push(p99 as f64);
        }
    }
    let ms = |v: &Vec<f64>| median(v.clone()) / 1e3;
    println!(
        "latency at {rate} records/s offered for {seconds} s (first second not counted), \
         consumer properties {:?}, median of {trials} trials:",
        consumer_props()
    );
    println!(
        "  engine (S2 EMIT CHANGES, all cores): p50 {:.1} ms, p99 {:.1} ms; of it inside the \
         engine (router read to sink hand-off, its RunSummary): p50 {:.1} ms, p99 {:.1} ms",
        ms(&p[0].0),
        ms(&p[0].1),
        ms(&inside.0),
        ms(&inside.1)
    );
    println!(
        "  bare forwarder (consume, count, produce): p50 {:.1} ms, p99 {:.1} ms; \
         engine/bare p50 {:.2}, p99 {:.2}",
        ms(&p[1].0),
        ms(&p[1].1),
        ms(&p[0].0) / ms(&p[1].0),
        ms(&p[0].1) / ms(&p[1].1)
    );
}

fn main() {
    let timed = std::env::args().any(|arg| arg == "--bench");
    if !timed && std::env::var("CORESTREAM_KAFKA").is_err() {
        println!("kafka bench in check mode without CORESTREAM_KAFKA: nothing run");
        return;
    }
    let broker = Broker::find_or_start();
    let mut topics = Vec::new();
    let (records, trials, rate, seconds) = match timed {
        true => (
            support::records(300_000),
            support::trials(),
            env_or("CORESTREAM_BENCH_RATE", 2_000u64),
            env_or("CORESTREAM_BENCH_SECONDS", 10.0f64),
        ),
        false => (2_000, 1, 1_000, 2.0),
    };
    println!(
        "kafka bench: broker {} ({}), {} online cores, consumer properties {:?}",
        broker.addr,
        if broker.ours {
            "started here"
        } else {
            "CORESTREAM_KAFKA"
        },
        CoreSet::online_cpus().map_or(0, |c| c.len()),
        consumer_props()
    );
    throughput(&broker, records, trials, &mut topics);
    latency(&broker, rate, seconds, trials.min(3), &mut topics);
    delete_topics(&broker.addr, &topics);
}
