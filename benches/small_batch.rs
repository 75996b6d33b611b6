//! What one small batch costs a shard, when another core filled it.
//!
//! At 1M records/s with a short linger, the router sends batches of one or
//! two rows, and how long the shard takes per batch sets how busy it is, and
//! so how much a hiccup's queue multiplies its latency (README, *Latency: what
//! bounds the tail*). This bench times that service time directly, which the VM's
//! noise does not swamp as it does a latency tail.
//!
//! A producer thread refills 1-row batches, as a router does (a batch handed
//! back is emptied and refilled, so its lines are written on the producer's
//! core), and pushes one every microsecond (1M/s) through a `corestream`
//! ring to a consumer pinned to core 0 (the producer is pinned to core 1),
//! which hands each batch back through a second ring. The
//! consumer times each batch from pop to hand-back (two clock reads, the same
//! for every side) and keeps the median and p99. Sides, alternating:
//!
//! - **floor**: the consumer only loads the batch's lines (`Batch::touch`)
//!   and hands it back: the cost of moving a batch between cores.
//! - **S2, no touch**: S2's pipeline (`GROUP BY trader_id, symbol`, four
//!   aggregates, `EMIT FINAL`) on each batch as it arrives.
//! - **S2**: as a shard runs it: `Batch::touch`, then the pipeline.
//!
//! `cargo bench --bench small_batch`; `CORESTREAM_BENCH_RECORDS` batches per
//! run (default 1M). Without `--bench` each side runs briefly and only checks
//! that every batch came back and S2's counts.

#[path = "support/mod.rs"]
mod support;

use std::thread;
use std::time::{Duration, Instant};

use core_affinity::CoreId;
use corestream::data::Batch;
use corestream::exec::pipeline::Pipeline;
use corestream::runtime::ring::ring;
use hdrhistogram::Histogram;

/// Alternating rounds of every side.
const ROUNDS: usize = 5;
/// Batches in flight at most, each way.
const RING_CAPACITY: usize = 256;
/// Distinct rows the producer cycles through.
const ROWS: usize = 4096;
/// Between one batch's due time and the next: 1M batches/s offered, the
/// latency target's load, so that the consumer waits for each batch as a
/// shard at that load does, and reads lines just written.
const GAP: Duration = Duration::from_micros(1);

const S2: &str = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
                  SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value \
                  FROM trades GROUP BY trader_id, symbol EMIT FINAL";

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Floor,
    S2NoTouch,
    S2,
}

/// Per-batch service time (ns) of `batches` 1-row batches on `side`; the
/// consumer runs on `cores.0`, the producer (this thread) on `cores.1`.
fn run(side: Side, template: &Batch, batches: usize, cores: (CoreId, CoreId)) -> Histogram<u64> {
    let (mut to_consumer, mut from_producer) = ring::<Batch>(RING_CAPACITY);
    let (mut back, mut returned) = ring::<Batch>(RING_CAPACITY);
    let consumer = thread::spawn(move || {
        assert!(
            core_affinity::set_for_current(cores.0),
            "the consumer's core"
        );
        let plan = support::plan(S2, None);
        let mut pipeline = (side != Side::Floor).then(|| Pipeline::new(&plan, 0, false));
        let mut times = Histogram::<u64>::new(3).expect("3 significant digits");
        let mut processed = 0;
        for _ in 0..batches {
            let batch = loop {
                match from_producer.pop() {
                    Some(b) => break b,
                    None => std::hint::spin_loop(),
                }
            };
            let started = Instant::now();
            if side != Side::S2NoTouch {
                batch.touch();
            }
            let mut spent = match &mut pipeline {
                Some(p) => {
                    let (out, counts) = p.process(batch, 0);
                    assert!(out.is_none(), "EMIT FINAL emits nothing per batch");
                    processed += counts.processed;
                    p.take_spent().expect("the pipeline hands its input back")
                }
                None => batch,
            };
            spent.clear();
            // The producer never holds more than the rings do, so this fits.
            assert!(back.push(spent).is_ok(), "the return ring has room");
            times.saturating_record(started.elapsed().as_nanos() as u64);
        }
        if side != Side::Floor {
            assert_eq!(processed, batches as u64, "S2 processed every row");
        }
        times
    });
    // On another core, so that every batch crosses, as from a router.
    assert!(
        core_affinity::set_for_current(cores.1),
        "the producer's core"
    );
    let rows: Vec<Batch> = (0..ROWS as u32).map(|r| template.gather(&[r])).collect();
    let mut spare: Vec<Batch> = rows.iter().take(RING_CAPACITY).cloned().collect();
    let started = Instant::now();
    for i in 0..batches {
        let due = started + GAP * i as u32;
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        let mut batch = loop {
            if let Some(b) = returned.pop().or_else(|| spare.pop()) {
                break b;
            }
            std::hint::spin_loop();
        };
        // Refilled here, as a router refills a batch a shard handed back.
        let row = &rows[i % ROWS];
        batch.clear();
        for (to, from) in batch.columns.iter_mut().zip(&row.columns) {
            to.push_from(from, 0);
        }
        batch.len = 1;
        while let Err(full) = to_consumer.push(batch) {
            batch = full.into_inner();
            std::hint::spin_loop();
        }
    }
    consumer.join().expect("the consumer does not panic")
}

fn main() {
    let timed = std::env::args().any(|arg| arg == "--bench");
    let batches = if timed {
        support::records(1_000_000) as usize
    } else {
        10_000
    };
    let ids = core_affinity::get_core_ids().expect("the usable cores are readable");
    let [consumer, producer, ..] = ids[..] else {
        panic!("the small_batch bench needs two cores");
    };
    let cores = (consumer, producer);
    let template = support::trades(ROWS as u64).swap_remove(0);
    assert_eq!(template.len, ROWS, "one batch of ROWS rows");
    let sides = [
        ("floor", Side::Floor),
        ("S2, no touch", Side::S2NoTouch),
        ("S2", Side::S2),
    ];
    if !timed {
        println!("small_batch bench in check mode: one short run of each side, nothing reported");
        for (_, side) in sides {
            assert_eq!(run(side, &template, batches, cores).len(), batches as u64);
        }
        return;
    }
    let mut runs: Vec<Vec<(u64, u64)>> = vec![Vec::new(); sides.len()];
    for _ in 0..ROUNDS {
        for (i, (_, side)) in sides.iter().enumerate() {
            let h = run(*side, &template, batches, cores);
            runs[i].push((h.value_at_quantile(0.5), h.value_at_quantile(0.99)));
        }
    }
    println!(
        "service time of a 1-row batch filled on another core (ns, from pop to hand-back), \
         consumer on core 0, {batches} batches per run, median of {ROUNDS} alternating rounds"
    );
    println!(
        "{:<14} {:>6} {:>6} {:>12}",
        "side", "p50", "p99", "p50 / floor"
    );
    let median_of = |r: &[(u64, u64)], pick: fn(&(u64, u64)) -> u64| {
        support::median(r.iter().map(|x| pick(x) as f64).collect())
    };
    let floor_p50 = median_of(&runs[0], |x| x.0).max(1.0);
    for ((name, _), r) in sides.iter().zip(&runs) {
        let p50 = median_of(r, |x| x.0);
        println!(
            "{:<14} {:>6} {:>6} {:>12.2}",
            name,
            p50,
            median_of(r, |x| x.1),
            p50 / floor_p50
        );
    }
}
