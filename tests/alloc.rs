//! Steady-state allocation check (invariant 5: no allocation per record).
//!
//! A counting global allocator counts the allocations made on the calling
//! thread (a thread-local counter, so tests running in parallel do not mix).
//! Each test builds a shard's `Pipeline`, warms it up with batches over the
//! same keys, then counts the allocations of running more batches through it:
//!
//! - the count must not depend on the number of records: the same number of
//!   batches at 256 and at 4096 rows allocate the same (up to a small slack);
//! - it may grow per batch (today the operators build each output batch and
//!   some scratch anew), but by at most a stated bound per batch, so a new
//!   per-batch allocation shows up here as a failure to look at.
//!
//! Run with `cargo test --release --test alloc -- --nocapture` to see the counts.

use corestream::data::Batch;
use corestream::exec::pipeline::Pipeline;
use corestream::io::generator::{GeneratorOptions, TradesGenerator, FIRST_EVENT_TIME};
use corestream::io::source::{Poll, Source};
use corestream::sql::PlanOptions;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` unchanged; the counter is a
// const-initialised thread-local `Cell` without a destructor, so touching it
// never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
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

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const WARM_UP: usize = 10;

fn batches(rows: usize, count: usize) -> Vec<Batch> {
    let mut g = TradesGenerator::new(GeneratorOptions {
        records: Some((rows * count) as u64),
        ..GeneratorOptions::default()
    });
    let mut out = Vec::new();
    while let Poll::Batch(b) = g.poll(rows, None).unwrap() {
        out.push(b);
    }
    out
}

/// Allocations made by running `n` batches of `rows` rows through a warmed-up
/// pipeline for `sql` (with a watermark after each batch for windowed plans).
fn steady_allocations(sql: &str, event_time: bool, rows: usize, n: usize) -> u64 {
    let parsed = corestream::sql::parse(sql).unwrap();
    let options = PlanOptions {
        event_time: event_time.then(|| "event_time".to_owned()),
        ..PlanOptions::default()
    };
    let plan = corestream::sql::plan_query_with(
        &parsed,
        None,
        &corestream::io::generator::trades_schema(),
        &options,
    )
    .unwrap();
    let mut pipeline = Pipeline::new(&plan, 0, false);
    let mut input = batches(rows, WARM_UP + n);
    if event_time {
        // Every batch spans exactly one second of event time, whatever its row
        // count, so each batch opens and closes the same windows (one per
        // symbol): allocations per window then do not pass for per record.
        for (k, b) in input.iter_mut().enumerate() {
            if let corestream::data::column::ColumnData::Int64(v) = &mut b.columns[0].data {
                for (i, t) in v.iter_mut().enumerate() {
                    *t = FIRST_EVENT_TIME + 1_000 * k as i64 + (1_000 * i / rows) as i64;
                }
            }
        }
    }
    let watermarks: Vec<i64> = input
        .iter()
        .map(|b| match &b.columns[0].data {
            corestream::data::column::ColumnData::Int64(v) => *v.iter().max().unwrap(),
            _ => unreachable!(),
        })
        .collect();
    let mut run = |batch: Batch, wm: i64| {
        let (out, _) = pipeline.process(batch, 0);
        drop(out);
        if event_time {
            drop(pipeline.advance(wm));
        }
    };
    let mut input = input.into_iter().zip(watermarks);
    for (b, wm) in input.by_ref().take(WARM_UP) {
        run(b, wm);
    }
    let rest: Vec<(Batch, i64)> = input.collect();
    let before = allocations();
    for (b, wm) in rest {
        run(b, wm);
    }
    allocations() - before
}

/// Checks that allocations do not grow with records and stay within
/// `per_batch` per batch; prints the counts.
fn check(name: &str, sql: &str, event_time: bool, per_batch: u64) {
    let small = steady_allocations(sql, event_time, 256, 100);
    let large = steady_allocations(sql, event_time, 4096, 100);
    let few = steady_allocations(sql, event_time, 4096, 10);
    println!(
        "{name}: 100 batches x 256 rows: {small} allocations; 100 x 4096: {large}; 10 x 4096: {few}; \
         per batch {:.1}",
        (large - few) as f64 / 90.0
    );
    // Not per record: 16x the records per batch, the same allocations.
    let slack = 2 + large / 20;
    assert!(
        large <= small + slack,
        "{name}: allocations grow with records: {small} for 25.6K records, {large} for 409.6K"
    );
    // A stated bound per batch.
    assert!(
        large <= few + 90 * per_batch + slack,
        "{name}: more than {per_batch} allocations per batch: {few} for 10 batches, {large} for 100"
    );
}

#[test]
fn s0_projection_filter() {
    // Measured: 5 per batch (the predicate's literal and mask columns, the
    // computed column, the output's column list; the projection reuses the
    // input's column buffers and drops filtered rows in place).
    check(
        "S0",
        "SELECT trader_id, symbol, price, quantity, price * quantity AS notional \
         FROM trades WHERE price > 100",
        false,
        6,
    );
}

#[test]
fn s2_group_by_final() {
    // Measured: none per batch (the key lists are on the stack, the
    // computed `price * quantity` column reuses its buffer).
    check(
        "S2",
        "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
         SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value \
         FROM trades GROUP BY trader_id, symbol EMIT FINAL",
        false,
        0,
    );
}

#[test]
fn s1_row_window() {
    // Measured: 8 per batch (output columns; the projection moves the input's).
    check(
        "S1",
        "SELECT symbol, price, AVG(price) OVER (PARTITION BY symbol ORDER BY event_time \
         ROWS BETWEEN 99 PRECEDING AND CURRENT ROW) AS avg100 FROM trades",
        false,
        10,
    );
}

#[test]
fn s3a_tumbling_final() {
    check(
        "S3a",
        "SELECT symbol, window_start, window_end, COUNT(*), AVG(price), SUM(quantity) \
         FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND) EMIT FINAL",
        // Measured: 15 per batch here (10 windows closed and emitted, and the
        // output batch).
        true,
        16,
    );
}

#[test]
fn s3b_tumbling_changes() {
    check(
        "S3b",
        "SELECT symbol, window_start, window_end, COUNT(*), AVG(price), SUM(quantity) \
         FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND) EMIT CHANGES",
        // Measured: 15 per batch (the output batch: its key, bound and
        // snapshot columns and column lists; 10 windows closed)
        true,
        16,
    );
}
