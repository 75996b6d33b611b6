//! Batches are refilled, not allocated anew: a shard hands each batch it has
//! read back to its router, which fills it again (the source's next batch
//! when batches go to the shards whole, a lane's pending batch when rows are
//! partitioned across shards); batches an application pushes come back to
//! its pusher.
//!
//! A counting global allocator counts every allocation on every thread. The
//! same run over twice as many batches must allocate almost nothing more:
//! what a batch's columns need is allocated a bounded number of times, by
//! the batches in flight, not once per batch. Without the hand-back each
//! batch costs an allocation per column buffer (seven for the trades schema).

use corestream::data::{DataType, Field, Schema, Value};
use corestream::io::push;
use corestream::io::sink::OutputSpec;
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::Engine;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` unchanged; the counter is a
// static atomic, which never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BATCH: usize = 64;

/// Allocations of one whole run (build, start-up, routing, shutdown) of a
/// GROUP BY over `records` generated trades in batches of [`BATCH`] rows.
fn run_allocations(records: usize, cores: &str) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let engine = Engine::builder()
        .sql("SELECT symbol, COUNT(*), SUM(quantity), MAX(price) FROM trades GROUP BY symbol EMIT FINAL")
        .input(format!("gen:trades?records={records}"))
        .cores(CoreSet::from_list(cores, &[0, 1]).unwrap())
        .batching(Batching {
            batch_size: BATCH,
            linger: Duration::from_millis(5),
        })
        .output(OutputSpec::Discard)
        .build()
        .unwrap();
    let out = engine.run().unwrap();
    assert!(out.summary.identity_holds());
    assert_eq!(out.summary.records_read, records as u64);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// One test: the counter is global, so the runs must not overlap.
#[test]
fn more_batches_allocate_no_more_batches() {
    // One shard: the source's batches go whole, and come back to the
    // source. Two shards: rows are partitioned into each lane's pending
    // batch, which comes back to the lane.
    for cores in ["0", "0-1"] {
        let n = 400_000;
        run_allocations(n, cores); // warm-up: lazily set-up process state
        let base = run_allocations(n, cores);
        let double = run_allocations(2 * n, cores);
        let extra_batches = (n / BATCH) as f64;
        let per_batch = double.saturating_sub(base) as f64 / extra_batches;
        println!("cores {cores}: {base} allocations, {double} for twice the batches: {per_batch:.3} more per batch");
        assert!(
            per_batch < 0.5,
            "cores {cores}: {per_batch:.3} allocations per extra batch ({base} for {n} records, \
             {double} for {})",
            2 * n
        );
    }
    pushed_batches_come_back_to_the_pusher();
}

/// Allocations of one whole run of a GROUP BY over `rows` rows pushed one
/// at a time by this thread, gathered into batches of [`BATCH`] rows.
fn push_allocations(rows: usize, cores: &str) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let schema = Schema::new(vec![
        Field::new("k", DataType::Int64),
        Field::new("v", DataType::Float64),
    ]);
    let (mut pusher, source) = push::channel(schema, 16);
    pusher.set_rows_per_batch(BATCH);
    let running = Engine::builder()
        .sql("SELECT k, COUNT(*), SUM(v) FROM pushed GROUP BY k EMIT FINAL")
        .cores(CoreSet::from_list(cores, &[0, 1]).unwrap())
        .batching(Batching {
            batch_size: BATCH,
            linger: Duration::from_millis(5),
        })
        .output(OutputSpec::Discard)
        .build_with_source(Box::new(source))
        .unwrap()
        .spawn()
        .unwrap();
    for i in 0..rows {
        pusher
            .push_row(&[Value::Int64(i as i64 % 50), Value::Float64(i as f64)])
            .unwrap();
    }
    pusher.finish().unwrap();
    let out = running.join().unwrap();
    assert!(out.summary.identity_holds());
    assert_eq!(out.summary.records_read, rows as u64);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn pushed_batches_come_back_to_the_pusher() {
    for cores in ["0", "0-1"] {
        let n = 400_000;
        push_allocations(n, cores);
        let base = push_allocations(n, cores);
        let double = push_allocations(2 * n, cores);
        let per_batch = double.saturating_sub(base) as f64 / (n / BATCH) as f64;
        println!("pushed, cores {cores}: {base} allocations, {double} for twice the batches: {per_batch:.3} more per batch");
        assert!(
            per_batch < 0.5,
            "pushed, cores {cores}: {per_batch:.3} allocations per extra batch ({base} for {n} rows, \
             {double} for {})",
            2 * n
        );
    }
}
