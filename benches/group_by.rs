//! Engine-only GROUP BY throughput on 1 and 2 shards, against bare hashbrown loops.
//!
//! What it measures: pre-built, pre-partitioned in-memory batches are loaded
//! into each shard's ring before the shards start; the time runs from spawning
//! the shards (pinned glommio executors) to joining them, with results
//! discarded (counted, not formatted). So it shows the shard side of the engine:
//! ring pop, key hashing, group lookup, aggregate updates.
//! What it does not show: input decoding, routing, output formatting or I/O,
//! and executor start-up (~1 ms) is included in every trial.
//!
//! Baselines run in the same process on the same data: a bare hashbrown loop
//! over integer keys (the upper bound for a hash GROUP BY), and one over the
//! same string keys the engine groups by.
//!
//! `cargo bench --bench group_by`; `CORESTREAM_BENCH_RECORDS` sets the size.

use corestream::data::column::ColumnData;
use corestream::data::{Batch, Column};
use corestream::exec::hash::{hash_rows, shard_of};
use corestream::io::generator::{GeneratorOptions, TradesGenerator};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::doorbell::Doorbell;
use corestream::runtime::message::Message;
use corestream::runtime::metrics::ShardCounters;
use corestream::runtime::ring::ring;
use corestream::runtime::shard::{self, IdlePolicy, ShardSpec};
use corestream::sql::plan::QueryPlan;
use hashbrown::{HashMap, HashTable};
use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::Instant;

const SQL: &str = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
    SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value \
    FROM trades GROUP BY trader_id, symbol EMIT FINAL";
const BATCH: usize = 4096;
const TRIALS: usize = 5;

fn generate(records: u64) -> Vec<Batch> {
    let mut g = TradesGenerator::new(GeneratorOptions {
        records: Some(records),
        ..GeneratorOptions::default()
    });
    let mut out = Vec::new();
    while let Poll::Batch(b) = g.poll(BATCH, None).expect("the generator does not fail") {
        out.push(b);
    }
    out
}

fn plan() -> QueryPlan {
    let parsed = corestream::sql::parse(SQL).expect("valid SQL");
    corestream::sql::plan_query(&parsed, None, &corestream::io::generator::trades_schema())
        .expect("plans")
}

/// Splits batches by the engine's own key hash into `shards` partitions.
fn partition(batches: &[Batch], shards: usize) -> Vec<Vec<Batch>> {
    let mut parts: Vec<Vec<Batch>> = vec![Vec::new(); shards];
    let mut hashes = Vec::new();
    for b in batches {
        hash_rows(&[&b.columns[1], &b.columns[2]], b.len, &mut hashes);
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); shards];
        for (i, h) in hashes.iter().enumerate() {
            rows[shard_of(*h, shards)].push(i as u32);
        }
        for (s, r) in rows.iter().enumerate() {
            parts[s].push(b.gather(r));
        }
    }
    parts
}

/// Runs the engine's shards over pre-loaded rings; returns (seconds, rows out).
fn run_engine(plan: &QueryPlan, parts: &[Vec<Batch>]) -> (f64, u64) {
    let mut specs = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let (mut producer, consumer) = ring(part.len() + 1);
        for b in part {
            producer
                .push(Message::Data(b.clone()))
                .expect("ring sized to fit");
        }
        producer
            .push(Message::EndOfInput)
            .expect("ring sized to fit");
        specs.push((
            producer,
            ShardSpec {
                index,
                core: index,
                plan: plan.clone(),
                output: OutputSpec::Discard,
                idle: IdlePolicy::default(),
                consumer,
                doorbell: Doorbell::new(),
                counters: ShardCounters::new(),
            },
        ));
    }
    let start = Instant::now();
    let mut keep = Vec::new();
    let handles: Vec<_> = specs
        .into_iter()
        .map(|(p, spec)| {
            keep.push(p);
            shard::spawn(spec).expect("shard starts")
        })
        .collect();
    let mut rows = 0;
    for h in handles {
        rows += h.join().expect("joins").expect("runs").stats.rows_out;
    }
    (start.elapsed().as_secs_f64(), rows)
}

#[derive(Default, Clone, Copy)]
struct Agg {
    count: i64,
    sum_price: f64,
    sum_qty: i64,
    sum_value: f64,
}

fn strs(c: &Column) -> &corestream::data::Utf8Column {
    match &c.data {
        ColumnData::Utf8(v) => v,
        _ => unreachable!(),
    }
}
fn f64s(c: &Column) -> &[f64] {
    match &c.data {
        ColumnData::Float64(v) => v,
        _ => unreachable!(),
    }
}
fn i64s(c: &Column) -> &[i64] {
    match &c.data {
        ColumnData::Int64(v) => v,
        _ => unreachable!(),
    }
}

/// Bare loop, integer keys: (trader, symbol) pre-encoded as one u64.
fn baseline_int(keys: &[Vec<u64>], batches: &[Batch]) -> (f64, usize) {
    let start = Instant::now();
    let mut map: HashMap<u64, Agg> = HashMap::with_capacity(256);
    for (k, b) in keys.iter().zip(batches) {
        let (p, q) = (f64s(&b.columns[3]), i64s(&b.columns[4]));
        for i in 0..b.len {
            let a = map.entry(k[i]).or_default();
            a.count += 1;
            a.sum_price += p[i];
            a.sum_qty += q[i];
            a.sum_value += p[i] * q[i] as f64;
        }
    }
    (start.elapsed().as_secs_f64(), black_box(map).len())
}

/// Bare loop, the same string keys the engine groups by.
fn baseline_str(batches: &[Batch]) -> (f64, usize) {
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let records: u64 = std::env::var("CORESTREAM_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8_000_000);
    println!("# group_by: engine-only GROUP BY trader_id, symbol (200 keys), {records} records, batch {BATCH}, median of {TRIALS}");
    println!("# shards pinned to cores 0..n; input pre-built and pre-partitioned; results discarded (not formatted)");
    let batches = generate(records);
    let plan = plan();
    let one = partition(&batches, 1);
    let two = partition(&batches, 2);
    let int_keys: Vec<Vec<u64>> = batches
        .iter()
        .map(|b| {
            let (t, s) = (strs(&b.columns[1]), strs(&b.columns[2]));
            (0..b.len)
                .map(|i| {
                    let tn: u64 = t.get(i)[1..].parse().unwrap_or(0);
                    let sn = s.get_bytes(i).iter().fold(0u64, |a, &c| a * 31 + c as u64);
                    tn << 32 | (sn & 0xffff_ffff)
                })
                .collect()
        })
        .collect();

    // Check the answers before timing anything.
    let (_, rows1) = run_engine(&plan, &one);
    let (_, rows2) = run_engine(&plan, &two);
    let (_, groups_int) = baseline_int(&int_keys, &batches);
    let (_, groups_str) = baseline_str(&batches);
    assert_eq!(rows1, 200, "1 shard: one FINAL row per group");
    assert_eq!(rows2, 200, "2 shards: one FINAL row per group");
    assert_eq!(groups_int, 200);
    assert_eq!(groups_str, 200);

    let mut t_int = Vec::new();
    let mut t_str = Vec::new();
    let mut t1 = Vec::new();
    let mut t2 = Vec::new();
    for _ in 0..TRIALS {
        t_int.push(baseline_int(&int_keys, &batches).0);
        t_str.push(baseline_str(&batches).0);
        t1.push(run_engine(&plan, &one).0);
        t2.push(run_engine(&plan, &two).0);
    }
    let rate = |t: f64| records as f64 / t;
    let (r_int, r_str, r1, r2) = (
        rate(median(t_int)),
        rate(median(t_str)),
        rate(median(t1)),
        rate(median(t2)),
    );
    println!("{:<40} {:>14} {:>16}", "run", "records/s", "records/s/core");
    println!(
        "{:<40} {:>14.3e} {:>16.3e}",
        "baseline: hashbrown, integer keys", r_int, r_int
    );
    println!(
        "{:<40} {:>14.3e} {:>16.3e}",
        "baseline: hashbrown, string keys", r_str, r_str
    );
    println!("{:<40} {:>14.3e} {:>16.3e}", "engine, 1 shard", r1, r1);
    println!(
        "{:<40} {:>14.3e} {:>16.3e}",
        "engine, 2 shards",
        r2,
        r2 / 2.0
    );
    println!("engine 1 shard / baseline integer keys: {:.2}", r1 / r_int);
    println!("engine 1 shard / baseline string keys:  {:.2}", r1 / r_str);
    println!(
        "scaling 2 shards / 1 shard: {:.2}x (efficiency {:.0}%)",
        r2 / r1,
        100.0 * r2 / (2.0 * r1)
    );
}
