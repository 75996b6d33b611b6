//! Shared machinery of the engine-only benchmarks: build input batches, split
//! them as the router would, load them into each shard's ring, run the pinned
//! shards and time them.
//!
//! What a timed run includes: spawning the shard executors (~1 ms), popping the
//! pre-loaded messages, running the pipeline, and a Discard sink (rows counted,
//! not formatted). What it excludes: generating or decoding input, hashing rows
//! to shards (done before timing), and output formatting or I/O.

// Each bench uses a different part of this module.
#![allow(dead_code)]

use corestream::data::column::ColumnData;
use corestream::data::{Batch, Column, Utf8Column};
use corestream::exec::hash::{hash_rows, shard_of};
use corestream::io::generator::{GeneratorOptions, TradesGenerator};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::doorbell::Doorbell;
use corestream::runtime::message::Message;
use corestream::runtime::metrics::ShardCounters;
use corestream::runtime::ring::ring;
use corestream::runtime::shard::{self, IdlePolicy, ShardSpec, StartGate};
use corestream::sql::plan::{Partitioning, QueryPlan};
use corestream::sql::PlanOptions;
use hashbrown::HashTable;
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::Instant;

/// Rows per batch, as the router's default.
pub const BATCH: usize = 4096;

/// Records per scenario: `CORESTREAM_BENCH_RECORDS`, else `default`.
pub fn records(default: u64) -> u64 {
    std::env::var("CORESTREAM_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Trials per measurement: `CORESTREAM_BENCH_TRIALS`, else 5 (never fewer than 1).
pub fn trials() -> usize {
    std::env::var("CORESTREAM_BENCH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5usize)
        .max(1)
}

/// The generator's trades in `BATCH`-row batches.
pub fn generate(options: GeneratorOptions) -> Vec<Batch> {
    let mut g = TradesGenerator::new(options);
    let mut out = Vec::new();
    while let Poll::Batch(b) = g.poll(BATCH, None).expect("the generator does not fail") {
        out.push(b);
    }
    out
}

/// `records` trades with the generator's defaults otherwise.
pub fn trades(records: u64) -> Vec<Batch> {
    generate(GeneratorOptions {
        records: Some(records),
        ..GeneratorOptions::default()
    })
}

/// Plans `sql` over the trades schema, with `event_time` as event time if asked.
pub fn plan(sql: &str, event_time: Option<&str>) -> QueryPlan {
    let parsed = corestream::sql::parse(sql).expect("valid SQL");
    let options = PlanOptions {
        event_time: event_time.map(str::to_owned),
        ..PlanOptions::default()
    };
    corestream::sql::plan_query_with(
        &parsed,
        None,
        &corestream::io::generator::trades_schema(),
        &options,
    )
    .expect("plans")
}

/// A message as loaded into a ring (`Message` is not `Clone`).
#[derive(Clone)]
pub enum Item {
    Data(Batch),
    Watermark(i64),
}

/// Splits batches as the router does, into one message list per shard: by the
/// plan's key hash (or round-robin by batch, or all to shard 0), and, for a
/// windowed plan, a watermark (largest event time so far) to every shard after
/// each source batch, as the router's `WatermarkTracker` sends it.
pub fn partition(plan: &QueryPlan, batches: &[Batch], shards: usize) -> Vec<Vec<Item>> {
    let time_column = plan
        .windowed()
        .then_some(plan.watermarking.time_column)
        .flatten();
    partition_by(&plan.partitioning, time_column, batches, shards)
}

/// [`partition`] by `partitioning`, with watermarks on `time_column` if
/// given; a broadcast gives every shard every batch.
pub fn partition_by(
    partitioning: &Partitioning,
    time_column: Option<usize>,
    batches: &[Batch],
    shards: usize,
) -> Vec<Vec<Item>> {
    let mut parts: Vec<Vec<Item>> = vec![Vec::new(); shards];
    let mut hashes = Vec::new();
    let mut max_seen = i64::MIN;
    let mut sent = i64::MIN;
    for (n, b) in batches.iter().enumerate() {
        match partitioning {
            Partitioning::Broadcast => parts.iter_mut().for_each(|p| p.push(Item::Data(b.clone()))),
            Partitioning::ByKey(keys) if shards > 1 => {
                let cols: Vec<Cow<'_, Column>> = keys.iter().map(|k| k.eval(b)).collect();
                let refs: Vec<&Column> = cols.iter().map(|c| c.as_ref()).collect();
                hash_rows(&refs, b.len, &mut hashes);
                let mut rows: Vec<Vec<u32>> = vec![Vec::new(); shards];
                for (i, h) in hashes.iter().enumerate() {
                    rows[shard_of(*h, shards)].push(i as u32);
                }
                for (s, r) in rows.iter().enumerate() {
                    if !r.is_empty() {
                        parts[s].push(Item::Data(b.gather(r)));
                    }
                }
            }
            Partitioning::RoundRobin => parts[n % shards].push(Item::Data(b.clone())),
            _ => parts[0].push(Item::Data(b.clone())),
        }
        if let Some(c) = time_column {
            max_seen = max_seen.max(
                i64s(&b.columns[c])
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(i64::MIN),
            );
            if max_seen > sent {
                sent = max_seen;
                for p in parts.iter_mut() {
                    p.push(Item::Watermark(sent));
                }
            }
        }
    }
    parts
}

/// What one engine run produced.
pub struct EngineRun {
    pub seconds: f64,
    pub rows_out: u64,
    pub records_in: u64,
    /// Result batches of every shard (for a `Collect` run; empty for `Discard`).
    pub collected: Vec<Batch>,
}

/// Runs one shard per part (shard `i` pinned to core `i`). Once every shard
/// has started (an executor takes milliseconds to), times from handing each
/// its part (prebuilt messages, then end of input, on a ring that holds them
/// all) until the join.
pub fn run_engine(plan: &QueryPlan, parts: &[Vec<Item>], output: OutputSpec) -> EngineRun {
    run_engine_ports(plan, &[parts.to_vec()], false, output)
}

/// [`run_engine`] with one ring per input port: `ports[p][s]` is what shard
/// `s` gets on port `p` (a join's port 1 is its right input). With
/// `table_first`, port 1 is fed (and read) before port 0.
pub fn run_engine_ports(
    plan: &QueryPlan,
    ports: &[Vec<Vec<Item>>],
    table_first: bool,
    output: OutputSpec,
) -> EngineRun {
    let start_gate = StartGate::default();
    let mut feeds = Vec::new();
    let mut handles = Vec::new();
    for index in 0..ports[0].len() {
        let mut consumers = Vec::new();
        let mut shard_feeds = Vec::new();
        for port in ports {
            let messages: Vec<Message> = port[index]
                .iter()
                .map(|item| match item {
                    Item::Data(b) => Message::Data(b.clone()),
                    Item::Watermark(w) => Message::Watermark(*w),
                })
                .chain([Message::EndOfInput])
                .collect();
            let (producer, consumer) = ring(messages.len());
            consumers.push(consumer);
            shard_feeds.push((producer, messages));
        }
        let doorbell = Doorbell::new();
        let spec = ShardSpec {
            index,
            core: index,
            plan: plan.clone(),
            output: output.clone(),
            late_text: None,
            late: corestream::io::late::LatePolicy::Drop,
            idle: IdlePolicy::default(),
            ports: (0..consumers.len()).collect(),
            // Spent batches are not refilled here: the parts are built
            // before the clock starts.
            returns: consumers.iter().map(|_| Some(ring(1).0)).collect(),
            consumers,
            table_first: if table_first { vec![0] } else { Vec::new() },
            exchanges: Vec::new(),
            doorbell: doorbell.clone(),
            counters: ShardCounters::new(),
            results: None,
            ready: start_gate.ready_sender(),
            checkpoint: None,
        };
        handles.push(shard::spawn(spec).expect("shard starts"));
        if table_first {
            shard_feeds.reverse();
        }
        feeds.push((doorbell, shard_feeds));
    }
    start_gate.wait();
    let start = Instant::now();
    for (doorbell, shard_feeds) in &mut feeds {
        // A table read first goes in whole; other ports take turns, a
        // message each, as routers running at once would send them.
        let turns = if table_first { usize::MAX } else { 1 };
        let mut queues: Vec<_> = shard_feeds
            .iter_mut()
            .map(|(producer, messages)| (producer, messages.drain(..)))
            .collect();
        let mut live = true;
        while live {
            live = false;
            for (producer, messages) in queues.iter_mut() {
                for m in messages.by_ref().take(turns) {
                    producer.push(m).expect("ring sized to fit");
                    doorbell.ring();
                    live = true;
                }
            }
        }
    }
    let mut run = EngineRun {
        seconds: 0.0,
        rows_out: 0,
        records_in: 0,
        collected: Vec::new(),
    };
    for h in handles {
        let out = h.join().expect("joins").expect("runs");
        run.rows_out += out.stats.rows_out;
        run.records_in += out.stats.records_in;
        run.collected.extend(out.collected);
    }
    run.seconds = start.elapsed().as_secs_f64();
    run
}

/// Row count and an order-independent checksum of the rows' CSV text: equal for
/// the same multiset of rows, whatever the shard count or output order.
pub fn checksum(batches: &[Batch]) -> (u64, u64) {
    let hasher = foldhash::fast::FixedState::with_seed(3);
    let (mut rows, mut sum) = (0u64, 0u64);
    let mut text = Vec::new();
    for b in batches {
        text.clear();
        b.write_csv(&mut text);
        for line in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            rows += 1;
            sum = sum.wrapping_add(hasher.hash_one(line));
        }
    }
    (rows, sum)
}

/// The sum of column `c` over all rows, as f64 (BIGINT or DOUBLE).
pub fn column_sum(batches: &[Batch], c: usize) -> f64 {
    batches
        .iter()
        .map(|b| match &b.columns[c].data {
            ColumnData::Int64(v) => v.iter().map(|&x| x as f64).sum::<f64>(),
            ColumnData::Float64(v) => v.iter().sum::<f64>(),
            other => panic!("column {c} is not numeric: {other:?}"),
        })
        .sum()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn strs(c: &Column) -> &Utf8Column {
    match &c.data {
        ColumnData::Utf8(v) => v,
        _ => unreachable!("not a VARCHAR column"),
    }
}

pub fn f64s(c: &Column) -> &[f64] {
    match &c.data {
        ColumnData::Float64(v) => v,
        _ => unreachable!("not a DOUBLE column"),
    }
}

pub fn i64s(c: &Column) -> &[i64] {
    match &c.data {
        ColumnData::Int64(v) | ColumnData::Timestamp(v) => v,
        _ => unreachable!("not a BIGINT column"),
    }
}

/// GROUP BY trader_id, symbol accumulators of the bare loops.
#[derive(Default, Clone, Copy)]
pub struct Agg {
    pub count: i64,
    pub sum_price: f64,
    pub sum_qty: i64,
    pub sum_value: f64,
}

/// Bare loop, the same string keys the engine groups by.
pub fn baseline_str(batches: &[Batch]) -> (f64, usize) {
    let start = Instant::now();
    let hasher = foldhash::fast::FixedState::with_seed(1);
    let mut table: HashTable<(Vec<u8>, Vec<u8>, Agg)> = HashTable::with_capacity(256);
    for b in batches {
        let (t, s) = (strs(&b.columns[1]), strs(&b.columns[2]));
        let (p, q) = (f64s(&b.columns[3]), i64s(&b.columns[4]));
        for i in 0..b.len {
            let (tk, sk) = (t.get_bytes(i), s.get_bytes(i));
            let h = hasher.hash_one((tk, sk));
            let entry = table
                .entry(
                    h,
                    |e| e.0 == tk && e.1 == sk,
                    |e| hasher.hash_one((&e.0[..], &e.1[..])),
                )
                .or_insert_with(|| (tk.to_vec(), sk.to_vec(), Agg::default()));
            let a = &mut entry.into_mut().2;
            a.count += 1;
            a.sum_price += p[i];
            a.sum_qty += q[i];
            a.sum_value += p[i] * q[i] as f64;
        }
    }
    (start.elapsed().as_secs_f64(), black_box(table).len())
}
