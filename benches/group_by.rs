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

mod support;

use corestream::data::Batch;
use corestream::io::sink::OutputSpec;
use hashbrown::HashMap;
use std::hint::black_box;
use std::time::Instant;
use support::{baseline_str, f64s, i64s, median, partition, run_engine, strs, Agg, Item};

const SQL: &str = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
    SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value \
    FROM trades GROUP BY trader_id, symbol EMIT FINAL";
const BATCH: usize = support::BATCH;

fn engine(plan: &corestream::sql::plan::QueryPlan, parts: &[Vec<Item>]) -> (f64, u64) {
    let r = run_engine(plan, parts, OutputSpec::Discard);
    (r.seconds, r.rows_out)
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

fn main() {
    let records = support::records(8_000_000);
    let trials = support::trials();
    println!("# group_by: engine-only GROUP BY trader_id, symbol (200 keys), {records} records, batch {BATCH}, median of {trials}");
    println!("# shards pinned to cores 0..n; input pre-built and pre-partitioned; results discarded (not formatted)");
    let batches = support::trades(records);
    let plan = support::plan(SQL, None);
    let one = partition(&plan, &batches, 1);
    let two = partition(&plan, &batches, 2);
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
    let (_, rows1) = engine(&plan, &one);
    let (_, rows2) = engine(&plan, &two);
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
    for _ in 0..trials {
        t_int.push(baseline_int(&int_keys, &batches).0);
        t_str.push(baseline_str(&batches).0);
        t1.push(engine(&plan, &one).0);
        t2.push(engine(&plan, &two).0);
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
